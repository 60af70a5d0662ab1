// The same end-to-end checks in a VS Code that @vscode/test-electron downloads (machines with internet; this one
// has none, so CI uses code-server: test-e2e/run.mjs). Runs test-e2e/electron-suite.cjs inside the extension host.
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { runTests } from "@vscode/test-electron";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const ws = mkdtempSync(join(tmpdir(), "hearth-electron-"));
writeFileSync(join(ws, "calc.py"), "");
mkdirSync(join(ws, ".vscode"));
writeFileSync(join(ws, ".vscode", "settings.json"), JSON.stringify({ "hearth.debounceMs": 50, "editor.inlineSuggest.enabled": true }));
await runTests({
  extensionDevelopmentPath: root,
  extensionTestsPath: join(root, "test-e2e", "electron-suite.cjs"),
  launchArgs: [ws, "--disable-extensions", "--disable-workspace-trust"],
});

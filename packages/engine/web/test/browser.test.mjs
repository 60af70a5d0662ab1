// The browser demo in Debian's chromium (playwright-core): the page loads the WebAssembly engine and
// hearth-tiny in a Web Worker and answers "What is 71 - 53?" with 18, cross-origin isolated (wasm threads)
// and not (one thread). Needs `node web/build.mjs` first and chromium at /usr/bin/chromium (or CHROMIUM_PATH).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { chromium } from "playwright-core";
import { startServer } from "../serve.mjs";

const executablePath = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
let browser;
before(async () => {
  browser = await chromium.launch({ executablePath, args: ["--no-sandbox"] });
});
after(async () => {
  await browser?.close();
});

async function runPage(isolate) {
  const server = await startServer({ isolate });
  try {
    const page = await browser.newPage();
    const logs = [];
    page.on("console", (m) => logs.push(m.text()));
    page.on("pageerror", (e) => logs.push(String(e)));
    await page.goto(`http://127.0.0.1:${server.address().port}/web/index.html`);
    try {
      await page.waitForFunction(() => document.body.dataset.answer !== undefined || document.body.dataset.error !== undefined,
        null, { timeout: 240_000 });
    } catch (e) {
      const status = await page.evaluate(() => document.getElementById("status")?.textContent).catch(() => "?");
      throw new Error(`${e.message}\npage status: ${status}\n${logs.join("\n")}`);
    }
    const data = await page.evaluate(() => ({ ...document.body.dataset, isolated: self.crossOriginIsolated, cores: navigator.hardwareConcurrency }));
    await page.close();
    assert.equal(data.error, undefined, `page error: ${data.error}\n${logs.join("\n")}`);
    return { ...data, backend: JSON.parse(data.backend), stats: JSON.parse(data.stats) };
  } finally {
    server.close();
  }
}

test("cross-origin isolated page: wasm threads, answers 71 - 53 = 18", { timeout: 300_000 }, async () => {
  const r = await runPage(true);
  assert.equal(r.isolated, true);
  assert.equal(r.backend.backend, "wasm");
  assert.match(r.answer, /\b18\b/);
  // The page asks for one thread per core up to 4; the engine reports what its pool really has.
  assert.equal(r.backend.threads, Math.max(1, Math.min(4, r.cores)));
  console.log(`isolated: ${JSON.stringify(r.backend)} answer=${JSON.stringify(r.answer)} ${r.stats.generationTps?.toFixed(1)} tok/s`);
});

test("page without COOP/COEP: one thread, same answer", { timeout: 300_000 }, async () => {
  const r = await runPage(false);
  assert.equal(r.isolated, false);
  assert.equal(r.backend.threads, 1);
  assert.match(r.answer, /\b18\b/);
  console.log(`not isolated: ${JSON.stringify(r.backend)} answer=${JSON.stringify(r.answer)}`);
});

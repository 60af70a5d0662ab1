// hearth describe-image through the built bin: streams the answer; load errors say what is wrong.
import { test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { lm } from "@hearth/engine";
import { findFixture } from "./helpers/fixtures.js";
import { tinyVlmWithTokenizer } from "./helpers/tiny-tokenizer.js";
import { spawn } from "node:child_process";
import { hearth, MAIN, oneLine } from "./helpers/run.js";

const IMAGE = join(findFixture("image-preprocess"), "input.png");

test("hearth describe-image streams the answer; load errors exit 1 with one line", async () => {
  const dir = tinyVlmWithTokenizer();
  const r = await hearth(["describe-image", "--model", dir, "--image", IMAGE, "--image", IMAGE, "--prompt", "What?", "--max-tokens", "5"]);
  assert.equal(r.code, 0, r.stderr);
  const { model } = await lm.load(dir);
  const want = await lm.describeImage(model, await lm.loadProcessor(dir), { image: [IMAGE, IMAGE], prompt: "What?", maxTokens: 5 });
  assert.equal(r.stdout, want.text + "\n");
  assert.match(r.stderr, /prompt: \d+ tokens/);
  for (const [args, re] of [
    [["--model", dir, "--image", "/no/such.png"], /Image file not found/],
    [["--model", findFixture("gemma3-tiny-a"), "--image", IMAGE], /not a Gemma 3 vision model/],
  ] as [string[], RegExp][]) {
    const e = await hearth(["describe-image", ...args]);
    assert.equal(e.code, 1, e.stderr);
    assert.match(e.stderr, re);
    assert.ok(oneLine(e.stderr), e.stderr);
  }
});

test("describe-image --top-k and --top-p reach the sampler: --temp 20 with --top-k 1 or a tiny --top-p is greedy; bad values exit 2", async () => {
  const dir = tinyVlmWithTokenizer();
  const base = ["describe-image", "--model", dir, "--image", IMAGE, "--max-tokens", "12"];
  const greedy = await hearth(base);
  assert.equal(greedy.code, 0, greedy.stderr);
  for (const extra of [["--top-k", "1"], ["--top-p", "0.000001"]]) {
    const r = await hearth([...base, "--temp", "20", "--seed", "3", ...extra]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, greedy.stdout, extra.join(" "));
  }
  // Without them, temperature 20 over the random tiny model wanders off the greedy text.
  const hot = await hearth([...base, "--temp", "20", "--seed", "3"]);
  assert.notEqual(hot.stdout, greedy.stdout);
  for (const bad of [["--top-p", "1.5"], ["--top-k", "-3"]]) {
    const e = await hearth([...base, ...bad]);
    assert.equal(e.code, 2, e.stderr);
    assert.ok(oneLine(e.stderr), e.stderr);
  }
});

test("SIGTERM during describe-image stops after the current token: the text so far, exit 143, finish reason abort", async () => {
  const dir = tinyVlmWithTokenizer();
  const child = spawn(process.execPath, [MAIN, "describe-image", "--model", dir, "--image", IMAGE, "--max-tokens", "1000000"], { stdio: ["ignore", "pipe", "pipe"] });
  let out = "", err = "";
  child.stderr.on("data", (d) => (err += d));
  await new Promise<void>((resolve) => child.stdout.on("data", (d) => {
    out += d;
    if (out.length >= 200 && !child.killed) {
      child.kill("SIGTERM");
      resolve();
    }
  }));
  const code = await new Promise<number | null>((resolve) => child.on("close", resolve));
  assert.equal(code, 143, err);
  assert.match(err, /generation: \d+ tokens, .*\(abort\)/);
  assert.ok(out.endsWith("\n"));
});

// hearth describe-image through the built bin: streams the answer; load errors say what is wrong.
import { test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { lm } from "@hearth/engine";
import { findFixture } from "./helpers/fixtures.js";
import { tinyVlmWithTokenizer } from "./helpers/tiny-tokenizer.js";
import { hearth, oneLine } from "./helpers/run.js";

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

// hearth describe-image: streams the answer; usage and load errors.
import { test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { lm } from "@hearth/engine";
import { runDescribeImage } from "../src/describe-image.js";
import { findFixture } from "./helpers/fixtures.js";
import { tinyVlmWithTokenizer } from "./helpers/tiny-tokenizer.js";

const IMAGE = join(findFixture("image-preprocess"), "input.png");

test("hearth describe-image CLI streams the answer; usage and load errors give exit codes", async () => {
  const dir = tinyVlmWithTokenizer();
  const out: string[] = [], err: string[] = [];
  const io = { out: (t: string) => void out.push(t), err: (t: string) => void err.push(t) };
  const code = await runDescribeImage(["--model", dir, "--image", IMAGE, "--image", IMAGE, "--prompt", "What?", "--max-tokens", "5"], io);
  assert.equal(code, 0, err.join(""));
  const { model } = await lm.load(dir);
  const want = await lm.describeImage(model, await lm.loadProcessor(dir), { image: [IMAGE, IMAGE], prompt: "What?", maxTokens: 5 });
  assert.equal(out.join(""), want.text + "\n");
  assert.match(err.join(""), /prompt: \d+ tokens/);
  assert.equal(await runDescribeImage(["--model", dir], io), 2);
  assert.match(err.join(""), /at least one --image is required/);
  assert.equal(await runDescribeImage(["--model", dir, "--image", IMAGE, "--max-tokens", "x"], io), 2);
  assert.equal(await runDescribeImage(["--model", dir, "--image", "/no/such.png"], io), 1);
  assert.match(err.join(""), /Image file not found/);
  assert.equal(await runDescribeImage(["--model", findFixture("gemma3-tiny-a"), "--image", IMAGE], io), 1);
  assert.match(err.join(""), /not a Gemma 3 vision model/);
  assert.equal(await runDescribeImage(["--nope"], io), 2);
});

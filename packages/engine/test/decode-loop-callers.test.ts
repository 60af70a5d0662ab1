// Every former decoding entry point (generate / streamGenerate, generateStep, batchGenerate, describeImage and
// `hearth bench`'s greedy decode), now a caller of lm.DecodeLoop, gives what it gave before: the outputs were
// recorded by running the code before the loop existed (commit fc9fc3d, scripts/record-loop-baseline.ts) and are
// committed in test/fixtures/loop-baseline/baseline.json.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { mx, lm, type MxArray } from "../src/index.js";
import { findFixture } from "./helpers/fixtures.js";
import { tinyModelFolder } from "./helpers/tiny-model.js";
import { tinyVlmWithTokenizer } from "./helpers/tiny-tokenizer.js";
import { loadProcessor } from "../src/lm/processor.js";
import { describeImage } from "../src/lm/describe.js";
import { BASELINE_CASES as C } from "./helpers/loop-baseline-cases.js";

type Rec = { tokens?: number[]; text?: string; finish?: string; texts?: string[]; reasons?: string[]; logprobs?: number[] };
const base = JSON.parse(readFileSync(join(findFixture("loop-baseline"), "baseline.json"), "utf8")) as Record<string, Rec>;
const ref = mx.load(join(findFixture("gemma3-tiny-a"), "reference.safetensors")) as Record<string, MxArray>;
const LONG = (ref.input_ids.tolist() as number[][])[0];

test("streamGenerate / generate give the recorded tokens, text and finish reasons", async () => {
  const { model, tokenizer } = await lm.load(tinyModelFolder());
  for (const [name, c] of Object.entries(C.stream)) {
    const toks: number[] = [];
    let text = "", finish = "";
    const opts = { prompt: LONG.slice(0, c.promptLength), ...c.options };
    for await (const r of lm.streamGenerate(model, tokenizer!, opts)) {
      if (r.token >= 0) toks.push(r.token);
      text += r.text;
      if (r.finishReason) finish = r.finishReason;
    }
    const want = base[`stream.${name}`];
    assert.deepEqual(toks, want.tokens, name);
    assert.equal(text, want.text, name);
    assert.equal(finish, want.finish, name);
    assert.equal(await lm.generate(model, tokenizer!, opts), want.text, name);
  }
  // The transformers reference agrees with the recorded greedy run.
  assert.deepEqual(base["stream.greedy"].tokens, (ref.greedy_prompt12_new20.tolist() as number[][])[0].slice(12));
});

test("batchGenerate gives the recorded texts (greedy)", async () => {
  const { model, tokenizer } = await lm.load(tinyModelFolder());
  for (const [name, c] of Object.entries(C.batch)) {
    const reasons: string[][] = [];
    const texts = await lm.batchGenerate(model, tokenizer!, c.prompts.map(([a, b]) => LONG.slice(a, b)), { ...c.options, onFinish: (r) => reasons.push(r) });
    assert.deepEqual(texts, base[`batch.${name}`].texts);
    assert.deepEqual(reasons[0], base[`batch.${name}`].reasons);
  }
});

test("generateStep gives the recorded tokens and log-probabilities (gemma3-tiny-b past its sliding window)", async () => {
  const { model } = await lm.load(findFixture("gemma3-tiny-b"), { dtype: "float32", noTokenizer: true });
  for (const [name, c] of Object.entries(C.step)) {
    const toks: number[] = [], lps: number[] = [];
    for await (const s of lm.generateStep(model, [...c.prompt], { ...c.options, logprobs: true })) {
      toks.push(s.token);
      lps.push(s.logprobs!.toFloat32Array()[s.token]);
      s.logprobs!.dispose();
    }
    const want = base[`step.${name}`];
    assert.deepEqual(toks, want.tokens, name);
    lps.forEach((lp, i) => assert.ok(Math.abs(lp - want.logprobs![i]) <= 1e-4, `${name} token ${i}: ${lp} vs ${want.logprobs![i]}`));
  }
});

test("hearth bench's greedy decode (one DecodeLoop row, exactly n tokens) gives the recorded tokens", async () => {
  for (const fixture of ["gemma3-tiny-a", "gemma3-tiny-b"]) {
    const { model } = await lm.load(findFixture(fixture), { noTokenizer: true });
    const loop = new lm.DecodeLoop(model, { prefillChunk: C.bench.prompt.length });
    assert.ok(loop.compiled);
    loop.insert({ prompt: [...C.bench.prompt], maxTokens: C.bench.tokens });
    const toks: number[] = [];
    while (loop.size) for (const ev of await loop.step()) toks.push(ev.token);
    loop.dispose();
    assert.deepEqual(toks, base[`bench.${fixture}`].tokens, fixture);
  }
});

test("describeImage gives the recorded tokens, through the compiled step", async () => {
  const dir = tinyVlmWithTokenizer("config.legacy.json");
  const { model } = await lm.load(dir);
  const processor = await loadProcessor(dir);
  const image = join(findFixture("image-preprocess"), "input.png");
  for (const [name, c] of Object.entries(C.describe)) {
    const r = await describeImage(model, processor, { image: Array(c.images).fill(image), ...c.options });
    const want = base[`describe.${name}`];
    assert.deepEqual(r.tokens, want.tokens, name);
    assert.equal(r.text, want.text, name);
    assert.equal(r.finishReason, want.finish, name);
    assert.equal(r.compiled, true, "the multimodal gemma3 layout decodes through the compiled step");
  }
});

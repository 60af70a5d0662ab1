// The compiled Gemma 3 decode step and the last-token helpers give the model's own logits: through the sliding
// window's rotation, in float32 (exactly) and bfloat16 (within fusion rounding), and greedy generation through
// them matches greedy decoding with the plain forward.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mx, lm, type MxArray } from "../src/index.js";
import { greedyGenerate, lastTokenLogits } from "../src/lm/decode-step.js";
import { makeGemma3DecodeStep } from "../src/lm/gemma3-decode.js";
import { findFixture } from "./helpers/fixtures.js";

const maxAbs = (a: MxArray, b: MxArray) => mx.max(mx.abs(mx.subtract(a.astype(mx.float32), b.astype(mx.float32)))).item() as number;

for (const name of ["gemma3-tiny-a", "gemma3-tiny-b"]) {
  for (const dtype of ["float32", "bfloat16"] as const) {
    test(`decode step: ${name} ${dtype} matches the model's forward past the sliding window`, async () => {
      const { model } = await lm.load(findFixture(name), { dtype, noTokenizer: true });
      const V = (model as unknown as { args: { vocabSize: number } }).args.vocabSize;
      const prompt = Array.from({ length: 11 }, (_, i) => (i * 37 + 5) % V);
      const plain = model.makeCache(), fast = model.makeCache();
      const full = model.forward(mx.array([prompt], mx.int32));
      const viaHelper = lastTokenLogits(model, mx.array([prompt], mx.int32), plain);
      const last = mx.reshape(mx.slice(full, [0, 10, 0], [1, 11, V]), [1, V]);  // (an 11-row product vs a 1-row one)
      assert.ok(maxAbs(last, viaHelper) <= (dtype === "float32" ? 1e-5 : 0.02) * (mx.max(mx.abs(last.astype(mx.float32))).item() as number));
      lastTokenLogits(model, mx.array([prompt], mx.int32), fast);
      const step = makeGemma3DecodeStep(model, fast)!;
      assert.ok(step);
      for (let i = 0; i < 24; i++) {  // the fixtures' windows are 8 tokens: this rotates the sliding caches
        const t = mx.array([[(i * 13 + 7) % V]], mx.int32);
        const a = lastTokenLogits(model, t, plain), b = step(t);
        const scale = mx.max(mx.abs(a.astype(mx.float32))).item() as number;
        const d = maxAbs(a, b);
        if (dtype === "float32") assert.ok(d <= 1e-5 * scale, `step ${i}: ${d}`);
        else assert.ok(d <= 0.02 * scale, `step ${i}: ${d} of ${scale}`);
      }
      assert.equal(fast[0].offset, plain[0].offset);
    });
  }
}

test("greedyGenerate: compiled and plain decode give the same tokens", async () => {
  const { model } = await lm.load(findFixture("gemma3-tiny-a"), { noTokenizer: true });
  const prompt = [2, 17, 99, 301, 45, 7, 8, 9, 10];
  const a = await greedyGenerate(model, prompt, 20, model.makeCache(), { compile: true });
  const b = await greedyGenerate(model, prompt, 20, model.makeCache(), { compile: false });
  assert.equal(a.tokens.length, 20);
  assert.deepEqual(a.tokens, b.tokens);
  // The same as greedy decoding with full forwards over the growing sequence.
  const seq = [...prompt];
  for (let i = 0; i < 20; i++) {
    const logits = model.forward(mx.array([seq], mx.int32));
    seq.push(mx.argmax(mx.slice(logits, [0, seq.length - 1, 0], [1, seq.length, logits.shape[2]]), -1).item() as number);
  }
  assert.deepEqual(a.tokens, seq.slice(prompt.length));
});

// lm.generateStep decodes through the compiled step by default; it must not change what is generated: greedy and
// seeded sampling, with a processor that reads the history, past the sliding window, and a prompt cache reused.
test("generateStep: the compiled decode step gives the same tokens and log-probabilities as compile: false", async () => {
  const { model } = await lm.load(findFixture("gemma3-tiny-b"), { dtype: "float32", noTokenizer: true });
  const prompt = [2, 11, 23, 5, 99, 64, 3, 17, 8];
  const run = async (opts: lm.StepOptions) => {
    const toks: number[] = [], lps: number[] = [];
    for await (const s of lm.generateStep(model, prompt, { maxTokens: 24, logprobs: true, ...opts })) {
      toks.push(s.token);
      lps.push(s.logprobs!.toFloat32Array()[s.token]);
      s.logprobs!.dispose();
    }
    return { toks, lps };
  };
  for (const opts of [{}, { temp: 0.8, seed: 3, repetitionPenalty: 1.3 }] as lm.StepOptions[]) {
    const a = await run(opts), b = await run({ ...opts, compile: false });
    assert.deepEqual(a.toks, b.toks);
    a.lps.forEach((lp, i) => assert.ok(Math.abs(lp - b.lps[i]) <= 1e-4, `token ${i}: log-prob ${lp} vs ${b.lps[i]}`));
  }
});

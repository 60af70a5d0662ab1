// Records what every decoding entry point produced before they were folded into lm.DecodeLoop (run once on the
// old code; the output is committed as test/fixtures/loop-baseline/baseline.json and test/decode-loop.test.ts
// checks the new code against it). Usage: node dist/scripts/record-loop-baseline.js <out.json>
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { mx, lm, type MxArray } from "../src/index.js";
import { findFixture } from "../test/helpers/fixtures.js";
import { tinyModelFolder } from "../test/helpers/tiny-model.js";
import { tinyVlmWithTokenizer } from "../test/helpers/tiny-tokenizer.js";
import { loadProcessor } from "../src/lm/processor.js";
import { describeImage } from "../src/lm/describe.js";
import { BASELINE_CASES } from "../test/helpers/loop-baseline-cases.js";

async function main(): Promise<void> {
  const out: Record<string, unknown> = {};
  const c = BASELINE_CASES;
  // Text generation on the tiny model (gemma3-tiny-a weights + the tiny tokenizer).
  const { model, tokenizer } = await lm.load(tinyModelFolder());
  const ref = mx.load(join(findFixture("gemma3-tiny-a"), "reference.safetensors")) as Record<string, MxArray>;
  const LONG = (ref.input_ids.tolist() as number[][])[0];
  for (const [name, opts] of Object.entries(c.stream)) {
    const toks: number[] = [];
    let text = "", finish = "";
    for await (const r of lm.streamGenerate(model, tokenizer!, { prompt: LONG.slice(0, opts.promptLength), ...opts.options })) {
      if (r.token >= 0) toks.push(r.token);
      text += r.text;
      if (r.finishReason) finish = r.finishReason;
    }
    out[`stream.${name}`] = { tokens: toks, text, finish };
  }
  for (const [name, opts] of Object.entries(c.batch)) {
    const prompts = opts.prompts.map(([a, b]) => LONG.slice(a, b));
    const reasons: string[][] = [];
    const texts = await lm.batchGenerate(model, tokenizer!, prompts, { ...opts.options, onFinish: (r) => reasons.push(r) });
    out[`batch.${name}`] = { texts, reasons: reasons[0] };
  }
  // generateStep with logprobs on gemma3-tiny-b (float32), past its 8-token sliding window.
  const b = (await lm.load(findFixture("gemma3-tiny-b"), { dtype: "float32", noTokenizer: true })).model;
  for (const [name, opts] of Object.entries(c.step)) {
    const toks: number[] = [], lps: number[] = [];
    for await (const s of lm.generateStep(b, [...opts.prompt], { ...opts.options, logprobs: true })) {
      toks.push(s.token);
      lps.push(s.logprobs!.toFloat32Array()[s.token]);
      s.logprobs!.dispose();
    }
    out[`step.${name}`] = { tokens: toks, logprobs: lps };
  }
  // hearth bench's greedy decode (decode-step.ts greedyGenerate).
  const { greedyGenerate } = await import("../src/lm/decode-step.js");
  for (const fixture of ["gemma3-tiny-a", "gemma3-tiny-b"]) {
    const m = (await lm.load(findFixture(fixture), { noTokenizer: true })).model;
    const r = await greedyGenerate(m, [...c.bench.prompt], c.bench.tokens, m.makeCache());
    out[`bench.${fixture}`] = { tokens: r.tokens };
  }
  // describeImage on the tiny vision fixture.
  const dir = tinyVlmWithTokenizer("config.legacy.json");
  const vlm = (await lm.load(dir)).model;
  const processor = await loadProcessor(dir);
  const image = join(findFixture("image-preprocess"), "input.png");
  for (const [name, opts] of Object.entries(c.describe)) {
    const r = await describeImage(vlm, processor, { image: Array(opts.images).fill(image), ...opts.options });
    out[`describe.${name}`] = { tokens: r.tokens, text: r.text, finish: r.finishReason };
  }
  writeFileSync(process.argv[2], JSON.stringify(out, null, 1) + "\n");
}

await main();

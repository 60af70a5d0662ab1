// `node dist/bench/decode-loop.js [model] [tokens] [rows...]`: aggregate decode tokens/s of lm.DecodeLoop with
// 1, 2, 4, 8 rows decoding together (greedy, exactly `tokens` per row, distinct prompts of 32 tokens), and the
// same for one row through lm.generateStep. Default model: the bundled hearth-tiny. Prints one line per run.
import { lm, mx } from "../src/index.js";

const [modelArg = "hearth-tiny", tokensArg = "64", ...rowsArg] = process.argv.slice(2);
const tokens = Number(tokensArg);
const rowCounts = rowsArg.length ? rowsArg.map(Number) : [1, 2, 4, 8];
const { model } = await lm.load(modelArg, { noTokenizer: true });
const prompt = (salt: number) => [2, ...Array.from({ length: 31 }, (_, i) => 1000 + ((i * 7919 + salt * 104729) % 200000))];

async function loopRun(rows: number): Promise<number> {
  const loop = new lm.DecodeLoop(model, { eosTokenIds: [] });
  for (let r = 0; r < rows; r++) loop.insert({ prompt: prompt(r), maxTokens: tokens });
  // Prefill (one row per step) and the first token of every row are left out of the timing.
  let started = 0, t0 = 0, n = 0;
  while (loop.size) {
    const evs = await loop.step();
    for (const ev of evs) {
      if (ev.promptTokens !== undefined && ++started === rows) t0 = performance.now();
      else if (started === rows && ev.promptTokens === undefined) n++;
    }
  }
  loop.dispose();
  return n / ((performance.now() - t0) / 1000);
}

async function stepRun(): Promise<number> {
  let t0 = 0, n = 0;
  for await (const _ of lm.generateStep(model, prompt(0), { maxTokens: tokens })) if (n++ === 0) t0 = performance.now();
  return (n - 1) / ((performance.now() - t0) / 1000);
}

await loopRun(1);  // warm-up: traces the compiled step, pages in the weights
console.log(`model ${modelArg}, ${tokens} tokens per row, ${mx.numThreads()} threads`);
console.log(`generateStep (1 row): ${(await stepRun()).toFixed(1)} tokens/s`);
for (const rows of rowCounts) console.log(`DecodeLoop ${rows} row(s): ${(await loopRun(rows)).toFixed(1)} tokens/s aggregate`);

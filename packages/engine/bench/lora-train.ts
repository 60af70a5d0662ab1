// LoRA training throughput and peak memory on a Gemma 3 shape with random weights (not a test):
//   node --expose-gc dist/bench/lora-train.js [--layers 26] [--vocab 262144] [--batch 4] [--seq 512] [--rank 8] [--num-layers 16]
//        [--dtype bfloat16] [--steps 3] [--grad-checkpoint] [--compile] [--fine-tune-type lora|dora|full] [--memory-limit-gb N]
// Defaults are Gemma 3 1B (hidden 1152, 26 layers, intermediate 6912, 4 heads, 1 KV head, head_dim 256).
// Every token of every row is trained (no prompt mask), so tokens/s = batch · seq / step time.
import { loadavg } from "node:os";
import { mx, lm } from "../src/index.js";
import type { MxArray } from "../src/index.js";

const argv = process.argv.slice(2);
const flag = (name: string, def: string) => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 && argv[i + 1] && !argv[i + 1].startsWith("--") ? argv[i + 1] : def;
};
const has = (name: string) => argv.includes(`--${name}`);

const layers = Number(flag("layers", "26"));
const vocab = Number(flag("vocab", "262144"));
const batch = Number(flag("batch", "4"));
const seq = Number(flag("seq", "512"));
const rank = Number(flag("rank", "8"));
const numLayers = Number(flag("num-layers", "16"));
const dtype = flag("dtype", "bfloat16");
const steps = Number(flag("steps", "3"));
const fineTuneType = flag("fine-tune-type", "lora") as lm.FineTuneType;
// A hard cap so that a run on a shared machine fails with ENOMEM instead of waking the OOM killer.
const limitGb = Number(flag("memory-limit-gb", "0"));

const config = {
  model_type: "gemma3_text", hidden_size: 1152, num_hidden_layers: layers, intermediate_size: 6912,
  num_attention_heads: 4, num_key_value_heads: 1, head_dim: 256, vocab_size: vocab, rms_norm_eps: 1e-6,
  query_pre_attn_scalar: 256, sliding_window: 512, sliding_window_pattern: 6, rope_theta: 1_000_000,
  rope_local_base_freq: 10_000, max_position_embeddings: 32768, tie_word_embeddings: true,
};

const gc = async () => {
  for (let i = 0; i < 3; i++) {
    (globalThis as any).gc?.();
    await new Promise((r) => setTimeout(r, 20));  // finalizers run after the collection
  }
};
const t0 = performance.now();
const model = await lm.createModel(config);
// nn init is lazy; evaluate (and cast) one module at a time and collect its uniform draws, which the JS GC holds.
for (const [, m] of model.namedModules()) {
  const own = mx.utils.treeFlatten(m.filterAndMap((_m, _k, v) => mx.isArray(v)));
  if (!own.length) continue;
  if (dtype !== "float32") m.update(mx.utils.treeUnflatten(own.map(([k, a]) => [k, mx.astype(a as MxArray, dtype)])), false);
  mx.eval(m.parameters());
  await gc();
}
await gc();
mx.clearCache();
const baseMemory = mx.getActiveMemory();
if (limitGb > 0) mx.setMemoryLimit(limitGb * 1e9);
const nParams = mx.utils.treeFlatten(model.parameters()).reduce((n, [, a]) => n + (a as MxArray).size, 0);
console.log(`model: ${layers} layers, vocab ${vocab}, ${(nParams / 1e9).toFixed(3)}B parameters in ${dtype}, ` +
  `built in ${((performance.now() - t0) / 1000).toFixed(1)} s; active memory ${(mx.getActiveMemory() / 1e9).toFixed(2)} GB`);

// Random token rows of seq + 1 tokens (inputs seq, targets seq).
const key = mx.random.key(0);
const ids = mx.random.randint(3, vocab, [batch * 2, seq + 1], mx.int32, key).tolist() as number[][];
const trainSet = { name: "random", format: "text" as const, examples: ids.map((tokens) => ({ tokens, offset: 0, source: "random" })) };

const reports: lm.TrainReport[] = [];
let cpu = process.cpuUsage();
const tStart = performance.now();
await lm.train({
  model: model as any, trainSet,
  args: {
    fineTuneType, numLayers, loraParameters: { rank, scale: 20, dropout: 0 }, iters: steps, batchSize: batch,
    learningRate: 1e-5, maxSeqLength: seq + 1, stepsPerReport: 1, stepsPerEval: 1_000_000, saveEvery: 1_000_000,
    gradCheckpoint: has("grad-checkpoint"), compile: has("compile"),
  },
  onReport: (r) => {
    if (r.type === "start") console.log(`trainable: ${(r.trainable / 1e6).toFixed(3)}M of ${(r.total / 1e9).toFixed(3)}B`);
    if (r.type !== "train") return;
    reports.push(r);
    const used = process.cpuUsage(cpu);
    cpu = process.cpuUsage();
    const cpuS = (used.user + used.system) / 1e6;
    console.log(`step ${r.iteration}: loss ${r.trainLoss.toFixed(3)}, ${(1 / r.iterationsPerSecond).toFixed(1)} s/step, ` +
      `${r.tokensPerSecond.toFixed(1)} tokens/s, peak ${r.peakMemory.toFixed(2)} GB; process CPU ${cpuS.toFixed(0)} s ` +
      `(${((batch * seq) / cpuS).toFixed(1)} tokens per CPU-second; load average ${loadavg()[0].toFixed(1)})`);
  },
});
const trains = reports.filter((r): r is Extract<lm.TrainReport, { type: "train" }> => r.type === "train");
const later = trains.slice(1);
const tps = later.length ? later.reduce((s, r) => s + r.tokensPerSecond, 0) / later.length : trains[0].tokensPerSecond;
console.log(`RESULT ${fineTuneType}${has("grad-checkpoint") ? " +grad-checkpoint" : ""}${has("compile") ? " +compile" : ""} ${dtype} batch ${batch} seq ${seq} ` +
  `rank ${rank} on ${numLayers} layers: ${tps.toFixed(1)} tokens/s (steps after the first), peak memory ` +
  `${(mx.getPeakMemory() / 1e9).toFixed(2)} GB (${((mx.getPeakMemory() - baseMemory) / 1e9).toFixed(2)} GB above the model's ${(baseMemory / 1e9).toFixed(2)} GB), total ${((performance.now() - tStart) / 1000).toFixed(0)} s`);

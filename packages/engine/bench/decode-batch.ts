// Batched decode through the model's compiled decode step (not a test):
// `node dist/bench/decode-batch.js [--layers 26] [--batch 1,4,16] [--steps 16] [--bits 4] [--packed on,off]
// [--threads 2] [--cpu] [--dispatch]`.
//
// A Gemma 3 1B-shaped text model (hidden 1152, MLP 6912, 4 heads / 1 KV head of 256, vocabulary 262144, tied
// head) with `--layers` decoder layers and random weights, quantized to `bits` (group 64), decoding B rows at once
// through `model.makeDecodeStep()` (what lm.DecodeLoop runs) from a 4-token prompt per row: tokens/s summed over
// the rows (each step = B tokens), median over `steps` steps, with the packed weights (`packedWeights`) on and off.
// `--layers 1` measures the fixed per-token cost (graph replay, dispatch, the head). `--dispatch` also times the
// build + eval of one small op (mx.add on [8] arrays), the floor of every graph node. `--cpu`: process CPU time
// instead of wall time (see bench/batched-qmv.ts).
import os from "node:os";
import { mx, nn, lm } from "../src/index.js";
import type { MxArray } from "../src/index.js";
import { packedQuantizedKernelName } from "../src/core/ops-qmv-packed.js";

const argv = process.argv.slice(2);
const flag = (name: string, def: string) => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 && argv[i + 1] ? argv[i + 1] : def;
};
const LAYERS = Number(flag("layers", "26")), STEPS = Number(flag("steps", "16")), BITS = Number(flag("bits", "4"));
const BATCH = flag("batch", "1,4,16").split(",").map(Number);
const PACKED = flag("packed", "on,off").split(",");
const CPU = argv.includes("--cpu");
mx.setNumThreads(Number(flag("threads", "2")));
const now = () => {
  if (!CPU) return performance.now() / 1e3;
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
};
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

console.log(`decode, Gemma 3 1B shape, ${LAYERS} layer(s), ${BITS}-bit g64, ${flag("threads", "2")} threads, ${CPU ? "CPU" : "wall"} time; ` +
  `packed kernel ${packedQuantizedKernelName()}; load average ${os.loadavg().map((v) => v.toFixed(2)).join(" ")}`);

if (argv.includes("--dispatch")) {
  const a = mx.ones([8]), b = mx.ones([8]);
  mx.eval(a, b);
  const per: number[] = [];
  for (let r = 0; r < 7; r++) {
    const n = 5000, t0 = performance.now();
    for (let i = 0; i < n; i++) {
      const c = mx.add(a, b);
      mx.eval(c);
      c.dispose();
    }
    per.push(((performance.now() - t0) / n) * 1e3);
  }
  console.log(`  dispatch: build + eval of mx.add([8], [8]) ${median(per).toFixed(2)} µs (median of 7 × 5000)`);
}

const cfg = {
  model_type: "gemma3_text", hidden_size: 1152, num_hidden_layers: LAYERS, intermediate_size: 6912, num_attention_heads: 4,
  num_key_value_heads: 1, head_dim: 256, vocab_size: 262144, sliding_window: 512, sliding_window_pattern: 6,
  query_pre_attn_scalar: 256, rope_theta: 1e6, rope_local_base_freq: 1e4, max_position_embeddings: 32768,
};
const model = (await lm.createModel(cfg)) as lm.LanguageModel & {
  model: { layers: nn.Module[] };
  makeDecodeStep(o: { packedWeights?: boolean }): lm.DecodeStep;
};
// Layers quantized one at a time, so the float32 initial weights of only one layer are alive at once; then the
// rest (the embedding, which is also the tied head).
for (const part of model.model.layers) {
  nn.quantize(part, { groupSize: 64, bits: BITS });
  mx.eval(part.parameters());
}
nn.quantize(model, { groupSize: 64, bits: BITS });
mx.eval(model.parameters());

for (const packed of PACKED) {
  const step = model.makeDecodeStep({ packedWeights: packed === "on" });
  let base = 0;
  for (const B of BATCH) {
    const caches = Array.from({ length: B }, () => model.makeCache());
    caches.forEach((c, b) => mx.eval(model.forward(mx.array([[2, 10 + b, 20 + b, 30 + b]], mx.int32), { cache: c })));
    let tok: MxArray = mx.array(Array.from({ length: B }, (_, b) => [40 + b]), mx.int32);
    const ts: number[] = [];
    for (let s = 0; s < STEPS + 2; s++) {
      const t0 = now();
      // As lm.DecodeLoop does: the step inside mx.tidy, keeping only the caches' arrays and the next tokens, so
      // the caches' buffers are updated in place (a buffer still referenced would be copied every step).
      const next = mx.tidy(() => {
        const n = mx.reshape(mx.argmax(step(tok, caches), -1), [B, 1]).astype(mx.int32);
        mx.keep(caches.flatMap((c) => c.flatMap((l) => l.arrays)));
        return n;
      });
      mx.eval(next);
      if (s >= 2) ts.push(now() - t0);
      tok.dispose();
      tok = next;
    }
    const t = median(ts), tokps = B / t;
    if (B === BATCH[0]) base = tokps / B;
    console.log(`  packed ${packed.padEnd(3)} batch ${String(B).padEnd(3)} step ${(t * 1e3).toFixed(2)} ms  ${tokps.toFixed(1)} tok/s  × batch 1 ${(tokps / base).toFixed(2)}`);
  }
}

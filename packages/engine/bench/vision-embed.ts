// Vision and embedding throughput with random weights at the real shapes (not a test):
//   node dist/bench/vision-embed.js [--what vision,embed] [--layers 27] [--images 2] [--dtype float32|bfloat16]
//                                  [--texts 64] [--batch 32] [--tokens 64]
// - Preprocessing (decode + uint8 bilinear resize to 896 + normalise) of test/fixtures/image-preprocess/input.png.
// - SigLIP (Gemma 3's tower): 896 px, patch 14 (4096 patches), hidden 1152, intermediate 4304, 16 heads, 27 layers;
//   --layers N runs N of them and also reports the 27-layer time scaled from the per-layer cost.
// - EmbeddingGemma-300m: hidden 768, intermediate 1152, 24 layers, 3 heads, 1 kv head, head_dim 256, window 512,
//   Dense 768→3072→768; texts of --tokens tokens in batches of --batch (vocabulary cut to 4096: only the lookup
//   touches it).
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { existsSync } from "node:fs";
import * as os from "node:os";
import { mx } from "../src/index.js";
import type { MxArray } from "../src/index.js";
import { treeFlatten } from "../src/core/tree.js";
import { preprocessImage } from "../src/lm/image.js";
import { SiglipVisionModel, siglipVisionArgs } from "../src/lm/models/siglip.js";
import { EmbeddingGemma, Dense } from "../src/lm/models/embedding-gemma.js";
import type { Module } from "../src/nn/module.js";

const argv = process.argv.slice(2);
const flag = (name: string, def: string) => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 && argv[i + 1] ? argv[i + 1] : def;
};
const WHAT = flag("what", "vision,embed").split(",");
const DTYPE = mx.toDtype(flag("dtype", "float32"));

function findImage(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const p = join(dir, "test", "fixtures", "image-preprocess", "input.png");
    if (existsSync(p)) return p;
    const up = dirname(dir);
    if (up === dir) throw new Error("input.png not found");
    dir = up;
  }
}

function prepare(m: Module): void {
  if (DTYPE !== mx.float32) m.apply((a: MxArray) => (a.dtype.kind === "float" ? a.astype(DTYPE) : a));
  m.eval();
  mx.eval(treeFlatten(m.parameters()).map(([, a]) => a));
}

const secs = (t0: number) => (performance.now() - t0) / 1000;
// CPU seconds used by this process since `c0` (all threads): on a shared machine, wall time overstates the cost.
const cpu = (c0: NodeJS.CpuUsage) => {
  const d = process.cpuUsage(c0);
  return (d.user + d.system) / 1e6;
};
const load = () => os.loadavg()[0].toFixed(1);


if (WHAT.includes("vision")) {
  const layers = Number(flag("layers", "27"));
  const images = Number(flag("images", "2"));
  const img = findImage();
  await preprocessImage(img);  // load sharp, warm up
  let t0 = performance.now();
  const pvs: MxArray[] = [];
  for (let i = 0; i < images; i++) pvs.push(await preprocessImage(img, { size: 896 }));
  const pre = secs(t0) / images;
  console.log(`preprocess 640×480 PNG → [1,3,896,896]: ${(pre * 1000).toFixed(1)} ms/image (${(1 / pre).toFixed(1)} images/s)`);
  const tower = new SiglipVisionModel(siglipVisionArgs({
    hidden_size: 1152, intermediate_size: 4304, num_hidden_layers: layers, num_attention_heads: 16, image_size: 896, patch_size: 14,
  }));
  prepare(tower);
  mx.tidy(() => mx.eval(tower.forward(pvs[0], { evalPerLayer: true })));  // warm-up
  t0 = performance.now();
  const c0 = process.cpuUsage();
  for (const pv of pvs) mx.tidy(() => mx.eval(tower.forward(pv, { evalPerLayer: true })));
  const vis = secs(t0) / images;
  console.log(`  (CPU time ${(cpu(c0) / images).toFixed(2)} s/image over ${os.cpus().length} cores; load average ${load()})`);
  const full = (vis / layers) * 27;
  console.log(`SigLIP ${layers} layer(s), ${flag("dtype", "float32")}: ${vis.toFixed(2)} s/image` +
    (layers !== 27 ? `; 27 layers ≈ ${full.toFixed(1)} s/image (scaled)` : ""));
  console.log(`preprocess + vision tower (27 layers): ${(1 / (pre + full)).toFixed(3)} images/s; engine peak memory ${(mx.getPeakMemory() / 2 ** 30).toFixed(2)} GiB`);
}

if (WHAT.includes("embed")) {
  const nTexts = Number(flag("texts", "64")), batch = Number(flag("batch", "32")), tokens = Number(flag("tokens", "64"));
  const config = {
    model_type: "gemma3_text", hidden_size: 768, intermediate_size: 1152, num_hidden_layers: 24, num_attention_heads: 3,
    num_key_value_heads: 1, head_dim: 256, vocab_size: 4096, query_pre_attn_scalar: 256, sliding_window: 512,
    sliding_window_pattern: 6, rope_theta: 1_000_000, rope_local_base_freq: 10_000, use_bidirectional_attention: true,
  };
  const emb = new EmbeddingGemma(config, { mode: "mean", dimension: 768, includePrompt: true },
    [new Dense(768, 3072, false, "identity"), new Dense(3072, 768, false, "identity")], true);
  prepare(emb);
  const ids = mx.random.randint(0, 4096, [batch, tokens], mx.int32);
  const maskArr = mx.ones([batch, tokens], mx.int32);
  mx.tidy(() => mx.eval(emb.embedTokens(ids, maskArr).embeddings));  // warm-up
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  let done = 0;
  while (done < nTexts) {
    mx.tidy(() => mx.eval(emb.embedTokens(ids, maskArr).embeddings));
    done += batch;
  }
  const s = secs(t0);
  console.log(`EmbeddingGemma-300m shapes, ${flag("dtype", "float32")}, ${tokens}-token texts, batch ${batch}: ${(done / s).toFixed(1)} embeddings/s (${(s / done * 1000).toFixed(1)} ms each; CPU time ${(cpu(c0) / done * 1000).toFixed(1)} ms each over ${os.cpus().length} cores; load average ${load()}; peak memory ${(mx.getPeakMemory() / 2 ** 30).toFixed(2)} GiB)`);
}

// lm.convert / `hearth convert` and quantized checkpoint loading, on the tiny Gemma 3 fixtures: converted
// folders load with lm.load, greedy decoding of the quantized model equals that of its dequantized twin, the
// logits error against the float model is reported per bit width, and the config/weights mismatches fail clearly.
import { test } from "node:test";
import assert from "node:assert/strict";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { mx, nn } from "../src/index.js";
import type { MxArray } from "../src/index.js";
import { load, loadTokenizer } from "../src/lm/load.js";
import { convert, dequantizeLoadedModel, mixedQuantPredicate } from "../src/lm/convert.js";
import { readQuantization } from "../src/lm/quantization.js";
import type { LanguageModel } from "../src/lm/model.js";
import { findFixture } from "./helpers/fixtures.js";

const scratch = mkdtempSync(join(tmpdir(), "hearth-convert-"));
let n = 0;
const out = (tag: string) => join(scratch, `${tag}-${n++}`);

function relErr(a: MxArray, b: MxArray): number {
  const x = a.astype(mx.float32).toFloat32Array(), y = b.astype(mx.float32).toFloat32Array();
  let num = 0, den = 0;
  for (let i = 0; i < x.length; i++) num += (x[i] - y[i]) ** 2, den += y[i] ** 2;
  return Math.sqrt(num / den);
}

function greedy(model: LanguageModel, prompt: number[], steps: number): number[] {
  const cache = model.makeCache();
  let logits = model.forward(mx.array([prompt], mx.int32), { cache });
  const toks: number[] = [];
  for (let i = 0; i < steps; i++) {
    const L = logits.shape[1];
    const tok = (mx.argmax(mx.slice(logits, [0, L - 1, 0], [1, L, logits.shape[2]]), -1).tolist() as number[][])[0][0];
    toks.push(tok);
    logits = model.forward(mx.array([[tok]], mx.int32), { cache });
  }
  return toks;
}

function copyFixture(name: string): string {
  const src = findFixture(name), dst = out(`src-${name}`);
  mkdirSync(dst);
  for (const f of readdirSync(src)) if (!f.startsWith("reference")) copyFileSync(join(src, f), join(dst, f));
  return dst;
}

const quantizedLayers = (m: nn.Module) => m.namedModules().filter(([, x]) => x instanceof nn.QuantizedLinear || x instanceof nn.QuantizedEmbedding);

for (const name of ["gemma3-tiny-a", "gemma3-tiny-b"]) {
  const folder = findFixture(name);
  const ref = mx.load(join(folder, "reference.safetensors")) as Record<string, MxArray>;
  const prompt = (ref.greedy_prompt12_new20.tolist() as number[][])[0].slice(0, 12);
  for (const bits of [4, 8]) {
    test(`${name}: ${bits}-bit group-32 conversion loads; greedy tokens equal the dequantized model's`, async (t) => {
      const dst = out(`${name}-q${bits}`);
      const r = await convert({ hfPath: folder, mlxPath: dst, quantize: true, qBits: bits, qGroupSize: 32 });
      assert.deepEqual(r.config.quantization, { group_size: 32, bits, mode: "affine" });
      assert.deepEqual(r.config.quantization_config, r.config.quantization);
      assert.ok(existsSync(join(dst, "model.safetensors")) && !existsSync(join(dst, "model.safetensors.index.json")));
      const written = mx.load(join(dst, "model.safetensors")) as Record<string, MxArray>;
      assert.equal(written["model.layers.0.mlp.down_proj.weight"].dtype, mx.uint32);
      assert.ok("model.layers.0.mlp.down_proj.scales" in written && "model.layers.0.mlp.down_proj.biases" in written);

      const q = await load(dst);
      const layers = quantizedLayers(q.model);
      // tiny-a (hidden 64): every projection and the embedding; tiny-b (hidden 48): only those reading 96 features.
      if (name === "gemma3-tiny-a") assert.equal(layers.length, 1 + 4 * 7);
      else assert.deepEqual([...new Set(layers.map(([p]) => p.split(".").pop()))].sort(), ["down_proj", "o_proj"]);
      for (const [, m] of layers) assert.equal((m as nn.QuantizedLinear).bits, bits);

      const dq = await load(dst);
      dequantizeLoadedModel(dq.model);
      assert.equal(quantizedLayers(dq.model).length, 0);
      assert.deepEqual(greedy(q.model, prompt, 20), greedy(dq.model, prompt, 20));

      const float = (await load(folder)).model.forward(ref.input_ids);
      const e = relErr(q.model.forward(ref.input_ids), float);
      t.diagnostic(`${name} ${bits}-bit g32: logits relative error vs float32 ${e.toExponential(3)}; ` +
        `${r.bitsPerWeight!.toFixed(3)} bits per weight`);
      assert.ok(e < (bits === 8 ? 0.02 : 0.3), `logits relative error ${e}`);
      assert.ok(relErr(q.model.forward(ref.input_ids), dq.model.forward(ref.input_ids)) < 1e-5);
    });
  }
}

test("--dequantize round trip: the float folder has no quantization and gives the quantized model's logits", async () => {
  const folder = findFixture("gemma3-tiny-a");
  const q4 = out("rt-q4"), back = out("rt-deq");
  await convert({ hfPath: folder, mlxPath: q4, quantize: true, qBits: 4, qGroupSize: 32 });
  const r = await convert({ hfPath: q4, mlxPath: back, dequantize: true });
  assert.equal(r.config.quantization, undefined);
  assert.equal(r.config.quantization_config, undefined);
  const w = mx.load(join(back, "model.safetensors")) as Record<string, MxArray>;
  assert.ok(!Object.keys(w).some((k) => k.endsWith(".scales")));
  assert.equal(w["model.embed_tokens.weight"].dtype, mx.float32);
  const ids = mx.array([[2, 17, 33, 90, 5, 101, 7]], mx.int32);
  const a = (await load(q4)).model, b = (await load(back)).model;
  assert.equal(quantizedLayers(b).length, 0);
  assert.ok(relErr(a.forward(ids), b.forward(ids)) < 1e-5);
  await assert.rejects(convert({ hfPath: q4, mlxPath: out("both"), quantize: true, dequantize: true }), /either quantize or dequantize/);
});

test("mixed_3_6: 6 bits for v_proj/down_proj of the chosen layers (per-layer config entries), 3 elsewhere", async () => {
  const folder = findFixture("gemma3-tiny-a");
  const dst = out("mixed");
  const r = await convert({ hfPath: folder, mlxPath: dst, quantize: true, qGroupSize: 32, quantPredicate: "mixed_3_6" });
  const q = r.config.quantization;
  assert.equal(q.bits, 4);  // the global entry keeps --q-bits; every layer has its own entry
  // 4 layers: n // 8 = 0, 7n // 8 = 3 → layers 3 (last eighth) and 2 ((i − 0) % 3 == 2) use more bits.
  assert.deepEqual(q["model.layers.2.self_attn.v_proj"], { group_size: 32, bits: 6, mode: "affine" });
  assert.deepEqual(q["model.layers.3.mlp.down_proj"], { group_size: 32, bits: 6, mode: "affine" });
  assert.deepEqual(q["model.layers.0.mlp.down_proj"], { group_size: 32, bits: 3, mode: "affine" });
  assert.deepEqual(q["model.embed_tokens"], { group_size: 32, bits: 3, mode: "affine" });
  const loaded = await load(dst);
  const bitsOf = (p: string) => (loaded.model.namedModules().find(([k]) => k === p)![1] as nn.QuantizedLinear).bits;
  assert.equal(bitsOf("model.layers.2.self_attn.v_proj"), 6);
  assert.equal(bitsOf("model.layers.3.mlp.down_proj"), 6);
  assert.equal(bitsOf("model.layers.1.mlp.down_proj"), 3);
  assert.equal(bitsOf("model.layers.3.self_attn.q_proj"), 3);
  assert.ok(Number.isFinite(loaded.model.forward(mx.array([[2, 3, 4]], mx.int32)).sum().item() as number));
  const pred = mixedQuantPredicate("mixed_4_6", loaded.model, 64);
  assert.deepEqual(pred("lm_head", loaded.model), { group_size: 64, bits: 6, mode: "affine" });
});

test("shards of at most maxShardBytes with model.safetensors.index.json; bf16 output dtype; tokenizer files copied", async () => {
  const src = copyFixture("gemma3-tiny-a");
  const tok = findFixture("tokenizer-gemma3");
  for (const f of ["tokenizer.json.gz", "tokenizer_config.json.gz"]) copyFileSync(join(tok, f), join(src, f));
  writeFileSync(join(src, "chat_template.jinja"), "{{ messages }}");
  const dst = out("shards");
  const r = await convert({ hfPath: src, mlxPath: dst, quantize: true, qGroupSize: 32, dtype: "bfloat16", maxShardBytes: 100_000 });
  const shards = readdirSync(dst).filter((f) => f.endsWith(".safetensors")).sort();
  assert.ok(shards.length > 1 && shards[0] === `model-00001-of-${String(shards.length).padStart(5, "0")}.safetensors`);
  const index = JSON.parse(readFileSync(join(dst, "model.safetensors.index.json"), "utf8"));
  assert.deepEqual([...new Set(Object.values(index.weight_map))].sort(), shards);
  for (const f of ["tokenizer.json.gz", "tokenizer_config.json.gz", "chat_template.jinja", "generation_config.json", "README.md", "config.json"])
    assert.ok(existsSync(join(dst, f)), f);
  const cfg = JSON.parse(readFileSync(join(dst, "config.json"), "utf8"));
  assert.deepEqual(Object.keys(cfg), [...Object.keys(cfg)].sort(), "config.json keys sorted as mlx-lm writes them");
  const w = mx.load(dst) as Record<string, MxArray>;
  assert.equal(w["model.norm.weight"].dtype, mx.bfloat16);
  assert.equal(w["model.layers.0.mlp.up_proj.scales"].dtype, mx.bfloat16);
  // The tokenizer travels with the model (here the real Gemma 3 one, which does not fit this 512-token model:
  // lm.load says so; the tokenizer alone loads).
  assert.equal((await loadTokenizer(dst)).vocabSize, 262144);
  await assert.rejects(load(dst), /vocabulary 262144\) does not match the model \(vocab_size 512\)/);
  assert.equal(r.files.length, readdirSync(dst).length);
});

test("the output folder: refused when non-empty, replaced with force, untouched by a failed conversion", async () => {
  const folder = findFixture("gemma3-tiny-b");
  const dst = out("exists");
  mkdirSync(dst);
  writeFileSync(join(dst, "keep.txt"), "x");
  await assert.rejects(convert({ hfPath: folder, mlxPath: dst }), /exists and is not empty.*--force/);
  await assert.rejects(convert({ hfPath: folder, mlxPath: dst, quantize: true, qBits: 7, force: true }), /7 bits are not supported/);
  assert.deepEqual(readdirSync(dst), ["keep.txt"]);
  assert.ok(!readdirSync(scratch).some((f) => f.includes(".tmp-")), "no temporary folder left behind");
  await convert({ hfPath: folder, mlxPath: dst, force: true });
  assert.ok(!existsSync(join(dst, "keep.txt")) && existsSync(join(dst, "model.safetensors")));
  const empty = out("empty");
  mkdirSync(empty);
  await convert({ hfPath: folder, mlxPath: empty });  // an empty folder is fine
});

test("loading: a config that claims quantization without .scales, .scales without a config entry, quantization_config", async () => {
  const src = copyFixture("gemma3-tiny-a");
  const cfgPath = join(src, "config.json");
  const cfg = JSON.parse(readFileSync(cfgPath, "utf8"));
  writeFileSync(cfgPath, JSON.stringify({ ...cfg, quantization: { group_size: 32, bits: 4 } }));
  await assert.rejects(load(src), /config\.json declares quantization \(bits=4, group_size=32\) but the weights hold no quantized layer: 'model\.embed_tokens\.scales' is missing/);

  const q = out("q-cfg");
  await convert({ hfPath: findFixture("gemma3-tiny-a"), mlxPath: q, quantize: true, qGroupSize: 32, qBits: 8 });
  const qcfg = JSON.parse(readFileSync(join(q, "config.json"), "utf8"));
  // A per-layer entry for a layer the weights hold quantized with other parameters than the global ones …
  writeFileSync(join(q, "config.json"), JSON.stringify({ ...qcfg, quantization: { group_size: 32, bits: 4, "model.layers.1.mlp.up_proj": { group_size: 32, bits: 8 } } }));
  await assert.rejects(load(q), /.*/);  // 8-bit codes read as 4-bit: shapes disagree
  // … the mlx-lm form with every layer at 8 bits overriding a 4-bit default loads.
  const over: Record<string, unknown> = { group_size: 32, bits: 4 };
  const probe = await load(findFixture("gemma3-tiny-a"));
  for (const [p, m] of probe.model.namedModules()) if (m instanceof nn.Linear || m instanceof nn.Embedding) over[p] = { group_size: 32, bits: 8 };
  writeFileSync(join(q, "config.json"), JSON.stringify({ ...qcfg, quantization: over, quantization_config: over }));
  await load(q);
  // quantization_config alone (no "quantization") is read as mlx-lm writes it.
  const { quantization: _drop, ...rest } = qcfg;
  writeFileSync(join(q, "config.json"), JSON.stringify(rest));
  const viaQc = await load(q);
  assert.equal((viaQc.model.namedModules().find(([p]) => p === "model.layers.0.mlp.up_proj")![1] as nn.QuantizedLinear).bits, 8);
  // No quantization entry at all, but quantized weights.
  const { quantization_config: _drop2, ...none } = rest;
  writeFileSync(join(q, "config.json"), JSON.stringify(none));
  await assert.rejects(load(q), /The weights hold quantized layer 'model\.embed_tokens' \('model\.embed_tokens\.scales'\) but config\.json has no "quantization" entry/);
  // A per-layer entry naming a layer stored unquantized (false means "not quantized").
  writeFileSync(join(q, "config.json"), JSON.stringify({ ...none, quantization: { group_size: 32, bits: 8, "model.layers.0.mlp.up_proj": false } }));
  await assert.rejects(load(q), /not in the model: model\.layers\.0\.mlp\.up_proj\.(scales|biases)/);
  writeFileSync(join(q, "config.json"), JSON.stringify({ ...none, quantization_config: { quant_method: "awq", bits: 4 } }));
  await assert.rejects(load(q), /quantization method 'awq' is not supported/);
});

test("a per-layer config entry for a layer whose weights are not quantized names it", async () => {
  const q = out("partial");
  // Quantize only the MLPs: attention stays float.
  await convert({ hfPath: findFixture("gemma3-tiny-a"), mlxPath: q, quantize: true, qGroupSize: 32,
    quantPredicate: (p) => p.includes("mlp") });
  const cfg = JSON.parse(readFileSync(join(q, "config.json"), "utf8"));
  assert.equal(readQuantization(cfg)!.bits, 4);
  const loaded = await load(q);
  assert.equal(quantizedLayers(loaded.model).length, 12);
  writeFileSync(join(q, "config.json"), JSON.stringify({ ...cfg, quantization: { ...cfg.quantization, "model.layers.0.self_attn.q_proj": { group_size: 32, bits: 4 } } }));
  await assert.rejects(load(q), /config\.json gives quantization parameters for 'model\.layers\.0\.self_attn\.q_proj' \(bits=4, group_size=32\) but the weights have no 'model\.layers\.0\.self_attn\.q_proj\.scales'/);
});

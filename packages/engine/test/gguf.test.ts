// GGUF writer: header, metadata and tensor infos round-trip through the reader (and an independent byte-level
// check), Q8_0 / Q4_0 blocks match hand-computed ones, and a tiny Gemma 3 folder converts with llama.cpp's names.
import { after, test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import { join } from "node:path";
import {
  GgmlType, GgufValueType, dequantize, floatToHalf, gguf, halfToFloat, quantizeQ4_0, quantizeQ8_0, readGguf,
  readGgufTensor, writeGguf,
} from "../src/lm/gguf.js";
import { convertGemma3ToGguf, gemma3GgufName } from "../src/lm/gguf-gemma3.js";
import { gemma3WeightShapes, writeRandomSafetensors } from "../src/lm/random-weights.js";
import { findFixture } from "./helpers/fixtures.js";

const tmp = fs.realpathSync(fs.mkdtempSync(join(os.tmpdir(), "hearth-gguf-test-")));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

test("fp16 conversion rounds to nearest even and keeps specials", () => {
  assert.equal(floatToHalf(1), 0x3c00);
  assert.equal(floatToHalf(-2), 0xc000);
  assert.equal(floatToHalf(0.125), 0x3000);
  assert.equal(floatToHalf(65504), 0x7bff);
  assert.equal(floatToHalf(70000), 0x7c00);
  assert.equal(floatToHalf(-Infinity), 0xfc00);
  assert.equal(floatToHalf(NaN) & 0x7c00, 0x7c00);
  assert.equal(floatToHalf(2 ** -24), 0x0001);  // smallest subnormal
  assert.equal(floatToHalf(1 + 2 ** -11), 0x3c00);  // tie → even
  assert.equal(floatToHalf(1 + 3 * 2 ** -11), 0x3c02);  // tie → even (up)
  for (const h of [0x0001, 0x03ff, 0x0400, 0x3555, 0x7bff, 0xbc00]) assert.equal(floatToHalf(halfToFloat(h)), h);
});

test("Q8_0 block: fp16 scale max|x|/127, then round(x / d) as int8", () => {
  const pattern = [1, -1, 0.25, 0.75, -0.125, 0.1, -0.3, 0];
  const x = Float32Array.from({ length: 32 }, (_, i) => pattern[i % 8]);
  const b = quantizeQ8_0(x);
  assert.equal(b.length, 34);
  assert.deepEqual([...b.subarray(0, 2)], [0x08, 0x20]);  // fp16(1/127) = 0x2008
  const q = [127, -127, 32, 95, -16, 13, -38, 0];
  assert.deepEqual([...new Int8Array(b.buffer, 2, 32)], Array.from({ length: 32 }, (_, i) => q[i % 8]));
  const y = dequantize(GgmlType.Q8_0, b, 32);
  for (let i = 0; i < 32; i++) assert.ok(Math.abs(y[i] - x[i]) < 0.005, `${i}: ${y[i]} vs ${x[i]}`);
  // An all-zero block has d = 0 and q = 0.
  assert.deepEqual([...quantizeQ8_0(new Float32Array(32))], new Array(34).fill(0));
});

test("Q4_0 block: d = (signed max)/-8, byte j = q[j] | q[j+16] << 4, q = min(15, trunc(x/d + 8.5))", () => {
  const lo = [-1, 0.5, 0.25, 0, -0.25, -0.5, 0.75, 0.9, -0.9, 0.1, -0.1, 0.3, -0.3, 0.6, -0.6, 0.125];
  const hi = [1, 0, 0.05, -0.05, 0.2, -0.2, 0.4, -0.4, 0.8, -0.8, 0.35, -0.35, 0.45, -0.45, 0.95, -0.95];
  const qlo = [0, 12, 10, 8, 6, 4, 14, 15, 1, 9, 7, 10, 6, 13, 3, 9];
  const qhi = [15, 8, 8, 8, 10, 6, 11, 5, 14, 2, 11, 5, 12, 4, 15, 0];
  const b = quantizeQ4_0(Float32Array.from([...lo, ...hi]));
  assert.equal(b.length, 18);
  assert.deepEqual([...b.subarray(0, 2)], [0x00, 0x30]);  // d = -1 / -8 = 0.125 = fp16 0x3000
  assert.deepEqual([...b.subarray(2)], qlo.map((q, j) => q | (qhi[j] << 4)));
  const y = dequantize(GgmlType.Q4_0, b, 32);
  assert.equal(y[0], -1);
  assert.equal(y[16], 0.875);  // +1 clamps to q = 15
  // Two blocks are encoded independently.
  const two = quantizeQ4_0(Float32Array.from({ length: 64 }, (_, i) => (i < 32 ? 0 : i - 48)));
  // An all-zero block: d = 0 / -8 = -0 (fp16 0x8000, as ggml stores it), every q = 8.
  assert.deepEqual([...two.subarray(0, 18)], [0x00, 0x80, ...new Array(16).fill(0x88)]);
  assert.equal(halfToFloat(two[18] | (two[19] << 8)), 2);  // max magnitude is -16 → d = 2
  assert.throws(() => quantizeQ4_0(new Float32Array(31)), /multiple of 32/);
});

test("header, metadata and tensor infos round-trip; data is 32-byte aligned", () => {
  const file = join(tmp, "rt.gguf");
  const f32 = Float32Array.from({ length: 6 }, (_, i) => i * 0.5 - 1);
  const q8src = Float32Array.from({ length: 64 }, (_, i) => Math.sin(i));
  const q4src = Float32Array.from({ length: 96 }, (_, i) => Math.cos(i) * 3);
  const meta: [string, ReturnType<typeof gguf.str>][] = [
    ["general.architecture", gguf.str("gemma3")],
    ["gemma3.block_count", gguf.u32(26)],
    ["gemma3.attention.layer_norm_rms_epsilon", gguf.f32(1e-6)],
    ["tokenizer.ggml.add_bos_token", gguf.bool(true)],
    ["general.big", gguf.u64(2n ** 40n)],
    ["tokenizer.ggml.tokens", gguf.arr(GgufValueType.STRING, ["<pad>", "▁hé", "<0x0A>"])],
    ["tokenizer.ggml.scores", gguf.arr(GgufValueType.FLOAT32, Float32Array.from([0, -1.5, 2]))],
    ["tokenizer.ggml.token_type", gguf.arr(GgufValueType.INT32, [3, 1, 6])],
  ];
  writeGguf(file, meta, [
    { name: "a.f32", shape: [2, 3], type: GgmlType.F32, data: () => new Uint8Array(f32.buffer) },
    { name: "b.q8", shape: [2, 32], type: GgmlType.Q8_0, data: () => quantizeQ8_0(q8src) },
    { name: "c.q4", shape: [3, 32], type: GgmlType.Q4_0, data: function* () { yield quantizeQ4_0(q4src.subarray(0, 32)); yield quantizeQ4_0(q4src.subarray(32)); } },
    { name: "d.bf16", shape: [5], type: GgmlType.BF16, data: () => Uint8Array.from([0, 0x3f, 0, 0x40, 0, 0xc0, 0x80, 0x3f, 0, 0]) },
  ]);
  // Independent look at the first bytes: magic, version 3, 4 tensors, 8 KV pairs, then the first key.
  const raw = fs.readFileSync(file);
  assert.equal(raw.toString("latin1", 0, 4), "GGUF");
  assert.equal(raw.readUInt32LE(4), 3);
  assert.equal(raw.readBigUInt64LE(8), 4n);
  assert.equal(raw.readBigUInt64LE(16), 8n);
  assert.equal(raw.readBigUInt64LE(24), BigInt("general.architecture".length));
  assert.equal(raw.toString("utf8", 32, 52), "general.architecture");
  assert.equal(raw.readUInt32LE(52), GgufValueType.STRING);

  const g = readGguf(file);
  assert.equal(g.version, 3);
  assert.equal(g.alignment, 32);
  assert.equal(g.dataOffset % 32, 0);
  assert.deepEqual([...g.metadata.keys()], meta.map(([k]) => k));
  assert.equal(g.metadata.get("general.architecture")!.value, "gemma3");
  assert.equal(g.metadata.get("gemma3.block_count")!.value, 26);
  assert.ok(Math.abs(Number(g.metadata.get("gemma3.attention.layer_norm_rms_epsilon")!.value) - 1e-6) < 1e-12);
  assert.equal(g.metadata.get("tokenizer.ggml.add_bos_token")!.value, true);
  assert.equal(g.metadata.get("general.big")!.value, 2n ** 40n);
  assert.deepEqual(g.metadata.get("tokenizer.ggml.tokens")!.value, ["<pad>", "▁hé", "<0x0A>"]);
  assert.deepEqual(g.metadata.get("tokenizer.ggml.scores")!.value, [0, -1.5, 2]);
  assert.deepEqual(g.metadata.get("tokenizer.ggml.token_type")!.value, [3, 1, 6]);
  assert.deepEqual(g.tensors.map((t) => [t.name, t.shape, t.type, t.nbytes]), [
    ["a.f32", [2, 3], GgmlType.F32, 24], ["b.q8", [2, 32], GgmlType.Q8_0, 68], ["c.q4", [3, 32], GgmlType.Q4_0, 54],
    ["d.bf16", [5], GgmlType.BF16, 10],
  ]);
  for (const t of g.tensors) assert.equal(t.offset % 32, 0, `${t.name} offset ${t.offset}`);
  assert.deepEqual(g.tensors.map((t) => t.offset), [0, 32, 128, 192]);
  // GGUF stores dims innermost first: the raw dims of b.q8 are [32, 2].
  const at = raw.indexOf(Buffer.from("b.q8")) + 4;
  assert.equal(raw.readUInt32LE(at), 2);
  assert.deepEqual([raw.readBigUInt64LE(at + 4), raw.readBigUInt64LE(at + 12)], [32n, 2n]);
  assert.deepEqual(new Float32Array(readGgufTensor(file, g, "a.f32").slice().buffer), f32);
  assert.deepEqual(readGgufTensor(file, g, "b.q8"), quantizeQ8_0(q8src));
  assert.deepEqual(readGgufTensor(file, g, "c.q4"), quantizeQ4_0(q4src));
  assert.deepEqual([...dequantize(GgmlType.BF16, readGgufTensor(file, g, "d.bf16"), 5)], [0.5, 2, -2, 1, 0]);
  assert.equal(raw.length, g.dataOffset + 192 + 10);
});

test("writer rejects bad tensors and leaves no file behind", () => {
  const file = join(tmp, "bad.gguf");
  assert.throws(() => writeGguf(file, [], [{ name: "x", shape: [1, 31], type: GgmlType.Q8_0, data: () => new Uint8Array(0) }]), /blocks/);
  assert.throws(() => writeGguf(file, [], [{ name: "x", shape: [2], type: GgmlType.F32, data: () => new Uint8Array(4) }]), /expected 8/);
  assert.throws(() => writeGguf(file, [], [
    { name: "x", shape: [1], type: GgmlType.F32, data: () => new Uint8Array(4) },
    { name: "x", shape: [1], type: GgmlType.F32, data: () => new Uint8Array(4) },
  ]), /duplicate/);
  assert.equal(fs.readdirSync(tmp).filter((f) => f.startsWith("bad.gguf")).length, 0);
  fs.writeFileSync(join(tmp, "notgguf.bin"), "GGUX0000");
  assert.throws(() => readGguf(join(tmp, "notgguf.bin")), /bad magic|truncated/);
});

test("a Gemma 3 folder converts with llama.cpp's tensor names, F32 norms holding 1 + w, and an SPM vocab", () => {
  const dir = join(tmp, "tiny");
  fs.mkdirSync(dir);
  const cfg = {
    model_type: "gemma3_text", hidden_size: 64, num_hidden_layers: 2, intermediate_size: 96, num_attention_heads: 2,
    num_key_value_heads: 1, head_dim: 32, vocab_size: 300, sliding_window: 16, query_pre_attn_scalar: 32,
    rope_theta: 1e6, rope_local_base_freq: 1e4, rope_scaling: { rope_type: "linear", factor: 8 }, max_position_embeddings: 1024,
  };
  fs.writeFileSync(join(dir, "config.json"), JSON.stringify(cfg));
  const vocab: Record<string, number> = { "<pad>": 0, "<eos>": 1, "<bos>": 2, "<unk>": 3 };
  for (let i = 0; i < 256; i++) vocab[`<0x${i.toString(16).toUpperCase().padStart(2, "0")}>`] = 4 + i;
  for (let i = 260; i < 300; i++) vocab[`▁w${i}`] = i;
  const added = [0, 1, 2, 3].map((id) => ({ id, content: Object.keys(vocab)[id], special: true }));
  fs.writeFileSync(join(dir, "tokenizer.json"), JSON.stringify({ model: { type: "BPE", vocab, unk_token: "<unk>" }, added_tokens: added }));
  writeRandomSafetensors(join(dir, "model.safetensors"), gemma3WeightShapes(cfg), 7);
  const out = join(tmp, "tiny-q8.gguf");
  convertGemma3ToGguf(dir, out, GgmlType.Q8_0);
  const g = readGguf(out);
  const m = (k: string) => g.metadata.get(k)?.value;
  assert.equal(m("general.architecture"), "gemma3");
  assert.equal(m("general.file_type"), 7);
  assert.equal(m("gemma3.embedding_length"), 64);
  assert.equal(m("gemma3.block_count"), 2);
  assert.equal(m("gemma3.feed_forward_length"), 96);
  assert.equal(m("gemma3.attention.head_count"), 2);
  assert.equal(m("gemma3.attention.head_count_kv"), 1);
  assert.equal(m("gemma3.attention.key_length"), 32);
  assert.equal(m("gemma3.attention.sliding_window"), 16);
  assert.equal(m("gemma3.rope.freq_base"), 1e6);
  assert.equal(m("gemma3.rope.scaling.type"), "linear");
  assert.equal(m("gemma3.rope.scaling.factor"), 8);
  assert.equal(m("tokenizer.ggml.model"), "llama");
  const tokens = m("tokenizer.ggml.tokens") as string[];
  const types = m("tokenizer.ggml.token_type") as number[];
  assert.equal(tokens.length, 300);
  assert.deepEqual(tokens.slice(0, 5), ["<pad>", "<eos>", "<bos>", "<unk>", "<0x00>"]);
  assert.deepEqual(types.slice(0, 5), [3, 3, 3, 2, 6]);
  assert.equal(types[299], 1);
  const names = g.tensors.map((t) => t.name);
  assert.equal(names[0], "token_embd.weight");
  for (const n of ["attn_norm", "attn_q", "attn_k", "attn_v", "attn_output", "attn_q_norm", "attn_k_norm",
    "post_attention_norm", "ffn_norm", "ffn_gate", "ffn_up", "ffn_down", "post_ffw_norm"])
    assert.ok(names.includes(`blk.1.${n}.weight`), n);
  assert.ok(names.includes("output_norm.weight"));
  assert.equal(names.length, 1 + 2 * 13 + 1);
  const q = g.tensors.find((t) => t.name === "blk.0.attn_q.weight")!;
  assert.deepEqual([q.shape, q.type], [[64, 64], GgmlType.Q8_0]);
  const norm = g.tensors.find((t) => t.name === "blk.0.attn_norm.weight")!;
  assert.equal(norm.type, GgmlType.F32);
  // The stored norm is 1 + w: with w ~ N(0, 0.02) every value sits near 1.
  const nv = new Float32Array(readGgufTensor(out, g, norm.name).slice().buffer);
  assert.ok(nv.every((v) => Math.abs(v - 1) < 0.2), "norms hold 1 + w");
  assert.equal(gemma3GgufName("model.language_model.layers.3.mlp.down_proj.weight"), "blk.3.ffn_down.weight");
  assert.equal(gemma3GgufName("lm_head.weight"), undefined);
});

test("a multimodal Gemma 3 folder converts to its language model only, embedding rows past the tokenizer dropped", () => {
  const dir = join(tmp, "tiny-mm");
  fs.mkdirSync(dir);
  // The hub's layout: text keys under text_config (vocab_size left at Gemma3TextConfig's default would be 262208;
  // here 320 against a 300-id tokenizer), a SigLIP tower, the projector.
  const cfg = {
    model_type: "gemma3", architectures: ["Gemma3ForConditionalGeneration"], mm_tokens_per_image: 4,
    text_config: { hidden_size: 64, num_hidden_layers: 2, intermediate_size: 96, num_attention_heads: 2, num_key_value_heads: 1,
      head_dim: 32, vocab_size: 320, sliding_window: 16, query_pre_attn_scalar: 32, rope_scaling: { rope_type: "linear", factor: 8 } },
    vision_config: { hidden_size: 32, intermediate_size: 48, num_hidden_layers: 1, num_attention_heads: 2, image_size: 28, patch_size: 7 },
  };
  fs.writeFileSync(join(dir, "config.json"), JSON.stringify(cfg));
  fs.copyFileSync(join(tmp, "tiny", "tokenizer.json"), join(dir, "tokenizer.json"));
  const shapes = gemma3WeightShapes(cfg);
  assert.ok(shapes.some(([n]) => n === "vision_tower.vision_model.embeddings.patch_embedding.weight"));
  assert.ok(shapes.some(([n]) => n === "multi_modal_projector.mm_input_projection_weight"));
  writeRandomSafetensors(join(dir, "model.safetensors"), shapes, 9);
  const out = join(tmp, "tiny-mm-bf16.gguf");
  convertGemma3ToGguf(dir, out, GgmlType.BF16);
  const g = readGguf(out);
  const names = g.tensors.map((t) => t.name);
  assert.equal(names.length, 1 + 2 * 13 + 1);
  assert.ok(names.every((n) => n === "token_embd.weight" || n === "output_norm.weight" || /^blk\.[01]\./.test(n)), names.join(" "));
  assert.equal(g.metadata.get("gemma3.embedding_length")?.value, 64);
  assert.equal(g.metadata.get("gemma3.rope.scaling.factor")?.value, 8);
  assert.equal((g.metadata.get("tokenizer.ggml.tokens")?.value as string[]).length, 300);
  assert.deepEqual(g.tensors.find((t) => t.name === "token_embd.weight")!.shape, [300, 64]);
  // BF16 → BF16 copies the bytes: blk.1.attn_q is the language model's layer-1 q_proj, read from the safetensors.
  const buf = fs.readFileSync(join(dir, "model.safetensors"));
  const hlen = Number(buf.readBigUInt64LE(0));
  const e = JSON.parse(buf.subarray(8, 8 + hlen).toString("utf8"))["language_model.model.layers.1.self_attn.q_proj.weight"];
  const raw = buf.subarray(8 + hlen + e.data_offsets[0], 8 + hlen + e.data_offsets[1]);
  assert.ok(Buffer.from(readGgufTensor(out, g, "blk.1.attn_q.weight")).equals(raw));
  const ee = JSON.parse(buf.subarray(8, 8 + hlen).toString("utf8"))["language_model.model.embed_tokens.weight"];
  const rows300 = buf.subarray(8 + hlen + ee.data_offsets[0], 8 + hlen + ee.data_offsets[0] + 300 * 64 * 2);
  assert.ok(Buffer.from(readGgufTensor(out, g, "token_embd.weight")).equals(rows300));
});

test("a multimodal folder without language-model weights is an error and writes nothing", () => {
  const dir = join(tmp, "vision-only");
  fs.mkdirSync(dir);
  const cfg = { model_type: "gemma3", text_config: { hidden_size: 64, num_hidden_layers: 1, intermediate_size: 96, num_attention_heads: 2, vocab_size: 300 },
    vision_config: { hidden_size: 32, intermediate_size: 48, num_hidden_layers: 1, num_attention_heads: 2, image_size: 28, patch_size: 7 } };
  fs.writeFileSync(join(dir, "config.json"), JSON.stringify(cfg));
  fs.copyFileSync(join(tmp, "tiny", "tokenizer.json"), join(dir, "tokenizer.json"));
  writeRandomSafetensors(join(dir, "model.safetensors"), gemma3WeightShapes(cfg).filter(([n]) => !n.startsWith("language_model.")));
  const out = join(tmp, "vision-only.gguf");
  assert.throws(() => convertGemma3ToGguf(dir, out, GgmlType.Q8_0), /no Gemma 3 language-model weights/);
  assert.equal(fs.existsSync(out), false);
});

test("the multimodal weight list is transformers' Gemma3ForConditionalGeneration checkpoint, name for name and shape for shape", () => {
  // gemma3-vlm-tiny was saved by transformers 5, whose tower names drop `vision_model.`; the hub's (and the
  // generator's) keep it.
  const folder = findFixture("gemma3-vlm-tiny");
  const cfg = JSON.parse(fs.readFileSync(join(folder, "config.json"), "utf8"));
  const buf = fs.readFileSync(join(folder, "model.safetensors"));
  const header = JSON.parse(buf.subarray(8, 8 + Number(buf.readBigUInt64LE(0))).toString("utf8"));
  delete header.__metadata__;
  const want = Object.entries(header as Record<string, { shape: number[] }>)
    .map(([k, v]) => `${k.replace(/^vision_tower\./, "vision_tower.vision_model.")} ${v.shape.join("x")}`).sort();
  const got = gemma3WeightShapes(cfg).map(([k, s]) => `${k} ${s.join("x")}`).sort();
  assert.deepEqual(got, want);
});

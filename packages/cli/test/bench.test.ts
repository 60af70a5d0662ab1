// `hearth bench` pieces: per-process peak RSS (the figure issue 15 found shared between the engines), --batch
// parsing, the kernels line, and the multimodal (gemma3 + vision tower) layout the 4B is built in, through the same
// path on a tiny model: folder, load, text-only GGUF, and a bench child run.
import { after, test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, realpathSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { fileURLToPath } from "node:url";
import { join, dirname } from "node:path";
import { lm } from "@hearth/engine";
import { parseBenchArgs, kernelLines } from "../src/bench.js";
import { BENCH_MODELS, ensureBenchModelFromSpec, gemma3MultimodalConfig, type BenchModelSpec } from "../src/bench-models.js";
import type { RunResult } from "../src/bench-child.js";

const here = dirname(fileURLToPath(import.meta.url));

test("peakRssMB is the child's own peak, not its parent's carried across fork + exec", () => {
  const big = Buffer.alloc(400 * 2 ** 20, 1);  // this process now holds > 400 MB resident
  const child = `import("${join(here, "..", "src", "bench-child.js")}").then((m) => console.log(JSON.stringify({ own: m.peakRssMB(), maxRSS: process.resourceUsage().maxRSS / 1024 })))`;
  const r = spawnSync(process.execPath, ["-e", child], { encoding: "utf8" });
  assert.equal(r.status, 0, r.stderr);
  const { own, maxRSS } = JSON.parse(r.stdout);
  assert.ok(big[12345] === 1);
  assert.ok(own > 10 && own < 300, `child's own peak ${own} MB`);
  // What the bench used to report (on Linux): the parent's peak.
  if (process.platform === "linux") assert.ok(maxRSS > 400, `maxRSS ${maxRSS} MB`);
});

test("--batch: default 1, a positive integer", () => {
  assert.equal(parseBenchArgs([]).batch, 1);
  assert.equal(parseBenchArgs(["--batch", "16"]).batch, 16);
  assert.throws(() => parseBenchArgs(["--batch", "0"]), /--batch must be >= 1/);
  assert.throws(() => parseBenchArgs(["--batch", "x"]), /--batch/);
});

test("kernel line names the ISA, the kernels and the packed paths", () => {
  const kernels = {
    isa: "avx2", amx: false, gemm: "f32:avx2-6x16", quantized: "q4-bf16:avx2", packed: "avx2", hearthIsa: "avx2",
    decodeStep: { int8Activations: true, packedWeights: true, packedPrefill: false, packedKernel: "avx2" },
  };
  const rows = [{ model: "1b", format: { ours: "4-bit g64" }, ours: [{ info: { kernels } }], llama: [] }];
  assert.deepEqual(kernelLines(rows as never), [
    "kernels 1b 4-bit g64: isa avx2 (HEARTH_ISA=avx2), AMX no, gemm f32:avx2-6x16, quantized q4-bf16:avx2, packed avx2; " +
      "compiled step: int8 activations on, packed decode on, packed prefill off",
  ]);
});

test("kernel line: the layout is appended after the compiled-step part", () => {
  const kernels = { isa: "avx2", amx: false, gemm: "g", quantized: "q", packed: "p", hearthIsa: null, decodeStep: null };
  const text = { modelType: "gemma3_text", architecture: "Gemma3ForCausalLM", visionTower: false, decodeStepFrom: null };
  const mm = { modelType: "gemma3", architecture: "Gemma3ForConditionalGeneration", visionTower: true, decodeStepFrom: "language_model" };
  const row = (layout: object) => ({ model: "4b", format: { ours: "bf16" }, ours: [{ info: { kernels, layout } }], llama: [] });
  assert.deepEqual(kernelLines([row(text), row(mm)] as never), [
    "kernels 4b bf16: isa avx2, AMX no, gemm g, quantized q, packed p; no compiled step; layout gemma3_text",
    "kernels 4b bf16: isa avx2, AMX no, gemm g, quantized q, packed p; no compiled step; layout gemma3 (vision tower, decode through the language model's compiled step)",
  ]);
});

test("the 4B is the published multimodal layout; 270M and 1B stay text models", () => {
  const c = BENCH_MODELS["4b"].config as Record<string, any>;
  assert.equal(c.model_type, "gemma3");
  assert.deepEqual(c.architectures, ["Gemma3ForConditionalGeneration"]);
  assert.deepEqual([c.mm_tokens_per_image, c.image_token_index, c.boi_token_index, c.eoi_token_index], [256, 262144, 255999, 256000]);
  const v = c.vision_config;
  assert.deepEqual([v.hidden_size, v.intermediate_size, v.num_hidden_layers, v.num_attention_heads, v.image_size, v.patch_size, v.layer_norm_eps],
    [1152, 4304, 27, 16, 896, 14, 1e-6]);
  const t = lm.gemma3TextConfig(BENCH_MODELS["4b"].config);
  assert.deepEqual([t.hidden_size, t.num_hidden_layers, t.intermediate_size, t.num_attention_heads, t.num_key_value_heads, t.head_dim, t.sliding_window, t.vocab_size],
    [2560, 34, 10240, 8, 4, 256, 1024, 262208]);
  assert.deepEqual(t.rope_scaling, { factor: 8, rope_type: "linear" });
  // google/gemma-3-4b-pt's safetensors hold 4,300,079,472 parameters (the hub's count): language model with its
  // 262208-row embedding, SigLIP tower and projector.
  const n = lm.gemma3WeightShapes(c).reduce((a, [, s]) => a + s.reduce((x, y) => x * y, 1), 0);
  assert.equal(n, 4_300_079_472);
  for (const k of ["270m", "1b"]) assert.equal(BENCH_MODELS[k].config.model_type, "gemma3_text");
});

const work = realpathSync(mkdtempSync(join(tmpdir(), "hearth-bench-test-")));
after(() => rmSync(work, { recursive: true, force: true }));

test("a tiny multimodal bench model: multimodal folder, loads as gemma3, text-only GGUF, child decodes through the language model", async () => {
  // The 1B's text keys at a tiny width; a vocabulary the prompt's ids fit (benchPrompt reaches id 200999), larger
  // than the tokenizer's 262145 ids as the published multimodal checkpoints' is.
  const text = {
    ...BENCH_MODELS["1b"].config, hidden_size: 64, num_hidden_layers: 2, intermediate_size: 128, num_attention_heads: 2,
    num_key_value_heads: 1, head_dim: 32, query_pre_attn_scalar: 32, sliding_window: 16, sliding_window_pattern: 2, vocab_size: 262208,
  };
  const mm: BenchModelSpec = {
    key: "tiny-mm", label: "tiny multimodal",
    config: gemma3MultimodalConfig(text, { hidden_size: 64, intermediate_size: 96, num_hidden_layers: 1, num_attention_heads: 2, image_size: 56 }, { mm_tokens_per_image: 4 }),
  };
  const plain: BenchModelSpec = { key: "tiny-text", label: "tiny text", config: text };
  const mmRoot = ensureBenchModelFromSpec(work, mm, ["BF16"]);
  const textRoot = ensureBenchModelFromSpec(work, plain, ["BF16"]);

  const { model } = await lm.load(join(mmRoot, "hf"), { noTokenizer: true });
  const m = model as unknown as { modelType: string; vision_tower?: unknown; multi_modal_projector?: unknown };
  assert.equal(m.modelType, "gemma3");
  assert.ok(m.vision_tower && m.multi_modal_projector, "vision tower and projector loaded");

  const a = lm.readGguf(join(mmRoot, "model-BF16.gguf"));
  const b = lm.readGguf(join(textRoot, "model-BF16.gguf"));
  const desc = (g: lm.GgufFile) => g.tensors.map((t) => `${t.name} ${t.shape.join("x")} ${t.type}`);
  assert.deepEqual(desc(a), desc(b));
  assert.equal(a.tensors.length, 1 + 2 * 13 + 1);
  // Embedding rows past the tokenizer's ids dropped, as llama.cpp's converter does.
  assert.deepEqual(a.tensors.find((t) => t.name === "token_embd.weight")!.shape, [262145, 64]);
  assert.equal((a.metadata.get("tokenizer.ggml.tokens")!.value as string[]).length, 262145);

  const spec = { engine: "hearth", path: join(mmRoot, "hf"), threads: 1, promptTokens: 8, decodeTokens: 3, quantize: { bits: 4, groupSize: 64 } };
  const r = spawnSync(process.execPath, [join(here, "..", "src", "bench-child.js"), JSON.stringify(spec)], { encoding: "utf8", timeout: 120_000 });
  const line = r.stdout.split("\n").find((l) => l.startsWith("BENCH_RESULT "));
  assert.ok(line, `child failed: ${r.stdout.slice(-2000)}\n${r.stderr.slice(-2000)}`);
  const res = JSON.parse(line.slice("BENCH_RESULT ".length)) as RunResult;
  assert.ok(res.tokens.length > 0 && res.tokens.every((t) => Number.isInteger(t) && t >= 0 && t < 262208), `tokens ${res.tokens}`);
  assert.deepEqual(res.info.layout, { modelType: "gemma3", architecture: "Gemma3ForConditionalGeneration", visionTower: true, decodeStepFrom: "language_model" });
  const step = (res.info.kernels as Record<string, any>).decodeStep;
  assert.ok(step, "a compiled decode step");
  assert.equal(step.int8Activations, true);
  assert.equal(typeof step.packedWeights, "boolean");
  assert.equal(typeof step.packedPrefill, "boolean");
  const [kl] = kernelLines([{ model: "tiny-mm", format: { ours: "4-bit g64" }, ours: [res], llama: [] }] as never);
  assert.match(kl, /; compiled step: int8 activations on, .*; layout gemma3 \(vision tower, decode through the language model's compiled step\)$/);
});

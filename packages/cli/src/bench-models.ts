// Random-weight Gemma 3 models with the exact shapes and layout of the published 270M, 1B and 4B checkpoints,
// written once to a cache folder as an HF folder (config.json, bf16 model.safetensors, tokenizer.json) plus GGUF
// variants for llama.cpp made from the same bf16 values. The content is noise (std 0.02): speed depends on shapes
// only. 270M and 1B are published as text models (gemma3_text); 4B as Gemma3ForConditionalGeneration (gemma3: the
// language model plus a SigLIP vision tower and projector), which is what users load, so the bench builds it so.
// Its GGUF holds the language model only (llama.cpp's text GGUF; the tower would be a separate mmproj file).
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { gunzipSync } from "node:zlib";
import { lm } from "@hearth/engine";

const { GgmlType, convertGemma3ToGguf, gemma3WeightShapes, writeRandomSafetensors } = lm;

export interface BenchModelSpec {
  key: string;
  label: string;
  config: Record<string, unknown>;
}

function gemma3Config(o: {
  hidden: number; layers: number; inter: number; heads: number; kv: number; window: number; maxPos: number;
  ropeScaling?: Record<string, unknown>;
}): Record<string, unknown> {
  return {
    architectures: ["Gemma3ForCausalLM"],
    model_type: "gemma3_text",
    hidden_size: o.hidden,
    num_hidden_layers: o.layers,
    intermediate_size: o.inter,
    num_attention_heads: o.heads,
    num_key_value_heads: o.kv,
    head_dim: 256,
    vocab_size: 262144,
    sliding_window: o.window,
    sliding_window_pattern: 6,
    max_position_embeddings: o.maxPos,
    query_pre_attn_scalar: 256,
    rope_theta: 1_000_000,
    rope_local_base_freq: 10_000,
    rope_scaling: o.ropeScaling ?? null,
    rms_norm_eps: 1e-6,
    hidden_activation: "gelu_pytorch_tanh",
    final_logit_softcapping: null,
    attn_logit_softcapping: null,
    tie_word_embeddings: true,
    bos_token_id: 2,
    eos_token_id: 1,
    pad_token_id: 0,
    torch_dtype: "bfloat16",
  };
}

/**
 * google/gemma-3-4b-pt's config.json layout (Gemma3ForConditionalGeneration) around a text config: the text part
 * under text_config, SigLIP so400m/14 at 896 px, 256 soft tokens per image, and the published special-token ids.
 * `vision` overrides the tower's shape and `top` the top-level keys (tests use a tiny tower with fewer soft tokens).
 */
export function gemma3MultimodalConfig(text: Record<string, unknown>, vision: Record<string, unknown> = {},
                                       top: Record<string, unknown> = {}): Record<string, unknown> {
  const { architectures: _a, torch_dtype: _d, bos_token_id: _b, eos_token_id: _e, pad_token_id: _p, ...textRest } = text;
  return {
    architectures: ["Gemma3ForConditionalGeneration"],
    model_type: "gemma3",
    text_config: { ...textRest, model_type: "gemma3_text" },
    vision_config: {
      model_type: "siglip_vision_model", hidden_size: 1152, intermediate_size: 4304, num_hidden_layers: 27,
      num_attention_heads: 16, image_size: 896, patch_size: 14, layer_norm_eps: 1e-6, vision_use_head: false, ...vision,
    },
    mm_tokens_per_image: 256,
    image_token_index: 262144,
    boi_token_index: 255999,
    eoi_token_index: 256000,
    bos_token_id: 2,
    eos_token_id: [1, 106],
    pad_token_id: 0,
    initializer_range: 0.02,
    torch_dtype: "bfloat16",
    ...top,
  };
}

/**
 * The published Gemma 3 configurations: google/gemma-3-270m and -1b-pt (text), -4b-pt (multimodal; its text part
 * leaves vocab_size at Gemma3TextConfig's 262208, the embedding rows the checkpoint holds).
 */
export const BENCH_MODELS: Record<string, BenchModelSpec> = {
  "270m": { key: "270m", label: "Gemma 3 270M", config: gemma3Config({ hidden: 640, layers: 18, inter: 2048, heads: 4, kv: 1, window: 512, maxPos: 32768 }) },
  "1b": { key: "1b", label: "Gemma 3 1B", config: gemma3Config({ hidden: 1152, layers: 26, inter: 6912, heads: 4, kv: 1, window: 512, maxPos: 32768 }) },
  "4b": {
    key: "4b", label: "Gemma 3 4B",
    config: gemma3MultimodalConfig({
      ...gemma3Config({ hidden: 2560, layers: 34, inter: 10240, heads: 8, kv: 4, window: 1024, maxPos: 131072, ropeScaling: { factor: 8.0, rope_type: "linear" } }),
      vocab_size: 262208,
    }),
  },
};

/** The real Gemma 3 tokenizer shipped with the engine's test fixtures (262144 pieces). */
export function fixtureTokenizerPath(): string {
  const engineDir = resolve(dirname(fileURLToPath(import.meta.resolve("@hearth/engine"))), "..", "..");
  const inEngine = join(engineDir, "test", "fixtures", "tokenizer-gemma3", "tokenizer.json.gz");
  if (existsSync(inEngine)) return inEngine;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    const p = join(dir, "test", "fixtures", "tokenizer-gemma3", "tokenizer.json.gz");
    if (existsSync(p)) return p;
    dir = dirname(dir);
  }
  throw new Error("Cannot find test/fixtures/tokenizer-gemma3/tokenizer.json.gz next to the engine package");
}

export const GGUF_VARIANTS: Record<string, lm.GgmlType> = { BF16: GgmlType.BF16, Q8_0: GgmlType.Q8_0, Q4_0: GgmlType.Q4_0 };

/**
 * Makes sure `<workDir>/<key>/hf` (config, weights, tokenizer) and the requested GGUF variants
 * (`<workDir>/<key>/model-<TYPE>.gguf`) exist; returns the model folder. Existing files are reused.
 */
export function ensureBenchModel(workDir: string, key: string, ggufTypes: string[], log: (s: string) => void = () => {}): string {
  const spec = BENCH_MODELS[key];
  if (!spec) throw new Error(`Unknown bench model '${key}' (have ${Object.keys(BENCH_MODELS).join(", ")})`);
  return ensureBenchModelFromSpec(workDir, spec, ggufTypes, log);
}

/**
 * ensureBenchModel for any spec (tests build tiny ones through the same path): `<workDir>/<spec.key>`. A folder
 * whose config.json differs from the spec's (an old gemma3_text 4B, say) is rebuilt.
 */
export function ensureBenchModelFromSpec(workDir: string, spec: BenchModelSpec, ggufTypes: string[], log: (s: string) => void = () => {}): string {
  const root = join(workDir, spec.key);
  const hf = join(root, "hf");
  mkdirSync(hf, { recursive: true });
  const cfgPath = join(hf, "config.json");
  const want = JSON.stringify(spec.config, null, 2);
  const stale = !existsSync(cfgPath) || readFileSync(cfgPath, "utf8") !== want;
  const st = join(hf, "model.safetensors");
  if (stale || !existsSync(st)) {
    log(`writing random ${spec.label} weights (bf16) to ${hf}`);
    rmSync(root, { recursive: true, force: true });
    mkdirSync(hf, { recursive: true });
    writeRandomSafetensors(st, gemma3WeightShapes(spec.config));
    writeFileSync(cfgPath, want);
  }
  const tokPath = join(hf, "tokenizer.json");
  if (!existsSync(tokPath)) {
    writeFileSync(`${tokPath}.tmp`, gunzipSync(readFileSync(fixtureTokenizerPath())));
    renameSync(`${tokPath}.tmp`, tokPath);
    const cfgTok = join(dirname(fixtureTokenizerPath()), "tokenizer_config.json.gz");
    if (existsSync(cfgTok)) writeFileSync(join(hf, "tokenizer_config.json"), gunzipSync(readFileSync(cfgTok)));
  }
  for (const t of ggufTypes) {
    const out = join(root, `model-${t}.gguf`);
    if (existsSync(out)) continue;
    const type = GGUF_VARIANTS[t];
    if (type === undefined) throw new Error(`Unknown GGUF type ${t}`);
    log(`converting ${spec.label} to GGUF ${t}`);
    convertGemma3ToGguf(hf, out, type, { name: `hearth-bench ${spec.label} (random weights)` });
  }
  return root;
}

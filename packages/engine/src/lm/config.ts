// Reading config.json: both dialects of Gemma 3 configs (transformers 5's `rope_parameters`/`layer_types`
// and the hub's `rope_theta`/`rope_local_base_freq`/`rope_scaling`/`sliding_window_pattern`).
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { validateConfig } from "./config-schema.js";

export type Json = Record<string, any>;

export function readJson(path: string): Json {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (e) {
    throw new Error(`Cannot read ${path}: ${(e as Error).message}`);
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new Error(`Malformed JSON in ${path}: ${(e as Error).message}`);
  }
}

/** config.json of a model folder, validated (a wrong value is a ConfigError naming the file and the key). */
export function readConfig(folder: string): Json {
  const p = join(folder, "config.json");
  if (!existsSync(p)) throw new Error(`No config.json in ${folder}: a model folder needs one`);
  return validateConfig(readJson(p), p);
}

/** Gemma3TextConfig's defaults: the hub's multimodal configs list only the text keys that differ from them. */
export const GEMMA3_TEXT_DEFAULTS: Json = {
  vocab_size: 262208,
  hidden_size: 2304,
  intermediate_size: 9216,
  num_hidden_layers: 26,
  num_attention_heads: 8,
  num_key_value_heads: 4,
  head_dim: 256,
  rms_norm_eps: 1e-6,
  query_pre_attn_scalar: 256,
  sliding_window: 4096,
  sliding_window_pattern: 6,
  max_position_embeddings: 131072,
  final_logit_softcapping: null,
  attn_logit_softcapping: null,
};

/** Whether a checkpoint tensor belongs to a multimodal Gemma 3's vision tower or projector (hub or transformers 5 naming). */
export const isGemma3VisionWeight = (name: string): boolean => /^(model\.)?(vision_tower|multi_modal_projector)\./.test(name);

/** Whether a config is the multimodal Gemma 3 (model_type "gemma3": text_config + vision tower). */
export function isGemma3Multimodal(cfg: Json): boolean {
  return cfg.model_type === "gemma3" || (cfg.text_config !== undefined && cfg.vision_config !== undefined);
}

/**
 * The language model's config: a text config as is; for a multimodal one, its text_config over Gemma3TextConfig's
 * defaults (what transformers builds), with the top-level tie_word_embeddings where the text part has none.
 */
export function gemma3TextConfig(cfg: Json): Json {
  if (!isGemma3Multimodal(cfg)) return cfg;
  const text: Json = { ...GEMMA3_TEXT_DEFAULTS, ...(cfg.text_config ?? {}), model_type: "gemma3_text" };
  if (text.tie_word_embeddings === undefined && cfg.tie_word_embeddings !== undefined) text.tie_word_embeddings = cfg.tie_word_embeddings;
  return text;
}

export interface RopeSpec {
  base: number;
  /** Linear position scaling: positions are divided by `factor` (MLX's rope scale = 1 / factor). */
  factor: number;
}

/** Gemma 3 text arguments, normalised from either dialect. */
export interface Gemma3TextArgs {
  modelType: string;
  hiddenSize: number;
  numHiddenLayers: number;
  intermediateSize: number;
  numAttentionHeads: number;
  numKeyValueHeads: number;
  headDim: number;
  rmsNormEps: number;
  vocabSize: number;
  queryPreAttnScalar: number;
  slidingWindow: number;
  /** true where a layer uses sliding-window (local) attention. */
  slidingLayers: boolean[];
  ropeGlobal: RopeSpec;
  ropeLocal: RopeSpec;
  maxPositionEmbeddings: number;
  tieWordEmbeddings: boolean;
  useBidirectionalAttention: boolean;
  finalLogitSoftcapping: number | null;
  attnLogitSoftcapping: number | null;
  hiddenActivation: string;
}

function ropeFromParams(p: Json | undefined, fallbackBase: number): RopeSpec {
  if (!p) return { base: fallbackBase, factor: 1 };
  const type = p.rope_type ?? p.type ?? "default";
  if (type !== "default" && type !== "linear")
    throw new Error(`Unsupported rope_type '${type}' (Gemma 3 uses 'default' or 'linear')`);
  return { base: p.rope_theta ?? fallbackBase, factor: type === "linear" ? p.factor ?? 1 : 1 };
}

export function gemma3TextArgs(cfg: Json): Gemma3TextArgs {
  const c = cfg.text_config ? { ...cfg.text_config } : cfg;
  const req = (k: string) => {
    if (c[k] === undefined) throw new Error(`config.json is missing '${k}'`);
    return c[k];
  };
  const layers: number = req("num_hidden_layers");
  let sliding: boolean[];
  if (Array.isArray(c.layer_types)) {
    if (c.layer_types.length !== layers)
      throw new Error(`config.json: layer_types has ${c.layer_types.length} entries for ${layers} layers`);
    sliding = c.layer_types.map((t: string) => t === "sliding_attention");
  } else {
    const pattern: number = c.sliding_window_pattern ?? 6;
    sliding = Array.from({ length: layers }, (_, i) => (i + 1) % pattern !== 0);
  }
  let ropeGlobal: RopeSpec, ropeLocal: RopeSpec;
  if (c.rope_parameters && (c.rope_parameters.full_attention || c.rope_parameters.sliding_attention)) {
    ropeGlobal = ropeFromParams(c.rope_parameters.full_attention, 1_000_000);
    ropeLocal = ropeFromParams(c.rope_parameters.sliding_attention, 10_000);
  } else {
    const scaling = c.rope_scaling ?? undefined;
    ropeGlobal = ropeFromParams(scaling ? { ...scaling, rope_theta: c.rope_theta ?? 1_000_000 } : { rope_theta: c.rope_theta ?? 1_000_000 }, 1_000_000);
    ropeLocal = { base: c.rope_local_base_freq ?? 10_000, factor: 1 };
  }
  const heads: number = req("num_attention_heads");
  const hidden: number = req("hidden_size");
  return {
    modelType: c.model_type ?? cfg.model_type,
    hiddenSize: hidden,
    numHiddenLayers: layers,
    intermediateSize: req("intermediate_size"),
    numAttentionHeads: heads,
    numKeyValueHeads: c.num_key_value_heads ?? heads,
    headDim: c.head_dim ?? hidden / heads,
    rmsNormEps: c.rms_norm_eps ?? 1e-6,
    vocabSize: req("vocab_size"),
    queryPreAttnScalar: c.query_pre_attn_scalar ?? c.head_dim ?? hidden / heads,
    slidingWindow: c.sliding_window ?? 4096,
    slidingLayers: sliding,
    ropeGlobal,
    ropeLocal,
    maxPositionEmbeddings: c.max_position_embeddings ?? 131072,
    tieWordEmbeddings: c.tie_word_embeddings ?? cfg.tie_word_embeddings ?? true,
    useBidirectionalAttention: c.use_bidirectional_attention ?? false,
    finalLogitSoftcapping: c.final_logit_softcapping ?? null,
    attnLogitSoftcapping: c.attn_logit_softcapping ?? null,
    hiddenActivation: c.hidden_activation ?? "gelu_pytorch_tanh",
  };
}

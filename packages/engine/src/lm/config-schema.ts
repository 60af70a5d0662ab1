// config.json validation at load (zod), for both dialects: transformers 5 (rope_parameters, layer_types) and the
// hub / mlx-community one (rope_theta, rope_local_base_freq, rope_scaling, sliding_window_pattern), flat or with
// text_config / vision_config. Each key is checked on its own so that the error names the file, the key, what
// was expected and what was given; keys not listed here are left alone (configs carry many we don't read).
import { z } from "zod";
import type { Json } from "./config.js";

type Rule = [schema: z.ZodType, expected: string];

const posInt: Rule = [z.number().int().positive(), "a positive integer"];
const nonNegInt: Rule = [z.number().int().nonnegative(), "a non-negative integer"];
const posNum: Rule = [z.number().positive().finite(), "a positive number"];
const optPosNum: Rule = [z.number().positive().finite().nullable(), "a positive number or null"];
const bool: Rule = [z.boolean(), "true or false"];
const tokenIds: Rule = [z.union([z.number().int().nonnegative(), z.array(z.number().int().nonnegative()).min(1)]).nullable(),
  "a token id (non-negative integer), a list of them, or null"];
const tokenId: Rule = [z.number().int().nonnegative().nullable(), "a token id (non-negative integer) or null"];
const DTYPES = ["float32", "float16", "bfloat16", "float64"] as const;
const dtype: Rule = [z.enum(DTYPES).nullable(), `one of ${DTYPES.join(", ")}`];
const ropeObject = z.object({
  rope_type: z.string().optional(),
  type: z.string().optional(),
  rope_theta: z.number().positive().optional(),
  factor: z.number().positive().optional(),
}).loose();
const ropeParameters: Rule = [
  z.union([ropeObject, z.object({ full_attention: ropeObject.optional(), sliding_attention: ropeObject.optional() }).loose()]).nullable(),
  "an object ({rope_type, rope_theta, factor} or {full_attention: {...}, sliding_attention: {...}}) or null"];

const TEXT_KEYS: Record<string, Rule> = {
  model_type: [z.string().min(1), "a model type name (string)"],
  hidden_size: posInt,
  num_hidden_layers: posInt,
  intermediate_size: posInt,
  num_attention_heads: posInt,
  num_key_value_heads: posInt,
  head_dim: posInt,
  vocab_size: posInt,
  max_position_embeddings: posInt,
  sliding_window: [z.number().int().positive().nullable(), "a positive integer or null"],
  sliding_window_pattern: posInt,
  _sliding_window_pattern: posInt,
  query_pre_attn_scalar: posNum,
  rms_norm_eps: posNum,
  rope_theta: posNum,
  rope_local_base_freq: posNum,
  rope_scaling: [ropeObject.nullable(), "an object ({rope_type, factor}) or null"],
  rope_parameters: ropeParameters,
  layer_types: [z.array(z.enum(["sliding_attention", "full_attention"])), 'a list of "sliding_attention" / "full_attention", one per layer'],
  final_logit_softcapping: optPosNum,
  attn_logit_softcapping: optPosNum,
  hidden_activation: [z.string().min(1), "an activation name (string)"],
  tie_word_embeddings: bool,
  use_bidirectional_attention: bool,
  bos_token_id: tokenId,
  pad_token_id: tokenId,
  eos_token_id: tokenIds,
  torch_dtype: dtype,
  dtype,
  quantization: [z.record(z.string(), z.unknown()), "an object ({group_size, bits, ...})"],
  quantization_config: [z.record(z.string(), z.unknown()), "an object ({group_size, bits, ...})"],
};

const VISION_KEYS: Record<string, Rule> = {
  hidden_size: posInt,
  intermediate_size: posInt,
  num_hidden_layers: posInt,
  num_attention_heads: posInt,
  num_channels: posInt,
  image_size: posInt,
  patch_size: posInt,
  layer_norm_eps: posNum,
};

const TOP_KEYS: Record<string, Rule> = {
  ...TEXT_KEYS,
  text_config: [z.record(z.string(), z.unknown()), "an object"],
  vision_config: [z.record(z.string(), z.unknown()), "an object"],
  mm_tokens_per_image: posInt,
  image_token_index: nonNegInt,
  boi_token_index: nonNegInt,
  eoi_token_index: nonNegInt,
};

/** A config value that fails its rule: the message names the file, the key, the expected and the given value. */
export class ConfigError extends Error {
  constructor(readonly file: string, readonly key: string, readonly expected: string, readonly given: unknown) {
    super(`${file}: '${key}' must be ${expected}, got ${JSON.stringify(given) ?? String(given)}`);
    this.name = "ConfigError";
  }
}

function check(obj: Json, rules: Record<string, Rule>, file: string, prefix: string): void {
  for (const [key, [schema, expected]] of Object.entries(rules)) {
    if (!(key in obj)) continue;
    const v = obj[key];
    if (!schema.safeParse(v).success) throw new ConfigError(file, prefix + key, expected, v);
  }
}

/** Throws a ConfigError for the first key of config.json (read from `file`) with a value of the wrong type. */
export function validateConfig(config: unknown, file: string): Json {
  if (!config || typeof config !== "object" || Array.isArray(config))
    throw new ConfigError(file, "(root)", "a JSON object", config);
  const c = config as Json;
  check(c, TOP_KEYS, file, "");
  if (c.text_config) check(c.text_config, TEXT_KEYS, file, "text_config.");
  if (c.vision_config) check(c.vision_config, VISION_KEYS, file, "vision_config.");
  // layer_types must cover every layer (a string of the right type but the wrong length is as bad).
  for (const [t, prefix] of [[c, ""], [c.text_config, "text_config."]] as [Json | undefined, string][]) {
    if (t && Array.isArray(t.layer_types) && typeof t.num_hidden_layers === "number" && t.layer_types.length !== t.num_hidden_layers)
      throw new ConfigError(file, `${prefix}layer_types`, `a list of ${t.num_hidden_layers} entries (num_hidden_layers)`, t.layer_types);
  }
  return c;
}

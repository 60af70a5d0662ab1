// Shared by the demo-model scripts: package paths, argument parsing, the model config and the compact vocabulary.
import { fileURLToPath } from "node:url";
import { join } from "node:path";

/** packages/engine (the scripts run from dist/scripts/demo-model). */
export const ROOT = fileURLToPath(new URL("../../../", import.meta.url));
/** The real Gemma 3 tokenizer (tokenizer.json.gz + tokenizer_config.json.gz with the chat template). */
export const TOKENIZER_DIR = join(ROOT, "test/fixtures/tokenizer-gemma3");
export const DATA_DIR = join(ROOT, ".cache/demo-model/data");
export const CKPT_DIR = join(ROOT, ".cache/demo-model/ckpt");
export const MODEL_DIR = join(ROOT, "models/hearth-tiny");
/** The real tokenizer's vocabulary (Gemma 3's 262,144 ids). */
export const FULL_VOCAB = 262144;

/** `--name value` / `--flag` options over defaults (numbers stay numbers, booleans flags). */
export function parseArgs<T extends Record<string, string | number | boolean>>(defaults: T, argv = process.argv.slice(2)): T {
  const out: Record<string, string | number | boolean> = { ...defaults };
  for (let i = 0; i < argv.length; i++) {
    const m = /^--([a-z][a-z0-9-]*)(?:=(.*))?$/.exec(argv[i]);
    if (!m) throw new Error(`unexpected argument '${argv[i]}' (options are --${Object.keys(defaults).join(", --")})`);
    const key = m[1].replace(/-([a-z0-9])/g, (_, c: string) => c.toUpperCase());
    if (!(key in defaults)) throw new Error(`unknown option --${m[1]} (options are --${Object.keys(defaults).map((k) => k.replace(/[A-Z]/g, (c) => "-" + c.toLowerCase())).join(", --")})`);
    const d = defaults[key];
    if (typeof d === "boolean") { out[key] = m[2] === undefined ? true : m[2] !== "false"; continue; }
    const v = m[2] ?? argv[++i];
    if (v === undefined) throw new Error(`--${m[1]} needs a value`);
    out[key] = typeof d === "number" ? Number(v) : v;
    if (typeof d === "number" && !Number.isFinite(out[key] as number)) throw new Error(`--${m[1]} expects a number, got '${v}'`);
  }
  return out as T;
}

export interface ModelShape {
  hidden: number;
  layers: number;
  heads: number;
  headDim: number;
  intermediate: number;
}

/** A Gemma3ForCausalLM config.json (transformers' field names; the hub dialect of gemma-3-1b). */
export function gemma3Config(s: ModelShape): Record<string, any> {
  return {
    architectures: ["Gemma3ForCausalLM"],
    model_type: "gemma3_text",
    attention_bias: false,
    attention_dropout: 0.0,
    attn_logit_softcapping: null,
    bos_token_id: 2,
    eos_token_id: [1, 106],
    pad_token_id: 0,
    final_logit_softcapping: null,
    head_dim: s.headDim,
    hidden_activation: "gelu_pytorch_tanh",
    hidden_size: s.hidden,
    initializer_range: 0.02,
    intermediate_size: s.intermediate,
    max_position_embeddings: 32768,
    num_attention_heads: s.heads,
    num_hidden_layers: s.layers,
    num_key_value_heads: 1,
    query_pre_attn_scalar: s.headDim,
    rms_norm_eps: 1e-6,
    rope_local_base_freq: 10000,
    rope_scaling: null,
    rope_theta: 1000000,
    sliding_window: 512,
    sliding_window_pattern: 6,
    tie_word_embeddings: true,
    torch_dtype: "bfloat16",
    use_cache: true,
    vocab_size: FULL_VOCAB,
  };
}

/** Ids the demo model is trained over: every id in the corpus plus the chat-format specials (pad, eos, bos, unk, turns, "\n"). */
export function corpusVocabulary(tokenLists: Iterable<number[]>): Int32Array {
  const used = new Set<number>([0, 1, 2, 3, 105, 106, 107]);
  for (const t of tokenLists) for (const id of t) used.add(id);
  return Int32Array.from([...used].sort((a, b) => a - b));
}

/** Seconds as "1 h 02 min" / "3 min 20 s". */
export function fmtDuration(s: number): string {
  if (s >= 3600) return `${Math.floor(s / 3600)} h ${String(Math.round((s % 3600) / 60)).padStart(2, "0")} min`;
  if (s >= 60) return `${Math.floor(s / 60)} min ${String(Math.round(s % 60)).padStart(2, "0")} s`;
  return `${s.toFixed(1)} s`;
}

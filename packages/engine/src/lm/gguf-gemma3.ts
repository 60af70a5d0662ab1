// Gemma 3 checkpoint (HF folder: config.json + safetensors + tokenizer.json; text, or multimodal whose language
// model is taken) → GGUF that llama.cpp loads as architecture "gemma3". Conventions follow llama.cpp's converter: tensor names blk.N.attn_q etc., norm
// weights stored as the effective scale (1 + w, since Gemma's RMSNorm multiplies by 1 + weight) in F32, the
// tokenizer as a SentencePiece ("llama") vocab with scores and token types.
import { closeSync, existsSync, openSync, readFileSync, readSync } from "node:fs";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import { gemma3TextArgs, gemma3TextConfig, isGemma3VisionWeight, readConfig, type Json } from "./config.js";
import { GgmlType, GgufValueType, bf16ToFloat32, encodeTensor, gguf, writeGguf, type GgufTensorSpec, type GgufValue } from "./gguf.js";
import { halfToFloat } from "./gguf.js";

/** llama.cpp's llama_ftype for a file whose big tensors are all of one type. */
const FILE_TYPE: Partial<Record<GgmlType, number>> = {
  [GgmlType.F32]: 0, [GgmlType.F16]: 1, [GgmlType.Q4_0]: 2, [GgmlType.Q8_0]: 7, [GgmlType.BF16]: 32,
};

/** SentencePiece token types as llama.cpp stores them. */
export enum TokenType { NORMAL = 1, UNKNOWN = 2, CONTROL = 3, USER_DEFINED = 4, UNUSED = 5, BYTE = 6 }

// ---- safetensors reading (streamed by rows, so multi-GB tensors never sit in memory whole) -------------------
interface StEntry { file: string; dtype: string; shape: number[]; begin: number; end: number }

function readSafetensorsIndex(folder: string): Map<string, StEntry> {
  const files = existsSync(join(folder, "model.safetensors.index.json"))
    ? [...new Set(Object.values(JSON.parse(readFileSync(join(folder, "model.safetensors.index.json"), "utf8")).weight_map as Record<string, string>))]
    : ["model.safetensors"];
  const out = new Map<string, StEntry>();
  for (const f of files) {
    const path = join(folder, f);
    const fd = openSync(path, "r");
    try {
      const len = Buffer.alloc(8);
      readSync(fd, len, 0, 8, 0);
      const n = Number(len.readBigUInt64LE(0));
      const hb = Buffer.alloc(n);
      readSync(fd, hb, 0, n, 8);
      const header = JSON.parse(hb.toString("utf8")) as Record<string, any>;
      for (const [name, e] of Object.entries(header)) {
        if (name === "__metadata__") continue;
        out.set(name, { file: path, dtype: e.dtype, shape: e.shape, begin: 8 + n + e.data_offsets[0], end: 8 + n + e.data_offsets[1] });
      }
    } finally {
      closeSync(fd);
    }
  }
  return out;
}

/** Rows [r0, r1) of a 1-D/2-D tensor as float32. */
function readRows(e: StEntry, r0: number, r1: number): Float32Array {
  const cols = e.shape.length > 1 ? e.shape.slice(1).reduce((a, b) => a * b, 1) : 1;
  const esz = e.dtype === "F32" ? 4 : 2;
  const bytes = Buffer.alloc((r1 - r0) * cols * esz);
  const fd = openSync(e.file, "r");
  try {
    readSync(fd, bytes, 0, bytes.length, e.begin + r0 * cols * esz);
  } finally {
    closeSync(fd);
  }
  const n = (r1 - r0) * cols;
  if (e.dtype === "F32") return new Float32Array(bytes.buffer, bytes.byteOffset, n).slice();
  const u16 = new Uint16Array(bytes.buffer, bytes.byteOffset, n);
  if (e.dtype === "BF16") return bf16ToFloat32(u16);
  if (e.dtype === "F16") return Float32Array.from(u16, halfToFloat);
  throw new Error(`[gguf] unsupported safetensors dtype ${e.dtype}`);
}

/** The raw bytes of rows [r0, r1) (for BF16 → BF16 without a float round trip). */
function readRawRows(e: StEntry, r0: number, r1: number): Uint8Array {
  const cols = e.shape.slice(1).reduce((a, b) => a * b, 1);
  const out = new Uint8Array((r1 - r0) * cols * 2);
  const fd = openSync(e.file, "r");
  try {
    readSync(fd, out, 0, out.length, e.begin + r0 * cols * 2);
  } finally {
    closeSync(fd);
  }
  return out;
}

// ---- tokenizer -----------------------------------------------------------------------------------------------
export interface SpmVocab { tokens: string[]; scores: Float32Array; types: Int32Array; bos: number; eos: number; unk: number; pad: number }

/**
 * A tokenizer.json (Gemma's BPE-with-byte-fallback form of its SentencePiece model) as llama.cpp's SPM vocab of
 * `size` entries: pieces keep the ▁ space marker, scores fall with the id (SentencePiece orders pieces by score),
 * `<0xNN>` pieces are BYTE, special added tokens CONTROL (<unk> UNKNOWN), other added tokens USER_DEFINED.
 */
export function spmVocabFromTokenizerJson(tok: Json, size: number): SpmVocab {
  const tokens: string[] = new Array(size);
  const scores = new Float32Array(size);
  const types = new Int32Array(size).fill(TokenType.NORMAL);
  for (const [piece, id] of Object.entries(tok.model.vocab as Record<string, number>)) if (id < size) tokens[id] = piece;
  const added = new Map<number, { content: string; special: boolean }>();
  for (const a of (tok.added_tokens ?? []) as { id: number; content: string; special: boolean }[]) added.set(a.id, a);
  const find = (s: string, fallback: number) => {
    for (const [id, a] of added) if (a.content === s) return id;
    return fallback;
  };
  for (let id = 0; id < size; id++) {
    const a = added.get(id);
    if (tokens[id] === undefined) tokens[id] = a ? a.content : `<unused_hearth_${id}>`;
    scores[id] = -id;
    if (a) {
      types[id] = a.special ? TokenType.CONTROL : TokenType.USER_DEFINED;
      scores[id] = 0;
    } else if (/^<0x[0-9A-F]{2}>$/.test(tokens[id])) {
      types[id] = TokenType.BYTE;
      scores[id] = 0;
    }
  }
  const unk = find(tok.model.unk_token ?? "<unk>", 3);
  types[unk] = TokenType.UNKNOWN;
  return { tokens, scores, types, bos: find("<bos>", 2), eos: find("<eos>", 1), unk, pad: find("<pad>", 0) };
}

export function readTokenizerJson(folder: string): Json | undefined {
  if (existsSync(join(folder, "tokenizer.json"))) return JSON.parse(readFileSync(join(folder, "tokenizer.json"), "utf8"));
  if (existsSync(join(folder, "tokenizer.json.gz"))) return JSON.parse(gunzipSync(readFileSync(join(folder, "tokenizer.json.gz"))).toString("utf8"));
  return undefined;
}

// ---- metadata and tensors ------------------------------------------------------------------------------------
export function gemma3GgufMetadata(config: Json, vocab: SpmVocab, type: GgmlType, name = "gemma3"): [string, GgufValue][] {
  const a = gemma3TextArgs(gemma3TextConfig(config));
  const arch = "gemma3";
  const kv: [string, GgufValue][] = [
    ["general.architecture", gguf.str(arch)],
    ["general.name", gguf.str(name)],
    ["general.file_type", gguf.u32(FILE_TYPE[type] ?? 0)],
    ["general.quantization_version", gguf.u32(2)],
    [`${arch}.context_length`, gguf.u32(a.maxPositionEmbeddings)],
    [`${arch}.embedding_length`, gguf.u32(a.hiddenSize)],
    [`${arch}.block_count`, gguf.u32(a.numHiddenLayers)],
    [`${arch}.feed_forward_length`, gguf.u32(a.intermediateSize)],
    [`${arch}.attention.head_count`, gguf.u32(a.numAttentionHeads)],
    [`${arch}.attention.head_count_kv`, gguf.u32(a.numKeyValueHeads)],
    [`${arch}.attention.key_length`, gguf.u32(a.headDim)],
    [`${arch}.attention.value_length`, gguf.u32(a.headDim)],
    [`${arch}.attention.layer_norm_rms_epsilon`, gguf.f32(a.rmsNormEps)],
    [`${arch}.rope.freq_base`, gguf.f32(a.ropeGlobal.base)],
    [`${arch}.attention.sliding_window`, gguf.u32(a.slidingWindow)],
  ];
  if (a.ropeGlobal.factor !== 1) {
    kv.push([`${arch}.rope.scaling.type`, gguf.str("linear")], [`${arch}.rope.scaling.factor`, gguf.f32(a.ropeGlobal.factor)]);
  }
  if (a.finalLogitSoftcapping) kv.push([`${arch}.final_logit_softcapping`, gguf.f32(a.finalLogitSoftcapping)]);
  kv.push(
    ["tokenizer.ggml.model", gguf.str("llama")],
    ["tokenizer.ggml.pre", gguf.str("default")],
    ["tokenizer.ggml.tokens", gguf.arr(GgufValueType.STRING, vocab.tokens)],
    ["tokenizer.ggml.scores", gguf.arr(GgufValueType.FLOAT32, vocab.scores)],
    ["tokenizer.ggml.token_type", gguf.arr(GgufValueType.INT32, vocab.types)],
    ["tokenizer.ggml.bos_token_id", gguf.u32(vocab.bos)],
    ["tokenizer.ggml.eos_token_id", gguf.u32(vocab.eos)],
    ["tokenizer.ggml.unknown_token_id", gguf.u32(vocab.unk)],
    ["tokenizer.ggml.padding_token_id", gguf.u32(vocab.pad)],
    ["tokenizer.ggml.add_bos_token", gguf.bool(true)],
    ["tokenizer.ggml.add_eos_token", gguf.bool(false)],
    ["tokenizer.ggml.add_space_prefix", gguf.bool(false)],
  );
  return kv;
}

/** HF tensor name (without the model./language_model. prefix) → GGUF name. */
export function gemma3GgufName(hf: string): string | undefined {
  const n = hf.replace(/^(model\.language_model\.|language_model\.model\.|model\.)/, "");
  if (n === "embed_tokens.weight") return "token_embd.weight";
  if (n === "norm.weight") return "output_norm.weight";
  const m = /^layers\.(\d+)\.(.+)\.weight$/.exec(n);
  if (!m) return undefined;
  const map: Record<string, string> = {
    "input_layernorm": "attn_norm", "self_attn.q_proj": "attn_q", "self_attn.k_proj": "attn_k",
    "self_attn.v_proj": "attn_v", "self_attn.o_proj": "attn_output", "self_attn.q_norm": "attn_q_norm",
    "self_attn.k_norm": "attn_k_norm", "post_attention_layernorm": "post_attention_norm",
    "pre_feedforward_layernorm": "ffn_norm", "post_feedforward_layernorm": "post_ffw_norm",
    "mlp.gate_proj": "ffn_gate", "mlp.up_proj": "ffn_up", "mlp.down_proj": "ffn_down",
  };
  const g = map[m[2]];
  return g ? `blk.${m[1]}.${g}.weight` : undefined;
}

/** Ids the tokenizer defines (its highest id + 1, added tokens included). */
function tokenizerSize(tok: Json): number {
  let n = 0;
  for (const id of Object.values((tok.model?.vocab ?? {}) as Record<string, number>)) n = Math.max(n, id + 1);
  for (const a of (tok.added_tokens ?? []) as { id: number }[]) n = Math.max(n, a.id + 1);
  return n;
}

/**
 * Converts a Gemma 3 folder (config.json, safetensors in f32/f16/bf16, tokenizer.json[.gz]) to one GGUF file whose
 * matrices are `type` (BF16, F16, Q8_0 or Q4_0; the embedding too, which doubles as the tied output head) and whose
 * norms are F32. A multimodal folder (model_type "gemma3") gives its language model only, as llama.cpp's converter
 * does: the vision tower and projector belong in a separate mmproj file. Embedding rows past the tokenizer's last
 * id (the multimodal checkpoints' 262208 against 262145 tokens) are dropped, also as llama.cpp's converter does.
 */
export function convertGemma3ToGguf(folder: string, outPath: string, type: GgmlType, opts: { name?: string } = {}): void {
  const config = readConfig(folder);
  const args = gemma3TextArgs(gemma3TextConfig(config));
  const tok = readTokenizerJson(folder);
  if (!tok) throw new Error(`[gguf] ${folder}: no tokenizer.json (llama.cpp needs the vocabulary in the GGUF)`);
  const nVocab = Math.min(args.vocabSize, tokenizerSize(tok));
  const vocab = spmVocabFromTokenizerJson(tok, nVocab);
  const index = readSafetensorsIndex(folder);
  const tensors: GgufTensorSpec[] = [];
  const language = (k: string) => !isGemma3VisionWeight(k) && gemma3GgufName(k) !== undefined;
  const ordered = [...index.entries()].filter(([k]) => language(k)).sort(([a], [b]) => tensorOrder(a) - tensorOrder(b));
  if (!ordered.some(([k]) => gemma3GgufName(k) === "token_embd.weight"))
    throw new Error(`[gguf] ${folder}: no Gemma 3 language-model weights (embed_tokens) in its safetensors`);
  for (const [hf, e] of ordered) {
    const name = gemma3GgufName(hf)!;
    if (e.shape.length === 1) {
      const isNorm = hf.endsWith("norm.weight");
      tensors.push({
        name, shape: e.shape, type: GgmlType.F32,
        data: () => {
          const v = readRows(e, 0, e.shape[0]);
          if (isNorm) for (let i = 0; i < v.length; i++) v[i] += 1;  // store Gemma's effective scale 1 + w
          return new Uint8Array(v.buffer);
        },
      });
      continue;
    }
    const rows = name === "token_embd.weight" ? Math.min(e.shape[0], nVocab) : e.shape[0], cols = e.shape[1];
    const chunkRows = Math.max(1, Math.floor((4 << 20) / cols));
    tensors.push({
      name, shape: [rows, cols], type,
      data: function* () {
        for (let r = 0; r < rows; r += chunkRows) {
          const r1 = Math.min(rows, r + chunkRows);
          if (type === GgmlType.BF16 && e.dtype === "BF16") yield readRawRows(e, r, r1);
          else yield encodeTensor(type, readRows(e, r, r1));
        }
      },
    });
  }
  writeGguf(outPath, gemma3GgufMetadata(config, vocab, type, opts.name), tensors);
}

// Embedding first, then layer by layer (a file laid out in execution order reads sequentially on first touch).
function tensorOrder(hf: string): number {
  if (hf.includes("embed_tokens")) return -1;
  const m = /layers\.(\d+)\./.exec(hf);
  return m ? Number(m[1]) : 1e9;
}

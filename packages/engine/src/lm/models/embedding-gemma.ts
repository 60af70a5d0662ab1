// EmbeddingGemma in the sentence-transformers layout: modules.json lists Transformer (a Gemma3TextModel with
// bidirectional attention; its sliding layers see |i − j| < window) → Pooling (1_Pooling, mean over the mask)
// → Dense (2_Dense, 3_Dense) → Normalize (L2). embed() adds the task prompts, pads on the right, batches texts
// sorted by length, and truncates Matryoshka dimensions (512/256/128) with re-normalisation.
import { existsSync } from "node:fs";
import { join } from "node:path";
import * as mx from "../../core/mx.js";
import type { MxArray } from "../../core/array.js";
import type { Dtype } from "../../core/dtype.js";
import { treeFlatten } from "../../core/tree.js";
import { Module } from "../../nn/module.js";
import { Linear } from "../../nn/layers/linear.js";
import { validateConfig } from "../config-schema.js";
import { readJson, type Json } from "../config.js";
import { resolveModelPath } from "../hub.js";
import { loadTokenizer, type Tokenizer } from "../tokenizer.js";
import { Gemma3TextModel, modelArgs as textModelArgs } from "./gemma3-text.js";

/** EmbeddingGemma's task prompts (its model card and config_sentence_transformers.json). */
export const EMBEDDING_GEMMA_PROMPTS: Record<string, string> = {
  query: "task: search result | query: ",
  document: "title: none | text: ",
  classification: "task: classification | query: ",
  clustering: "task: clustering | query: ",
  similarity: "task: sentence similarity | query: ",
  "code retrieval": "task: code retrieval | query: ",
  "question answering": "task: question answering | query: ",
  "fact checking": "task: fact checking | query: ",
  summarization: "task: summarization | query: ",
  none: "",
};

const TASK_ALIASES: Record<string, string> = {
  search: "query",
  retrieval: "query",
  "search result": "query",
  "retrieval-query": "query",
  "retrieval-document": "document",
  passage: "document",
  "sentence similarity": "similarity",
  sts: "similarity",
  code: "code retrieval",
  "code-retrieval": "code retrieval",
  code_retrieval: "code retrieval",
  qa: "question answering",
  "question-answering": "question answering",
  question_answering: "question answering",
  "fact-checking": "fact checking",
  fact_checking: "fact checking",
  "fact verification": "fact checking",
};

export type PoolingMode = "mean" | "cls" | "max" | "lasttoken";

export interface PoolingConfig {
  mode: PoolingMode;
  dimension: number;
  includePrompt: boolean;
}

/** 1_Pooling/config.json in either dialect: {embedding_dimension, pooling_mode} or {word_embedding_dimension, pooling_mode_*_tokens}. */
export function parsePoolingConfig(c: Json, hidden: number): PoolingConfig {
  let mode: string | undefined = typeof c.pooling_mode === "string" ? c.pooling_mode : undefined;
  if (!mode) {
    const flags: [string, PoolingMode][] = [["pooling_mode_mean_tokens", "mean"], ["pooling_mode_cls_token", "cls"], ["pooling_mode_max_tokens", "max"], ["pooling_mode_lasttoken", "lasttoken"]];
    const on = flags.filter(([k]) => c[k] === true).map(([, m]) => m);
    if (on.length > 1) throw new Error(`1_Pooling: several pooling modes at once (${on.join(", ")}) are not supported`);
    mode = on[0] ?? "mean";
  }
  mode = mode.toLowerCase().replace(/_tokens?$/, "");
  if (mode === "last_token") mode = "lasttoken";
  if (!["mean", "cls", "max", "lasttoken"].includes(mode)) throw new Error(`1_Pooling: unsupported pooling mode '${mode}'`);
  const dimension = c.embedding_dimension ?? c.word_embedding_dimension ?? hidden;
  if (dimension !== hidden) throw new Error(`1_Pooling: dimension ${dimension} differs from the transformer's hidden size ${hidden}`);
  return { mode: mode as PoolingMode, dimension, includePrompt: c.include_prompt ?? true };
}

/** A sentence-transformers Dense module: y = act(x Wᵀ + b). */
export class Dense extends Module {
  linear: Linear;
  constructor(inFeatures: number, outFeatures: number, bias: boolean, private readonly activation: "identity" | "tanh") {
    super();
    this.linear = new Linear(inFeatures, outFeatures, bias);
  }
  forward(x: MxArray): MxArray {
    const y = this.linear.forward(x);
    return this.activation === "tanh" ? mx.tanh(y) : y;
  }
}

function denseActivation(name: string | undefined): "identity" | "tanh" {
  if (!name || /Identity$/.test(name)) return "identity";
  if (/Tanh$/.test(name)) return "tanh";
  throw new Error(`Dense: unsupported activation_function '${name}'`);
}

export interface EmbedOptions {
  /** A task prompt name (query, document, classification, clustering, similarity, code retrieval, question answering, fact checking, none) or one of the model's prompts. Default "none" unless the model sets a default. */
  task?: string;
  /** A literal prompt to put before every text instead of a task's. */
  prompt?: string;
  /** Document title for task "document" (default "none"). */
  title?: string;
  /** Matryoshka truncation (e.g. 512, 256, 128), re-normalised. Default: full size. */
  dimensions?: number;
  /** Texts per forward pass (default 32). */
  batchSize?: number;
}

export interface EmbedTokensResult {
  /** [B, L, hidden] after the final norm. */
  lastHiddenState: MxArray;
  /** [B, hidden] after pooling. */
  pooled: MxArray;
  /** [B, out] after the Dense layers and normalisation. */
  embeddings: MxArray;
}

export class EmbeddingGemma extends Module {
  model: Gemma3TextModel;
  dense: Dense[];
  tokenizer?: Tokenizer;
  prompts: Record<string, string> = { ...EMBEDDING_GEMMA_PROMPTS };
  defaultPrompt?: string;
  maxSeqLength?: number;
  readonly normalize: boolean;
  constructor(readonly config: Json, readonly pooling: PoolingConfig, dense: Dense[], normalize: boolean) {
    super();
    this.model = new Gemma3TextModel(textModelArgs(config));
    this.dense = dense;
    this.normalize = normalize;
  }

  get dimension(): number {
    return this.dense.length ? this.dense[this.dense.length - 1].linear.weight.shape[0] : this.pooling.dimension;
  }

  /** Forward over token ids [B, L] with a 1/0 mask [B, L] (right padding): hidden states, pooled, embeddings. */
  embedTokens(inputIds: MxArray, attentionMask?: MxArray, opts: { promptLengths?: number[] } = {}): EmbedTokensResult {
    if (inputIds.ndim !== 2) throw new Error(`[embedTokens] inputIds must be [B, L], got [${inputIds.shape.join(", ")}]`);
    const [B, L] = inputIds.shape;
    const mask = attentionMask ?? mx.ones([B, L], mx.int32);
    if (mask.shape[0] !== B || mask.shape[1] !== L) throw new Error(`[embedTokens] attentionMask [${mask.shape.join(", ")}] must match inputIds [${B}, ${L}]`);
    const lastHiddenState = this.model.forward(inputIds, { attentionMask: mask, bidirectional: true });
    let poolMask = mask;
    if (!this.pooling.includePrompt && opts.promptLengths) {
      const pm = new Int32Array(B * L);
      const m = mask.astype(mx.int32).tolist() as number[][];
      for (let b = 0; b < B; b++) for (let t = 0; t < L; t++) pm[b * L + t] = t >= (opts.promptLengths[b] ?? 0) ? m[b][t] : 0;
      poolMask = mx.array(pm, mx.int32, [B, L]);
    }
    const pooled = this.pool(lastHiddenState, poolMask);
    let e = pooled;
    for (const d of this.dense) e = d.forward(e);
    if (this.normalize) e = l2normalize(e);
    return { lastHiddenState, pooled, embeddings: e };
  }

  private pool(h: MxArray, mask: MxArray): MxArray {
    const [B, L, D] = h.shape;
    const m = mx.reshape(mask.astype(h.dtype), [B, L, 1]);
    switch (this.pooling.mode) {
      case "mean": {
        const count = mx.maximum(mx.sum(m, 1), 1e-9);
        return mx.divide(mx.sum(mx.multiply(h, m), 1), count);
      }
      case "max":
        return mx.max(mx.where(mx.greater(m, 0), h, -1e9), 1);
      case "cls":
        return mx.reshape(mx.slice(h, [0, 0, 0], [B, 1, D]), [B, D]);
      case "lasttoken": {
        const last = mx.maximum(mx.subtract(mx.sum(mask.astype(mx.int32), 1), 1), 0);
        return mx.reshape(mx.takeAlongAxis(h, mx.reshape(last, [B, 1, 1]), 1), [B, D]);
      }
    }
  }

  /** The prompt for a task name (or the model's own prompt names). */
  promptFor(opts: EmbedOptions): string {
    if (opts.prompt !== undefined) return opts.prompt;
    if (opts.task === undefined) return this.defaultPrompt ?? "";
    const raw = opts.task.trim();
    if (this.prompts[raw] !== undefined && raw !== "document") return this.prompts[raw];
    const key = raw.toLowerCase();
    const name = TASK_ALIASES[key] ?? key;
    if (name === "document") return opts.title !== undefined ? `title: ${opts.title} | text: ` : this.prompts.document ?? EMBEDDING_GEMMA_PROMPTS.document;
    const p = this.prompts[name] ?? EMBEDDING_GEMMA_PROMPTS[name];
    if (p === undefined)
      throw new Error(`Unknown task '${opts.task}': use one of ${Object.keys(EMBEDDING_GEMMA_PROMPTS).join(", ")}${Object.keys(this.prompts).some((k) => !(k in EMBEDDING_GEMMA_PROMPTS)) ? ", or the model's prompts: " + Object.keys(this.prompts).filter((k) => !(k in EMBEDDING_GEMMA_PROMPTS)).join(", ") : ""}`);
    return p;
  }

  /** Embeddings of texts (one Float32Array each, in input order). */
  async embed(texts: string | readonly string[], opts: EmbedOptions = {}): Promise<Float32Array[]> {
    const tok = this.tokenizer;
    if (!tok) throw new Error("This embedder has no tokenizer (no tokenizer.json in its folder): use embedTokens with ids");
    const list = typeof texts === "string" ? [texts] : [...texts];
    if (list.some((t) => typeof t !== "string")) throw new Error("embed: texts must be strings");
    const batchSize = opts.batchSize ?? 32;
    if (!(Number.isInteger(batchSize) && batchSize > 0)) throw new Error(`batchSize must be a positive integer, got ${batchSize}`);
    const full = this.dimension;
    const dims = opts.dimensions ?? full;
    if (!(Number.isInteger(dims) && dims > 0 && dims <= full)) throw new Error(`dimensions must be an integer in [1, ${full}] (Matryoshka sizes: 768, 512, 256, 128), got ${dims}`);
    if (!list.length) return [];
    const prompt = this.promptFor(opts);
    const maxLen = this.maxSeqLength;
    const promptLen = prompt && !this.pooling.includePrompt ? tok.encode(prompt).length : 0;
    const encoded = list.map((t) => {
      let ids = tok.encode(prompt + t);
      if (maxLen && ids.length > maxLen) ids = ids.slice(0, maxLen);
      return ids;
    });
    // Longest first (as sentence-transformers), so each batch pads little; results return in input order.
    const order = list.map((_, i) => i).sort((a, b) => encoded[b].length - encoded[a].length);
    const out: Float32Array[] = new Array(list.length);
    const pad = tok.specialTokens.pad !== undefined ? tok.tokenToId(tok.specialTokens.pad) ?? 0 : 0;
    for (let s = 0; s < order.length; s += batchSize) {
      const idx = order.slice(s, s + batchSize);
      const L = Math.max(...idx.map((i) => encoded[i].length));
      const ids = new Int32Array(idx.length * L).fill(pad);
      const mask = new Int32Array(idx.length * L);
      idx.forEach((i, r) => {
        ids.set(encoded[i], r * L);
        mask.fill(1, r * L, r * L + encoded[i].length);
      });
      // One tidy scope per batch: its activations are freed at once rather than at garbage collection.
      const flat = mx.tidy(() => {
        let { embeddings } = this.embedTokens(mx.array(ids, mx.int32, [idx.length, L]), mx.array(mask, mx.int32, [idx.length, L]),
          { promptLengths: idx.map(() => promptLen) });
        if (dims < full) {
          embeddings = mx.slice(embeddings, [0, 0], [idx.length, dims]);
          if (this.normalize) embeddings = l2normalize(embeddings);
        }
        return embeddings.astype(mx.float32).toFloat32Array();
      });
      idx.forEach((i, r) => (out[i] = flat.slice(r * dims, (r + 1) * dims)));
    }
    return out;
  }
}

function l2normalize(x: MxArray): MxArray {
  const n = mx.sqrt(mx.sum(mx.square(x.astype(mx.float32)), -1, true));
  return mx.divide(x.astype(mx.float32), mx.maximum(n, 1e-12)).astype(x.dtype);
}

export interface LoadEmbedderOptions {
  /** Cast floating weights (e.g. "bfloat16"). */
  dtype?: Dtype | string;
  noTokenizer?: boolean;
}

function stripPrefix(weights: Record<string, MxArray>): Record<string, MxArray> {
  const out: Record<string, MxArray> = {};
  for (const [k, v] of Object.entries(weights)) {
    if (k.includes("rotary_emb.inv_freq")) continue;
    out[k.startsWith("model.") ? k.slice("model.".length) : k] = v;
  }
  return out;
}

/** A sentence-transformers folder (or hub id) → an EmbeddingGemma ready to embed. */
export async function loadEmbedder(pathOrHubId: string, opts: LoadEmbedderOptions = {}): Promise<EmbeddingGemma> {
  const path = resolveModelPath(pathOrHubId);
  const modulesPath = join(path, "modules.json");
  // Without modules.json: the bare transformer, mean pooling, normalised.
  const modules: Json[] = existsSync(modulesPath)
    ? readJson(modulesPath) as unknown as Json[]
    : [{ type: "sentence_transformers.models.Transformer", path: "" }, { type: "sentence_transformers.models.Pooling", path: "" }, { type: "sentence_transformers.models.Normalize", path: "" }];
  if (!Array.isArray(modules)) throw new Error(`${modulesPath}: expected a list of modules`);
  const kinds = modules.map((m) => String(m.type ?? "").split(".").pop());
  if (kinds[0] !== "Transformer") throw new Error(`${modulesPath}: the first module must be a Transformer, got ${modules[0]?.type}`);
  const tfFolder = join(path, modules[0].path ?? "");
  const config = validateConfig(readJson(join(tfFolder, "config.json")), join(tfFolder, "config.json"));
  const type = config.model_type;
  if (type === "gemma3" && config.vision_config)
    throw new Error(`${pathOrHubId} is a Gemma 3 vision-language model (model_type 'gemma3' with a vision_config), not an ` +
      "embedding model: use 'hearth generate' or 'hearth describe-image' with it; 'hearth embed' takes EmbeddingGemma folders");
  if (type !== "gemma3_text" && type !== "gemma3")
    throw new Error(`loadEmbedder supports Gemma 3 text encoders (EmbeddingGemma); got model_type '${type}'`);
  const hidden = (config.text_config ?? config).hidden_size;
  let pooling: PoolingConfig = { mode: "mean", dimension: hidden, includePrompt: true };
  const dense: Dense[] = [];
  const denseFolders: string[] = [];
  let normalize = false;
  for (const [i, m] of modules.entries()) {
    if (i === 0) continue;
    const folder = join(path, m.path ?? "");
    switch (kinds[i]) {
      case "Pooling":
        pooling = parsePoolingConfig(existsSync(join(folder, "config.json")) ? readJson(join(folder, "config.json")) : {}, hidden);
        break;
      case "Dense": {
        const c = readJson(join(folder, "config.json"));
        dense.push(new Dense(c.in_features, c.out_features, c.bias ?? true, denseActivation(c.activation_function)));
        denseFolders.push(folder);
        break;
      }
      case "Normalize":
        normalize = true;
        break;
      default:
        throw new Error(`${modulesPath}: unsupported module ${m.type}`);
    }
  }
  const emb = new EmbeddingGemma(config, pooling, dense, normalize);
  const weights: [string, MxArray][] = Object.entries(stripPrefix(mx.load(tfFolder) as Record<string, MxArray>)).map(([k, v]) => [`model.${k}`, v]);
  denseFolders.forEach((f, i) => {
    if (!existsSync(join(f, "model.safetensors"))) throw new Error(`No model.safetensors in ${f} (only safetensors weights are supported)`);
    for (const [k, v] of Object.entries(mx.load(join(f, "model.safetensors")) as Record<string, MxArray>)) weights.push([`dense.${i}.${k}`, v]);
  });
  const dt = opts.dtype !== undefined ? mx.toDtype(opts.dtype) : undefined;
  emb.loadWeights(dt ? weights.map(([k, v]) => [k, v.dtype.kind === "float" ? mx.astype(v, dt) : v]) : weights, { strict: true });
  emb.eval();
  mx.eval(treeFlatten(emb.parameters()).map(([, a]) => a));

  const stCfgPath = join(path, "config_sentence_transformers.json");
  if (existsSync(stCfgPath)) {
    const st = readJson(stCfgPath);
    if (st.prompts && typeof st.prompts === "object") emb.prompts = { ...emb.prompts, ...st.prompts };
    if (typeof st.default_prompt_name === "string") emb.defaultPrompt = emb.prompts[st.default_prompt_name];
  }
  const sbPath = join(path, "sentence_bert_config.json");
  if (existsSync(sbPath)) emb.maxSeqLength = readJson(sbPath).max_seq_length ?? undefined;
  if (!opts.noTokenizer && (existsSync(join(path, "tokenizer.json")) || existsSync(join(path, "tokenizer.json.gz"))))
    emb.tokenizer = await loadTokenizer(path);
  return emb;
}

// lm.load: a folder or HF-cache id → { model, tokenizer, config } with the weights memory-mapped.
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import * as mx from "../core/mx.js";
import type { MxArray } from "../core/array.js";
import type { Dtype } from "../core/dtype.js";
import { treeFlatten } from "../core/tree.js";
import { UnsupportedModelError } from "../core/errors.js";
import { readConfig, type Json } from "./config.js";
import { resolveModelPath } from "./hub.js";
import { createModel } from "./models/index.js";
import type { LanguageModel } from "./model.js";
import { loadTokenizer, type Tokenizer } from "./tokenizer.js";
import { loadAdapters } from "./adapters.js";
import { applyQuantization } from "./quantization.js";

export interface LoadOptions {
  /** An adapter folder applied on top: mlx-lm's (adapters.safetensors + adapter_config.json) or PEFT's. */
  adapterPath?: string;
  /** Cast floating weights to this dtype (e.g. "bfloat16"). */
  dtype?: Dtype | string;
  /** Skip the tokenizer even when its files are present. */
  noTokenizer?: boolean;
}

/**
 * What lm.load returns. The tokenizer is there for every text model: a folder without tokenizer files loads, but
 * reading `tokenizer` then throws an error that says so (pass `noTokenizer: true` to load the weights alone, and
 * get `tokenizer: undefined` in the type as well).
 */
export interface Loaded<T extends Tokenizer | undefined = Tokenizer> {
  model: LanguageModel;
  tokenizer: T;
  config: Json;
  path: string;
}

const TOKENIZER_FILES = ["tokenizer.json", "tokenizer.json.gz"];

export function hasTokenizer(folder: string): boolean {
  return TOKENIZER_FILES.some((f) => existsSync(join(folder, f)));
}

/** Loads every safetensors weight of a folder (single file, sharded index, or several files). */
export function loadWeightsFrom(folder: string): Record<string, MxArray> {
  const files = readdirSync(folder).filter((f) => f.endsWith(".safetensors"));
  if (!files.length) throw new Error(`No .safetensors weights in ${folder}`);
  return mx.load(folder) as Record<string, MxArray>;
}

/**
 * A sentence-transformers folder (EmbeddingGemma) holds a Gemma 3 text encoder that lm.load would read, then fail
 * on with a list of every parameter: say what it is and what takes it instead.
 */
export function assertNotEmbedder(path: string, name = path): void {
  if (existsSync(join(path, "modules.json")))
    throw new UnsupportedModelError("embedding", `${name} is an embedding model (EmbeddingGemma, sentence-transformers layout: ` +
      "modules.json), not a text generation model: use 'hearth embed' (lm.loadEmbedder) with it");
}

export async function load(pathOrHubId: string, opts: LoadOptions & { noTokenizer: true }): Promise<Loaded<undefined>>;
export async function load(pathOrHubId: string, opts?: LoadOptions & { noTokenizer?: false }): Promise<Loaded<Tokenizer>>;
export async function load(pathOrHubId: string, opts: LoadOptions = {}): Promise<Loaded<Tokenizer | undefined>> {
  const path = resolveModelPath(pathOrHubId);
  assertNotEmbedder(path, pathOrHubId);
  const config = readConfig(path);
  // The tokenizer's file reads (and its chat-template worker's boot) overlap the model's load.
  const tokenizerLoad = opts.noTokenizer || !hasTokenizer(path) ? undefined : loadTokenizer(path);
  tokenizerLoad?.catch(() => undefined);  // awaited below; a model error thrown first must not leave it unhandled
  const model = await createModel(config);
  let weights = model.sanitize(loadWeightsFrom(path));
  if (opts.dtype !== undefined) {
    const dt = mx.toDtype(opts.dtype);
    weights = Object.fromEntries(Object.entries(weights).map(([k, v]) => [k, v.dtype.kind === "float" ? mx.astype(v, dt) : v]));
  }
  applyQuantization(model, config, weights);  // layers with `<name>.scales` become QuantizedLinear/-Embedding
  model.loadWeights(Object.entries(weights), { strict: true });
  if (opts.adapterPath) loadAdapters(model, opts.adapterPath);
  model.eval();
  mx.eval(treeFlatten(model.parameters()).map(([, a]) => a));
  const tokenizer = await tokenizerLoad;
  if (tokenizer) {
    const vocab = (config.text_config ?? config).vocab_size;
    // The base vocabulary must fit; added tokens past it (Gemma 3's image token 262144 with vocab_size 262144 in
    // the text-only checkpoints) are never produced from text.
    if (typeof vocab === "number" && tokenizer.vocabSize > vocab)
      throw new Error(`The tokenizer of ${pathOrHubId} (vocabulary ${tokenizer.vocabSize}) does not match the model ` +
        `(vocab_size ${vocab}): its ids would index past the embedding. Use the tokenizer files made for this model`);
  }
  if (tokenizer || opts.noTokenizer) return { model, tokenizer, config, path };
  const missing = () => {
    throw new Error(`${pathOrHubId} has no tokenizer (tokenizer.json): text can't be encoded. Add the tokenizer files ` +
      "of this model to the folder, or load with { noTokenizer: true } to use the weights alone");
  };
  return { model, config, path, get tokenizer(): Tokenizer { return missing(); } };
}

export { loadTokenizer };

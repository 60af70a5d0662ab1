// lm.describeImage: one user turn with images and a prompt → the model's answer. A small self-contained
// sampling loop (greedy, or temperature sampling) over model.forward and the model's KV caches: the prompt with
// its pixel values is prefilled once, then text tokens are decoded one at a time.
import * as mx from "../core/mx.js";
import type { MxArray } from "../core/array.js";
import type { LanguageModel } from "./model.js";
import type { Cache } from "./cache.js";
import type { ChatMessage, ChatContentPart } from "./tokenizer.js";
import type { Gemma3Processor } from "./processor.js";
import type { ImageInput } from "./image.js";

/** A model that takes images: forward(ids, { pixelValues, cache }). */
export interface VisionLanguageModel extends LanguageModel {
  forward(inputIds: MxArray, opts?: { pixelValues?: MxArray; cache?: Cache[] }): MxArray;
  getImageFeatures(pixelValues: MxArray): MxArray;
}

export interface DescribeImageOptions {
  /** One image or several (path, Buffer, or data:image/...;base64 URL), shown before the prompt. */
  image: ImageInput | ImageInput[];
  /** The question or instruction (default "Describe this image."). */
  prompt?: string;
  /** An optional system message. */
  system?: string;
  /** Most new tokens (default 256). */
  maxTokens?: number;
  /** Sampling temperature; 0 (default) is greedy. */
  temp?: number;
  /** Seed for temperature sampling (reproducible runs). */
  seed?: number;
  /** Called with each new piece of text as it is decoded. */
  onText?: (text: string) => void;
}

export interface DescribeImageResult {
  text: string;
  /** Generated token ids (without the stop token). */
  tokens: number[];
  promptTokens: number;
  finishReason: "stop" | "length";
  /** Seconds for preprocessing + prefill (vision tower included), and tokens/s while decoding. */
  prefillSeconds: number;
  generationTps: number;
}

function isVisionModel(m: LanguageModel): m is VisionLanguageModel {
  return typeof (m as unknown as { getImageFeatures?: unknown }).getImageFeatures === "function";
}

/** The arrays a cache holds (its `arrays` when the cache lists them, else its own array fields), to keep across tidy. */
function cacheArrays(caches: Cache[]): MxArray[] {
  return caches.flatMap((c) => {
    const listed = (c as unknown as { arrays?: MxArray[] }).arrays;
    if (Array.isArray(listed)) return listed;
    return Object.values(c as unknown as Record<string, unknown>).filter((v): v is MxArray => mx.isArray(v));
  });
}

function lastRow(logits: MxArray): MxArray {
  const [, L, V] = logits.shape;
  return mx.reshape(mx.slice(logits, [0, L - 1, 0], [1, L, V]), [V]);
}

export async function describeImage(model: LanguageModel, processor: Gemma3Processor, opts: DescribeImageOptions): Promise<DescribeImageResult> {
  if (!isVisionModel(model))
    throw new Error(`describeImage needs a vision-language model (model_type "gemma3" with a vision tower), got '${model.modelType}'`);
  const images = Array.isArray(opts.image) ? opts.image : [opts.image];
  if (!images.length) throw new Error("describeImage: give at least one image");
  const maxTokens = opts.maxTokens ?? 256;
  const temp = opts.temp ?? 0;
  if (!(Number.isInteger(maxTokens) && maxTokens >= 0)) throw new Error(`maxTokens must be a non-negative integer, got ${maxTokens}`);
  if (!(temp >= 0 && Number.isFinite(temp))) throw new Error(`temp must be a finite number ≥ 0, got ${temp}`);

  const content: ChatContentPart[] = [...images.map((image) => ({ type: "image", image })), { type: "text", text: opts.prompt ?? "Describe this image." }];
  const messages: ChatMessage[] = [];
  if (opts.system) messages.push({ role: "system", content: opts.system });
  messages.push({ role: "user", content });

  const t0 = performance.now();
  const inputs = await processor.process({ messages });
  const cache = model.makeCache();
  let key = temp > 0 && opts.seed !== undefined ? mx.random.key(opts.seed) : undefined;
  const sample = (logits: MxArray): number => {
    const row = lastRow(logits);
    if (temp === 0) return mx.argmax(row).item() as number;
    let k: MxArray | undefined;
    if (key) [key, k] = mx.split(mx.random.split(key), 2).map((a) => mx.reshape(a, [2])) as [MxArray, MxArray];  // key kept by step()
    return mx.random.categorical(mx.multiply(row, 1 / temp), k ? { key: k } : {}).item() as number;
  };
  // Each step runs in mx.tidy (its activations are freed at once, not at garbage collection), keeping the caches.
  const step = (ids: MxArray, pixelValues?: MxArray): number =>
    mx.tidy(() => {
      const tok = sample(model.forward(ids, { pixelValues, cache }));
      mx.keep(cacheArrays(cache));
      if (key) mx.keep(key);
      return tok;
    });
  let next = step(inputs.inputIds, inputs.pixelValues);
  inputs.pixelValues?.dispose();
  const t1 = performance.now();

  const tok = processor.tokenizer;
  const detok = tok.createDetokenizer({ skipSpecialTokens: true });
  const tokens: number[] = [];
  let finishReason: "stop" | "length" = "length";
  for (let i = 0; i < maxTokens; i++) {
    if (tok.isEosTokenId(next)) {
      finishReason = "stop";
      break;
    }
    tokens.push(next);
    const piece = detok.add(next);
    if (piece && opts.onText) opts.onText(piece);
    if (i === maxTokens - 1) break;
    next = step(mx.array([[next]], mx.int32));
  }
  const rest = detok.flush();
  if (rest && opts.onText) opts.onText(rest);
  const t2 = performance.now();
  return {
    text: detok.text,
    tokens,
    promptTokens: inputs.inputIds.shape[1],
    finishReason,
    prefillSeconds: (t1 - t0) / 1000,
    generationTps: tokens.length > 1 ? (tokens.length - 1) / ((t2 - t1) / 1000) : 0,
  };
}

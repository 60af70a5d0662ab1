// lm.describeImage: one user turn with images and a prompt → the model's answer, as one row of an lm.DecodeLoop:
// the prompt with its pixel values is prefilled in one forward, then text is decoded through the text model's
// compiled step.
import type { MxArray } from "../core/array.js";
import type { LanguageModel } from "./model.js";
import type { Cache } from "./cache.js";
import type { ChatMessage, ChatContentPart } from "./tokenizer.js";
import type { Gemma3Processor } from "./processor.js";
import type { ImageInput } from "./image.js";
import { DecodeLoop } from "./decode-loop.js";

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
  /** Nucleus sampling (0 or 1: off) and top-k (0: off), as in generate. */
  topP?: number;
  topK?: number;
  /** Seed for temperature sampling (reproducible runs). */
  seed?: number;
  /** Stops decoding between tokens (finishReason "abort"). */
  signal?: AbortSignal;
  /** Called with each new piece of text as it is decoded. */
  onText?: (text: string) => void;
  /** Decode through the compiled step (default true). */
  compile?: boolean;
}

export interface DescribeImageResult {
  text: string;
  /** Generated token ids (without the stop token). */
  tokens: number[];
  promptTokens: number;
  finishReason: "stop" | "length" | "abort";
  /** Seconds for preprocessing + prefill (vision tower included), and tokens/s while decoding. */
  prefillSeconds: number;
  generationTps: number;
  /** Whether decoding went through the model's compiled step. */
  compiled: boolean;
}

function isVisionModel(m: LanguageModel): m is VisionLanguageModel {
  return typeof (m as unknown as { getImageFeatures?: unknown }).getImageFeatures === "function";
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
  const tok = processor.tokenizer;
  const prompt = (inputs.inputIds.tolist() as number[][])[0];
  const loop = new DecodeLoop(model, { eosTokenIds: tok.eosTokenIds, prefillChunk: prompt.length, compile: opts.compile });
  const detok = tok.createDetokenizer({ skipSpecialTokens: true });
  const tokens: number[] = [];
  let finishReason: "stop" | "length" | "abort" = "length";
  let t1 = 0;
  try {
    if (opts.signal?.aborted) finishReason = "abort";
    else if (maxTokens > 0) {
      const id = loop.insert({
        prompt, maxTokens, temp, topP: opts.topP, topK: opts.topK, signal: opts.signal,
        ...(inputs.pixelValues ? { pixelValues: inputs.pixelValues } : {}),
        ...(temp > 0 && opts.seed !== undefined ? { seed: opts.seed } : {}),
      });
      for (let done = false; !done;) {
        for (const ev of await loop.step()) {
          if (ev.rowId !== id) continue;
          if (!t1 && ev.token >= 0) t1 = performance.now();
          if (ev.token >= 0 && !tok.isEosTokenId(ev.token)) {
            tokens.push(ev.token);
            const piece = detok.add(ev.token);
            if (piece && opts.onText) opts.onText(piece);
          }
          if (ev.finishReason) {
            finishReason = ev.finishReason;
            done = true;
          }
        }
      }
    }
  } finally {
    loop.dispose();
    inputs.pixelValues?.dispose();
  }
  t1 ||= performance.now();
  const rest = detok.flush();
  if (rest && opts.onText) opts.onText(rest);
  const t2 = performance.now();
  return {
    text: detok.text,
    tokens,
    promptTokens: prompt.length,
    finishReason,
    prefillSeconds: (t1 - t0) / 1000,
    generationTps: tokens.length > 1 ? (tokens.length - 1) / ((t2 - t1) / 1000) : 0,
    compiled: loop.compiled,
  };
}

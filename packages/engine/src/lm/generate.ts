// Text generation (mlx-lm's generate_step / stream_generate / generate), each call one row of an lm.DecodeLoop
// (decode-loop.ts): chunked prefill through the KV cache, then the model's compiled decode step.
import * as mx from "../core/mx.js";
import type { MxArray } from "../core/array.js";
import type { Cache } from "./cache.js";
import type { LanguageModel } from "./model.js";
import { DecodeLoop, type RowOptions } from "./decode-loop.js";
import { makePromptCache, PromptCache } from "./prompt-cache.js";
import type { LogitsProcessor, LogitsProcessorOptions, Sampler, SamplerOptions } from "./sample.js";
import type { ApplyChatTemplateOptions, ChatMessage, Tokenizer } from "./tokenizer.js";

export type FinishReason = "stop" | "length" | "abort";

export interface StepOptions extends SamplerOptions, LogitsProcessorOptions {
  /** Most tokens to generate (default 256; Infinity for no limit). */
  maxTokens?: number;
  /** Makes sampling reproducible: the same seed gives the same tokens. */
  seed?: number;
  /** A rotating KV cache of this many tokens on every layer (global layers keep their first 4 tokens). */
  maxKvSize?: number;
  /** Quantize the KV cache to 4 or 8 bits (groups of kvGroupSize, default 64, along the head dimension). */
  kvBits?: number;
  kvGroupSize?: number;
  /** Quantize once the cache holds this many tokens (default 0: from the start). */
  quantizedKvStart?: number;
  /**
   * A cache kept across calls (from makePromptCache / loadPromptCache): the part of the prompt it already holds
   * is not prefilled again. A plain list of layer caches is taken to hold a prefix and the prompt is appended.
   */
  promptCache?: PromptCache | Cache[];
  /** Stops between tokens (and between prefill chunks) with finishReason "abort". */
  signal?: AbortSignal;
  /** Prompt tokens per prefill forward pass (default 2048). */
  prefillStepSize?: number;
  /** Replace the sampler built from temp/topP/topK/minP. */
  sampler?: Sampler;
  /** Extra logits processors, run after the built-in ones; they see the whole token history. */
  logitsProcessors?: LogitsProcessor[];
  /** Yield each token's log-probabilities over the vocabulary (an MxArray [vocab] you own). */
  logprobs?: boolean;
  /** Called after each prefill chunk with (tokens processed, tokens to process). */
  onPromptProgress?: (processed: number, total: number) => void;
  /**
   * Decode through the compiled one-token step of Gemma 3 models (default true; it needs an unquantized KV
   * cache, so kvBits turns it off); false: every step through the model's forward.
   */
  compile?: boolean;
  /**
   * In the compiled step, 4- and 8-bit layers take int8-rounded activations on AVX512-VNNI, as llama.cpp does
   * for Q4_0/Q8_0 (~0.5% relative error per product, about half the CPU per weight). Default true.
   */
  int8Activations?: boolean;
}

export interface GenerateOptions extends StepOptions {
  /**
   * Text or token ids (used as they are). Text goes through the chat template as one user message when the
   * tokenizer has one (as mlx-lm and `hearth generate --prompt` do), else it is tokenized with bos.
   */
  prompt?: string | number[];
  /** Use a text prompt as raw text, without the chat template (`hearth generate --ignore-chat-template`). */
  rawPrompt?: boolean;
  /** A conversation, rendered with the chat template and the generation prompt. */
  messages?: ChatMessage[];
  /** Options for the chat template (tools, documents, chatTemplate, template variables). */
  chatTemplateOptions?: Omit<ApplyChatTemplateOptions, "tokenize" | "addGenerationPrompt">;
  /** Generation ends before any of these strings, which are never part of the text. */
  stop?: string | string[];
  /** Leave special tokens (other than the end-of-sequence ones, never shown) out of the text. */
  skipSpecialTokens?: boolean;
}

export interface GenerationResponse {
  /** Text completed by this token (often "", e.g. in the middle of a character or of a possible stop string). */
  text: string;
  /** The token id (-1 on a final response without a token). */
  token: number;
  logprobs?: MxArray;
  /** Set on the last response only. */
  finishReason?: FinishReason;
  /** Prompt tokens run through the model in this call (the ones the prompt cache already held are not). */
  promptTokens: number;
  /** Prompt tokens the prompt cache already held. */
  cachedTokens: number;
  generationTokens: number;
  promptTps: number;
  generationTps: number;
  /** Peak memory of the engine's allocator so far, in GB (as mlx-lm reports it). */
  peakMemory: number;
}

export interface StepToken {
  token: number;
  logprobs?: MxArray;
}

/** What a token stream reports about its prompt, filled in as it runs. */
export interface StepInfo {
  promptTokens: number;
  cachedTokens: number;
  /** Seconds from the start until the first token was ready. */
  promptTime: number;
  aborted: boolean;
}

function checkInt(name: string, v: number | undefined, min: number, allowInf = false): void {
  if (v === undefined) return;
  if (typeof v !== "number" || !(Number.isInteger(v) || (allowInf && v === Infinity)) || v < min)
    throw new RangeError(`[generate] ${name} must be an integer >= ${min}${allowInf ? " (or Infinity)" : ""}, got ${v}`);
}

/** The prompt cache a call works in: the caller's, or a fresh one. */
export function resolvePromptCache(model: LanguageModel, opts: StepOptions): PromptCache {
  const pc = opts.promptCache === undefined
    ? makePromptCache(model, opts.maxKvSize !== undefined ? { maxKvSize: opts.maxKvSize } : {})
    : opts.promptCache instanceof PromptCache ? opts.promptCache : new PromptCache(opts.promptCache, null);
  if (opts.kvBits !== undefined && !(opts.quantizedKvStart && pc.offset < opts.quantizedKvStart))
    pc.quantize({ bits: opts.kvBits, groupSize: opts.kvGroupSize ?? 64 });
  return pc;
}

/**
 * Token ids one at a time (mlx-lm's generate_step), as one row of a DecodeLoop. The prompt cache ends up holding
 * the prompt and every generated token that was fed back (all but the last one).
 */
export async function* generateStep(
  model: LanguageModel, prompt: readonly number[], opts: StepOptions = {},
  info: StepInfo = { promptTokens: 0, cachedTokens: 0, promptTime: 0, aborted: false },
): AsyncGenerator<StepToken, void, undefined> {
  const maxTokens = opts.maxTokens ?? 256;
  checkInt("maxTokens", maxTokens, 0, true);
  const stepSize = opts.prefillStepSize ?? 2048;
  checkInt("prefillStepSize", stepSize, 1);
  checkInt("seed", opts.seed, 0);
  checkInt("quantizedKvStart", opts.quantizedKvStart, 0);
  if (opts.kvBits !== undefined && ![2, 3, 4, 5, 6, 8].includes(opts.kvBits))
    throw new RangeError(`[generate] kvBits must be 2, 3, 4, 5, 6 or 8, got ${opts.kvBits}`);
  if (!prompt.length) throw new RangeError("[generate] the prompt is empty: at least one token is needed");
  for (const t of prompt)
    if (!Number.isInteger(t) || t < 0) throw new RangeError(`[generate] prompt token ids must be integers >= 0, got ${t}`);
  const t0 = performance.now();
  if (opts.signal?.aborted) {
    info.aborted = true;
    return;
  }
  const userCache = opts.promptCache !== undefined;
  const loop = new DecodeLoop(model, {
    prefillChunk: stepSize, compile: opts.compile !== false && opts.kvBits === undefined, int8Activations: opts.int8Activations,
  });
  const row: RowOptions = {
    ...opts, prompt: [...prompt], maxTokens, promptCache: resolvePromptCache(model, opts), fullLogprobs: !!opts.logprobs,
    logprobs: undefined, checkpoints: opts.promptCache instanceof PromptCache,
  };
  const id = loop.insert(row);
  let failed = false;
  try {
    for (;;) {
      const evs = await loop.step();
      const ev = evs.find((e) => e.rowId === id);
      if (!ev) continue;
      if (ev.promptTokens !== undefined) {
        info.promptTokens = ev.promptTokens;
        info.cachedTokens = ev.cachedTokens ?? 0;
        info.promptTime = (performance.now() - t0) / 1000;
      }
      if (ev.token >= 0) yield ev.logprobsArray ? { token: ev.token, logprobs: ev.logprobsArray } : { token: ev.token };
      if (ev.finishReason === "abort") info.aborted = true;
      if (ev.finishReason) break;
    }
  } catch (e) {
    failed = true;
    throw e;
  } finally {
    // The caller's cache stays theirs (reset when a step failed: its layers are in an unknown state); ours is freed.
    const pc = loop.remove(id, userCache);
    if (pc && failed) pc.reset();
    loop.dispose();
  }
}

/**
 * The prompt's token ids: rendered messages; token ids as given; text as one user message through the chat
 * template when the tokenizer has one and rawPrompt is not set; else text tokenized with bos.
 */
export function promptTokens(tokenizer: Tokenizer | undefined, opts: GenerateOptions): number[] {
  if (opts.messages !== undefined) {
    if (opts.prompt !== undefined) throw new Error("[generate] give either prompt or messages, not both");
    if (!tokenizer) throw new Error("[generate] messages need a tokenizer with a chat template");
    if (!Array.isArray(opts.messages)) throw new TypeError("[generate] messages must be an array of { role, content }");
    return tokenizer.applyChatTemplate(opts.messages, { ...opts.chatTemplateOptions, addGenerationPrompt: true, tokenize: true });
  }
  const p = opts.prompt;
  if (Array.isArray(p)) return p;
  if (typeof p === "string") {
    if (!tokenizer) throw new Error("[generate] a text prompt needs a tokenizer (or pass token ids)");
    if (!opts.rawPrompt && tokenizer.hasChatTemplate)
      return tokenizer.applyChatTemplate([{ role: "user", content: p }], { ...opts.chatTemplateOptions, addGenerationPrompt: true, tokenize: true });
    const ids = tokenizer.encode(p, { addSpecialTokens: false });
    const bos = tokenizer.bosTokenId;
    return bos === undefined || ids[0] === bos ? ids : tokenizer.encode(p, { addSpecialTokens: true });
  }
  throw new Error("[generate] no prompt: pass prompt (text or token ids) or messages");
}

/** Turns tokens into text: streaming detokenizer, stop strings held back until they can no longer match. */
export class TextAssembler {
  private held = "";
  private readonly stops: string[];
  private readonly detok;

  constructor(tokenizer: Tokenizer, stop: string | string[] | undefined, skipSpecialTokens = false) {
    this.stops = (stop === undefined ? [] : Array.isArray(stop) ? stop : [stop]).filter((s) => {
      if (typeof s !== "string") throw new TypeError(`[generate] stop strings must be strings, got ${typeof s}`);
      return s.length > 0;
    });
    this.detok = tokenizer.createDetokenizer({ skipSpecialTokens });
  }

  /** Adds a token; returns the text that can be shown and whether a stop string was reached. */
  add(token: number): { text: string; stopped: boolean } {
    this.held += this.detok.add(token);
    return this.drain(false);
  }

  /** End of generation: everything still held (up to a stop string). */
  finish(): { text: string; stopped: boolean } {
    this.held += this.detok.flush();
    return this.drain(true);
  }

  private drain(final: boolean): { text: string; stopped: boolean } {
    const held = this.held;
    let cut = -1;
    for (const s of this.stops) {
      const i = held.indexOf(s);
      if (i >= 0 && (cut < 0 || i < cut)) cut = i;
    }
    if (cut >= 0) {
      this.held = "";
      return { text: held.slice(0, cut), stopped: true };
    }
    // Hold the longest tail that could still grow into a stop string.
    let keep = 0;
    if (!final)
      for (const s of this.stops)
        for (let k = Math.min(s.length - 1, held.length); k > keep; k--)
          if (held.endsWith(s.slice(0, k))) {
            keep = k;
            break;
          }
    let at = held.length - keep;
    if (at > 0 && at < held.length && (held.charCodeAt(at - 1) & 0xfc00) === 0xd800) at--;  // never split a pair
    this.held = held.slice(at);
    return { text: held.slice(0, at), stopped: false };
  }
}

/** Streams the generation: one response per token, the last with finishReason. */
export async function* streamGenerate(
  model: LanguageModel, tokenizer: Tokenizer, opts: GenerateOptions,
): AsyncGenerator<GenerationResponse, void, undefined> {
  if (!tokenizer) throw new Error("[generate] a tokenizer is needed for text (use generateStep for token ids)");
  const prompt = promptTokens(tokenizer, opts);
  const text = new TextAssembler(tokenizer, opts.stop, opts.skipSpecialTokens);
  const maxTokens = opts.maxTokens ?? 256;
  const info: StepInfo = { promptTokens: 0, cachedTokens: 0, promptTime: 0, aborted: false };
  let n = 0, tFirst = 0;
  const response = (t: string, token: number, finishReason?: FinishReason, logprobs?: MxArray): GenerationResponse => {
    const now = performance.now();
    const r: GenerationResponse = {
      text: t,
      token,
      promptTokens: info.promptTokens,
      cachedTokens: info.cachedTokens,
      generationTokens: n,
      promptTps: info.promptTime > 0 ? info.promptTokens / info.promptTime : 0,
      generationTps: n > 1 ? ((n - 1) * 1000) / (now - tFirst) : 0,
      peakMemory: mx.getPeakMemory() / 1e9,
    };
    if (logprobs) r.logprobs = logprobs;
    if (finishReason) r.finishReason = finishReason;
    return r;
  };
  for await (const { token, logprobs } of generateStep(model, prompt, opts, info)) {
    n++;
    if (n === 1) tFirst = performance.now();
    if (tokenizer.isEosTokenId(token)) {
      yield response(text.finish().text, token, "stop", logprobs);
      return;
    }
    const a = text.add(token);
    if (a.stopped) {
      yield response(a.text, token, "stop", logprobs);
      return;
    }
    if (n >= maxTokens) {
      const f = text.finish();
      yield response(a.text + f.text, token, f.stopped ? "stop" : "length", logprobs);
      return;
    }
    yield response(a.text, token, undefined, logprobs);
  }
  const f = text.finish();
  yield response(f.text, -1, f.stopped ? "stop" : info.aborted ? "abort" : "length");
}

/** The generated text (mlx-lm's generate). */
export async function generate(model: LanguageModel, tokenizer: Tokenizer, opts: GenerateOptions): Promise<string> {
  let out = "";
  for await (const r of streamGenerate(model, tokenizer, opts)) out += r.text;
  return out;
}

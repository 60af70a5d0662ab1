// batchGenerate: several prompts decoded together. Prompts are left-padded to one length with an attention
// mask over the padding; every row runs until all are done, but each row's text ends on its own (EOS, stop
// string, maxTokens), and rows that are done are no longer read.
import * as mx from "../core/mx.js";
import type { MxArray } from "../core/array.js";
import type { LanguageModel } from "./model.js";
import { PromptCache } from "./prompt-cache.js";
import {
  KeyChain, promptTokens, samplingOf, TextAssembler,
  type FinishReason, type GenerateOptions,
} from "./generate.js";
import type { ChatMessage, Tokenizer } from "./tokenizer.js";

export type BatchPrompt = string | number[] | ChatMessage[];

export interface BatchGenerateOptions extends Omit<GenerateOptions, "prompt" | "messages" | "promptCache" | "logprobs"> {
  /** Called with each row's finish reason once every row is done. */
  onFinish?: (reasons: FinishReason[]) => void;
}

const isMessages = (p: BatchPrompt): p is ChatMessage[] => Array.isArray(p) && p.length > 0 && typeof p[0] === "object";

/** Generates a continuation for every prompt; returns the texts in order. */
export async function batchGenerate(
  model: LanguageModel, tokenizer: Tokenizer, prompts: BatchPrompt[], opts: BatchGenerateOptions = {},
): Promise<string[]> {
  if (!Array.isArray(prompts) || prompts.length === 0) throw new RangeError("[batchGenerate] prompts must be a non-empty array");
  const ids = prompts.map((p) =>
    promptTokens(tokenizer, isMessages(p) ? { messages: p, chatTemplateOptions: opts.chatTemplateOptions } : { prompt: p }));
  for (const [i, r] of ids.entries()) if (!r.length) throw new RangeError(`[batchGenerate] prompt ${i} is empty`);
  const maxTokens = opts.maxTokens ?? 256;
  if (!(Number.isInteger(maxTokens) || maxTokens === Infinity) || maxTokens < 0)
    throw new RangeError(`[batchGenerate] maxTokens must be an integer >= 0, got ${maxTokens}`);
  const stepSize = opts.prefillStepSize ?? 2048;
  if (!Number.isInteger(stepSize) || stepSize < 1) throw new RangeError(`[batchGenerate] prefillStepSize must be an integer >= 1, got ${stepSize}`);
  const { sampler, processors, context } = samplingOf(opts);
  const B = ids.length;
  const T = Math.max(...ids.map((r) => r.length));
  const padToken = tokenizer.specialTokens.pad;
  const padId = (padToken !== undefined ? tokenizer.tokenToId(padToken) : undefined) ?? 0;
  const rows = ids.map((r) => [...Array(T - r.length).fill(padId), ...r]);
  const maskRows = ids.map((r) => [...Array(T - r.length).fill(0), ...Array(r.length).fill(1)]);
  const texts = ids.map(() => "");
  const reasons: (FinishReason | undefined)[] = ids.map(() => undefined);
  const asm = ids.map(() => new TextAssembler(tokenizer, opts.stop, opts.skipSpecialTokens));
  if (maxTokens === 0 || opts.signal?.aborted) {
    reasons.fill(maxTokens === 0 ? "length" : "abort");
    opts.onFinish?.(reasons as FinishReason[]);
    return texts;
  }

  const pc = new PromptCache(model.makeCache(opts.maxKvSize !== undefined ? { maxKvSize: opts.maxKvSize } : {}), null);
  if (opts.kvBits !== undefined) pc.quantize({ bits: opts.kvBits, groupSize: opts.kvGroupSize ?? 64 });
  let mask = mx.array(maskRows, mx.int32);
  const maskUpTo = (end: number) => (end === mask.shape[1] ? mask : mx.slice(mask, [0, 0], [B, end]));
  for (let pos = 0; pos < T - 1;) {
    const end = Math.min(pos + stepSize, T - 1);
    const chunk = rows.map((r) => r.slice(pos, end));
    mx.tidy(() => {
      model.forward(mx.array(chunk, mx.int32), { cache: pc.layers, attentionMask: maskUpTo(end) });
      mx.keep(pc.arrays);
    });
    await mx.asyncEval(pc.arrays);
    pos = end;
    if (opts.signal?.aborted) {
      reasons.fill("abort");
      mask.dispose();
      opts.onFinish?.(reasons as FinishReason[]);
      return texts;
    }
  }

  let hist: MxArray | null = null;
  if (processors.length && T > 1) {
    const start = context === Infinity ? 0 : Math.max(0, T - 1 - context);
    hist = mx.array(rows.map((r) => r.slice(start, T - 1)), mx.int32);
  }
  const keys = opts.seed !== undefined ? new KeyChain(opts.seed) : undefined;
  type Step = { y: MxArray };
  const step = (input: () => MxArray, grow: boolean): Step =>
    mx.tidy(() => {
      const x = input();
      if (grow) {
        const m = mx.concatenate([mask, mx.ones([B, 1], mx.int32)], 1);
        mask.dispose();
        mask = mx.keep(m);
      }
      const logits = model.forward(x, { cache: pc.layers, attentionMask: mask });
      const [, L, V] = logits.shape;
      let last = mx.reshape(mx.slice(logits, [0, L - 1, 0], [B, L, V]), [B, V]).astype(mx.float32);
      if (processors.length) {
        let h = hist ? mx.concatenate([hist, x.astype(mx.int32)], 1) : x.astype(mx.int32);
        const n = h.shape[1];
        if (n > context) h = mx.slice(h, [0, n - context], [B, n]);
        hist?.dispose();
        hist = mx.keep(h);
        for (const p of processors) last = p(hist, last);
      }
      const lp = mx.subtract(last, mx.logsumexp(last, -1, true));
      const y = sampler(lp, keys?.next());
      mx.keep(pc.arrays);
      return { y };
    });

  let cur: Step | null = step(() => mx.array(rows.map((r) => [r[T - 1]]), mx.int32), false);
  let curP: Promise<void> | null = mx.asyncEval(cur.y);
  let next: Step | null = null, nextP: Promise<void> | null = null;
  let n = 0;
  try {
    while (reasons.some((r) => r === undefined)) {
      if (opts.signal?.aborted) {
        for (let b = 0; b < B; b++) if (!reasons[b]) { texts[b] += asm[b].finish().text; reasons[b] = "abort"; }
        break;
      }
      if (n + 1 < maxTokens) {
        const y = cur!.y;
        next = step(() => mx.reshape(y, [B, 1]), true);
        nextP = mx.asyncEval(next.y);
      }
      await curP;
      curP = null;
      const tokens = cur!.y.tolist() as number[];
      cur!.y.dispose();
      cur = null;
      n++;
      for (let b = 0; b < B; b++) {
        if (reasons[b]) continue;
        const t = tokens[b];
        if (tokenizer.isEosTokenId(t)) {
          texts[b] += asm[b].finish().text;
          reasons[b] = "stop";
          continue;
        }
        const a = asm[b].add(t);
        texts[b] += a.text;
        if (a.stopped) reasons[b] = "stop";
        else if (n >= maxTokens) {
          const f = asm[b].finish();
          texts[b] += f.text;
          reasons[b] = f.stopped ? "stop" : "length";
        }
      }
      if (!next) break;
      cur = next;
      curP = nextP;
      next = null;
      nextP = null;
    }
  } finally {
    for (const [s, p] of [[cur, curP], [next, nextP]] as [Step | null, Promise<void> | null][]) {
      if (p) await p.catch(() => undefined);
      s?.y.dispose();
    }
    hist?.dispose();
    keys?.dispose();
    mask.dispose();
    for (const a of pc.arrays) a.dispose();
  }
  opts.onFinish?.(reasons.map((r) => r ?? "length"));
  return texts;
}

// batchGenerate: several prompts decoded together, as rows of one lm.DecodeLoop: each row has its own caches and
// sampling state (with a seed, row i draws what generating prompt i alone with that seed draws), finishes on its
// own (EOS, stop string, maxTokens) and leaves the batch at once.
import type { LanguageModel } from "./model.js";
import { DecodeLoop } from "./decode-loop.js";
import { makePromptCache } from "./prompt-cache.js";
import { promptTokens, TextAssembler, type FinishReason, type GenerateOptions } from "./generate.js";
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
  const texts = ids.map(() => "");
  const reasons: (FinishReason | undefined)[] = ids.map(() => undefined);
  const asm = ids.map(() => new TextAssembler(tokenizer, opts.stop, opts.skipSpecialTokens));
  if (maxTokens === 0 || opts.signal?.aborted) {
    reasons.fill(maxTokens === 0 ? "length" : "abort");
    opts.onFinish?.(reasons as FinishReason[]);
    return texts;
  }
  const loop = new DecodeLoop(model, {
    prefillChunk: stepSize, compile: opts.compile !== false && opts.kvBits === undefined, int8Activations: opts.int8Activations,
    eosTokenIds: tokenizer.eosTokenIds,
  });
  try {
    const { onFinish: _f, stop: _s, skipSpecialTokens: _k, chatTemplateOptions: _c, maxKvSize, ...rest } = opts;
    const rowOf = new Map<number, number>();
    for (const [i, prompt] of ids.entries()) {
      const promptCache = maxKvSize !== undefined ? makePromptCache(model, { maxKvSize }) : undefined;
      rowOf.set(loop.insert({ ...rest, prompt, maxTokens, promptCache }), i);
    }
    while (loop.size) {
      for (const ev of await loop.step()) {
        const b = rowOf.get(ev.rowId)!;
        let reason: FinishReason | undefined;
        if (ev.token < 0 || tokenizer.isEosTokenId(ev.token)) {
          texts[b] += asm[b].finish().text;
          reason = ev.finishReason ?? "stop";
        } else {
          const a = asm[b].add(ev.token);
          texts[b] += a.text;
          if (a.stopped) reason = "stop";
          else if (ev.finishReason) {
            const f = asm[b].finish();
            texts[b] += f.text;
            reason = f.stopped ? "stop" : ev.finishReason;
          }
        }
        if (reason) {
          reasons[b] = reason;
          loop.remove(ev.rowId);  // a stop string ends the row here, even if the loop would go on
        }
      }
    }
  } finally {
    loop.dispose();
  }
  opts.onFinish?.(reasons.map((r) => r ?? "length"));
  return texts;
}

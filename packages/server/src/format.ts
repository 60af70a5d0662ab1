// OpenAI response pieces shared by the endpoints: ids, usage, finish reasons and the two logprobs shapes.
import { randomBytes } from "node:crypto";
import type { FinishReason, TokenLogprob, Usage } from "@hearth/serving";
import type { TokenEvent } from "./generation.js";

export const newId = (prefix: string) => `${prefix}-${randomBytes(12).toString("hex")}`;
export const nowSeconds = () => Math.floor(Date.now() / 1000);

export function finishReason(r: FinishReason): "stop" | "length" | "tool_calls" {
  return r === "length" ? "length" : r === "tool_calls" ? "tool_calls" : "stop";
}

export interface OpenAIUsage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
  prompt_tokens_details: { cached_tokens: number };
}

/** Usage over choices: the prompt of each distinct prompt counted once, completions summed. */
export function usage(prompt: { promptTokens: number; cachedTokens: number }[], completions: Usage[]): OpenAIUsage {
  const p = prompt.reduce((a, u) => a + u.promptTokens, 0);
  const cached = prompt.reduce((a, u) => a + u.cachedTokens, 0);
  const c = completions.reduce((a, u) => a + u.completionTokens, 0);
  return { prompt_tokens: p, completion_tokens: c, total_tokens: p + c, prompt_tokens_details: { cached_tokens: cached } };
}

/** The chosen token's own text (the backend's tokenText; else from the alternatives, else the text it completed). */
export function tokenText(e: TokenEvent): string {
  return e.tokenText ?? e.topLogprobs?.find((t) => t.token === e.token)?.text ?? e.text;
}

const bytes = (s: string) => [...Buffer.from(s, "utf8")];

/** Chat's logprobs entry for one token ({ token, logprob, bytes, top_logprobs }). */
export function chatLogprob(e: TokenEvent, top: number) {
  const tok = tokenText(e);
  const alts = (e.topLogprobs ?? []).slice(0, top);
  return {
    token: tok,
    logprob: e.logprob ?? 0,
    bytes: bytes(tok),
    top_logprobs: alts.map((t: TokenLogprob) => ({ token: t.text, logprob: t.logprob, bytes: bytes(t.text) })),
  };
}

/** Completions' logprobs object over tokens ({ tokens, token_logprobs, top_logprobs, text_offset }). */
export function completionLogprobs(tokens: TokenEvent[], top: number, startOffset: number) {
  const out = { tokens: [] as string[], token_logprobs: [] as number[], top_logprobs: [] as Record<string, number>[], text_offset: [] as number[] };
  let offset = startOffset;
  for (const e of tokens) {
    const tok = tokenText(e);
    out.tokens.push(tok);
    out.token_logprobs.push(e.logprob ?? 0);
    const alts: Record<string, number> = {};
    for (const t of (e.topLogprobs ?? []).slice(0, top)) if (!(t.text in alts)) alts[t.text] = t.logprob;
    out.top_logprobs.push(alts);
    out.text_offset.push(offset);
    offset += e.text.length;
  }
  return out;
}

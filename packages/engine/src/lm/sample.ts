// Samplers and logits processors as small factories (mlx-lm's sample_utils): a sampler maps log-probabilities
// [batch, vocab] to token ids [batch]; a processor maps logits [batch, vocab] to logits, seeing the tokens so far.
import * as mx from "../core/mx.js";
import type { MxArray } from "../core/array.js";

export interface SamplerOptions {
  /** Temperature; 0 (the default) is greedy (argmax). */
  temp?: number;
  /** Nucleus sampling: keep the most likely tokens whose probabilities sum to topP (0 or 1: off). */
  topP?: number;
  /** Keep only the topK most likely tokens (0: off). */
  topK?: number;
  /** Drop tokens less likely than minP × the most likely one's probability (0: off). */
  minP?: number;
  /** minP never keeps fewer than this many tokens (default 1). */
  minTokensToKeep?: number;
}

/** Token ids [batch] (uint32 / int32) from log-probabilities [batch, vocab]; `key` makes sampling reproducible. */
export type Sampler = ((logprobs: MxArray, key?: MxArray) => MxArray) & {
  /**
   * Set on makeSampler's temp-0 sampler: the result is argmax over the last axis, which the raw logits give as well
   * as log-probabilities, so a decode loop may take one argmax over all its rows' logits and skip the log-softmax.
   */
  readonly greedy?: boolean;
};
/** New logits [batch, vocab] from the tokens so far [batch, n] (null when there are none) and the logits. */
export type LogitsProcessor = (tokens: MxArray | null, logits: MxArray) => MxArray;

const NEG_INF = -Infinity;

/** Keeps the k most likely tokens. */
export function applyTopK(logprobs: MxArray, k: number): MxArray {
  const vocab = logprobs.shape[logprobs.ndim - 1];
  if (!(k > 0) || k >= vocab) return logprobs;
  const idx = mx.topkIndices(logprobs, k, -1);
  return mx.putAlongAxis(mx.fullLike(logprobs, NEG_INF), idx, mx.takeAlongAxis(logprobs, idx, -1), -1);
}

/** Keeps the smallest set of most likely tokens whose probability mass reaches p (nucleus sampling). */
export function applyTopP(logprobs: MxArray, p: number): MxArray {
  if (!(p > 0 && p < 1)) return logprobs;
  const order = mx.argsort(logprobs, -1);  // ascending
  const sortedLp = mx.takeAlongAxis(logprobs, order, -1);
  const cum = mx.cumsum(mx.exp(sortedLp), -1);
  // In ascending order a token is kept when the mass up to and including it exceeds 1 - p, i.e. the mass
  // strictly above it is below p.
  const masked = mx.where(mx.greater(cum, 1 - p), sortedLp, NEG_INF);
  return mx.putAlongAxis(mx.zerosLike(logprobs), order, masked, -1);
}

/** Drops tokens whose probability is below minP × the top token's (keeping at least minTokensToKeep). */
export function applyMinP(logprobs: MxArray, minP: number, minTokensToKeep = 1): MxArray {
  if (!(minP > 0)) return logprobs;
  const top = mx.max(logprobs, -1, true);
  let keep = mx.greaterEqual(logprobs, mx.add(top, Math.log(minP)));
  if (minTokensToKeep > 1) {
    const kth = mx.min(mx.topk(logprobs, Math.min(minTokensToKeep, logprobs.shape[logprobs.ndim - 1]), -1), -1, true);
    keep = mx.logicalOr(keep, mx.greaterEqual(logprobs, kth));
  }
  return mx.where(keep, logprobs, NEG_INF);
}

function checkNumber(op: string, name: string, v: number | undefined, ok: (v: number) => boolean, what: string): void {
  if (v === undefined) return;
  if (typeof v !== "number" || Number.isNaN(v) || !ok(v)) throw new RangeError(`[${op}] ${name} must be ${what}, got ${v}`);
}

/** makeSampler({ temp, topP, topK, minP, minTokensToKeep }): temp 0 is greedy. */
export function makeSampler(opts: SamplerOptions = {}): Sampler {
  const op = "makeSampler";
  checkNumber(op, "temp", opts.temp, (v) => v >= 0 && Number.isFinite(v), "a finite number >= 0");
  checkNumber(op, "topP", opts.topP, (v) => v >= 0 && v <= 1, "in [0, 1]");
  checkNumber(op, "topK", opts.topK, (v) => Number.isInteger(v) && v >= 0, "an integer >= 0");
  checkNumber(op, "minP", opts.minP, (v) => v >= 0 && v <= 1, "in [0, 1]");
  checkNumber(op, "minTokensToKeep", opts.minTokensToKeep, (v) => Number.isInteger(v) && v >= 1, "an integer >= 1");
  const temp = opts.temp ?? 0;
  if (temp === 0) return Object.assign((logprobs: MxArray) => mx.argmax(logprobs, -1), { greedy: true });
  const { topK = 0, topP = 0, minP = 0, minTokensToKeep = 1 } = opts;
  return (logprobs, key) => {
    let lp = logprobs;
    if (topK > 0) lp = applyTopK(lp, topK);
    if (topP > 0 && topP < 1) lp = applyTopP(lp, topP);
    if (minP > 0) lp = applyMinP(lp, minP, minTokensToKeep);
    return mx.random.categorical(mx.multiply(lp, 1 / temp), -1, key ? { key } : {});
  };
}

export interface LogitsProcessorOptions {
  /** Added to the logits of the given token ids. */
  logitBias?: Record<number, number> | Map<number, number>;
  /** > 1 discourages repeating tokens seen in the last repetitionContextSize tokens (1: off). */
  repetitionPenalty?: number;
  /** How many recent tokens the repetition penalty looks at (default 20). */
  repetitionContextSize?: number;
}

export function makeLogitsProcessors(opts: LogitsProcessorOptions = {}): LogitsProcessor[] {
  const op = "makeLogitsProcessors";
  const out: LogitsProcessor[] = [];
  if (opts.logitBias) {
    const entries = opts.logitBias instanceof Map
      ? [...opts.logitBias]
      : Object.entries(opts.logitBias).map(([k, v]) => [Number(k), v] as [number, number]);
    for (const [id, bias] of entries) {
      if (!Number.isInteger(id) || id < 0) throw new RangeError(`[${op}] logitBias keys must be token ids (integers >= 0), got ${id}`);
      if (typeof bias !== "number" || Number.isNaN(bias)) throw new RangeError(`[${op}] logitBias[${id}] must be a number, got ${bias}`);
    }
    if (entries.length) {
      const ids = mx.array(entries.map(([k]) => k), mx.int32);
      const vals = mx.array(entries.map(([, v]) => v), mx.float32);
      out.push((_tokens, logits) => {
        const vocab = logits.shape[logits.ndim - 1];
        const bad = entries.find(([k]) => k >= vocab);
        if (bad) throw new RangeError(`[logitBias] token id ${bad[0]} is outside the vocabulary (${vocab})`);
        const idx = mx.broadcastTo(ids, [logits.shape[0], entries.length]);
        const cur = mx.takeAlongAxis(logits, idx, -1);
        return mx.putAlongAxis(logits, idx, mx.add(cur, vals.astype(logits.dtype)), -1);
      });
    }
  }
  const penalty = opts.repetitionPenalty;
  checkNumber(op, "repetitionPenalty", penalty, (v) => v > 0 && Number.isFinite(v), "a finite number > 0");
  checkNumber(op, "repetitionContextSize", opts.repetitionContextSize, (v) => Number.isInteger(v) && v >= 1, "an integer >= 1");
  if (penalty !== undefined && penalty !== 1) {
    const ctx = opts.repetitionContextSize ?? 20;
    out.push((tokens, logits) => {
      if (!tokens || tokens.size === 0) return logits;
      const n = tokens.shape[tokens.ndim - 1];
      const recent = n > ctx ? mx.slice(tokens, [0, n - ctx], [tokens.shape[0], n]) : tokens;
      const sel = mx.takeAlongAxis(logits, recent, -1);
      const penalised = mx.where(mx.less(sel, 0), mx.multiply(sel, penalty), mx.divide(sel, penalty));
      return mx.putAlongAxis(logits, recent, penalised, -1);
    });
  }
  return out;
}

/** How many trailing tokens the processors from makeLogitsProcessors look at (0: none). */
export function processorContext(opts: LogitsProcessorOptions): number {
  return opts.repetitionPenalty !== undefined && opts.repetitionPenalty !== 1 ? opts.repetitionContextSize ?? 20 : 0;
}

// The row interface the scheduler drives (the engine's DecodeLoop shape, see notes/LOOP-API.md), and a sequential
// implementation used where the engine has no lm.DecodeLoop: rows join and leave at token boundaries and prefill
// in chunks, but each decode step runs the rows one after another instead of as one batched forward.
import { lm, mx, type MxArray } from "@hearth/engine";

type LanguageModel = lm.LanguageModel;
type PromptCache = lm.PromptCache;

/** Restricts the next token (a grammar). */
export interface TokenConstraint {
  /** Allowed next tokens as a bitmask (bit i of word i>>5 = token i), or null for anything. */
  nextTokenMask(): Int32Array | null;
  accept(token: number): void;
  isTerminated(): boolean;
  /** Frees the grammar state (called once the request is over). */
  dispose?(): void;
}

export interface RowOptions extends lm.SamplerOptions, lm.LogitsProcessorOptions {
  prompt: number[];
  promptCache?: PromptCache;
  pixelValues?: MxArray;
  maxTokens?: number;
  seed?: number;
  logprobs?: number;
  logitsProcessors?: lm.LogitsProcessor[];
  constraint?: TokenConstraint;
  eosTokenIds?: number[];
  signal?: AbortSignal;
  /** Keep rollback checkpoints in the cache (worth it when the cache outlives the row, as in the prefix cache). */
  checkpoints?: boolean;
  /** An aborted row's cache is not freed by the loop: remove(id, true) hands it over (prefix reuse under cancellation). */
  keepCacheOnAbort?: boolean;
}

export interface RowEvent {
  rowId: number;
  token: number;
  logprob?: number;
  topLogprobs?: { token: number; logprob: number }[];
  finishReason?: "stop" | "length" | "abort";
  promptTokens?: number;
  cachedTokens?: number;
}

export interface RowLoop {
  insert(row: RowOptions): number;
  step(): Promise<RowEvent[]>;
  remove(rowId: number, keepCache?: boolean): PromptCache | undefined;
  readonly size: number;
  readonly steps: number;
  dispose(): void;
}

interface Row {
  id: number;
  opts: RowOptions;
  cache: PromptCache;
  /** Next prompt position to prefill (prefill covers prompt[0 .. length-1)). */
  pos: number;
  cached: number;
  prefilled: boolean;
  /** The token fed at the next decode step. */
  last: number;
  history: number[];
  generated: number;
  sampler: lm.Sampler;
  processors: lm.LogitsProcessor[];
  key: MxArray | undefined;
  firstReported: boolean;
  finished: boolean;
}

/** Applies an XGrammar-layout bitmask to logits [1, V]: disallowed tokens get -inf. */
export function applyTokenMask(logits: MxArray, mask: Int32Array): MxArray {
  const V = logits.shape[logits.ndim - 1];
  const allowed = new Uint8Array(V);
  for (let w = 0; w < mask.length; w++) {
    const bits = mask[w];
    if (bits === 0) continue;
    const base = w << 5;
    for (let b = 0; b < 32 && base + b < V; b++) if ((bits >>> b) & 1) allowed[base + b] = 1;
  }
  const m = mx.array(allowed, mx.bool, [1, V]);
  return mx.where(m, logits, mx.array(-Infinity, logits.dtype));
}

export class SequentialLoop implements RowLoop {
  private rows = new Map<number, Row>();
  private nextId = 1;
  private stepCount = 0;
  private readonly eos: Set<number>;
  private readonly prefillChunk: number;

  constructor(private readonly model: LanguageModel, opts: { eosTokenIds?: number[]; prefillChunk?: number } = {}) {
    this.eos = new Set(opts.eosTokenIds ?? []);
    this.prefillChunk = opts.prefillChunk ?? 512;
  }

  get size(): number {
    return [...this.rows.values()].filter((r) => !r.finished).length;
  }

  get steps(): number {
    return this.stepCount;
  }

  insert(opts: RowOptions): number {
    if (!opts.prompt.length) throw new RangeError("[serving] the prompt is empty: at least one token is needed");
    const id = this.nextId++;
    const cache = opts.promptCache ?? lm.makePromptCache(this.model);
    // Keep what the cache holds of this prompt (trimming, or rolling a rotating cache back to a checkpoint).
    const { reused } = opts.pixelValues ? (cache.reset(), { reused: 0 }) : cache.prepare(opts.prompt);
    const processors = [...lm.makeLogitsProcessors(opts), ...(opts.logitsProcessors ?? [])];
    this.rows.set(id, {
      id, opts, cache, pos: reused, cached: reused, prefilled: false, last: opts.prompt[opts.prompt.length - 1],
      history: opts.prompt.slice(0, -1), generated: 0, sampler: lm.makeSampler(opts), processors,
      key: opts.seed !== undefined ? mx.keep(mx.random.key(opts.seed)) : undefined, firstReported: false, finished: false,
    });
    return id;
  }

  async step(): Promise<RowEvent[]> {
    const events: RowEvent[] = [];
    // Aborted rows finish first, without running anything.
    for (const r of this.rows.values()) {
      if (!r.finished && r.opts.signal?.aborted) {
        r.finished = true;
        events.push(this.finalEvent(r, -1, "abort"));
      }
    }
    // At most one prefill chunk per step, so rows already decoding keep flowing.
    const waiting = [...this.rows.values()].find((r) => !r.finished && !r.prefilled);
    if (waiting) await this.prefillChunkOf(waiting);
    let decoded = false;
    for (const r of [...this.rows.values()]) {
      if (r.finished || !r.prefilled || r === waiting && !r.prefilled) continue;
      decoded = true;
      events.push(await this.decode(r));
    }
    if (decoded) this.stepCount++;
    return events;
  }

  private async prefillChunkOf(r: Row): Promise<void> {
    const end = r.opts.prompt.length - 1;
    if (r.pos < end) {
      // Image tokens must reach the vision model in one forward with their pixels.
      const stop = r.opts.pixelValues ? end : Math.min(end, r.pos + this.prefillChunk);
      const chunk = r.opts.prompt.slice(r.pos, stop);
      mx.tidy(() => {
        const opts: Record<string, unknown> = { cache: r.cache.layers };
        if (r.opts.pixelValues && r.pos === 0) opts.pixelValues = r.opts.pixelValues;
        this.model.forward(mx.array([chunk], mx.int32), opts);
        mx.keep(r.cache.arrays);
      });
      await mx.asyncEval(r.cache.arrays);
      r.cache.tokens?.push(...chunk);
      r.pos = stop;
    }
    if (r.pos >= end) {
      r.prefilled = true;
      if (r.opts.checkpoints) r.cache.checkpoint();
    }
  }

  private nextKey(r: Row): MxArray | undefined {
    if (!r.key) return undefined;
    const ks = mx.random.split(r.key, 2);
    const carry = mx.reshape(mx.slice(ks, [0, 0], [1, 2]), [2]);
    r.key.dispose();
    r.key = mx.keep(carry);
    return mx.reshape(mx.slice(ks, [1, 0], [2, 2]), [2]);
  }

  private async decode(r: Row): Promise<RowEvent> {
    const o = r.opts;
    const mask = o.constraint?.nextTokenMask() ?? null;
    const { y, lp } = mx.tidy(() => {
      const logits = this.model.forward(mx.array([[r.last]], mx.int32), { cache: r.cache.layers });
      const [B, L, V] = logits.shape;
      let last = mx.reshape(mx.slice(logits, [0, L - 1, 0], [B, L, V]), [B, V]).astype(mx.float32);
      if (r.processors.length) {
        const hist = mx.array([[...r.history, r.last]], mx.int32);
        for (const p of r.processors) last = p(hist, last);
      }
      if (mask) last = applyTokenMask(last, mask);
      const lp = mx.subtract(last, mx.logsumexp(last, -1, true));
      const y = r.sampler(lp, this.nextKey(r));
      mx.keep(r.cache.arrays);
      if (r.key) mx.keep(r.key);
      return { y, lp };
    });
    await mx.asyncEval(y, lp);
    r.cache.tokens?.push(r.last);
    r.history.push(r.last);
    if (r.generated === 0 && o.checkpoints) r.cache.checkpoint();  // the whole prompt: a follow-up turn starts here
    const token = y.item() as number;
    const ev: RowEvent = { rowId: r.id, token };
    if (o.logprobs !== undefined) {
      const flat = mx.reshape(lp, [lp.shape[lp.ndim - 1]]);
      ev.logprob = mx.take(flat, mx.array([token], mx.int32)).item() as number;
      if (o.logprobs > 0) {
        const k = Math.min(o.logprobs, flat.shape[0]);
        const idx = mx.argsort(mx.negative(flat), -1);
        const top = mx.slice(idx, [0], [k]);
        const ids = Array.from(top.astype(mx.int32).toTypedArray() as Int32Array) as number[];
        const vals = Array.from(mx.take(flat, top).toFloat32Array());
        ev.topLogprobs = ids.map((t, i) => ({ token: t, logprob: vals[i] }));
        idx.dispose();
        top.dispose();
      }
      flat.dispose();
    }
    y.dispose();
    lp.dispose();
    if (!r.firstReported) {
      ev.promptTokens = o.prompt.length - r.cached;
      ev.cachedTokens = r.cached;
      r.firstReported = true;
    }
    r.generated++;
    r.last = token;
    const isEos = this.eos.has(token) || (o.eosTokenIds?.includes(token) ?? false);
    if (o.constraint && !isEos) o.constraint.accept(token);
    if (isEos || o.constraint?.isTerminated()) ev.finishReason = "stop";
    else if (r.generated >= (o.maxTokens ?? 256)) ev.finishReason = "length";
    if (ev.finishReason) r.finished = true;
    return ev;
  }

  private finalEvent(r: Row, token: number, finishReason: "stop" | "length" | "abort"): RowEvent {
    const ev: RowEvent = { rowId: r.id, token, finishReason };
    if (!r.firstReported) {
      ev.promptTokens = r.pos - r.cached;
      ev.cachedTokens = r.cached;
      r.firstReported = true;
    }
    return ev;
  }

  remove(rowId: number, keepCache = false): PromptCache | undefined {
    const r = this.rows.get(rowId);
    if (!r) return undefined;
    this.rows.delete(rowId);
    r.key?.dispose();
    // The token list always says what the cache holds (also mid-prefill, after an abort): it can be handed over.
    if (keepCache) return r.cache;
    r.cache.reset();
    return undefined;
  }

  dispose(): void {
    for (const id of [...this.rows.keys()]) this.remove(id);
  }
}

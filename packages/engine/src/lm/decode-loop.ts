// lm.DecodeLoop: the one decode loop. It holds several sequences ("rows"); rows join and leave at token
// boundaries. Each step() runs at most one prefill chunk of one waiting row (so a long prompt never stalls the
// rows already decoding), then one batched forward over every decoding row through the model's compiled step,
// then samples each row with its own settings. generate / streamGenerate / generateStep / batchGenerate /
// describeImage / `hearth bench` and the serving scheduler are all callers of it.
//
// Batch caches: every row keeps its own per-layer caches (a PromptCache, the model's own kinds: growing KVCache on
// global layers, rotating window on sliding ones). The step batches what reads the weights (projections, MLP,
// head: one pass over the weights for all rows) and runs attention per row on that row's keys. Rows at different
// lengths and offsets, rotated sliding windows included, then need no padding and no masks, a row joins without
// re-laying out the others' caches and leaves by handing its cache over (prefix reuse), and each row's numbers are
// those it gets alone. Left padding (mlx-lm's BatchKVCache) would make every row pay for the longest one, and
// rotating windows would need per-row rotation bookkeeping inside one buffer.
import * as mx from "../core/mx.js";
import type { MxArray } from "../core/array.js";
import type { LanguageModel } from "./model.js";
import { makePromptCache, PromptCache } from "./prompt-cache.js";
import {
  makeLogitsProcessors, makeSampler, processorContext,
  type LogitsProcessor, type LogitsProcessorOptions, type Sampler, type SamplerOptions,
} from "./sample.js";
import type { DecodeStep } from "./models/gemma3-text.js";

/** Restricts the next token (a grammar). Called once per generated token of the row. */
export interface TokenConstraint {
  /** Allowed next tokens as a bitmask over the vocabulary (bit i of word i>>5 set = token i allowed; XGrammar's
   *  layout, Int32Array of ceil(vocab/32) words), or null for "anything". */
  nextTokenMask(): Int32Array | null;
  /** The sampled token, so the grammar advances. */
  accept(token: number): void;
  /** True once the grammar reached an accepting end: the row then finishes with "stop". */
  isTerminated(): boolean;
}

export interface RowOptions extends SamplerOptions, LogitsProcessorOptions {
  /** The whole prompt as token ids. */
  prompt: number[];
  /** A cache that already holds a prefix of `prompt` (prefix reuse); the row owns it from now on. */
  promptCache?: PromptCache;
  /** Vision models: preprocessed images for the prompt's image tokens (prefilled with the prompt). */
  pixelValues?: MxArray;
  /** Default 256; Infinity for no limit; 0 prefills the whole prompt into the cache and finishes ("length"). */
  maxTokens?: number;
  seed?: number;
  /** Number of top alternatives to report per token (0: only the chosen token's logprob; undefined: none). */
  logprobs?: number;
  logitsProcessors?: LogitsProcessor[];
  constraint?: TokenConstraint;
  /** Extra end-of-sequence ids (the model's and tokenizer's EOS ids are always used). */
  eosTokenIds?: number[];
  signal?: AbortSignal;
  // ---- beyond the serving API (generateStep's options) ----
  /** Replaces the sampler built from temp/topP/topK/minP. */
  sampler?: Sampler;
  /** Report each token's log-probabilities over the whole vocabulary (RowEvent.logprobsArray, yours to dispose). */
  fullLogprobs?: boolean;
  /** Prompt tokens per prefill chunk for this row (default: the loop's prefillChunk). */
  prefillChunk?: number;
  /** Called after each prefill chunk with (tokens processed, tokens to process). */
  onPromptProgress?: (processed: number, total: number) => void;
  /** Keep rollback checkpoints in the cache (worth it when the cache outlives the row). */
  checkpoints?: boolean;
  /**
   * An aborted row's cache outlives the abort: the loop does not free it, and remove(id, true) hands it over
   * holding exactly what was run (the prompt tokens prefilled so far, and the tokens fed back while decoding), so a
   * prefix cache can keep it. An editor that cancels on every keystroke then prefills only the new characters.
   * The caller bounds that memory (a prefix cache's byte budget); without this flag the loop frees the cache
   * within the abort's step.
   */
  keepCacheOnAbort?: boolean;
  /**
   * Prefill order: of the rows waiting for prefill, the one with the highest priority gets the next chunk (first
   * inserted first among equals; default 0). An editor's request then does not wait behind a batch job's long prompt.
   */
  priority?: number;
  /** Quantize the row's KV cache to this many bits once it holds quantizedKvStart tokens (it then decodes unbatched). */
  kvBits?: number;
  kvGroupSize?: number;
  quantizedKvStart?: number;
}

export interface RowEvent {
  rowId: number;
  /** -1 when the row finished without a new token (abort during prefill, constraint terminated). */
  token: number;
  logprob?: number;
  topLogprobs?: { token: number; logprob: number }[];
  /** Set on the row's last event. The loop has already removed the row then. */
  finishReason?: "stop" | "length" | "abort";
  /** On the first token: prompt tokens prefilled by this row, and how many the promptCache already held. */
  promptTokens?: number;
  cachedTokens?: number;
  /** With RowOptions.fullLogprobs: log-probabilities [vocab] of this token's step (yours to dispose). */
  logprobsArray?: MxArray;
}

export interface DecodeLoopOptions {
  /** From the tokenizer / generation config. */
  eosTokenIds?: number[];
  /** Prompt tokens per prefill chunk (default 512): long prompts never stall the batch. */
  prefillChunk?: number;
  maxRows?: number;
  /** The model's compiled decode step (default true). */
  compile?: boolean;
  /** In the compiled step, int8-rounded activations for 4/8-bit layers on AVX512-VNNI (default true). */
  int8Activations?: boolean;
}

/** A model that may own a compiled decode step (Gemma 3 text and multimodal). */
interface WithDecodeStep {
  makeDecodeStep?(opts: { int8Activations?: boolean }): DecodeStep | undefined;
}

/** A PRNG key per step from one seed (the same keys generation has always drawn). */
export class KeyChain {
  private key: MxArray;
  constructor(seed: number) {
    this.key = mx.keep(mx.random.key(seed));
  }
  /** Call inside mx.tidy. */
  next(): MxArray {
    const ks = mx.random.split(this.key, 2);
    const carry = mx.reshape(mx.slice(ks, [0, 0], [1, 2]), [2]);
    this.key.dispose();
    this.key = mx.keep(carry);
    return mx.reshape(mx.slice(ks, [1, 0], [2, 2]), [2]);
  }
  dispose(): void {
    this.key.dispose();
  }
}

interface Row {
  id: number;
  opts: RowOptions;
  pc: PromptCache;
  /** The loop made the cache (it frees it when the row is aborted). */
  ownsCache: boolean;
  pos: number;
  reused: number;
  divergence: number;
  /** Where prefill stops: the last prompt token is the first decode step's input (all of it with maxTokens 0). */
  prefillEnd: number;
  decoding: boolean;
  finished: boolean;
  /** The next input token (the last prompt token, then each sampled one). */
  next: number;
  /** Tokens so far (prompt + fed), for logits processors. */
  history: number[];
  generated: number;
  maxTokens: number;
  sampler: Sampler;
  processors: LogitsProcessor[];
  context: number;
  keys?: KeyChain;
  eos: Set<number>;
  firstReported: boolean;
  /** The step in flight already fed `next` to the cache (pc.tokens gets it when that is settled). */
  fedAhead: boolean;
}

/** A row's sampled token [1]; its log-probabilities [1, vocab] when it reports them or its sampler needs them. */
type Out = { y: MxArray; lp?: MxArray; top?: MxArray };
const outArrays = (o: Out): MxArray[] => [o.y, ...(o.lp ? [o.lp] : []), ...(o.top ? [o.top] : [])];

/** The next decode step, built from this step's lazy tokens and running while they are read (see step()). */
interface Ahead {
  rows: Row[];
  outs: Out[];
  done: Promise<void>;
  /** Rows removed meanwhile (their results are freed when the step is done). */
  dropped: Set<Row>;
}

/** The loop holds maxRows rows already (code "busy": the faces map it to 503 / retry later). */
export class BusyError extends Error {
  override name = "BusyError";
  readonly code = "busy";
}

function checkInt(name: string, v: number | undefined, min: number, allowInf = false): void {
  if (v === undefined) return;
  if (typeof v !== "number" || !(Number.isInteger(v) || (allowInf && v === Infinity)) || v < min)
    throw new RangeError(`[DecodeLoop] ${name} must be an integer >= ${min}${allowInf ? " (or Infinity)" : ""}, got ${v}`);
}

/** Whether a row's step must compute log-probabilities: it reports them, or its sampler is not plain argmax. */
const needsLogprobs = (r: Row) => !r.sampler.greedy || r.opts.logprobs !== undefined || !!r.opts.fullLogprobs;

const logSoftmax = (x: MxArray) => mx.subtract(x, mx.logsumexp(x, -1, true));
/** Row b of a batch-first array of B rows (the array itself when B is 1). */
const rowOf = (a: MxArray, b: number, B: number) =>
  B === 1 ? a : mx.slice(a, [b, ...a.shape.slice(1).map(() => 0)], [b + 1, ...a.shape.slice(1)]);

function disposeOut(o: Out): void {
  for (const a of outArrays(o)) a.dispose();
}

/** A bitmask over the vocabulary (XGrammar's layout) as a boolean [vocab] array; bits past the mask are off. */
function maskArray(bits: Int32Array, vocab: number): MxArray {
  const allowed = new Uint8Array(vocab);
  const n = Math.min(vocab, bits.length * 32);
  for (let i = 0; i < n; i++) allowed[i] = (bits[i >> 5] >>> (i & 31)) & 1;
  return mx.array(allowed, mx.bool);
}

export class DecodeLoop {
  private readonly rows = new Map<number, Row>();
  private nextId = 0;
  private stepCount = 0;
  private readonly eos: number[];
  private readonly prefillChunk: number;
  private readonly maxRows: number;
  private readonly decodeStep: DecodeStep | undefined;
  private ahead: Ahead | undefined;
  private cleanups: Promise<void>[] = [];

  constructor(readonly model: LanguageModel, opts: DecodeLoopOptions = {}) {
    checkInt("prefillChunk", opts.prefillChunk, 1);
    checkInt("maxRows", opts.maxRows, 1, true);
    this.eos = opts.eosTokenIds ?? [];
    this.prefillChunk = opts.prefillChunk ?? 512;
    this.maxRows = opts.maxRows ?? Infinity;
    const m = model as unknown as WithDecodeStep;
    this.decodeStep = opts.compile !== false && typeof m.makeDecodeStep === "function"
      ? m.makeDecodeStep({ int8Activations: opts.int8Activations })
      : undefined;
  }

  /** Whether decoding goes through the model's compiled step (for rows with plain KV caches). */
  get compiled(): boolean {
    return this.decodeStep !== undefined;
  }

  /** Rows inserted and not finished. */
  get size(): number {
    let n = 0;
    for (const r of this.rows.values()) if (!r.finished) n++;
    return n;
  }

  /** Decode steps run so far. */
  get steps(): number {
    return this.stepCount;
  }

  /** Adds a row; its prefill runs in later step() calls, in chunks. Returns the row id. */
  insert(row: RowOptions): number {
    const o = row;
    if (!o || !Array.isArray(o.prompt) || !o.prompt.length)
      throw new RangeError("[DecodeLoop] the prompt is empty: at least one token is needed");
    for (const t of o.prompt)
      if (!Number.isInteger(t) || t < 0) throw new RangeError(`[DecodeLoop] prompt token ids must be integers >= 0, got ${t}`);
    checkInt("maxTokens", o.maxTokens, 0, true);
    checkInt("seed", o.seed, 0);
    checkInt("logprobs", o.logprobs, 0);
    checkInt("prefillChunk", o.prefillChunk, 1);
    checkInt("quantizedKvStart", o.quantizedKvStart, 0);
    if (o.kvBits !== undefined && ![2, 3, 4, 5, 6, 8].includes(o.kvBits))
      throw new RangeError(`[DecodeLoop] kvBits must be 2, 3, 4, 5, 6 or 8, got ${o.kvBits}`);
    if (o.promptCache !== undefined && !(o.promptCache instanceof PromptCache))
      throw new TypeError("[DecodeLoop] promptCache must be a PromptCache");
    if (this.size >= this.maxRows) throw new BusyError(`[DecodeLoop] the loop is full (${this.maxRows} rows)`);
    const sampler = o.sampler ?? makeSampler(o);
    const extra = o.logitsProcessors ?? [];
    const processors = [...makeLogitsProcessors(o), ...extra];
    const ownsCache = o.promptCache === undefined;
    const pc = o.promptCache ?? makePromptCache(this.model);
    const maxTokens = o.maxTokens ?? 256;
    // A cache's contents can't stand for image tokens (they have no text identity): images prefill from scratch.
    if (o.pixelValues && pc.offset > 0) pc.reset();
    const { reused, divergence } = pc.prepare(o.prompt);
    const id = this.nextId++;
    const r: Row = {
      id, opts: o, pc, ownsCache, pos: reused, reused, divergence,
      prefillEnd: maxTokens === 0 ? o.prompt.length : o.prompt.length - 1,
      decoding: false, finished: false, next: o.prompt[o.prompt.length - 1], history: o.prompt.slice(0, -1),
      generated: 0, maxTokens, sampler, processors, context: extra.length ? Infinity : processorContext(o),
      keys: o.seed !== undefined ? new KeyChain(o.seed) : undefined,
      eos: new Set([...this.eos, ...(o.eosTokenIds ?? [])]), firstReported: false, fedAhead: false,
    };
    this.maybeQuantize(r);
    this.rows.set(id, r);
    return id;
  }

  /**
   * One iteration: at most one prefill chunk of a waiting row, then one batched decode step over all decoding
   * rows. Resolves with one event per row that produced a token or finished.
   */
  async step(): Promise<RowEvent[]> {
    const events: RowEvent[] = [];
    // The step built ahead last time (still running): its rows that still decode take its results.
    const ahead = this.ahead;
    this.ahead = undefined;
    const inAhead = (r: Row) => ahead !== undefined && ahead.rows.includes(r);
    const afterAhead: (() => void)[] = [];
    const live = [...this.rows.values()].filter((r) => !r.finished);
    // Aborted rows finish first, without running anything; a cache the loop made is freed within this step, unless
    // the caller takes it over (keepCacheOnAbort). Either way the step in flight is awaited below before this step
    // resolves, so a cache handed over after it holds exactly pc.tokens.
    for (const r of live) {
      if (!r.opts.signal?.aborted) continue;
      events.push(this.finish(r, -1, "abort"));
      if (!r.ownsCache || r.opts.keepCacheOnAbort) continue;
      if (inAhead(r)) afterAhead.push(() => r.pc.reset());  // the step in flight still writes it
      else r.pc.reset();
    }
    const taken = new Map<Row, Out>();
    ahead?.rows.forEach((r, i) => {
      if (ahead.dropped.has(r)) return;
      if (!r.finished && this.rows.get(r.id) === r) taken.set(r, ahead.outs[i]);
      else afterAhead.push(() => disposeOut(ahead.outs[i]));
    });
    try {
      let waiting: Row | undefined;
      for (const r of live) if (!r.finished && !r.decoding && (!waiting || (r.opts.priority ?? 0) > (waiting.opts.priority ?? 0))) waiting = r;
      if (waiting) {
        const ev = await this.prefill(waiting);
        if (ev) events.push(ev);
      }
      const decoding = live.filter((r) => !r.finished && r.decoding);
      if (decoding.length) {
        events.push(...(await this.decode(decoding, taken)));
        this.stepCount++;
      }
    } finally {
      if (ahead) {
        await ahead.done.catch(() => undefined);
        for (const f of afterAhead) f();
      }
    }
    return events;
  }

  private maybeQuantize(r: Row): void {
    const o = r.opts;
    if (o.kvBits !== undefined && !(o.quantizedKvStart && r.pc.offset < o.quantizedKvStart))
      r.pc.quantize({ bits: o.kvBits, groupSize: o.kvGroupSize ?? 64 });
  }

  /** One prefill chunk of r; the row starts decoding once its prompt (but the last token) is in the cache. */
  private async prefill(r: Row): Promise<RowEvent | undefined> {
    const o = r.opts;
    const prompt = o.prompt;
    if (r.pos < r.prefillEnd) {
      // Image tokens reach the vision model in one forward with their pixels.
      let end = o.pixelValues ? r.prefillEnd : Math.min(r.pos + (o.prefillChunk ?? this.prefillChunk), r.prefillEnd);
      if (r.divergence > r.pos && r.divergence < end) end = r.divergence;  // a checkpoint there serves the next prompt
      const chunk = prompt.slice(r.pos, end);
      try {
        mx.tidy(() => {
          const fo: Record<string, unknown> = { cache: r.pc.layers };
          if (o.pixelValues && r.pos === 0) fo.pixelValues = o.pixelValues;
          // Text chunks go through the compiled step's prefill where it has one (its packed int8 products).
          const fast = o.pixelValues ? undefined : this.decodeStep?.prefill;
          if (fast) fast(mx.array([chunk], mx.int32), r.pc.layers);
          else this.model.forward(mx.array([chunk], mx.int32), fo);
          mx.keep(r.pc.arrays);
        });
        this.maybeQuantize(r);
        await mx.asyncEval(r.pc.arrays);
      } catch (e) {
        r.pc.reset();  // a failed forward leaves the layers in an unknown state
        throw e;
      }
      r.pc.tokens?.push(...chunk);
      r.pos = end;
      if (o.checkpoints && r.pos === r.divergence) r.pc.checkpoint();
      o.onPromptProgress?.(r.pos - r.reused, prompt.length - r.reused);
    }
    if (r.pos < r.prefillEnd) return undefined;
    if (o.checkpoints) r.pc.checkpoint();  // before the last prompt token: the same prompt can run again
    if (r.maxTokens === 0) return this.finish(r, -1, "length");
    r.decoding = true;
    return undefined;
  }

  /**
   * One batched forward over the decoding rows (those in `taken` were computed ahead), then each row's
   * processors, constraint and sampler. Where every row can (compiled step, plain caches, no constraint or
   * processors, more tokens to come), the next step is built from this step's lazy tokens and queued before they
   * are read, so building the graph on this thread overlaps the engine computing this one (as mlx-lm does). A row
   * that finishes or leaves meanwhile drops that step's result; its cache then also holds its last token.
   */
  private async decode(rows: Row[], taken: Map<Row, Out>): Promise<RowEvent[]> {
    const fresh = rows.filter((r) => !taken.has(r));
    const built = fresh.length ? this.build(fresh, fresh.map((r) => r.next)) : [];
    const outs = rows.map((r) => taken.get(r) ?? built[fresh.indexOf(r)]);
    const evaluated = mx.asyncEval(...outs.flatMap(outArrays));
    const plain = (r: Row) => r.pc.layers.every((c) => c.kind === "KVCache" || c.kind === "RotatingKVCache");
    // A row's first decode step is not built ahead when it keeps checkpoints: emit() checkpoints the whole prompt
    // then, and the layers must not hold the next token yet (a snapshot one token past its label rolls a rotating
    // layer back to the wrong place).
    const canAhead = (r: Row) => plain(r) && !r.opts.constraint && !r.processors.length && r.generated + 1 < r.maxTokens &&
      !(r.opts.checkpoints && r.generated === 0);
    if (this.decodeStep && rows.every(canAhead)) {
      try {
        const next = this.build(rows, outs.map((o) => o.y));
        for (const r of rows) r.fedAhead = true;
        this.ahead = { rows, outs: next, dropped: new Set(), done: mx.asyncEval(...next.flatMap(outArrays)) };
      } catch (e) {
        await evaluated.catch(() => undefined);
        throw e;
      }
    }
    await evaluated;
    return rows.map((r, i) => this.emit(r, outs[i]));
  }

  /** The graph of one decode step for `rows` from their input tokens (numbers, or lazy [1] token arrays). */
  private build(rows: Row[], inputs: (number | MxArray)[]): Out[] {
    const plain = (r: Row) => r.pc.layers.every((c) => c.kind === "KVCache" || c.kind === "RotatingKVCache");
    const batched = this.decodeStep ? rows.filter(plain) : [];
    const single = rows.filter((r) => !batched.includes(r));
    const masks = rows.map((r) => r.opts.constraint?.nextTokenMask() ?? null);
    const tokenIds = (rs: Row[]) => {
      const xs = rs.map((r) => inputs[rows.indexOf(r)]);
      if (xs.every((x) => typeof x === "number")) return mx.array(xs.map((x) => [x as number]), mx.int32);
      return mx.reshape(mx.concatenate(xs.map((x) => mx.reshape(x as MxArray, [1]).astype(mx.int32)), 0), [rs.length, 1]);
    };
    let outs: Out[];
    try {
      outs = mx.tidy(() => {
        const logits = new Map<Row, MxArray>();
        const direct = new Map<Row, Out>();
        if (batched.length) {
          const all = this.decodeStep!(tokenIds(batched), batched.map((r) => r.pc.layers));
          this.sampleBatched(batched, all, batched.map((r) => masks[rows.indexOf(r)]), direct);
          // The rest (processors, constraint) run their own chain on their row.
          batched.forEach((r, b) => direct.has(r) || logits.set(r, rowOf(all, b, batched.length)));
        }
        for (const r of single) {
          const l = this.model.forward(tokenIds([r]), { cache: r.pc.layers });
          logits.set(r, mx.reshape(l, [1, l.shape[2]]));
        }
        const res = rows.map((r, i) => direct.get(r) ?? this.sample(r, logits.get(r)!, masks[i]));
        mx.keep(rows.flatMap((r) => r.pc.arrays));
        return res;
      });
    } catch (e) {
      for (const r of rows) r.pc.reset();
      throw e;
    }
    for (const r of rows) this.maybeQuantize(r);
    return outs;
  }

  /**
   * Inside tidy: the rows of one batched step that have neither processors nor a constraint, as whole-batch ops
   * instead of one chain per row (a row's chain is ~5 passes over a 262144-entry vocabulary, one op at a time):
   * greedy rows that report no log-probabilities take one argmax over every row's logits (argmax of the logits is
   * argmax of their log-softmax, so no log-softmax is computed for them); the others share one log-softmax
   * [B, vocab] and run their own sampler on their row of it. Sets `out` for the rows it handled.
   */
  private sampleBatched(rows: Row[], all: MxArray, masks: (Int32Array | null)[], out: Map<Row, Out>): void {
    let argmax: MxArray | undefined, lp: MxArray | undefined;
    rows.forEach((r, b) => {
      if (r.processors.length || masks[b]) return;
      if (!needsLogprobs(r)) {
        argmax ??= mx.argmax(all, -1);
        out.set(r, { y: rowOf(argmax, b, rows.length) });
        return;
      }
      lp ??= logSoftmax(all.astype(mx.float32));
      out.set(r, this.fromLogprobs(r, rowOf(lp, b, rows.length)));
    });
  }

  /** Inside tidy: the row's processors and constraint over its logits [1, vocab], log-softmax, then its sampler. */
  private sample(r: Row, logits: MxArray, mask: Int32Array | null): Out {
    let last = logits.astype(mx.float32);
    if (r.processors.length) {
      const h = r.history;
      const ctx = r.context === Infinity ? [...h, r.next] : [...h.slice(Math.max(0, h.length + 1 - r.context)), r.next];
      const hist = mx.array([ctx], mx.int32);
      for (const p of r.processors) last = p(hist, last);
    }
    if (mask) last = mx.where(maskArray(mask, last.shape[1]), last, -Infinity);
    if (!needsLogprobs(r)) return { y: r.sampler(last) };
    return this.fromLogprobs(r, logSoftmax(last));
  }

  /** The row's sampler over its log-probabilities [1, vocab], and its top alternatives where it reports them. */
  private fromLogprobs(r: Row, lp: MxArray): Out {
    const y = r.sampler(lp, r.keys?.next());
    const k = r.opts.logprobs ? Math.min(r.opts.logprobs, lp.shape[1]) : 0;
    return k ? { y, lp, top: mx.topkIndices(lp, k, -1) } : { y, lp };
  }

  private emit(r: Row, out: Out): RowEvent {
    const o = r.opts;
    r.pc.tokens?.push(r.next);
    r.history.push(r.next);
    const fedAhead = r.fedAhead;
    r.fedAhead = false;
    if (r.generated === 0 && o.checkpoints) r.pc.checkpoint();  // the whole prompt: a follow-up turn starts here
    const token = Number(out.y.item());
    const ev: RowEvent = { rowId: r.id, token };
    if ((o.logprobs !== undefined || o.fullLogprobs) && out.lp) {
      const flat = out.lp.toFloat32Array();
      if (o.logprobs !== undefined) ev.logprob = flat[token];
      if (out.top) {
        const ids = (out.top.tolist() as number[][])[0];
        ev.topLogprobs = ids.map((t) => ({ token: t, logprob: flat[t] })).sort((a, b) => b.logprob - a.logprob);
      }
    }
    if (o.fullLogprobs && out.lp) ev.logprobsArray = mx.reshape(out.lp, [out.lp.shape[1]]);
    disposeOut(out);
    this.firstInfo(r, ev);
    r.generated++;
    r.next = token;
    r.fedAhead = fedAhead && this.ahead !== undefined && this.ahead.rows.includes(r);
    const isEos = r.eos.has(token);
    if (o.constraint && !isEos) o.constraint.accept(token);
    if (isEos || o.constraint?.isTerminated()) this.finish(r, token, "stop", ev);
    else if (r.generated >= r.maxTokens) this.finish(r, token, "length", ev);
    return ev;
  }

  private firstInfo(r: Row, ev: RowEvent): void {
    if (r.firstReported) return;
    ev.promptTokens = r.pos - r.reused + (r.decoding ? 1 : 0);
    ev.cachedTokens = r.reused;
    r.firstReported = true;
  }

  /** Marks r finished (out of the batch; its cache is held until remove()). */
  private finish(r: Row, token: number, reason: "stop" | "length" | "abort", ev: RowEvent = { rowId: r.id, token }): RowEvent {
    r.finished = true;
    this.settleFedAhead(r);
    ev.finishReason = reason;
    this.firstInfo(r, ev);
    r.keys?.dispose();
    r.keys = undefined;
    return ev;
  }

  /** A finished or removed row whose next token the step in flight fed: the cache's token list gets it too. */
  private settleFedAhead(r: Row): void {
    if (!r.fedAhead) return;
    r.fedAhead = false;
    r.pc.tokens?.push(r.next);
  }

  /**
   * Removes a row now (e.g. cancelled), freeing its batch slot; returns its cache (holding the prompt and the
   * generated tokens fed back, i.e. all but the last) when `keepCache` is true, else disposes it. A finished row
   * keeps its cache until it is removed (or the loop disposed).
   */
  remove(rowId: number, keepCache = false): PromptCache | undefined {
    const r = this.rows.get(rowId);
    if (!r) return undefined;
    this.rows.delete(rowId);
    r.keys?.dispose();
    r.keys = undefined;
    r.finished = true;
    this.settleFedAhead(r);
    // A step in flight may still be writing the cache: free it, and the row's results, once that step is done.
    const ahead = this.ahead;
    if (ahead?.rows.includes(r)) {
      ahead.dropped.add(r);
      const out = ahead.outs[ahead.rows.indexOf(r)];
      this.cleanups.push(ahead.done.catch(() => undefined).then(() => {
        disposeOut(out);
        if (!keepCache) r.pc.reset();
      }));
    } else if (!keepCache) r.pc.reset();
    return keepCache ? r.pc : undefined;
  }

  /** Resolves once no step is in flight and what removed rows held is freed (e.g. before measuring memory). */
  async settled(): Promise<void> {
    await this.ahead?.done.catch(() => undefined);
    await Promise.all(this.cleanups.splice(0));
  }

  /** Removes every row and frees their caches. */
  dispose(): void {
    for (const id of [...this.rows.keys()]) this.remove(id);
    const ahead = this.ahead;
    this.ahead = undefined;
    if (ahead) void ahead.done.catch(() => undefined).then(() => ahead.outs.forEach((o, i) => ahead.dropped.has(ahead.rows[i]) || disposeOut(o)));
  }
}


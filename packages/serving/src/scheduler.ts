// Continuous batching over one decode loop (one per model + adapter): requests wait in a priority queue, join the
// running batch at a token boundary when a row is free, prefill in chunks inside the loop, and leave when they
// finish or are cancelled. Finished rows hand their KV cache to the prefix cache for the next request.
import type { lm } from "@hearth/engine";
import type { Priority } from "./backend.js";
import type { PrefixCache } from "./prefix-cache.js";
import type { RowEvent, RowLoop, RowOptions } from "./row-loop.js";

export interface Job {
  row: Omit<RowOptions, "promptCache" | "signal">;
  priority: Priority;
  signal?: AbortSignal;
  /**
   * Tokens at the start of the prompt that later requests will likely share (a chat's turns before the last
   * message). Gemma 3's sliding-window layers can't roll back once they wrapped, so the scheduler prefills this
   * part first and checkpoints the cache there; a later request with the same prefix rolls back to it.
   */
  prefixHint?: number;
  /** Every event of the row; the last one has finishReason. */
  onEvent(ev: RowEvent): void;
  onError(e: Error): void;
}

interface Waiting {
  job: Job;
  seq: number;
  onAbort?: () => void;
  /** The cache of this job's prefix pass (phase two of a prefixHint). */
  preCache?: lm.PromptCache;
  /** Prompt tokens the prefix pass prefilled (counted as prefilled, not cached, in the first event). */
  prePrefilled?: number;
}

interface Running {
  job: Job;
  /** A prefix pass: when it ends, the job goes back to the queue's front with the cache. */
  prefixPass?: Waiting;
  prePrefilled?: number;
  firstSeen?: boolean;
}

export interface SchedulerOptions {
  /** Rows decoded together (default 16). */
  maxRows?: number;
  prefixCache?: PrefixCache;
}

export class Scheduler {
  private readonly waiting: Waiting[] = [];
  private readonly running = new Map<number, Running>();
  private seq = 0;
  private driving: Promise<void> | null = null;
  private closed = false;
  private readonly maxRows: number;
  /** Decode steps run (tests count steps after an abort). */
  get steps(): number {
    return this.loop.steps;
  }

  constructor(readonly loop: RowLoop, private readonly opts: SchedulerOptions = {}) {
    this.maxRows = opts.maxRows ?? 16;
  }

  get active(): number {
    return this.running.size;
  }

  get queued(): number {
    return this.waiting.length;
  }

  get prefixCache(): PrefixCache | undefined {
    return this.opts.prefixCache;
  }

  /** Queues a job; it starts at the next token boundary with a free row, interactive jobs first. */
  submit(job: Job): void {
    if (this.closed) throw new Error("[serving] the scheduler is closed");
    const w: Waiting = { job, seq: this.seq++ };
    if (job.signal) {
      if (job.signal.aborted) {
        job.onEvent({ rowId: -1, token: -1, finishReason: "abort", promptTokens: 0, cachedTokens: 0 });
        return;
      }
      w.onAbort = () => {
        const i = this.waiting.indexOf(w);
        if (i < 0) return;  // already running: the loop sees the signal within one step
        this.waiting.splice(i, 1);
        job.onEvent({ rowId: -1, token: -1, finishReason: "abort", promptTokens: 0, cachedTokens: 0 });
      };
      job.signal.addEventListener("abort", w.onAbort, { once: true });
    }
    // Interactive before background; first come first served within a class.
    const rank = (x: Waiting) => (x.job.priority === "interactive" ? 0 : 1);
    let i = this.waiting.length;
    while (i > 0 && (rank(this.waiting[i - 1]) > rank(w))) i--;
    this.waiting.splice(i, 0, w);
    this.kick();
  }

  private kick(): void {
    if (!this.driving) this.driving = this.drive().finally(() => {
      this.driving = null;
      if (this.waiting.length && !this.closed) this.kick();
    });
  }

  private admit(): void {
    while (this.waiting.length && this.loop.size < this.maxRows) {
      const w = this.waiting.shift()!;
      const { job } = w;
      if (job.signal?.aborted) {
        if (w.preCache) this.keep(w.preCache);
        if (w.onAbort) job.signal.removeEventListener("abort", w.onAbort);
        job.onEvent({ rowId: -1, token: -1, finishReason: "abort", promptTokens: w.prePrefilled ?? 0, cachedTokens: 0 });
        continue;
      }
      const row: RowOptions = { ...job.row };
      if (job.signal) row.signal = job.signal;
      const pc = this.opts.prefixCache;
      let prefixPass = false;
      // The image prompt's cache can't come from text-only prefixes (its image tokens have no text identity).
      if (pc && !row.pixelValues) {
        row.checkpoints = true;
        // A cancelled row's cache still holds what it prefilled: it goes to the prefix cache like a finished one.
        row.keepCacheOnAbort = true;
        if (w.preCache) row.promptCache = w.preCache;
        else {
          const hint = job.prefixHint ?? 0;
          const hit = pc.take(row.prompt);
          if (hit) row.promptCache = hit;
          // Nothing cached reaches the shared prefix yet: prefill it alone first, so its end gets a checkpoint.
          if (hint > 1 && hint < row.prompt.length - 1 && (!hit || commonPrefix(hit.tokens ?? [], row.prompt) < hint)) {
            row.prompt = row.prompt.slice(0, hint);
            row.maxTokens = 0;
            delete row.constraint;
            prefixPass = true;
          }
        }
      }
      if (!prefixPass && w.onAbort) job.signal!.removeEventListener("abort", w.onAbort);
      let id: number;
      try {
        id = this.loop.insert(row);
      } catch (e) {
        row.promptCache?.reset();
        if (w.onAbort) job.signal!.removeEventListener("abort", w.onAbort);
        job.onError(e as Error);
        continue;
      }
      this.running.set(id, prefixPass ? { job, prefixPass: w } : { job, ...(w.prePrefilled ? { prePrefilled: w.prePrefilled } : {}) });
    }
  }

  private async drive(): Promise<void> {
    for (;;) {
      this.admit();
      if (!this.running.size) return;
      let events: RowEvent[];
      try {
        events = await this.loop.step();
      } catch (e) {
        // A failed step leaves every row's cache in an unknown state: fail them all, keep nothing.
        for (const [id, r] of this.running) {
          this.loop.remove(id, false);
          r.job.onError(e as Error);
        }
        this.running.clear();
        continue;
      }
      for (const ev of events) {
        const r = this.running.get(ev.rowId);
        if (!r) continue;
        const { job } = r;
        if (r.prefixPass) {
          // The prefix pass ended: the job continues from its cache at the front of the queue.
          this.running.delete(ev.rowId);
          const w = r.prefixPass;
          const cache = this.loop.remove(ev.rowId, true);
          if (ev.finishReason === "abort" || !cache) {
            if (cache) this.keep(cache);
            if (w.onAbort) job.signal?.removeEventListener("abort", w.onAbort);
            job.onEvent({ rowId: ev.rowId, token: -1, finishReason: "abort", promptTokens: ev.promptTokens ?? 0, cachedTokens: ev.cachedTokens ?? 0 });
            continue;
          }
          w.preCache = cache;
          w.prePrefilled = ev.promptTokens ?? 0;
          this.waiting.unshift(w);
          continue;
        }
        if (r.prePrefilled && !r.firstSeen && ev.cachedTokens !== undefined) {
          // What the prefix pass prefilled was work for this request, not a cache hit.
          ev.cachedTokens = Math.max(0, ev.cachedTokens - r.prePrefilled);
          ev.promptTokens = (ev.promptTokens ?? 0) + r.prePrefilled;
        }
        if (ev.cachedTokens !== undefined) r.firstSeen = true;
        if (ev.finishReason) {
          this.running.delete(ev.rowId);
          // Aborted rows too: an editor cancelling on each keystroke then prefills only the new characters next
          // time. The prefix cache's byte budget bounds what is kept; without a prefix cache the loop frees it.
          const keep = this.opts.prefixCache !== undefined && !job.row.pixelValues;
          const cache = this.loop.remove(ev.rowId, keep);
          if (cache) this.keep(cache);
        }
        try {
          job.onEvent(ev);
        } catch (e) {
          job.onError(e as Error);
        }
      }
      // Let I/O (new requests, disconnects) in between steps.
      await new Promise<void>((r) => setImmediate(r));
    }
  }

  /** Gives a cache to the prefix cache (freed when there is none). */
  private keep(cache: lm.PromptCache): void {
    if (this.opts.prefixCache) this.opts.prefixCache.insert(cache);
    else cache.reset();
  }

  /** Stops taking work; running rows are dropped. */
  close(): void {
    this.closed = true;
    for (const w of this.waiting.splice(0)) {
      w.preCache?.reset();
      w.job.onError(new Error("[serving] the model was unloaded"));
    }
    for (const [id, r] of this.running) {
      this.loop.remove(id, false);
      r.job.onError(new Error("[serving] the model was unloaded"));
    }
    this.running.clear();
    this.opts.prefixCache?.clear();
    this.loop.dispose();
  }
}

function commonPrefix(a: readonly number[], b: readonly number[]): number {
  let n = 0;
  while (n < a.length && n < b.length && a[n] === b[n]) n++;
  return n;
}

export type { lm };

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
  /** Every event of the row; the last one has finishReason. */
  onEvent(ev: RowEvent): void;
  onError(e: Error): void;
}

interface Waiting {
  job: Job;
  seq: number;
  onAbort?: () => void;
}

export interface SchedulerOptions {
  /** Rows decoded together (default 16). */
  maxRows?: number;
  prefixCache?: PrefixCache;
}

export class Scheduler {
  private readonly waiting: Waiting[] = [];
  private readonly running = new Map<number, Job>();
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
      if (w.onAbort) w.job.signal!.removeEventListener("abort", w.onAbort);
      const { job } = w;
      const row: RowOptions = { ...job.row };
      if (job.signal) row.signal = job.signal;
      // The image prompt's cache can't come from text-only prefixes (its image tokens have no text identity).
      if (this.opts.prefixCache && !row.pixelValues) {
        const hit = this.opts.prefixCache.take(row.prompt);
        if (hit) row.promptCache = hit;
      }
      let id: number;
      try {
        id = this.loop.insert(row);
      } catch (e) {
        row.promptCache?.reset();
        job.onError(e as Error);
        continue;
      }
      this.running.set(id, job);
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
        for (const [id, job] of this.running) {
          this.loop.remove(id, false);
          job.onError(e as Error);
        }
        this.running.clear();
        continue;
      }
      for (const ev of events) {
        const job = this.running.get(ev.rowId);
        if (!job) continue;
        if (ev.finishReason) {
          this.running.delete(ev.rowId);
          const keep = ev.finishReason !== "abort" && this.opts.prefixCache !== undefined && !job.row.pixelValues;
          const cache = this.loop.remove(ev.rowId, keep);
          if (cache) this.opts.prefixCache!.insert(cache);
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

  /** Stops taking work; running rows are dropped. */
  close(): void {
    this.closed = true;
    for (const w of this.waiting.splice(0)) w.job.onError(new Error("[serving] the model was unloaded"));
    for (const [id, job] of this.running) {
      this.loop.remove(id, false);
      job.onError(new Error("[serving] the model was unloaded"));
    }
    this.running.clear();
    this.opts.prefixCache?.clear();
    this.loop.dispose();
  }
}

export type { lm };

// Runs the n choices of one request on the backend. Every run is drained to its "done" event, also after the client
// left: the abort reaches the backend through the signal, and the tokens that still arrive after it are counted, so
// the server can show (and the tests check) that generation stops within one decode step.
import type { Backend, GenerateEvent, GenerateRequest } from "@hearth/serving";
import { HttpError } from "./errors.js";

export type DoneEvent = Extract<GenerateEvent, { type: "done" }>;
export type StartEvent = Extract<GenerateEvent, { type: "start" }>;
export type TokenEvent = Extract<GenerateEvent, { type: "token" }>;

/** Counters shown on /debug/stats (HEARTH_SERVER_DEBUG=1). */
export interface ServerStats {
  requests: number;
  /** Generation runs in flight (n per request). */
  activeRuns: number;
  abortedRuns: number;
  /** Tokens the backend produced after the abort, for the last aborted run and the most over all runs. */
  lastTokensAfterAbort: number | null;
  maxTokensAfterAbort: number;
  lastAbortFinishReason: string | null;
}

export function newStats(): ServerStats {
  return { requests: 0, activeRuns: 0, abortedRuns: 0, lastTokensAfterAbort: null, maxTokensAfterAbort: 0, lastAbortFinishReason: null };
}

/** One choice: its start event (already received, so busy / not-found errors surface before any byte is sent). */
export interface Run {
  index: number;
  start: StartEvent;
  /** The remaining events, ending with "done". Iterate it to the end. */
  events: AsyncIterator<GenerateEvent>;
}

/** Wraps the backend's stream: counts tokens after the abort and keeps the stats. */
async function* tracked(events: AsyncIterable<GenerateEvent>, signal: AbortSignal, stats: ServerStats): AsyncGenerator<GenerateEvent> {
  stats.activeRuns++;
  let after = 0;
  let finish: string | null = null;
  try {
    for await (const e of events) {
      if (signal.aborted && e.type === "token") after++;
      if (e.type === "done") finish = e.finishReason;
      yield e;
    }
  } finally {
    stats.activeRuns--;
    if (signal.aborted) {
      stats.abortedRuns++;
      stats.lastTokensAfterAbort = after;
      stats.maxTokensAfterAbort = Math.max(stats.maxTokensAfterAbort, after);
      stats.lastAbortFinishReason = finish;
    }
  }
}

/** Runs a wrapped stream to its end, discarding events (after a failure or a disconnect). */
export async function drain(events: AsyncIterator<GenerateEvent>): Promise<void> {
  try {
    for (;;) if ((await events.next()).done) return;
  } catch {
    // the run already failed or was aborted; nothing is waiting for it
  }
}

/**
 * Starts n runs of `req` (choice i gets seed + i when a seed is set) and waits for each one's start event. If any
 * fails (busy, not found, prompt over the cap), all are aborted and drained and the error is thrown.
 */
export async function startRuns(backend: Backend, req: GenerateRequest, n: number, ac: AbortController, stats: ServerStats,
  maxPromptTokens: number): Promise<Run[]> {
  const iters: AsyncIterator<GenerateEvent>[] = [];
  for (let i = 0; i < n; i++) {
    const r: GenerateRequest = { ...req, signal: ac.signal };
    if (req.seed !== undefined) r.seed = req.seed + i;
    iters.push(tracked(backend.generate(r), ac.signal, stats)[Symbol.asyncIterator]());
  }
  const firsts = await Promise.allSettled(iters.map((it) => it.next()));
  let failure: unknown;
  const runs: Run[] = [];
  firsts.forEach((f, i) => {
    if (f.status === "rejected") failure ??= f.reason;
    else if (f.value.done || f.value.value.type !== "start") failure ??= new HttpError(500, "the backend ended a stream without a start event", { code: "internal" });
    else if (f.value.value.promptTokens > maxPromptTokens)
      failure ??= new HttpError(400, `the prompt is ${f.value.value.promptTokens} tokens, over this server's cap of ${maxPromptTokens} (--max-prompt-tokens)`, {
        param: "messages", code: "too_large",
      });
    else runs.push({ index: i, start: f.value.value, events: iters[i]! });
  });
  if (failure !== undefined) {
    ac.abort(new Error("request failed"));
    await Promise.all(iters.map(drain));
    throw failure;
  }
  return runs;
}

/** A run's events to its "done" (with every token event on the way), or the error that ended it. */
export async function collectRun(run: Run): Promise<{ tokens: TokenEvent[]; done: DoneEvent }> {
  const tokens: TokenEvent[] = [];
  for (;;) {
    const r = await run.events.next();
    if (r.done) throw new HttpError(500, "the backend ended a stream without a done event", { code: "internal" });
    const e = r.value;
    if (e.type === "token") tokens.push(e);
    else if (e.type === "done") {
      await drain(run.events);
      return { tokens, done: e };
    }
  }
}

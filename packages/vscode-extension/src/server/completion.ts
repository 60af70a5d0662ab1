// textDocument/inlineCompletion: cache → debounce → one generation per document (a newer keystroke or
// $/cancelRequest aborts the older one within one decode step) → cut at the line or block end → discard rules.
import type { Backend, GenerateRequest } from "@hearth/serving";
import type { CancellationToken } from "vscode-languageserver";
import { CompletionCache } from "./completion-cache.js";
import type { ContextRing } from "./context-ring.js";
import { buildPrompt, unwrapAnswer, type FimTemplate, type PromptStyle } from "./prompt.js";
import { cutSuggestion, discardReason, dropTypedOverlap, isMultiLine, type CursorContext } from "./suggestion.js";

export interface CompletionSettings {
  maxTokens: number;
  debounceMs: number;
  maxTimeMs: number;
  fileContext: boolean;
}

export interface CompletionStats {
  modelCalls: number;
  cacheHits: number;
  promptTokens: number;
  cachedTokens: number;
  lastTokensPerSecond: number;
  /** Model calls that decoded at least one token (their prompt was prefilled, or found in the prefix cache). */
  promptCalls: number;
  /** Requests answered at the time budget with what was ready (decoding stopped there). */
  budgetHits: number;
}

export interface CompletionRequest {
  uri: string;
  path: string;
  languageId: string;
  prefix: string;
  suffix: string;
  token: CancellationToken;
}

export interface CompletionOutcome {
  text: string;
  /** "cache", "model", or why nothing is shown. */
  source: "cache" | "model" | "cancelled" | "discarded";
  reason?: string;
  /** Answered at the time budget with what was ready (not cached: a later request may get the whole answer). */
  budget?: boolean;
}

export interface CompleterDeps {
  backend: () => Backend;
  model: () => string | undefined;
  style: () => Promise<{ style: PromptStyle; fim?: FimTemplate }>;
  settings: () => CompletionSettings;
  ring: ContextRing;
  onBusy: (busy: boolean) => void;
  log: (msg: string) => void;
}

const sleep = (ms: number, signal: AbortSignal): Promise<void> =>
  new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const t = setTimeout(resolve, ms);
    signal.addEventListener("abort", () => {
      clearTimeout(t);
      resolve();
    }, { once: true });
  });

export class Completer {
  readonly cache = new CompletionCache();
  readonly stats: CompletionStats = { modelCalls: 0, cacheHits: 0, promptTokens: 0, cachedTokens: 0, lastTokensPerSecond: 0, budgetHits: 0, promptCalls: 0 };
  /** The request in flight per document: a newer one aborts it. */
  private readonly inFlight = new Map<string, AbortController>();

  constructor(private readonly deps: CompleterDeps) {}

  async complete(req: CompletionRequest): Promise<CompletionOutcome> {
    const ctx: CursorContext = { prefix: req.prefix, suffix: req.suffix };
    this.inFlight.get(req.uri)?.abort();
    const cached = this.cache.get(req.prefix, req.suffix);
    if (cached !== undefined) {
      this.stats.cacheHits++;
      // Rules on the remaining text, since the text after the cursor may have changed meaning.
      const why = discardReason(cached, ctx);
      return why ? { text: "", source: "discarded", reason: why } : { text: cached, source: "cache" };
    }
    const ctl = new AbortController();
    this.inFlight.set(req.uri, ctl);
    const onCancel = req.token.onCancellationRequested(() => ctl.abort());
    try {
      const s = this.deps.settings();
      await sleep(s.debounceMs, ctl.signal);
      if (ctl.signal.aborted) return { text: "", source: "cancelled" };
      const result = await this.generate(req, ctx, ctl, s);
      if (result.budget) return result;
      if (result.source === "model") this.cache.set(req.prefix, req.suffix, result.text);
      else if (result.source === "discarded") this.cache.set(req.prefix, req.suffix, "");
      return result;
    } finally {
      onCancel.dispose();
      if (this.inFlight.get(req.uri) === ctl) this.inFlight.delete(req.uri);
    }
  }

  private async generate(req: CompletionRequest, ctx: CursorContext, ctl: AbortController, s: CompletionSettings): Promise<CompletionOutcome> {
    const { style, fim } = await this.deps.style();
    const multiLine = isMultiLine(ctx);
    const chunks = s.fileContext ? this.deps.ring.pick(req.uri).map((c) => ({ path: c.path, text: c.text })) : [];
    const built = buildPrompt(style, { prefix: req.prefix, suffix: req.suffix, languageId: req.languageId, path: req.path, chunks }, fim);
    // The time budget (from the end of the debounce) stops decoding and answers with what is ready; a cancel or a
    // newer keystroke drops everything. Stopping (rather than finishing in the background, tried in 3a0f4f9 and
    // reverted) keeps the 2 cores for the next keystroke, and serving keeps the prefilled prompt of an aborted row.
    const budget = new AbortController();
    const timer = setTimeout(() => budget.abort(), s.maxTimeMs);
    let finished = false;
    let started: { promptTokens: number; cachedTokens: number } | undefined;
    const signal = AbortSignal.any([ctl.signal, budget.signal]);
    const greq: GenerateRequest = {
      ...("prompt" in built ? { prompt: built.prompt } : { messages: built.messages }),
      maxTokens: multiLine ? s.maxTokens : Math.min(s.maxTokens, 48),
      temperature: 0,
      // Single-line mode ends at the line end as a stop string, so the request finishes normally and the serving
      // prefix cache keeps its prompt (it drops the caches of aborted rows).
      stop: multiLine ? built.stop : [...built.stop, "\n"],
      priority: "interactive",
      signal,
    };
    const model = this.deps.model();
    if (model) greq.model = model;
    this.stats.modelCalls++;
    this.deps.onBusy(true);
    let raw = "";
    let cut = { text: "", complete: false };
    const shape = (t: string) => cutSuggestion(dropTypedOverlap(unwrapAnswer(style, t), req.prefix), ctx, multiLine);
    try {
      for await (const e of this.deps.backend().generate(greq)) {
        if (e.type === "start") {
          started = e;
        } else if (e.type === "token") {
          // Counted at the first token: only then was the prompt surely prefilled (serving's start event of a
          // request aborted while it waited reports the whole prompt).
          if (started) {
            this.stats.promptCalls++;
            this.stats.promptTokens += started.promptTokens - started.cachedTokens;
            this.stats.cachedTokens += started.cachedTokens;
            started = undefined;
          }
          raw += e.text;
          cut = shape(raw);
          if (cut.complete) break;  // the line or block ended: stop decoding now
        } else if (e.type === "done") {
          finished = e.finishReason !== "abort";
          if (e.tokensPerSecond > 0) this.stats.lastTokensPerSecond = e.tokensPerSecond;
        }
      }
    } catch (e) {
      if (!signal.aborted) throw e;
    } finally {
      clearTimeout(timer);
      this.deps.onBusy(false);
    }
    if (ctl.signal.aborted) return { text: "", source: "cancelled" };
    if (!cut.complete) cut = shape(raw);
    const overBudget = budget.signal.aborted && !finished && !cut.complete;
    let text = overBudget ? readyPart(cut.text, multiLine) : cut.text;
    if (!multiLine) text = text.trimEnd();
    if (overBudget) {
      this.stats.budgetHits++;
      this.deps.log(`time budget of ${s.maxTimeMs} ms reached: answering with what is ready (${JSON.stringify(text.slice(0, 80))})`);
    }
    const why = discardReason(text, ctx);
    if (why) {
      this.deps.log(`discarded ${JSON.stringify(text.slice(0, 80))}: ${why}`);
      return { text: "", source: "discarded", reason: why, ...(overBudget ? { budget: true } : {}) };
    }
    return { text, source: "model", ...(overBudget ? { budget: true } : {}) };
  }

  /** Aborts every generation (configuration change, shutdown). */
  abortAll(): void {
    for (const c of this.inFlight.values()) c.abort();
    this.inFlight.clear();
  }
}

/**
 * What is ready when the time budget stops decoding: in multi-line mode the complete lines (a half-written last line
 * is dropped, as llama.cpp's t_max_predict_ms cuts at a line end), or the partial line when none is complete yet;
 * in single-line mode the partial line.
 */
export function readyPart(text: string, multiLine: boolean): string {
  if (!multiLine) return text.trimEnd();
  const nl = text.lastIndexOf("\n");
  return (nl > 0 && text.slice(0, nl).trim() !== "" ? text.slice(0, nl) : text).trimEnd();
}

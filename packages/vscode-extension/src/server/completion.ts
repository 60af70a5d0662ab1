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
  readonly stats: CompletionStats = { modelCalls: 0, cacheHits: 0, promptTokens: 0, cachedTokens: 0, lastTokensPerSecond: 0 };
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
    // The time budget aborts decoding but keeps what is ready; a cancel or a newer keystroke drops everything.
    const budget = new AbortController();
    const timer = setTimeout(() => budget.abort(), s.maxTimeMs);
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
          this.stats.promptTokens += e.promptTokens - e.cachedTokens;
          this.stats.cachedTokens += e.cachedTokens;
        } else if (e.type === "token") {
          raw += e.text;
          cut = shape(raw);
          if (cut.complete) break;  // the line or block ended: stop decoding now
        } else if (e.type === "done") {
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
    let text = cut.text;
    if (!multiLine) text = text.trimEnd();
    const why = discardReason(text, ctx);
    if (why) {
      this.deps.log(`discarded ${JSON.stringify(text.slice(0, 80))}: ${why}`);
      return { text: "", source: "discarded", reason: why };
    }
    return { text, source: "model" };
  }

  /** Aborts every generation (configuration change, shutdown). */
  abortAll(): void {
    for (const c of this.inFlight.values()) c.abort();
    this.inFlight.clear();
  }
}

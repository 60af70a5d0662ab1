// An in-process Backend straight on the engine's lm layer: one model at a time per request, requests run one after
// another (interactive ones first), and one PromptCache per (model, priority) so that the next keystroke prefills
// only what changed (the engine's PromptCache keeps the longest common token prefix). It is what hearth-lsp uses
// when @hearth/serving does not (yet) export createLocalBackend; the serving scheduler replaces it when it does.
import { lm } from "@hearth/engine";
import type {
  Backend, BackendStatus, DescribeRequest, EmbedRequest, EmbedResult, GenerateEvent, GenerateRequest, ModelInfo,
  ModelKind, Priority, TrainEvent, TrainRequest,
} from "@hearth/serving";
import { ServingError } from "@hearth/serving";

interface Resident {
  id: string;
  path: string;
  model: lm.LanguageModel;
  tokenizer: lm.Tokenizer;
  caches: Map<Priority, lm.PromptCache>;
}

interface Waiter {
  priority: Priority;
  start: () => void;
}

export interface EngineBackendOptions {
  /** The model used when a request names none. */
  defaultModel: string;
  /** Resolves a model name to a folder (default: lm.resolveModelPath). */
  resolve?: (name: string) => string;
}

export class EngineBackend implements Backend {
  readonly kind = "local" as const;
  private readonly resident = new Map<string, Promise<Resident>>();
  private readonly waiting: Waiter[] = [];
  private running = false;
  private readonly defaultModel: string;
  private readonly resolvePath: (name: string) => string;

  constructor(opts: EngineBackendOptions) {
    this.defaultModel = opts.defaultModel;
    this.resolvePath = opts.resolve ?? ((n) => lm.resolveModelPath(n));
  }

  /** Loads (once) and returns a model with its tokenizer. */
  async resident_(name: string | undefined): Promise<Resident> {
    const id = name ?? this.defaultModel;
    let p = this.resident.get(id);
    if (!p) {
      p = (async () => {
        let path: string;
        try {
          path = this.resolvePath(id);
        } catch (e) {
          throw new ServingError("model_not_found", (e as Error).message, { param: "model", cause: e });
        }
        const loaded = await lm.load(path);
        if (!loaded.tokenizer) throw new ServingError("unsupported", `the model '${id}' has no tokenizer (tokenizer.json)`);
        return { id, path, model: loaded.model, tokenizer: loaded.tokenizer, caches: new Map() };
      })();
      this.resident.set(id, p);
      p.catch(() => this.resident.delete(id));
    }
    return p;
  }

  /** The tokenizer of a model (for prompt-format detection). */
  async tokenizer(name?: string): Promise<lm.Tokenizer> {
    return (await this.resident_(name)).tokenizer;
  }

  private acquire(priority: Priority, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve, reject) => {
      const w: Waiter = {
        priority,
        start: () => {
          signal?.removeEventListener("abort", onAbort);
          resolve();
        },
      };
      const onAbort = () => {
        const i = this.waiting.indexOf(w);
        if (i >= 0) this.waiting.splice(i, 1);
        reject(new ServingError("aborted", "the request was cancelled while it waited"));
      };
      if (signal?.aborted) return onAbort();
      signal?.addEventListener("abort", onAbort, { once: true });
      // Interactive requests (keystrokes) go ahead of background ones (chat).
      const at = priority === "interactive" ? this.waiting.findIndex((x) => x.priority !== "interactive") : -1;
      if (at >= 0) this.waiting.splice(at, 0, w);
      else this.waiting.push(w);
      this.pump();
    });
  }

  private pump(): void {
    if (this.running) return;
    const next = this.waiting.shift();
    if (!next) return;
    this.running = true;
    next.start();
  }

  private release(): void {
    this.running = false;
    this.pump();
  }

  async *generate(req: GenerateRequest): AsyncIterable<GenerateEvent> {
    if ((req.prompt === undefined) === (req.messages === undefined))
      throw new ServingError("invalid_request", "give exactly one of prompt and messages");
    const r = await this.resident_(req.model);
    const priority = req.priority ?? "background";
    await this.acquire(priority, req.signal);
    try {
      let cache = r.caches.get(priority);
      if (!cache) {
        cache = lm.makePromptCache(r.model);
        r.caches.set(priority, cache);
      }
      const opts: lm.GenerateOptions = {
        maxTokens: req.maxTokens ?? 256,
        temp: req.temperature ?? 0,
        promptCache: cache,
        skipSpecialTokens: true,
      };
      if (req.topP !== undefined) opts.topP = req.topP;
      if (req.topK !== undefined) opts.topK = req.topK;
      if (req.seed !== undefined) opts.seed = req.seed;
      if (req.stop) opts.stop = req.stop;
      if (req.signal) opts.signal = req.signal;
      if (req.messages) opts.messages = req.messages.map((m) => ({ role: m.role, content: typeof m.content === "string" ? m.content : m.content.map((p) => (p.type === "text" ? p.text : "")).join("") }));
      else opts.prompt = req.prompt!;
      let text = "", started = false, n = 0;
      const t0 = performance.now();
      let tFirst = 0;
      for await (const g of lm.streamGenerate(r.model, r.tokenizer, opts)) {
        if (!started) {
          started = true;
          tFirst = performance.now();
          yield { type: "start", model: r.id, promptTokens: g.promptTokens + g.cachedTokens, cachedTokens: g.cachedTokens };
        }
        if (g.token >= 0) n++;
        text += g.text;
        if (g.token >= 0) yield { type: "token", text: g.text, token: g.token };
        else if (g.text) yield { type: "token", text: g.text, token: -1 };
        if (g.finishReason) {
          yield {
            type: "done", finishReason: g.finishReason, text,
            usage: { promptTokens: g.promptTokens + g.cachedTokens, cachedTokens: g.cachedTokens, completionTokens: n },
            timeToFirstToken: (tFirst - t0) / 1000, tokensPerSecond: g.generationTps,
          };
          return;
        }
      }
    } finally {
      this.release();
    }
  }

  embed(_req: EmbedRequest): Promise<EmbedResult> {
    return Promise.reject(new ServingError("unsupported", "hearth-lsp's in-process backend does not embed"));
  }

  // eslint-disable-next-line require-yield
  async *describeImage(_req: DescribeRequest): AsyncIterable<GenerateEvent> {
    throw new ServingError("unsupported", "hearth-lsp's in-process backend does not describe images");
  }

  // eslint-disable-next-line require-yield
  async *train(_req: TrainRequest): AsyncIterable<TrainEvent> {
    throw new ServingError("unsupported", "hearth-lsp's in-process backend does not train");
  }

  async models(): Promise<ModelInfo[]> {
    const ids = new Set([this.defaultModel, ...this.resident.keys()]);
    const out: ModelInfo[] = [];
    for (const id of ids) out.push({ id, kind: "text", loaded: this.resident.has(id), adapters: [] });
    return out;
  }

  async load(model: string, _kind?: ModelKind): Promise<ModelInfo> {
    const r = await this.resident_(model);
    return { id: r.id, kind: "text", loaded: true, path: r.path, adapters: [] };
  }

  async unload(model: string): Promise<void> {
    const p = this.resident.get(model);
    this.resident.delete(model);
    if (p) {
      const r = await p.catch(() => undefined);
      for (const c of r?.caches.values() ?? []) c.reset();
    }
  }

  async status(): Promise<BackendStatus> {
    return { kind: "local", models: await this.models(), active: this.running ? 1 : 0, queued: this.waiting.length };
  }

  async close(): Promise<void> {
    for (const id of [...this.resident.keys()]) await this.unload(id);
  }
}

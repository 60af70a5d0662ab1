// LocalBackend: the Backend on this process's engine. Requests become rows of a scheduler (one per model +
// adapter) over the decode loop; text comes out through the streaming detokenizer with stop strings held back.
import { existsSync, mkdirSync } from "node:fs";
import { homedir } from "node:os";
import { join, resolve } from "node:path";
import { lm, mx, type MxArray } from "@hearth/engine";
import type {
  Backend, BackendStatus, ChatTurn, DescribeRequest, EmbedRequest, EmbedResult, FinishReason, GenerateEvent,
  GenerateRequest, ImageSource, ModelInfo, ModelKind, Priority, ToolCall, TrainEvent, TrainRequest,
} from "./backend.js";
import { ServingError } from "./errors.js";
import { EventQueue } from "./event-queue.js";
import { ModelHost, type ModelHostOptions, type TextModel } from "./model-host.js";
import { PrefixCache, type PrefixCacheOptions } from "./prefix-cache.js";
import { makeRowLoop } from "./loop-factory.js";
import type { RowEvent } from "./row-loop.js";
import { Scheduler } from "./scheduler.js";
import { checkGenerate, checkSampling, toServingError } from "./validate.js";
import { CANNOT_WRITE, GrammarService, type GrammarConstraint } from "./grammar.js";
import { MAX_CALLS, renderToolPrompt, parseToolReply, toolCallSchema, type ToolPlan } from "./tools.js";

export interface LocalBackendOptions extends ModelHostOptions {
  /** The default text model (name or path); the bundled hearth-tiny when absent. */
  model?: string;
  /** The default embedding model. */
  embeddingModel?: string;
  /** The default vision model (describeImage); the default text model when absent. */
  visionModel?: string;
  /** Requests waiting (not yet decoding) across all models before new ones get "busy" (default 64). */
  maxQueue?: number;
  /** Rows decoded together per model (default 16). */
  maxBatch?: number;
  /** Highest maxTokens a request may ask for (default 4096); absent maxTokens means min(256, cap). */
  maxTokensCap?: number;
  /** Longest prompt in tokens (default 32768). */
  maxPromptTokens?: number;
  /** Prefix cache settings, or false to turn it off. */
  prefixCache?: PrefixCacheOptions | false;
  /** Prompt tokens per prefill chunk (default 512). */
  prefillChunk?: number;
  /** Where train() writes adapters (default ~/.cache/hearth/adapters). */
  adapterDir?: string;
  /** Use the engine's batched lm.DecodeLoop when it has one (default true); false: the sequential loop. */
  batched?: boolean;
}

function imageInput(src: ImageSource): lm.ImageInput {
  switch (src?.kind) {
    case "bytes": return Buffer.from(src.data);
    case "dataUrl": return src.url;
    case "path": return src.path;
    default: throw new ServingError("bad_image", "an image must be { kind: 'bytes' | 'dataUrl' | 'path', ... }", { param: "image" });
  }
}

/** The engine's chat message for one turn (images as processor parts). */
function chatMessage(t: ChatTurn): lm.ChatMessage {
  const content = typeof t.content === "string" || t.content === undefined || t.content === null
    ? t.content ?? ""
    : t.content.map((p) => (p.type === "text" ? { type: "text", text: p.text } : { type: "image", image: imageInput(p.image) }));
  return { role: t.role, content };
}

function hasImages(turns: ChatTurn[]): boolean {
  return turns.some((t) => Array.isArray(t.content) && t.content.some((p) => p.type === "image"));
}

/** OpenAI's frequency / presence penalties over the generated tokens (prompt excluded). */
function penaltyProcessor(promptLength: number, frequency: number, presence: number): lm.LogitsProcessor {
  return (tokens, logits) => {
    if (!tokens) return logits;
    const ids = tokens.astype(mx.int32).toTypedArray() as Int32Array;
    if (ids.length <= promptLength) return logits;
    const V = logits.shape[logits.ndim - 1];
    const counts = new Map<number, number>();
    for (let i = promptLength; i < ids.length; i++) counts.set(ids[i], (counts.get(ids[i]) ?? 0) + 1);
    const pen = new Float32Array(V);
    for (const [t, c] of counts) if (t < V) pen[t] = frequency * c + presence;
    return mx.subtract(logits, mx.array(pen, mx.float32, [1, V]));
  };
}

/** Shortest shared chat prefix worth its own prefill pass (and checkpoint). */
const MIN_PREFIX_HINT = 64;

interface Prepared {
  prompt: number[];
  /** Tokens before the last message (what the next turn or request likely shares). */
  prefixHint?: number;
  pixelValues?: MxArray;
  constraint?: GrammarConstraint;
  /** The request parameter the grammar came from (for its errors). */
  constraintParam?: string;
  tools?: ToolPlan;
}

/** The error of a grammar that allows no token (the vocabulary lacks a character the schema needs). */
function cannotWrite(tm: TextModel, param: string): ServingError {
  return new ServingError("unsupported", `${CANNOT_WRITE}: the grammar allows no token of model '${tm.id}' at some point (its vocabulary lacks a character the schema needs)`, { param });
}

export class LocalBackend implements Backend {
  readonly kind = "local" as const;
  readonly host: ModelHost;
  private readonly schedulers = new Map<string, Scheduler>();
  private readonly opts: LocalBackendOptions;
  private readonly maxQueue: number;
  private readonly cap: number;
  private readonly grammars = new GrammarService();
  private training = 0;
  /** Decode steps of schedulers already closed (unloaded models), so decodeSteps never goes back. */
  private retiredSteps = 0;
  private closed = false;

  constructor(opts: LocalBackendOptions = {}) {
    this.opts = opts;
    this.host = new ModelHost(opts);
    this.host.onUnload = (id) => {
      for (const [k, s] of this.schedulers) {
        if (k.split("\u0000")[0] !== id) continue;
        this.retiredSteps += s.steps;
        s.close();
        this.schedulers.delete(k);
      }
      this.grammars.forget(id);
    };
    this.maxQueue = opts.maxQueue ?? 64;
    this.cap = opts.maxTokensCap ?? 4096;
  }

  private get defaultModel(): string {
    return this.opts.model ?? lm.BUNDLED_MODEL_NAME;
  }

  /** The scheduler of a model + adapter (built on first use). */
  schedulerFor(tm: TextModel, adapter: string | undefined, model: lm.LanguageModel): Scheduler {
    const key = `${tm.id}\u0000${adapter ?? ""}`;
    let s = this.schedulers.get(key);
    if (!s) {
      const loop = makeRowLoop(model, {
        eosTokenIds: [...new Set([...tm.tokenizer.eosTokenIds, ...tm.eosTokenIds])],
        prefillChunk: this.opts.prefillChunk ?? 512,
        maxRows: this.opts.maxBatch ?? 16,
        batched: this.opts.batched ?? true,
      });
      const pc = this.opts.prefixCache === false ? undefined : new PrefixCache(this.opts.prefixCache ?? {});
      s = new Scheduler(loop, { maxRows: this.opts.maxBatch ?? 16, ...(pc ? { prefixCache: pc } : {}) });
      this.schedulers.set(key, s);
    }
    return s;
  }

  /** Decode steps run so far on a model (+ adapter): tests count the steps after a cancellation. */
  decodeSteps(model: string = this.defaultModel, adapter?: string): number {
    return this.schedulers.get(`${model}\u0000${adapter ?? ""}`)?.steps ?? 0;
  }

  /** The prefix cache of a model (+ adapter), when one was made. */
  prefixCacheOf(model: string = this.defaultModel, adapter?: string): PrefixCache | undefined {
    return this.schedulers.get(`${model}\u0000${adapter ?? ""}`)?.prefixCache;
  }

  private queuedTotal(): number {
    let n = 0;
    for (const s of this.schedulers.values()) n += s.queued;
    return n;
  }

  private checkOpen(): void {
    if (this.closed) throw new ServingError("unsupported", "this backend is closed");
  }

  generate(req: GenerateRequest): AsyncIterable<GenerateEvent> {
    return this.generateImpl(req, req.model ?? this.defaultModel);
  }

  private async *generateImpl(req: GenerateRequest, modelRef: string): AsyncGenerator<GenerateEvent, void, undefined> {
    this.checkOpen();
    checkGenerate(req, this.cap);
    if (this.queuedTotal() >= this.maxQueue)
      throw new ServingError("busy", `the queue is full (${this.maxQueue} requests waiting); retry shortly`, { retryAfter: 1 });
    let lease;
    try {
      lease = await this.host.acquireText(modelRef);
    } catch (e) {
      throw toServingError(e);
    }
    try {
      const tm = lease.value;
      let model = tm.model;
      if (req.adapter !== undefined) model = await this.host.adapterModel(tm, req.adapter);
      let prep: Prepared;
      try {
        prep = await this.prepare(tm, req);
      } catch (e) {
        throw toServingError(e);
      }
      yield* this.run(tm, req, prep, this.schedulerFor(tm, req.adapter, model));
    } finally {
      lease.release();
    }
  }

  /** Prompt ids (and pixels, grammar, tool plan) of a request. */
  private async prepare(tm: TextModel, req: GenerateRequest): Promise<Prepared> {
    const tok = tm.tokenizer;
    const out: Prepared = { prompt: [] };
    const maxPrompt = this.opts.maxPromptTokens ?? 32768;
    if (req.messages !== undefined) {
      let turns = req.messages;
      const useTools = !!req.tools?.length && req.toolChoice !== "none";
      if (useTools) {
        out.tools = { tools: req.tools!, choice: req.toolChoice ?? "auto", maxCalls: req.parallelToolCalls === false ? 1 : MAX_CALLS };
        turns = renderToolPrompt(turns, req.tools!, out.tools.choice, out.tools.maxCalls);
      } else if (req.tools?.length || turns.some((t) => t.role === "tool" || t.toolCalls?.length)) {
        turns = renderToolPrompt(turns, req.tools ?? [], "none");
      }
      const messages = turns.map(chatMessage);
      if (hasImages(turns)) {
        if (!tm.processor) throw new ServingError("unsupported", `model '${tm.id}' is a text model and cannot read images; use a vision model`, { param: "messages" });
        const inputs = await tm.processor.process({ messages });
        out.prompt = Array.from(inputs.inputIds.astype(mx.int32).toTypedArray() as Int32Array);
        inputs.inputIds.dispose();
        if (inputs.pixelValues) out.pixelValues = inputs.pixelValues;
      } else {
        out.prompt = tok.applyChatTemplate(messages, { addGenerationPrompt: true, tokenize: true }) as number[];
        if (this.opts.prefixCache !== false && out.prompt.length > MIN_PREFIX_HINT) {
          // Where the last message starts: render it empty and see where the token ids part.
          const last = messages[messages.length - 1];
          const alt = tok.applyChatTemplate([...messages.slice(0, -1), { ...last, content: "" }], { addGenerationPrompt: true, tokenize: true }) as number[];
          let h = 0;
          while (h < alt.length && alt[h] === out.prompt[h]) h++;
          if (h >= MIN_PREFIX_HINT) out.prefixHint = h;
        }
      }
    } else if (Array.isArray(req.prompt)) {
      const vocab = tm.model.layers.length ? this.vocabOf(tm) : Infinity;
      if (req.prompt.some((t) => t >= vocab)) throw new ServingError("invalid_request", `prompt token ids must be below the vocabulary size ${vocab}`, { param: "prompt" });
      out.prompt = [...req.prompt];
    } else {
      out.prompt = lm.promptTokens(tok, { prompt: req.prompt! });
    }
    if (out.prompt.length > maxPrompt) {
      out.pixelValues?.dispose();
      throw new ServingError("too_large", `the prompt has ${out.prompt.length} tokens; the limit is ${maxPrompt}`, { param: req.messages ? "messages" : "prompt" });
    }
    if (out.tools && out.tools.choice !== "none") {
      out.constraint = await this.grammars.constraint(tm, { type: "json_schema", schema: toolCallSchema(out.tools.tools, out.tools.choice, out.tools.maxCalls) });
      out.constraintParam = "tools";
    } else if (req.responseFormat && req.responseFormat.type !== "text") {
      out.constraint = await this.grammars.constraint(tm, req.responseFormat);
      out.constraintParam = "response_format";
    }
    // The first mask tells at once when the vocabulary cannot even start the output (before any event is sent).
    if (out.constraint) {
      out.constraint.nextTokenMask();
      if (out.constraint.stuck) {
        out.constraint.dispose();
        out.pixelValues?.dispose();
        throw cannotWrite(tm, out.constraintParam!);
      }
    }
    return out;
  }

  private vocabOf(tm: TextModel): number {
    const c = (tm.config.text_config ?? tm.config) as { vocab_size?: number };
    return c.vocab_size ?? tm.tokenizer.vocabSize;
  }

  private async *run(tm: TextModel, req: GenerateRequest, prep: Prepared, sched: Scheduler): AsyncGenerator<GenerateEvent, void, undefined> {
    const tok = tm.tokenizer;
    const q = new EventQueue<RowEvent>();
    const stopper = new AbortController();
    const signal = req.signal ? AbortSignal.any([req.signal, stopper.signal]) : stopper.signal;
    const procs: lm.LogitsProcessor[] = [];
    if (req.frequencyPenalty || req.presencePenalty)
      procs.push(penaltyProcessor(prep.prompt.length, req.frequencyPenalty ?? 0, req.presencePenalty ?? 0));
    const maxTokens = req.maxTokens ?? Math.min(256, this.cap);
    const row = {
      prompt: prep.prompt,
      maxTokens,
      temp: req.temperature ?? 0,
      ...(req.topP !== undefined ? { topP: req.topP } : {}),
      ...(req.topK !== undefined ? { topK: req.topK } : {}),
      ...(req.minP !== undefined ? { minP: req.minP } : {}),
      ...(req.seed !== undefined ? { seed: req.seed } : {}),
      ...(req.repetitionPenalty !== undefined ? { repetitionPenalty: req.repetitionPenalty } : {}),
      ...(req.logitBias ? { logitBias: Object.fromEntries(Object.entries(req.logitBias).map(([k, v]) => [Number(k), v])) } : {}),
      ...(req.logprobs !== undefined ? { logprobs: req.logprobs } : {}),
      ...(procs.length ? { logitsProcessors: procs } : {}),
      ...(prep.constraint ? { constraint: prep.constraint } : {}),
      ...(prep.pixelValues ? { pixelValues: prep.pixelValues } : {}),
    };
    const priority: Priority = req.priority ?? "interactive";
    const t0 = performance.now();
    if (maxTokens === 0) {
      prep.pixelValues?.dispose();
      yield { type: "start", model: tm.id, ...(req.adapter ? { adapter: req.adapter } : {}), promptTokens: prep.prompt.length, cachedTokens: 0 };
      yield { type: "done", finishReason: "length", text: "", usage: { promptTokens: prep.prompt.length, cachedTokens: 0, completionTokens: 0 }, timeToFirstToken: 0, tokensPerSecond: 0 };
      return;
    }
    sched.submit({
      row, priority, signal, ...(prep.prefixHint ? { prefixHint: prep.prefixHint } : {}),
      onEvent: (ev) => {
        q.push(ev);
        if (ev.finishReason) q.end();
      },
      onError: (e) => q.fail(e),
    });
    const text = new lm.TextAssembler(tok, req.stop);
    const eos = new Set([...tok.eosTokenIds, ...tm.eosTokenIds]);
    let all = "";
    let started = false, stopped = false, finished = false;
    let n = 0, tFirst = 0, tLast = 0, cached = 0;
    let finish: FinishReason = "length";
    try {
      for await (const ev of q.drain()) {
        if (!started) {
          started = true;
          cached = ev.cachedTokens ?? 0;
          yield { type: "start", model: tm.id, ...(req.adapter ? { adapter: req.adapter } : {}), promptTokens: prep.prompt.length, cachedTokens: cached };
        }
        if (ev.token >= 0 && !stopped) {
          n++;
          tLast = performance.now();
          if (n === 1) tFirst = tLast;
          let piece = "";
          if (!eos.has(ev.token)) {
            const a = text.add(ev.token);
            piece = a.text;
            if (a.stopped) {
              stopped = true;
              stopper.abort();
            }
          }
          if (ev.finishReason && !stopped) {
            const f = text.finish();
            piece += f.text;
            if (f.stopped) stopped = true;
          }
          all += piece;
          const te: GenerateEvent = { type: "token", text: piece, token: ev.token, tokenText: tok.decode([ev.token]) };
          if (ev.logprob !== undefined) te.logprob = ev.logprob;
          if (ev.topLogprobs) te.topLogprobs = ev.topLogprobs.map((t) => ({ token: t.token, text: tok.decode([t.token]), logprob: t.logprob }));
          yield te;
        } else if (ev.finishReason && !stopped) {
          const f = text.finish();
          if (f.text) {
            all += f.text;
            yield { type: "token", text: f.text, token: -1 };
          }
          if (f.stopped) stopped = true;
        }
        if (ev.finishReason) {
          finished = true;
          finish = stopped ? "stop" : ev.finishReason;
        }
      }
    } catch (e) {
      throw toServingError(e);
    } finally {
      if (!finished) stopper.abort();  // the consumer left early: stop the row within one step
      if (finished || !started) prep.constraint?.dispose?.();
      else void q.drain().next().catch(() => undefined).finally(() => prep.constraint?.dispose?.());
      prep.pixelValues?.dispose();
    }
    // The grammar got stuck later in the output: an error, not a truncated "done".
    if (prep.constraint?.stuck) throw cannotWrite(tm, prep.constraintParam!);
    let toolCalls: ToolCall[] | undefined;
    if (prep.tools && prep.tools.choice !== "none" && finish !== "abort") {
      const reply = parseToolReply(all, prep.tools.tools);
      toolCalls = reply.calls;
      if (toolCalls.length) finish = "tool_calls";
      else if (reply.content !== undefined) all = reply.content;
    }
    yield {
      type: "done", finishReason: finish, text: all, ...(toolCalls && toolCalls.length ? { toolCalls } : {}),
      usage: { promptTokens: prep.prompt.length, cachedTokens: cached, completionTokens: n },
      timeToFirstToken: n ? (tFirst - t0) / 1000 : 0,
      tokensPerSecond: n > 1 ? (n - 1) / ((tLast - tFirst) / 1000) : 0,
    };
  }

  describeImage(req: DescribeRequest): AsyncIterable<GenerateEvent> {
    const turns: ChatTurn[] = [];
    if (!req || !Array.isArray(req.images) || !req.images.length)
      return (async function* (): AsyncGenerator<GenerateEvent> {
        throw new ServingError("invalid_request", "give at least one image", { param: "images" });
      })();
    if (req.system) turns.push({ role: "system", content: req.system });
    turns.push({ role: "user", content: [...req.images.map((image) => ({ type: "image" as const, image })), { type: "text" as const, text: req.prompt ?? "Describe this image." }] });
    const { images: _i, prompt: _p, system: _s, model, ...rest } = req;
    void _i; void _p; void _s;
    return this.generateImpl({ ...rest, messages: turns }, model ?? this.opts.visionModel ?? this.defaultModel);
  }

  async embed(req: EmbedRequest): Promise<EmbedResult> {
    this.checkOpen();
    if (!req || !Array.isArray(req.input) || !req.input.length) throw new ServingError("invalid_request", "input must be a non-empty list of texts or token id lists", { param: "input" });
    const ref = req.model ?? this.opts.embeddingModel;
    if (!ref) throw new ServingError("model_not_found", "no embedding model is configured: pass model or start with an embedding model (e.g. EmbeddingGemma)", { param: "model" });
    if (req.signal?.aborted) throw new ServingError("aborted", "the request was cancelled");
    const lease = await this.host.acquireEmbedder(ref).catch((e) => { throw toServingError(e); });
    try {
      const { embedder, id } = lease.value;
      const full = embedder.dimension;
      const dims = req.dimensions ?? full;
      if (!(Number.isInteger(dims) && dims > 0 && dims <= full))
        throw new ServingError("invalid_request", `dimensions must be an integer in [1, ${full}], got ${req.dimensions}`, { param: "dimensions" });
      const tok = embedder.tokenizer!;
      const opts: lm.EmbedOptions = { dimensions: dims, ...(req.task ? { task: req.task } : {}) };
      let prompt = "";
      try {
        prompt = embedder.promptFor(opts);
      } catch (e) {
        throw new ServingError("invalid_request", (e as Error).message, { param: "task" });
      }
      const out: number[][] = new Array(req.input.length);
      let promptTokens = 0;
      const texts: { i: number; t: string }[] = [];
      for (const [i, x] of req.input.entries()) {
        if (typeof x === "string") {
          texts.push({ i, t: x });
          promptTokens += tok.encode(prompt + x).length;
        } else if (Array.isArray(x) && x.length && x.every((t) => Number.isInteger(t) && t >= 0 && t < tok.vocabSize)) {
          // Token ids are used as they are (no task prompt).
          out[i] = mx.tidy(() => {
            const ids = mx.array([x], mx.int32);
            let e = embedder.embedTokens(ids, mx.onesLike(ids)).embeddings;
            if (dims < full) {
              e = mx.slice(e, [0, 0], [1, dims]);
              const n = mx.sqrt(mx.sum(mx.square(e.astype(mx.float32)), -1, true));
              e = mx.divide(e.astype(mx.float32), mx.maximum(n, 1e-12));
            }
            return Array.from(e.astype(mx.float32).toFloat32Array());
          });
          promptTokens += x.length;
        } else {
          throw new ServingError("invalid_request", `input[${i}] must be a string or a non-empty list of token ids below ${tok.vocabSize}`, { param: "input" });
        }
      }
      if (texts.length) {
        const vecs = await embedder.embed(texts.map((x) => x.t), opts).catch((e) => { throw toServingError(e); });
        texts.forEach((x, k) => (out[x.i] = Array.from(vecs[k])));
      }
      return { model: id, embeddings: out, dimensions: dims, promptTokens };
    } finally {
      lease.release();
    }
  }

  train(req: TrainRequest): AsyncIterable<TrainEvent> {
    return this.trainImpl(req);
  }

  private async *trainImpl(req: TrainRequest): AsyncGenerator<TrainEvent, void, undefined> {
    this.checkOpen();
    if (!req || typeof req.name !== "string" || !/^[\w.-]+$/.test(req.name))
      throw new ServingError("invalid_request", "name must be letters, digits, '.', '-' or '_'", { param: "name" });
    if (typeof req.data !== "string" || !req.data) throw new ServingError("invalid_request", "data must be a folder or a .jsonl file", { param: "data" });
    const iters = req.iters ?? 100;
    for (const [k, v, lo] of [["iters", iters, 1], ["batchSize", req.batchSize, 1], ["numLayers", req.numLayers, -1], ["rank", req.rank, 1]] as const)
      if (v !== undefined && (!Number.isInteger(v) || v < lo)) throw new ServingError("invalid_request", `${k} must be an integer >= ${lo}`, { param: k });
    if (req.learningRate !== undefined && !(req.learningRate > 0 && req.learningRate < 1))
      throw new ServingError("invalid_request", "learningRate must be in (0, 1)", { param: "learningRate" });
    if (req.validationSplit !== undefined && !(req.validationSplit >= 0 && req.validationSplit < 1))
      throw new ServingError("invalid_request", "validationSplit must be in [0, 1)", { param: "validationSplit" });
    const base = req.model ?? this.defaultModel;
    const basePath = this.host.resolvePath(base);
    const dir = resolve(this.opts.adapterDir ?? join(homedir(), ".cache", "hearth", "adapters"), req.name);
    mkdirSync(dir, { recursive: true });
    // The dataset first (every line checked and tokenized with the base model's tokenizer alone): a bad file fails
    // in well under a second, not after loading the weights.
    const tokenizer = await lm.loadTokenizer(basePath).catch((e) => { throw toServingError(e); });
    let trainSet: lm.TokenizedDataset, validSet: lm.TokenizedDataset | undefined;
    try {
      const d = lm.loadDataset(req.data, tokenizer, { maskPrompt: req.maskPrompt ?? false });
      trainSet = d.train!;
      validSet = d.valid;
      if (!validSet && req.validationSplit && trainSet.examples.length > 1) {
        const k = Math.max(1, Math.round(trainSet.examples.length * req.validationSplit));
        validSet = { ...trainSet, name: `${trainSet.name} (held out)`, examples: trainSet.examples.slice(-k) };
        trainSet = { ...trainSet, examples: trainSet.examples.slice(0, -k) };
      }
    } catch (e) {
      throw toServingError(e);
    }
    // A fresh copy: training replaces layers with LoRA layers, which must not touch the model being served.
    const loaded = await lm.load(basePath, { noTokenizer: true }).catch((e) => { throw toServingError(e); });
    const layers = (loaded.model as { layers?: unknown[] }).layers?.length ?? 0;
    if (req.numLayers !== undefined && req.numLayers > layers)
      throw new ServingError("invalid_request", `numLayers ${req.numLayers} is more than the model's ${layers} layers: pass numLayers ${layers} or less (-1 for all)`, { param: "numLayers" });
    const q = new EventQueue<TrainEvent>();
    const t0 = performance.now();
    let lastTrain: number | null = null, lastVal: number | null = null;
    let pendingVal: number | undefined;
    yield {
      type: "start", adapter: req.name, path: dir, iters, trainExamples: trainSet.examples.length,
      validExamples: validSet?.examples.length ?? 0,
    };
    this.training++;
    const run = lm.train({
      model: loaded.model as never,
      tokenizer,
      trainSet,
      ...(validSet ? { validSet } : {}),
      args: {
        iters,
        batchSize: Math.min(req.batchSize ?? 4, trainSet.examples.length),
        learningRate: req.learningRate ?? 1e-4,
        numLayers: req.numLayers ?? Math.min(16, layers),
        adapterPath: dir,
        // A report (loss, tokens/s) every iteration: one progress event each.
        stepsPerReport: 1,
        stepsPerEval: Math.max(1, Math.floor(iters / 4) || 1),
        saveEvery: Math.max(1, Math.floor(iters / 10) || 1),
        ...(req.rank !== undefined ? { loraParameters: { rank: req.rank, scale: 20, dropout: 0 } } : {}),
      },
      ...(req.signal ? { signal: req.signal } : {}),
      onWarning: () => undefined,
      onReport: (r) => {
        if (r.type === "val") {
          // Validation runs before the iteration's step: its loss rides on that iteration's event.
          lastVal = r.valLoss;
          pendingVal = r.valLoss;
        } else if (r.type === "train") {
          lastTrain = r.trainLoss;
          const val = pendingVal;
          pendingVal = undefined;
          q.push({
            type: "progress", iteration: r.iteration, iters, loss: r.trainLoss, trainLoss: r.trainLoss,
            tokensPerSecond: r.tokensPerSecond, ...(val !== undefined ? { validLoss: val } : {}),
            message: `iter ${r.iteration}/${iters}: loss ${r.trainLoss.toFixed(3)}${val !== undefined ? `, validation loss ${val.toFixed(3)}` : ""}, ${r.tokensPerSecond.toFixed(0)} tokens/s`,
          });
        }
      },
    });
    run.then(() => q.end(), (e) => q.fail(e as Error));
    try {
      yield* q.drain();
    } catch (e) {
      throw toServingError(e);
    } finally {
      this.training--;
    }
    const result = await run;
    // The adapter file holds the last complete step (also when cancelled): serve it under its name from now on.
    const served = existsSync(join(dir, "adapters.safetensors"));
    if (served) this.host.addAdapter(req.name, dir);
    yield {
      type: "done", adapter: req.name, path: dir, iters: result.iterations,
      trainLoss: result.trainLoss ?? lastTrain, validLoss: result.valLoss ?? lastVal,
      seconds: (performance.now() - t0) / 1000, cancelled: result.aborted,
    };
  }

  async models(): Promise<ModelInfo[]> {
    return this.host.list();
  }

  async load(model: string, kind?: ModelKind): Promise<ModelInfo> {
    this.checkOpen();
    try {
      return await this.host.load(model, kind);
    } catch (e) {
      throw toServingError(e);
    }
  }

  async unload(model: string): Promise<void> {
    this.host.unload(model);
  }

  async status(): Promise<BackendStatus> {
    let active = 0, queued = 0;
    for (const s of this.schedulers.values()) {
      active += s.active;
      queued += s.queued;
    }
    let decodeSteps = this.retiredSteps;
    for (const s of this.schedulers.values()) decodeSteps += s.steps;
    return { kind: "local", models: this.host.list(), active: active + this.training, queued, decodeSteps };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const s of this.schedulers.values()) s.close();
    this.schedulers.clear();
    this.host.close();
    this.grammars.close();
  }
}

/** A local backend; with no model configured it serves the bundled hearth-tiny. */
export function createLocalBackend(opts: LocalBackendOptions = {}): LocalBackend {
  return new LocalBackend(opts);
}

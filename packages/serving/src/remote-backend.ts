// RemoteBackend: the Backend on any OpenAI-compatible server (another hearth server, vLLM, Ollama, llama.cpp's
// server). Chat and completions stream over SSE; embeddings, models; training is refused ("unsupported").
import { readFileSync } from "node:fs";
import { extname } from "node:path";
import type {
  Backend, BackendStatus, ChatTurn, DescribeRequest, EmbedRequest, EmbedResult, FinishReason, GenerateEvent,
  GenerateRequest, ImageSource, ModelInfo, ModelKind, ToolCall, TrainEvent, TrainRequest,
} from "./backend.js";
import { ServingError, type ServingErrorCode } from "./errors.js";

export interface RemoteBackendOptions {
  /** The API root, e.g. http://127.0.0.1:8080/v1 (as the openai client's baseURL). */
  baseURL: string;
  apiKey?: string;
  /** The model name sent when a request names none. */
  model?: string;
  embeddingModel?: string;
  /** Extra headers on every request. */
  headers?: Record<string, string>;
  /** Per-request timeout in ms before the first byte (default 600000). */
  timeoutMs?: number;
}

const MIME: Record<string, string> = { ".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".webp": "image/webp", ".gif": "image/gif" };

function sniffMime(b: Uint8Array): string {
  if (b[0] === 0x89 && b[1] === 0x50) return "image/png";
  if (b[0] === 0xff && b[1] === 0xd8) return "image/jpeg";
  if (b[0] === 0x47 && b[1] === 0x49) return "image/gif";
  if (b[8] === 0x57 && b[9] === 0x45) return "image/webp";
  return "application/octet-stream";
}

/** An image as a data URL (a remote server can't read this machine's paths). */
export function imageDataUrl(src: ImageSource): string {
  if (src.kind === "dataUrl") return src.url;
  if (src.kind === "bytes") return `data:${src.mimeType ?? sniffMime(src.data)};base64,${Buffer.from(src.data).toString("base64")}`;
  if (src.kind === "path") {
    let data: Buffer;
    try {
      data = readFileSync(src.path);
    } catch (e) {
      throw new ServingError("bad_image", `cannot read image ${src.path}: ${(e as Error).message}`, { param: "image" });
    }
    return `data:${MIME[extname(src.path).toLowerCase()] ?? sniffMime(data)};base64,${data.toString("base64")}`;
  }
  throw new ServingError("bad_image", "an image must be { kind: 'bytes' | 'dataUrl' | 'path', ... }", { param: "image" });
}

function openaiMessage(t: ChatTurn): Record<string, unknown> {
  const content = typeof t.content === "string" ? t.content
    : t.content.map((p) => (p.type === "text" ? { type: "text", text: p.text } : { type: "image_url", image_url: { url: imageDataUrl(p.image) } }));
  const m: Record<string, unknown> = { role: t.role, content };
  if (t.toolCalls?.length) m.tool_calls = t.toolCalls.map((c) => ({ id: c.id, type: "function", function: { name: c.name, arguments: c.arguments } }));
  if (t.toolCallId !== undefined) m.tool_call_id = t.toolCallId;
  if (t.name !== undefined) m.name = t.name;
  return m;
}

function codeForStatus(status: number): ServingErrorCode {
  if (status === 400 || status === 422) return "invalid_request";
  if (status === 401) return "unauthorized";
  if (status === 403) return "path_denied";
  if (status === 404) return "model_not_found";
  if (status === 413) return "too_large";
  if (status === 429 || status === 503) return "busy";
  if (status === 507) return "out_of_memory";
  return "upstream";
}

const KNOWN_CODES = new Set<ServingErrorCode>(["invalid_request", "model_not_found", "path_denied", "unauthorized", "too_large", "busy",
  "out_of_memory", "unsupported", "bad_image", "bad_dataset", "template", "aborted", "upstream", "internal"]);

/** A ServingError from an OpenAI-shaped error body (or whatever the server sent). */
function remoteError(status: number, body: string, retryAfter: string | null): ServingError {
  let message = body.slice(0, 500) || `HTTP ${status}`;
  let param: string | undefined;
  let code = codeForStatus(status);
  try {
    const e = (JSON.parse(body) as { error?: { message?: string; param?: string | null; code?: string | null } }).error;
    if (e?.message) message = e.message;
    if (e?.param) param = e.param;
    if (e?.code && KNOWN_CODES.has(e.code as ServingErrorCode)) code = e.code as ServingErrorCode;
  } catch {
    // not JSON: keep the text
  }
  const ra = retryAfter !== null ? Number(retryAfter) : undefined;
  return new ServingError(code, `remote server (HTTP ${status}): ${message}`, {
    ...(param ? { param } : {}), ...(code === "busy" ? { retryAfter: ra !== undefined && Number.isFinite(ra) ? ra : 1 } : {}),
  });
}

/** Server-sent events of a fetch response body: each `data:` payload. */
async function* sseData(body: ReadableStream<Uint8Array>): AsyncGenerator<string, void, undefined> {
  const decoder = new TextDecoder();
  let buf = "";
  let data: string[] = [];
  const reader = body.getReader();
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buf += decoder.decode(value, { stream: true });
      let nl: number;
      while ((nl = buf.indexOf("\n")) >= 0) {
        const line = buf.slice(0, nl).replace(/\r$/, "");
        buf = buf.slice(nl + 1);
        if (line === "") {
          if (data.length) yield data.join("\n");
          data = [];
        } else if (line.startsWith("data:")) data.push(line.slice(5).replace(/^ /, ""));
      }
    }
    if (data.length) yield data.join("\n");
  } finally {
    reader.releaseLock();
    await body.cancel().catch(() => undefined);
  }
}

export class RemoteBackend implements Backend {
  readonly kind = "remote" as const;
  private readonly base: string;
  private active = 0;

  constructor(private readonly opts: RemoteBackendOptions) {
    if (!opts || typeof opts.baseURL !== "string" || !/^https?:\/\//.test(opts.baseURL))
      throw new ServingError("invalid_request", `baseURL must be an http(s) URL, got ${JSON.stringify(opts?.baseURL)}`, { param: "baseURL" });
    this.base = opts.baseURL.replace(/\/+$/, "");
  }

  private headers(json: boolean): Record<string, string> {
    const h: Record<string, string> = { ...(this.opts.headers ?? {}) };
    if (json) h["content-type"] = "application/json";
    if (this.opts.apiKey) h.authorization = `Bearer ${this.opts.apiKey}`;
    return h;
  }

  private async request(path: string, init: { method?: string; body?: unknown; signal?: AbortSignal }): Promise<Response> {
    const timeout = AbortSignal.timeout(this.opts.timeoutMs ?? 600_000);
    const signal = init.signal ? AbortSignal.any([init.signal, timeout]) : timeout;
    let res: Response;
    try {
      res = await fetch(this.base + path, {
        method: init.method ?? (init.body !== undefined ? "POST" : "GET"),
        headers: this.headers(init.body !== undefined),
        ...(init.body !== undefined ? { body: JSON.stringify(init.body) } : {}),
        signal,
      });
    } catch (e) {
      if (init.signal?.aborted) throw new ServingError("aborted", "the request was cancelled");
      throw new ServingError("upstream", `cannot reach ${this.base}${path}: ${(e as Error).message}`, { cause: e });
    }
    if (!res.ok) throw remoteError(res.status, await res.text().catch(() => ""), res.headers.get("retry-after"));
    return res;
  }

  generate(req: GenerateRequest): AsyncIterable<GenerateEvent> {
    return this.generateImpl(req);
  }

  private body(req: GenerateRequest): { path: string; body: Record<string, unknown>; chat: boolean } {
    if ((req.prompt === undefined) === (req.messages === undefined))
      throw new ServingError("invalid_request", "give exactly one of prompt and messages", { param: "prompt" });
    const chat = req.messages !== undefined;
    const b: Record<string, unknown> = { model: req.model ?? this.opts.model ?? "default", stream: true, stream_options: { include_usage: true } };
    if (chat) b.messages = req.messages!.map(openaiMessage);
    else b.prompt = req.prompt;
    const set = (k: string, v: unknown) => {
      if (v !== undefined) b[k] = v;
    };
    set("max_tokens", req.maxTokens);
    set("temperature", req.temperature);
    set("top_p", req.topP);
    set("top_k", req.topK);
    set("min_p", req.minP);
    set("seed", req.seed);
    set("stop", req.stop);
    set("frequency_penalty", req.frequencyPenalty);
    set("presence_penalty", req.presencePenalty);
    set("repetition_penalty", req.repetitionPenalty);
    set("logit_bias", req.logitBias);
    set("user", req.user);
    // OpenAI-compatible servers (vLLM, hearth server) list LoRA adapters as models of their own.
    if (req.adapter !== undefined) b.model = req.adapter;
    if (req.logprobs !== undefined) {
      if (chat) {
        b.logprobs = true;
        b.top_logprobs = req.logprobs;
      } else b.logprobs = req.logprobs;
    }
    if (req.responseFormat && req.responseFormat.type !== "text") {
      b.response_format = req.responseFormat.type === "json_object" ? { type: "json_object" }
        : { type: "json_schema", json_schema: { name: req.responseFormat.name ?? "response", schema: req.responseFormat.schema, strict: req.responseFormat.strict ?? true } };
    }
    if (req.tools?.length) {
      b.tools = req.tools.map((t) => ({ type: "function", function: { name: t.name, ...(t.description ? { description: t.description } : {}), parameters: t.parameters ?? { type: "object" } } }));
      if (req.toolChoice !== undefined) b.tool_choice = typeof req.toolChoice === "object" ? { type: "function", function: { name: req.toolChoice.name } } : req.toolChoice;
      if (req.parallelToolCalls !== undefined) b.parallel_tool_calls = req.parallelToolCalls;
    }
    return { path: chat ? "/chat/completions" : "/completions", body: b, chat };
  }

  private async *generateImpl(req: GenerateRequest): AsyncGenerator<GenerateEvent, void, undefined> {
    const { path, body, chat } = this.body(req);
    const t0 = performance.now();
    this.active++;
    try {
      const res = await this.request(path, { body, ...(req.signal ? { signal: req.signal } : {}) });
      if (!res.body) throw new ServingError("upstream", "the remote server sent no body");
      yield { type: "start", model: String(body.model), ...(req.adapter ? { adapter: req.adapter } : {}), promptTokens: 0, cachedTokens: 0 };
      let text = "", n = 0, tFirst = 0, tLast = 0;
      let finish: FinishReason = "length";
      let usage = { promptTokens: 0, cachedTokens: 0, completionTokens: 0 };
      const calls = new Map<number, { id: string; name: string; arguments: string }>();
      try {
        for await (const data of sseData(res.body)) {
          if (data === "[DONE]") break;
          let chunk: Record<string, any>;
          try {
            chunk = JSON.parse(data) as Record<string, any>;
          } catch {
            throw new ServingError("upstream", `the remote server sent an event that is not JSON: ${data.slice(0, 200)}`);
          }
          if (chunk.error) {
            const e = chunk.error as { message?: string; code?: string; param?: string };
            const code = e.code && KNOWN_CODES.has(e.code as ServingErrorCode) ? e.code as ServingErrorCode : "upstream";
            throw new ServingError(code, `remote server: ${e.message ?? JSON.stringify(e)}`, e.param ? { param: e.param } : {});
          }
          if (chunk.usage) {
            usage = {
              promptTokens: chunk.usage.prompt_tokens ?? 0,
              cachedTokens: chunk.usage.prompt_tokens_details?.cached_tokens ?? 0,
              completionTokens: chunk.usage.completion_tokens ?? 0,
            };
          }
          const choice = chunk.choices?.[0];
          if (!choice) continue;
          const piece: string = chat ? choice.delta?.content ?? "" : choice.text ?? "";
          for (const tc of (chat ? choice.delta?.tool_calls : undefined) ?? []) {
            const cur = calls.get(tc.index ?? 0) ?? { id: "", name: "", arguments: "" };
            if (tc.id) cur.id = tc.id;
            if (tc.function?.name) cur.name += tc.function.name;
            if (tc.function?.arguments) cur.arguments += tc.function.arguments;
            calls.set(tc.index ?? 0, cur);
          }
          const lps = chat ? choice.logprobs?.content : undefined;
          if (piece || lps?.length) {
            n++;
            tLast = performance.now();
            if (n === 1) tFirst = tLast;
            text += piece;
            const ev: GenerateEvent = { type: "token", text: piece, token: -1 };
            const lp = lps?.[0];
            if (lp) {
              if (typeof lp.token === "string") ev.tokenText = lp.token;
              ev.logprob = lp.logprob;
              if (lp.top_logprobs) ev.topLogprobs = lp.top_logprobs.map((t: { token: string; logprob: number }) => ({ token: -1, text: t.token, logprob: t.logprob }));
            }
            yield ev;
          }
          if (choice.finish_reason) finish = choice.finish_reason === "tool_calls" ? "tool_calls" : choice.finish_reason === "stop" ? "stop" : "length";
        }
      } catch (e) {
        if (req.signal?.aborted) finish = "abort";
        else throw e instanceof ServingError ? e : new ServingError("upstream", `the remote stream failed: ${(e as Error).message}`, { cause: e });
      }
      const toolCalls: ToolCall[] = [...calls.values()].map((c) => ({ id: c.id, name: c.name, arguments: c.arguments }));
      if (!usage.completionTokens) usage.completionTokens = n;
      yield {
        type: "done", finishReason: finish, text, ...(toolCalls.length ? { toolCalls } : {}), usage,
        timeToFirstToken: n ? (tFirst - t0) / 1000 : 0, tokensPerSecond: n > 1 ? (n - 1) / ((tLast - tFirst) / 1000) : 0,
      };
    } catch (e) {
      if (req.signal?.aborted && !(e instanceof ServingError && e.code !== "aborted")) {
        yield { type: "done", finishReason: "abort", text: "", usage: { promptTokens: 0, cachedTokens: 0, completionTokens: 0 }, timeToFirstToken: 0, tokensPerSecond: 0 };
        return;
      }
      throw e;
    } finally {
      this.active--;
    }
  }

  describeImage(req: DescribeRequest): AsyncIterable<GenerateEvent> {
    const turns: ChatTurn[] = [];
    if (req.system) turns.push({ role: "system", content: req.system });
    turns.push({ role: "user", content: [...(req.images ?? []).map((image) => ({ type: "image" as const, image })), { type: "text" as const, text: req.prompt ?? "Describe this image." }] });
    const { images: _i, prompt: _p, system: _s, ...rest } = req;
    void _i; void _p; void _s;
    return this.generateImpl({ ...rest, messages: turns });
  }

  async embed(req: EmbedRequest): Promise<EmbedResult> {
    const model = req.model ?? this.opts.embeddingModel ?? this.opts.model ?? "default";
    const body: Record<string, unknown> = { model, input: req.input, encoding_format: "float" };
    if (req.dimensions !== undefined) body.dimensions = req.dimensions;
    if (req.task !== undefined) body.task = req.task;
    const res = await this.request("/embeddings", { body, ...(req.signal ? { signal: req.signal } : {}) });
    const j = (await res.json()) as { data?: { index: number; embedding: number[] }[]; model?: string; usage?: { prompt_tokens?: number } };
    if (!Array.isArray(j.data)) throw new ServingError("upstream", "the remote server's embeddings response has no data");
    const embeddings = [...j.data].sort((a, b) => a.index - b.index).map((d) => d.embedding);
    return { model: j.model ?? model, embeddings, dimensions: embeddings[0]?.length ?? 0, promptTokens: j.usage?.prompt_tokens ?? 0 };
  }

  train(_req: TrainRequest): AsyncIterable<TrainEvent> {
    void _req;
    return (async function* (): AsyncGenerator<TrainEvent> {
      throw new ServingError("unsupported", "training is not available on a remote backend: train with a local or shared backend");
    })();
  }

  async models(): Promise<ModelInfo[]> {
    const res = await this.request("/models", {});
    const j = (await res.json()) as { data?: { id: string }[] };
    return (j.data ?? []).map((m) => ({ id: m.id, kind: "text" as ModelKind, loaded: true, adapters: [] }));
  }

  /** The remote server decides what is loaded: this checks that it serves the model. */
  async load(model: string): Promise<ModelInfo> {
    const m = (await this.models()).find((x) => x.id === model);
    if (!m) throw new ServingError("model_not_found", `the remote server does not list model '${model}'`, { param: "model" });
    return m;
  }

  async unload(): Promise<void> {
    throw new ServingError("unsupported", "a remote backend cannot unload models");
  }

  async status(): Promise<BackendStatus> {
    return { kind: "remote", models: await this.models().catch(() => []), active: this.active, queued: 0 };
  }

  async close(): Promise<void> {
    // nothing held: fetch keeps no connection we own
  }
}

export function createRemoteBackend(opts: RemoteBackendOptions): RemoteBackend {
  return new RemoteBackend(opts);
}

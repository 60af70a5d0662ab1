/**
 * Chat-template rendering (the `apply_chat_template` half of Hugging Face tokenizers) on top of
 * `@huggingface/jinja`, with a wall-clock budget so a runaway template cannot hang the process.
 *
 * Why a worker: Jinja has no `while`, but `range(10**6)` nested twice, or a builtin that builds a
 * huge array, keeps the interpreter busy for minutes inside a single synchronous call. An
 * in-thread evaluation hook can't interrupt a long builtin, and `applyChatTemplate` must stay
 * synchronous (HF's API is), so the guarded path renders in a persistent `worker_threads` Worker
 * and the caller blocks on `Atomics.wait` over a SharedArrayBuffer, then reads the result with
 * `receiveMessageOnPort`. On timeout the worker is terminated (V8 stops it even mid-builtin) and a
 * fresh one is started lazily by the next render.
 *
 * Measured on the Gemma 3 template, 3-message chat, Node 20, x86-64 container (renderTemplate only):
 *   direct render, compiled Template cached   ~70-100 µs per render (first call +13 ms to compile)
 *   guarded render, warm worker               ~120-160 µs per render (clone + wake-up + clone)
 *   guarded render, first call                ~65 ms: worker boot + loading jinja, once per process
 * A prompt is rendered once per request and prefill costs far more than 0.1 ms, so the guard is on
 * by default (2 s). `timeoutMs: 0` (or Infinity) renders in-thread with no guard for callers that
 * trust their template and want to skip the one-off worker start.
 */
import { createRequire } from "node:module";
import { receiveMessageOnPort, MessageChannel, Worker, type MessagePort } from "node:worker_threads";
import { Template } from "@huggingface/jinja";

/** One content part of a multimodal message, as HF processors accept them. */
export interface ChatContentPart {
  type: string;
  text?: string;
  [key: string]: unknown;
}

/** A chat message; extra keys (tool_calls, name, tool_call_id, ...) are passed to the template as-is. */
export interface ChatMessage {
  role: string;
  content?: string | ChatContentPart[] | null;
  [key: string]: unknown;
}

/** Default render budget; HF has none, but a server must not hang on a hostile template. */
export const DEFAULT_CHAT_TEMPLATE_TIMEOUT_MS = 2000;

/**
 * The template called `raise_exception(msg)`. `name` is "TemplateError" and `message` is exactly
 * the template's text, so `String(err)` reads like transformers' `TemplateError: ...`.
 */
export class ChatTemplateError extends Error {
  override name = "TemplateError";
  /** Stable code the faces map (e.g. HTTP 400): every chat template error has it. */
  readonly code = "template";
  constructor(message: string, readonly templateSource: string) {
    super(message);
  }
}

/** The template source does not parse. */
export class ChatTemplateSyntaxError extends Error {
  override name = "ChatTemplateSyntaxError";
  /** Stable code the faces map (e.g. HTTP 400): every chat template error has it. */
  readonly code = "template";
  constructor(readonly templateSource: string, detail: string) {
    super(`Chat template from ${templateSource} has a syntax error: ${detail}`);
  }
}

/** The template failed while rendering for a reason other than `raise_exception`. */
export class ChatTemplateRenderError extends Error {
  override name = "ChatTemplateRenderError";
  /** Stable code the faces map (e.g. HTTP 400): every chat template error has it. */
  readonly code = "template";
  constructor(readonly templateSource: string, detail: string) {
    const hint = /call stack/i.test(detail) ? " (unbounded recursion in a macro?)" : "";
    super(`Chat template from ${templateSource} failed to render: ${detail}${hint}`);
  }
}

/** Rendering ran past its time budget and was stopped. */
export class ChatTemplateTimeoutError extends Error {
  override name = "ChatTemplateTimeoutError";
  /** Stable code the faces map (e.g. HTTP 400): every chat template error has it. */
  readonly code = "template";
  constructor(readonly templateSource: string, readonly timeoutMs: number) {
    super(
      `Chat template from ${templateSource} did not finish rendering within ${timeoutMs} ms and was stopped ` +
        `(a runaway loop or an enormous output?). Raise the timeout with the timeoutMs option if the template is legitimately slow.`,
    );
  }
}

export interface RenderOptions {
  /** Where the template came from, used in error messages (a file path, or "chatTemplate option"). */
  source?: string;
  /** Wall-clock budget in ms; 0 or Infinity renders in-thread without a guard. */
  timeoutMs?: number;
}

/** Marker used to tell `raise_exception` apart from the interpreter's own errors. */
class TemplateRaise extends Error {}

function raiseException(message: unknown): never {
  throw new TemplateRaise(String(message));
}

/**
 * The variable our `raise_exception` is bound to. @huggingface/jinja predeclares its own
 * `raise_exception` (a plain `Error`, indistinguishable from interpreter failures) and refuses to
 * redeclare it, so compiled templates are rewritten to call this name instead.
 */
const RAISE_VARIABLE = "__hearth_raise_exception__";

/**
 * Point every `raise_exception` identifier in a parsed template at RAISE_VARIABLE. A generic walk
 * (only relying on Identifier nodes being `{ type: "Identifier", value }`) so it survives AST
 * changes elsewhere. Self-contained: its source is also shipped to the render worker.
 */
function redirectRaiseException(root: unknown, target: string): void {
  const stack: unknown[] = [root];
  const seen = new Set<unknown>();
  while (stack.length > 0) {
    const node = stack.pop();
    if (node === null || typeof node !== "object" || seen.has(node)) continue;
    seen.add(node);
    const record = node as Record<string, unknown>;
    if (record.type === "Identifier" && record.value === "raise_exception") record.value = target;
    for (const key of Object.keys(record)) {
      // `obj.raise_exception` names an attribute, not the global.
      if (key === "property" && record.type === "MemberExpression" && record.computed === false) continue;
      stack.push(record[key]);
    }
  }
}

// Compiled templates, keyed by source text: parsing the Gemma template takes milliseconds, rendering
// it ~0.1 ms, so recompiling on every request would dominate. Bounded so generated templates can't leak.
const compiled = new Map<string, Template>();
const COMPILED_CACHE_LIMIT = 32;

function compile(templateText: string, source: string): Template {
  let template = compiled.get(templateText);
  if (template) return template;
  try {
    template = new Template(templateText);
  } catch (err) {
    throw new ChatTemplateSyntaxError(source, errorText(err));
  }
  redirectRaiseException(template.parsed, RAISE_VARIABLE);
  if (compiled.size >= COMPILED_CACHE_LIMIT) compiled.delete(compiled.keys().next().value as string);
  compiled.set(templateText, template);
  return template;
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** Render in the calling thread with no time limit. */
function renderDirect(templateText: string, vars: Record<string, unknown>, source: string): string {
  const template = compile(templateText, source);
  try {
    return template.render({ ...vars, [RAISE_VARIABLE]: raiseException });
  } catch (err) {
    if (err instanceof TemplateRaise) throw new ChatTemplateError(err.message, source);
    throw new ChatTemplateRenderError(source, errorText(err));
  }
}

/**
 * The worker body, plain CommonJS evaluated with `eval: true` so it needs no separate compiled
 * file. It mirrors renderDirect and reports which phase failed so the caller can raise the same
 * error classes either way.
 */
const WORKER_SOURCE = `
const { workerData } = require("node:worker_threads");
${redirectRaiseException.toString()}
const { Template } = require(workerData.jinjaPath);
const port = workerData.port;
const flag = new Int32Array(workerData.flag);
Atomics.store(flag, 1, 1); // loaded: lets a timeout tell "slow template" from "worker never started"
const cache = new Map();
class Raise extends Error {}
const raise_exception = (m) => { throw new Raise(String(m)); };
port.on("message", (req) => {
  let reply;
  let phase = "syntax";
  try {
    let t = cache.get(req.template);
    if (!t) {
      t = new Template(req.template);
      redirectRaiseException(t.parsed, ${JSON.stringify(RAISE_VARIABLE)});
      if (cache.size >= 32) cache.delete(cache.keys().next().value);
      cache.set(req.template, t);
    }
    phase = "runtime";
    req.vars[${JSON.stringify(RAISE_VARIABLE)}] = raise_exception;
    reply = { id: req.id, ok: true, text: t.render(req.vars) };
  } catch (e) {
    const kind = e instanceof Raise ? "raise" : phase;
    reply = { id: req.id, ok: false, kind, message: e && e.message !== undefined ? String(e.message) : String(e) };
  }
  port.postMessage(reply);
  Atomics.store(flag, 0, 1);
  Atomics.notify(flag, 0);
});
`;

interface WorkerReply {
  id: number;
  ok: boolean;
  text?: string;
  kind?: "raise" | "syntax" | "runtime";
  message?: string;
}

/** A persistent render worker; discarded (terminated) after a timeout. */
class RenderWorker {
  private readonly worker: Worker;
  private readonly port: MessagePort;
  private readonly flag: Int32Array;
  private nextId = 1;

  constructor(jinjaPath: string) {
    const { port1, port2 } = new MessageChannel();
    // [0]: reply posted, [1]: worker loaded.
    const flagBuffer = new SharedArrayBuffer(8);
    this.flag = new Int32Array(flagBuffer);
    this.port = port1;
    this.worker = new Worker(WORKER_SOURCE, {
      eval: true,
      workerData: { jinjaPath, port: port2, flag: flagBuffer },
      transferList: [port2],
      // A template that builds giant strings should die alone, not take the process with it.
      resourceLimits: { maxOldGenerationSizeMb: 1024 },
      // None of the parent's flags: the worker's source is CommonJS, which a parent's `--input-type=module` would
      // break, and Node refuses V8 flags such as --expose-gc when they are given to a worker explicitly.
      execArgv: [],
    });
    // A worker that fails to boot must not crash the process (it is started early, see prewarmTemplateWorker):
    // render() then reports that it did not start.
    this.worker.on("error", () => undefined);
    // Neither the worker nor the port may keep an otherwise finished process alive.
    this.worker.unref();
    this.port.unref();
  }

  render(templateText: string, vars: Record<string, unknown>, timeoutMs: number): WorkerReply | undefined {
    const id = this.nextId++;
    Atomics.store(this.flag, 0, 0);
    this.port.postMessage({ id, template: templateText, vars });
    // Requests are strictly sequential and a timed-out worker is discarded, so the next message
    // on the port is always the reply to this request.
    const waited = Atomics.wait(this.flag, 0, 0, timeoutMs);
    let message = receiveMessageOnPort(this.port);
    // The flag has been seen set before the posted reply could be received here (once in ~300k renders while
    // tokenizing a corpus): give the reply up to a second to arrive, 1 ms at a time.
    for (let i = 0; message === undefined && waited !== "timed-out" && i < 1000; i++) {
      Atomics.wait(this.flag, 0, 1, 1);  // flag[0] stays 1 until the next request: a 1 ms sleep
      message = receiveMessageOnPort(this.port);
    }
    if (message === undefined) {
      if (waited !== "timed-out") throw new Error("chat template worker signalled without replying");
      return undefined;
    }
    const reply = message.message as WorkerReply;
    if (reply.id !== id) throw new Error(`chat template worker answered request ${reply.id}, expected ${id}`);
    return reply;
  }

  get started(): boolean {
    return Atomics.load(this.flag, 1) === 1;
  }

  terminate(): void {
    this.port.close();
    void this.worker.terminate().catch(() => undefined);
  }
}

let sharedWorker: RenderWorker | undefined;
let jinjaPath: string | undefined;

function getWorker(): RenderWorker {
  if (!sharedWorker) {
    jinjaPath ??= createRequire(import.meta.url).resolve("@huggingface/jinja");
    sharedWorker = new RenderWorker(jinjaPath);
  }
  return sharedWorker;
}

function renderGuarded(templateText: string, vars: Record<string, unknown>, source: string, timeoutMs: number): string {
  const worker = getWorker();
  let reply: WorkerReply | undefined;
  try {
    reply = worker.render(templateText, vars, timeoutMs);
  } catch (err) {
    // postMessage throws a DOMException (not always an Error subclass) when vars hold functions etc.
    if ((err as { name?: unknown } | null)?.name === "DataCloneError") {
      throw new ChatTemplateRenderError(
        source,
        `template variables must be plain data to render under the time guard (${errorText(err)}); pass timeoutMs: 0 to render in-thread`,
      );
    }
    throw err;
  }
  if (reply === undefined) {
    const started = worker.started;
    worker.terminate();
    if (sharedWorker === worker) sharedWorker = undefined;
    if (!started) {
      throw new ChatTemplateRenderError(source, `the render worker did not start within ${timeoutMs} ms (is @huggingface/jinja loadable from ${jinjaPath}?)`);
    }
    throw new ChatTemplateTimeoutError(source, timeoutMs);
  }
  if (reply.ok) return reply.text ?? "";
  const message = reply.message ?? "unknown error";
  switch (reply.kind) {
    case "raise":
      throw new ChatTemplateError(message, source);
    case "syntax":
      throw new ChatTemplateSyntaxError(source, message);
    default:
      throw new ChatTemplateRenderError(source, message);
  }
}

/**
 * Render a Jinja chat template with the given variables (`messages`, `add_generation_prompt`,
 * `bos_token`, ...). `raise_exception` is provided and surfaces as {@link ChatTemplateError}.
 */
export function renderTemplate(templateText: string, vars: Record<string, unknown>, opts: RenderOptions = {}): string {
  const source = opts.source ?? "inline template";
  const timeoutMs = opts.timeoutMs ?? DEFAULT_CHAT_TEMPLATE_TIMEOUT_MS;
  if (!(timeoutMs > 0) || timeoutMs === Number.POSITIVE_INFINITY) return renderDirect(templateText, vars, source);
  return renderGuarded(templateText, vars, source, timeoutMs);
}

/** Parse a template now so a syntax error surfaces at load/configuration time, not on first request. */
export function validateTemplate(templateText: string, source: string): void {
  compile(templateText, source);
}

/**
 * Start the render worker now (it boots in ~0.1-0.2 s on its own thread) so that the first render does not wait
 * for it: loadTokenizer calls this before reading the tokenizer files.
 */
export function prewarmTemplateWorker(): void {
  try {
    getWorker();
  } catch {
    // Best effort: where workers cannot start (a browser build has no worker_threads), a guarded render says so
    // when it is asked for; an in-thread render (timeoutMs 0) never needs the worker.
  }
}

/** Stop the shared render worker (it is unref'd, so this is only needed for tidy shutdowns). */
export function shutdownTemplateWorker(): void {
  sharedWorker?.terminate();
  sharedWorker = undefined;
}

/** The last text the template should continue from, as transformers' continue_final_message finds it. */
function finalMessageText(messages: readonly ChatMessage[]): string {
  const last = messages[messages.length - 1];
  if (!last) throw new Error("continueFinalMessage is set but there are no messages");
  const content = last.content;
  if (typeof content === "string") return content;
  if (Array.isArray(content)) {
    for (let i = content.length - 1; i >= 0; i--) {
      const text = content[i]?.text;
      if (typeof text === "string") return text;
    }
  }
  throw new Error("continueFinalMessage is set but the final message has no text to continue");
}

/**
 * Cut the rendered chat right after the final message's text, so generation continues that
 * message instead of starting a new turn (transformers' `continue_final_message`).
 */
export function truncateAfterFinalMessage(rendered: string, messages: readonly ChatMessage[]): string {
  const text = finalMessageText(messages);
  // Templates often trim content, so fall back to the stripped text like transformers does.
  for (const needle of [text, text.trim()]) {
    if (needle.length === 0) continue;
    const at = rendered.lastIndexOf(needle);
    if (at >= 0) return rendered.slice(0, at + needle.length);
  }
  throw new Error(
    "continueFinalMessage is set but the final message does not appear in the rendered chat; the template may transform it",
  );
}

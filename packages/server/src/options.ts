// `hearth server` options: the command-line table (also its --help), value checks, and the resolved settings the
// HTTP layer runs with. Wrong usage is a UsageError (exit code 2), like every other hearth command.
import { parseArgs } from "node:util";

export class UsageError extends Error {
  readonly exitCode = 2;
}

/** Everything the HTTP layer needs to know; the defaults are the safe ones. */
export interface ServerSettings {
  host: string;
  port: number;
  /** Bearer key; undefined: no key needed. */
  apiKey?: string;
  /** Browser origins that may call the API (CORS); none by default. */
  allowedOrigins: string[];
  /** Host names (besides IP literals and localhost) that requests may address; DNS rebinding uses any other. */
  allowedHosts: string[];
  /** Folders under which requests may name model, adapter and image paths; none by default. */
  allowedPaths: string[];
  /** Largest max_tokens a request may ask for (also the default when it asks for none). */
  maxTokensCap: number;
  /** Largest n. */
  maxN: number;
  /** Largest prompt, in tokens. */
  maxPromptTokens: number;
  /** Largest image, in pixels (width × height), checked from its header before decoding. */
  maxImagePixels: number;
  /** Most images in one request. */
  maxImages: number;
  /** Largest request body, in bytes. */
  maxBodyBytes: number;
  /** Requests that may wait for a decode slot before new ones get 503. */
  maxQueue: number;
  /** Most inputs in one embeddings request. */
  maxEmbeddingInputs: number;
}

export const DEFAULT_SETTINGS: ServerSettings = {
  host: "127.0.0.1",
  port: 8080,
  allowedOrigins: [],
  allowedHosts: [],
  allowedPaths: [],
  maxTokensCap: 4096,
  maxN: 8,
  maxPromptTokens: 32768,
  maxImagePixels: 16_777_216,
  maxImages: 8,
  maxBodyBytes: 32 * 1024 * 1024,
  maxQueue: 64,
  maxEmbeddingInputs: 2048,
};

interface Opt {
  type: "string" | "boolean";
  arg?: string;
  desc: string;
  multiple?: boolean;
  short?: string;
}

export const SERVER_OPTIONS: Record<string, Opt> = {
  model: { type: "string", arg: "path|hub-id", desc: "Text or vision model to serve (default: $HEARTH_MODEL, else the bundled hearth-tiny)." },
  "embedding-model": { type: "string", arg: "path|hub-id", desc: "Embedding model (EmbeddingGemma) to serve on /v1/embeddings." },
  "adapter-path": { type: "string", arg: "path", multiple: true, desc: "LoRA adapter folder to serve next to the model (requests choose it by its name as the model; repeatable)." },
  host: { type: "string", arg: "addr", desc: "Address to bind (default 127.0.0.1; anything else exposes the server to the network)." },
  port: { type: "string", arg: "n", desc: "Port (default 8080; 0 takes a free port)." },
  "api-key": { type: "string", arg: "key", desc: "Require 'Authorization: Bearer <key>' (default: $HEARTH_API_KEY, else no key)." },
  "allowed-origin": { type: "string", arg: "url", multiple: true, desc: "Browser origin allowed to call the API, with CORS (repeatable; default none: browser requests get 403)." },
  "allowed-host": { type: "string", arg: "name", multiple: true, desc: "Extra host name clients may use in the Host header (repeatable; IP addresses and localhost always work)." },
  "allowed-path": { type: "string", arg: "dir", multiple: true, desc: "Folder whose models, adapters and images requests may name by path (repeatable; default none)." },
  "max-tokens-cap": { type: "string", arg: "n", desc: `Largest max_tokens a request may ask for, and the default (default ${DEFAULT_SETTINGS.maxTokensCap}).` },
  "max-n": { type: "string", arg: "n", desc: `Largest n (choices per request) (default ${DEFAULT_SETTINGS.maxN}).` },
  "max-prompt-tokens": { type: "string", arg: "n", desc: `Largest prompt in tokens (default ${DEFAULT_SETTINGS.maxPromptTokens}).` },
  "max-image-pixels": { type: "string", arg: "n", desc: `Largest image in pixels, width x height (default ${DEFAULT_SETTINGS.maxImagePixels}).` },
  "max-queue": { type: "string", arg: "n", desc: `Requests that may wait for a decode slot; more get 503 with Retry-After (default ${DEFAULT_SETTINGS.maxQueue}).` },
  "max-batch": { type: "string", arg: "n", desc: "Requests decoded together per model (continuous batching; default 16)." },
  "max-body-mb": { type: "string", arg: "n", desc: `Largest request body in MB (default ${DEFAULT_SETTINGS.maxBodyBytes / (1024 * 1024)}).` },
  help: { type: "boolean", short: "h", desc: "Show this help and exit." },
};

export const SERVER_USAGE = "hearth server [options]";
export const SERVER_SUMMARY = "Serve the model over an OpenAI-compatible HTTP API (chat, completions, embeddings, models, health).";
const NOTES = [
  "Endpoints: GET /health, GET /v1/models, POST /v1/chat/completions, POST /v1/completions, POST /v1/embeddings.",
  "Once ready it prints 'hearth server listening on http://HOST:PORT' on stderr.",
  "Safe by default: binds 127.0.0.1, checks Host (DNS rebinding) and Origin, no CORS unless --allowed-origin,",
  "and refuses paths in requests unless under --allowed-path.",
];

export function serverHelp(): string {
  const rows = Object.entries(SERVER_OPTIONS).map(([name, o]) => {
    const flag = `${o.short ? `-${o.short}, ` : "    "}--${name}${o.type === "string" ? ` <${o.arg ?? "value"}>` : ""}`;
    return [flag, o.desc] as const;
  });
  const width = Math.min(36, Math.max(...rows.map(([f]) => f.length)) + 2);
  const lines = [`Usage: ${SERVER_USAGE}`, "", SERVER_SUMMARY, "", "Options:"];
  for (const [f, d] of rows) lines.push(f.length >= width ? `  ${f}\n  ${" ".repeat(width)}${d}` : `  ${f.padEnd(width)}${d}`);
  lines.push("", ...NOTES);
  return lines.join("\n") + "\n";
}

export interface ParsedServerArgs {
  help: boolean;
  /** undefined: $HEARTH_MODEL, else the bundled model (the command resolves it). */
  model?: string;
  embeddingModel?: string;
  adapterPaths: string[];
  /** Rows decoded together (the backend's batch); undefined: its default. */
  maxBatch?: number;
  settings: ServerSettings;
}

function num(raw: string | undefined, name: string, rule: { min?: number; max?: number; int?: boolean } = {}): number | undefined {
  if (raw === undefined) return undefined;
  const s = raw.trim();
  const v = s === "" ? NaN : Number(s);
  const bad = (what: string) => new UsageError(`--${name} must be ${what}, got '${raw}'`);
  if (!Number.isFinite(v)) throw bad(rule.int ? "an integer" : "a number");
  if (rule.int && !Number.isInteger(v)) throw bad("an integer");
  if (rule.min !== undefined && v < rule.min) throw bad(`>= ${rule.min}`);
  if (rule.max !== undefined && v > rule.max) throw bad(`<= ${rule.max}`);
  return v;
}

function normaliseOrigin(raw: string): string {
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    throw new UsageError(`--allowed-origin must be an origin like http://localhost:3000, got '${raw}'`);
  }
  if (u.protocol !== "http:" && u.protocol !== "https:") throw new UsageError(`--allowed-origin must be http(s), got '${raw}'`);
  return u.origin;
}

/** Parses `hearth server` arguments (without the word "server"). */
export function parseServerArgs(argv: string[], env: NodeJS.ProcessEnv = process.env): ParsedServerArgs {
  const options: Record<string, { type: "string" | "boolean"; short?: string; multiple?: boolean }> = {};
  for (const [name, o] of Object.entries(SERVER_OPTIONS))
    options[name] = { type: o.type, ...(o.short ? { short: o.short } : {}), ...(o.multiple ? { multiple: true } : {}) };
  let v: Record<string, string | boolean | string[] | undefined>;
  try {
    v = parseArgs({ args: argv, options, strict: true, allowPositionals: false }).values as typeof v;
  } catch (e) {
    throw new UsageError(`${(e as Error).message.split("\n")[0]}. See 'hearth server --help'.`);
  }
  const s = (k: string) => v[k] as string | undefined;
  const list = (k: string) => (v[k] as string[] | undefined) ?? [];
  const settings: ServerSettings = { ...DEFAULT_SETTINGS };
  settings.host = s("host") ?? settings.host;
  if (settings.host.trim() === "") throw new UsageError("--host must not be empty");
  settings.port = num(s("port"), "port", { int: true, min: 0, max: 65535 }) ?? settings.port;
  const key = s("api-key") ?? (env.HEARTH_API_KEY || undefined);
  if (key !== undefined) {
    if (key.length < 1) throw new UsageError("--api-key must not be empty");
    settings.apiKey = key;
  }
  settings.allowedOrigins = list("allowed-origin").map(normaliseOrigin);
  settings.allowedHosts = list("allowed-host").map((h) => h.trim().toLowerCase());
  settings.allowedPaths = list("allowed-path");
  settings.maxTokensCap = num(s("max-tokens-cap"), "max-tokens-cap", { int: true, min: 1 }) ?? settings.maxTokensCap;
  settings.maxN = num(s("max-n"), "max-n", { int: true, min: 1, max: 128 }) ?? settings.maxN;
  settings.maxPromptTokens = num(s("max-prompt-tokens"), "max-prompt-tokens", { int: true, min: 1 }) ?? settings.maxPromptTokens;
  settings.maxImagePixels = num(s("max-image-pixels"), "max-image-pixels", { int: true, min: 1 }) ?? settings.maxImagePixels;
  settings.maxQueue = num(s("max-queue"), "max-queue", { int: true, min: 0 }) ?? settings.maxQueue;
  const mb = num(s("max-body-mb"), "max-body-mb", { min: 0.001, max: 4096 });
  if (mb !== undefined) settings.maxBodyBytes = Math.floor(mb * 1024 * 1024);
  return {
    help: v.help === true,
    model: s("model") ?? (env.HEARTH_MODEL || undefined),
    embeddingModel: s("embedding-model"),
    adapterPaths: list("adapter-path"),
    maxBatch: num(s("max-batch"), "max-batch", { int: true, min: 1, max: 256 }),
    settings,
  };
}

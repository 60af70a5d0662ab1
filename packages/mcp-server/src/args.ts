// Command line and environment of hearth-mcp. The flags are the contract of issue 13; env vars fill what flags leave.
import { parseArgs } from "node:util";

export interface McpOptions {
  model?: string;
  embeddingModel?: string;
  visionModel?: string;
  /** Folders path arguments may point into (the client's MCP roots are added at run time). */
  roots: string[];
  http: boolean;
  host: string;
  port: number;
  /** Extra Origins allowed over HTTP besides the loopback ones. */
  allowedOrigins: string[];
  /** Bearer token required over HTTP (flag or HEARTH_MCP_TOKEN). */
  token?: string;
  baseUrl?: string;
  apiKey?: string;
  shared: boolean;
  /** With --shared: a host this face starts exits after this many ms without clients (serving's default: 15 min). */
  sharedIdleExitMs?: number;
  /** Request body cap over HTTP: a base64 image is 4/3 of its bytes, so this sits above maxImageBytes. */
  maxBodyBytes: number;
  maxImageBytes: number;
  maxImagePixels: number;
  /** Where lora_train writes adapters (default: ~/.cache/hearth/adapters). */
  adapterDir?: string;
}

export const USAGE = `usage: hearth-mcp [--model M] [--embedding-model E] [--vision-model V] [--root DIR …]
                  [--http [--host 127.0.0.1] [--port N] [--token T] [--allow-origin URL …] [--max-body-bytes N]]
                  [--base-url URL [--api-key K]] [--shared [--shared-idle-exit SECONDS]] [--adapter-dir DIR]
                  [--max-image-bytes N] [--max-image-pixels N]

An MCP server with tools generate, embed, describe_image, lora_train, lora_status, lora_cancel and models.
Speaks stdio unless --http is given. Env: HEARTH_MODEL, HEARTH_EMBEDDING_MODEL, HEARTH_VISION_MODEL, HEARTH_MCP_TOKEN.`;

export class UsageError extends Error {}

function int(name: string, v: string | undefined, dflt: number, min = 0): number {
  if (v === undefined) return dflt;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min) throw new UsageError(`--${name} must be an integer >= ${min}, got '${v}'`);
  return n;
}

/**
 * The OpenAI API root of --base-url. A bare server URL (no path) gets /v1, where hearth server, vLLM, Ollama and
 * llama.cpp's server all answer: without it every call would be a 404 that looks like a missing model.
 */
export function apiRoot(url: string): string {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new UsageError(`--base-url must be an http(s) URL such as http://127.0.0.1:8080/v1, got '${url}'`);
  }
  if (u.protocol !== "http:" && u.protocol !== "https:") throw new UsageError(`--base-url must be an http(s) URL, got '${url}'`);
  return u.pathname === "/" && !u.search ? `${url.replace(/\/+$/, "")}/v1` : url.replace(/\/+$/, "");
}

export function parseCli(argv: string[], env: NodeJS.ProcessEnv = process.env): McpOptions | "help" {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: {
        model: { type: "string" },
        "embedding-model": { type: "string" },
        "vision-model": { type: "string" },
        root: { type: "string", multiple: true },
        http: { type: "boolean" },
        host: { type: "string" },
        port: { type: "string" },
        token: { type: "string" },
        "allow-origin": { type: "string", multiple: true },
        "base-url": { type: "string" },
        "api-key": { type: "string" },
        shared: { type: "boolean" },
        "shared-idle-exit": { type: "string" },
        "adapter-dir": { type: "string" },
        "max-body-bytes": { type: "string" },
        "max-image-bytes": { type: "string" },
        "max-image-pixels": { type: "string" },
        help: { type: "boolean", short: "h" },
      },
    }));
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  if (values.help) return "help";
  const nonEmpty = (v: string | undefined) => (v !== undefined && v !== "" ? v : undefined);
  const maxImageBytes = int("max-image-bytes", values["max-image-bytes"], 20 * 1024 * 1024, 1);
  const opts: McpOptions = {
    model: nonEmpty(values.model) ?? nonEmpty(env.HEARTH_MODEL),
    embeddingModel: nonEmpty(values["embedding-model"]) ?? nonEmpty(env.HEARTH_EMBEDDING_MODEL),
    visionModel: nonEmpty(values["vision-model"]) ?? nonEmpty(env.HEARTH_VISION_MODEL),
    roots: values.root ?? [],
    http: values.http ?? false,
    host: values.host ?? "127.0.0.1",
    port: int("port", values.port, 8765),
    allowedOrigins: values["allow-origin"] ?? [],
    token: nonEmpty(values.token) ?? nonEmpty(env.HEARTH_MCP_TOKEN),
    baseUrl: nonEmpty(values["base-url"]),
    apiKey: nonEmpty(values["api-key"]) ?? nonEmpty(env.HEARTH_API_KEY),
    shared: values.shared ?? false,
    // Base64 is 4/3 of the bytes; 1 MiB more for the JSON-RPC envelope and the other arguments.
    maxBodyBytes: int("max-body-bytes", values["max-body-bytes"], Math.ceil(maxImageBytes * 4 / 3) + 1024 * 1024, 1024),
    maxImageBytes,
    // The same pixel cap as hearth server (16 MP, 4096 × 4096).
    maxImagePixels: int("max-image-pixels", values["max-image-pixels"], 16_777_216, 1),
    adapterDir: nonEmpty(values["adapter-dir"]),
  };
  if (opts.port > 65535) throw new UsageError(`--port must be at most 65535, got ${opts.port}`);
  if (!opts.http && (values.port !== undefined || values.token !== undefined || values.host !== undefined))
    throw new UsageError("--port, --host and --token only apply with --http");
  if (values["shared-idle-exit"] !== undefined) {
    if (!opts.shared) throw new UsageError("--shared-idle-exit only applies with --shared");
    opts.sharedIdleExitMs = int("shared-idle-exit", values["shared-idle-exit"], 900, 1) * 1000;
  }
  if (opts.baseUrl !== undefined) opts.baseUrl = apiRoot(opts.baseUrl);
  if (opts.shared && opts.baseUrl) throw new UsageError("--shared and --base-url exclude each other: pick one backend");
  return opts;
}

// Reading capped JSON bodies and writing JSON and server-sent events, with backpressure (a slow client never makes
// the server buffer a whole generation) and a signal that fires when the client goes away.
import type { IncomingMessage, ServerResponse } from "node:http";
import { HttpError, errorBody, toHttpError } from "./errors.js";

/** Reads the body as JSON; over `maxBytes` it is a 413 without reading the rest. */
export async function readJson(req: IncomingMessage, maxBytes: number): Promise<unknown> {
  const declared = Number(req.headers["content-length"]);
  const tooLarge = () => new HttpError(413, `request body over this server's cap of ${maxBytes} bytes (--max-body-mb)`, { code: "too_large" });
  if (Number.isFinite(declared) && declared > maxBytes) throw tooLarge();
  const ctype = String(req.headers["content-type"] ?? "");
  if (ctype && !/^application\/(json|[a-z.+-]*\+json)\b/i.test(ctype))
    throw new HttpError(415, `Content-Type must be application/json, got '${ctype}'`, { code: "unsupported_media_type" });
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of req) {
    size += (c as Buffer).length;
    if (size > maxBytes) throw tooLarge();
    chunks.push(c as Buffer);
  }
  const text = Buffer.concat(chunks).toString("utf8");
  if (text.trim() === "") throw new HttpError(400, "the request body is empty; send a JSON object", { code: "invalid_request" });
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new HttpError(400, `the request body is not valid JSON: ${(e as Error).message}`, { code: "invalid_json" });
  }
}

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const data = JSON.stringify(body);
  res.writeHead(status, { ...headers, "content-type": "application/json", "content-length": Buffer.byteLength(data) });
  res.end(data);
}

export function sendError(res: ServerResponse, e: unknown, headers: Record<string, string> = {}): void {
  const h = toHttpError(e);
  if (res.headersSent) {
    res.destroy();
    return;
  }
  sendJson(res, h.status, errorBody(h), { ...headers, ...h.headers });
}

/** A client-gone signal for one request: aborted when the connection closes before the response is finished. */
export function disconnectSignal(req: IncomingMessage, res: ServerResponse): AbortController {
  const ac = new AbortController();
  const onClose = () => {
    if (!res.writableFinished) ac.abort(new Error("client disconnected"));
  };
  res.once("close", onClose);
  req.once("aborted", onClose);
  return ac;
}

/** Server-sent events on one response. */
export class SseWriter {
  private readonly res: ServerResponse;
  private readonly signal: AbortSignal;

  constructor(res: ServerResponse, signal: AbortSignal, headers: Record<string, string>) {
    this.res = res;
    this.signal = signal;
    res.writeHead(200, {
      ...headers,
      "content-type": "text/event-stream; charset=utf-8",
      "cache-control": "no-cache",
      connection: "keep-alive",
      "x-accel-buffering": "no",
    });
    res.flushHeaders();
  }

  get closed(): boolean {
    return this.signal.aborted || this.res.destroyed;
  }

  /** Writes one `data:` event; waits while the socket's buffer is full (or until the client leaves). */
  async send(data: unknown): Promise<void> {
    if (this.closed) return;
    const ok = this.res.write(`data: ${typeof data === "string" ? data : JSON.stringify(data)}\n\n`);
    if (ok) return;
    await new Promise<void>((resolve) => {
      const done = () => {
        this.res.off("drain", done);
        this.signal.removeEventListener("abort", done);
        resolve();
      };
      this.res.on("drain", done);
      this.signal.addEventListener("abort", done);
    });
  }

  async error(e: unknown): Promise<void> {
    await this.send(errorBody(toHttpError(e)));
  }

  end(): void {
    if (!this.res.destroyed) this.res.end();
  }
}

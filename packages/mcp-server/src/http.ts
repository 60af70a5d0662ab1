// Streamable HTTP at /mcp. Binds 127.0.0.1 by default. Before the SDK sees a request: Host must name this server
// (DNS rebinding), Origin, when sent, must be a loopback origin or one allowed with --allow-origin (403 otherwise),
// the bearer token must match when one is set (401), and the body is read up to --max-body-bytes (413), a limit set
// above the image cap because a base64 image is 4/3 of its bytes.
import { randomUUID, timingSafeEqual } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { StreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/streamableHttp.js";
import { isInitializeRequest } from "@modelcontextprotocol/sdk/types.js";
import { createSessionServer, type SharedState } from "./server.js";

const LOOPBACK_HOSTS = new Set(["127.0.0.1", "localhost", "[::1]", "::1"]);

function hostOf(header: string): string {
  const h = header.toLowerCase();
  if (h.startsWith("[")) return h.slice(0, h.indexOf("]") + 1);
  const i = h.lastIndexOf(":");
  return i >= 0 ? h.slice(0, i) : h;
}

function jsonError(res: ServerResponse, status: number, message: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, { "content-type": "application/json", ...headers });
  res.end(JSON.stringify({ jsonrpc: "2.0", error: { code: -32000, message }, id: null }));
}

class BodyTooLarge extends Error {}

async function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = Number(req.headers["content-length"] ?? NaN);
  if (declared > limit) throw new BodyTooLarge();
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of req as AsyncIterable<Buffer>) {
    size += c.length;
    if (size > limit) throw new BodyTooLarge();
    chunks.push(c);
  }
  return Buffer.concat(chunks);
}

export interface HttpHandle {
  server: Server;
  url: string;
  close(): Promise<void>;
}

export async function startHttp(state: SharedState): Promise<HttpHandle> {
  const { opts, log } = state;
  const sessions = new Map<string, StreamableHTTPServerTransport>();
  let port = opts.port;
  const allowedOrigins = new Set(opts.allowedOrigins.map((o) => o.replace(/\/$/, "").toLowerCase()));
  const tokenBuf = opts.token ? Buffer.from(opts.token) : undefined;

  const originAllowed = (origin: string): boolean => {
    const o = origin.toLowerCase();
    if (allowedOrigins.has(o)) return true;
    try {
      const u = new URL(o);
      return (u.protocol === "http:" || u.protocol === "https:") && LOOPBACK_HOSTS.has(u.hostname);
    } catch {
      return false;
    }
  };
  const hostAllowed = (host: string | undefined): boolean => {
    if (!host) return false;
    const h = hostOf(host);
    return LOOPBACK_HOSTS.has(h) || h === opts.host.toLowerCase();
  };

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? "/", "http://x");
    if (url.pathname !== "/mcp") return jsonError(res, 404, "not found: the MCP endpoint is /mcp");
    if (!hostAllowed(req.headers.host)) return jsonError(res, 403, `forbidden Host ${req.headers.host ?? "(none)"}`);
    const origin = req.headers.origin;
    if (origin !== undefined && !originAllowed(origin)) {
      log(`refused Origin ${origin}`);
      return jsonError(res, 403, `forbidden Origin ${origin}: start hearth-mcp with --allow-origin ${origin} to allow it`);
    }
    if (tokenBuf) {
      const m = /^Bearer\s+(.+)$/i.exec(req.headers.authorization ?? "");
      const got = m ? Buffer.from(m[1]!.trim()) : Buffer.alloc(0);
      if (got.length !== tokenBuf.length || !timingSafeEqual(got, tokenBuf))
        return jsonError(res, 401, "missing or wrong bearer token", { "www-authenticate": "Bearer" });
    }
    const sid = req.headers["mcp-session-id"];
    const sessionId = Array.isArray(sid) ? sid[0] : sid;
    let body: unknown;
    if (req.method === "POST") {
      let raw: Buffer;
      try {
        raw = await readBody(req, opts.maxBodyBytes);
      } catch (e) {
        if (e instanceof BodyTooLarge) return jsonError(res, 413, `request body over ${opts.maxBodyBytes} bytes (the server's --max-body-bytes); send a smaller image or raise the limit`, { connection: "close" });
        throw e;
      }
      try {
        body = JSON.parse(raw.toString("utf8"));
      } catch {
        res.writeHead(400, { "content-type": "application/json" });
        return res.end(JSON.stringify({ jsonrpc: "2.0", error: { code: -32700, message: "Parse error: the body is not JSON" }, id: null }));
      }
    }
    let transport = sessionId ? sessions.get(sessionId) : undefined;
    if (sessionId && !transport) return jsonError(res, 404, "unknown or expired session: initialize again");
    if (!transport) {
      if (req.method !== "POST" || !isInitializeRequest(body)) return jsonError(res, 400, "no session: send an initialize request first");
      const t: StreamableHTTPServerTransport = new StreamableHTTPServerTransport({
        sessionIdGenerator: () => randomUUID(),
        onsessioninitialized: (id) => { sessions.set(id, t); },
      });
      t.onclose = () => { if (t.sessionId) sessions.delete(t.sessionId); };
      await createSessionServer(state).connect(t);
      transport = t;
    }
    await transport.handleRequest(req, res, body);
  };

  const server = createServer((req, res) => {
    handle(req, res).catch((e) => {
      log(`http: ${(e as Error).message}`);
      if (!res.headersSent) jsonError(res, 500, "internal error");
      else res.end();
    });
  });
  // Tool calls (training) can run for minutes; the SDK streams their progress over SSE.
  server.requestTimeout = 0;
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, opts.host, () => resolve());
  });
  port = (server.address() as AddressInfo).port;
  const hostForUrl = opts.host.includes(":") ? `[${opts.host}]` : opts.host;
  const url = `http://${hostForUrl}:${port}/mcp`;
  return {
    server,
    url,
    close: async () => {
      for (const t of sessions.values()) await t.close().catch(() => {});
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

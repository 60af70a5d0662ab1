// The HTTP server: Node's own `http` module (llhttp parses the requests; the server needs only five routes, server-sent
// events written straight to the socket with backpressure, and the socket's close event to stop generation, all of
// which a framework would only wrap). Each request passes, in order: the Host check, the Origin check, the API key,
// the body cap; then its route translates OpenAI's JSON to the serving layer's Backend.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { Backend } from "@hearth/serving";
import { HttpError } from "./errors.js";
import { disconnectSignal, readJson, sendError, sendJson } from "./http-io.js";
import { allowedHostNames, checkApiKey, checkHost, checkOrigin, corsHeaders } from "./security.js";
import { newStats, type ServerStats } from "./generation.js";
import { chatCompletions } from "./chat.js";
import { completions } from "./completions.js";
import { embeddings } from "./embeddings.js";
import { modelList } from "./models.js";
import { isObject, type Body } from "./params.js";
import type { RequestContext } from "./context.js";
import { DEFAULT_SETTINGS, type ServerSettings } from "./options.js";

type Handler = (ctx: RequestContext, body: Body) => Promise<void>;

const POST_ROUTES: Record<string, Handler> = {
  "/v1/chat/completions": chatCompletions,
  "/v1/completions": completions,
  "/v1/embeddings": embeddings,
};
const GET_ROUTES = new Set(["/health", "/v1/models", "/debug/stats"]);

export interface HearthServerOptions extends Partial<ServerSettings> {
  /** Serve GET /debug/stats (decode counters for tests); default: $HEARTH_SERVER_DEBUG === "1". */
  debug?: boolean;
}

export class HearthServer {
  readonly backend: Backend;
  readonly settings: ServerSettings;
  readonly stats: ServerStats = newStats();
  private readonly http: Server;
  private readonly debug: boolean;
  private readonly started = Math.floor(Date.now() / 1000);
  private hostNames = new Set<string>();

  constructor(backend: Backend, opts: HearthServerOptions = {}) {
    this.backend = backend;
    const { debug, ...settings } = opts;
    this.settings = { ...DEFAULT_SETTINGS, ...settings };
    this.debug = debug ?? process.env.HEARTH_SERVER_DEBUG === "1";
    this.http = createServer((req, res) => void this.handle(req, res));
    // Slow-loris bodies: the whole request must arrive within a minute; a stream may then run as long as it needs.
    this.http.requestTimeout = 60_000;
    this.http.headersTimeout = 20_000;
  }

  /** Binds and resolves with the URL clients use (`--port 0` picks a free port). */
  listen(): Promise<string> {
    return new Promise((resolve, reject) => {
      const onError = (e: Error) => reject(e);
      this.http.once("error", onError);
      this.http.listen(this.settings.port, this.settings.host, () => {
        this.http.off("error", onError);
        this.hostNames = allowedHostNames(this.settings.host, this.settings.allowedHosts);
        resolve(this.url);
      });
    });
  }

  get port(): number {
    return (this.http.address() as AddressInfo).port;
  }

  get url(): string {
    const h = this.settings.host.includes(":") && !this.settings.host.startsWith("[") ? `[${this.settings.host}]` : this.settings.host;
    return `http://${h}:${this.port}`;
  }

  /** Stops accepting, ends open streams (their generation is aborted) and waits for the socket to close. */
  close(): Promise<void> {
    return new Promise((resolve) => {
      this.http.close(() => resolve());
      this.http.closeAllConnections();
    });
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    let cors: Record<string, string> = {};
    try {
      checkHost(req, this.hostNames);
      cors = corsHeaders(checkOrigin(req, this.settings.allowedOrigins));
      const path = (req.url ?? "/").split("?")[0]!;
      if (req.method === "OPTIONS") {
        // A CORS preflight (only an allowed origin gets here with an Origin header); it carries no API key.
        res.writeHead(204, {
          ...cors,
          allow: "GET, POST, OPTIONS",
          "access-control-allow-methods": "GET, POST, OPTIONS",
          "access-control-allow-headers": String(req.headers["access-control-request-headers"] ?? "authorization, content-type"),
          "access-control-max-age": "600",
        });
        res.end();
        return;
      }
      const post = Object.hasOwn(POST_ROUTES, path) ? POST_ROUTES[path] : undefined;
      const get = GET_ROUTES.has(path) && (path !== "/debug/stats" || this.debug);
      if (!post && !get) throw new HttpError(404, `no route ${path}; see GET /v1/models, POST /v1/chat/completions, /v1/completions, /v1/embeddings`, { code: "not_found" });
      if (post ? req.method !== "POST" : req.method !== "GET" && req.method !== "HEAD")
        throw new HttpError(405, `${path} takes ${post ? "POST" : "GET"}, not ${req.method}`, { code: "method_not_allowed", headers: { allow: post ? "POST" : "GET" } });
      let authorized = true;
      if (path !== "/health") checkApiKey(req, this.settings.apiKey);
      else {
        try {
          checkApiKey(req, this.settings.apiKey);
        } catch {
          authorized = false;
        }
      }
      if (get) return await this.get(path, res, cors, authorized);
      const body = await readJson(req, this.settings.maxBodyBytes);
      if (!isObject(body)) throw new HttpError(400, "the request body must be a JSON object", { code: "invalid_request" });
      this.stats.requests++;
      const ac = disconnectSignal(req, res);
      await post!({ backend: this.backend, settings: this.settings, stats: this.stats, req, res, ac, headers: cors }, body);
    } catch (e) {
      // Over-cap bodies: answer, then close instead of reading the rest.
      if (e instanceof HttpError && e.status === 413) res.setHeader("connection", "close");
      sendError(res, e, cors);
    }
  }

  /** `/health` is open (for probes) but tells an unauthenticated caller only that the server is up. */
  private async get(path: string, res: ServerResponse, cors: Record<string, string>, authorized: boolean): Promise<void> {
    if (path === "/health") {
      if (!authorized) return sendJson(res, 200, { status: "ok" }, cors);
      const st = await this.backend.status();
      sendJson(res, 200, { status: "ok", backend: st.kind, active: st.active, queued: st.queued, models: st.models.filter((m) => m.loaded).map((m) => m.id) }, cors);
    } else if (path === "/v1/models") {
      sendJson(res, 200, modelList(await this.backend.models(), this.started), cors);
    } else {
      // The backend's decode-step counter (all models): tests check that none run after an abort.
      const st = await this.backend.status();
      sendJson(res, 200, { server: this.stats, backend: st, decodeSteps: st.decodeSteps ?? null }, cors);
    }
  }
}

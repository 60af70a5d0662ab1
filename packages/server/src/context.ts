// What a route handler gets for one request.
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Backend } from "@hearth/serving";
import type { ServerSettings } from "./options.js";
import type { ServerStats } from "./generation.js";

export interface RequestContext {
  backend: Backend;
  settings: ServerSettings;
  stats: ServerStats;
  req: IncomingMessage;
  res: ServerResponse;
  /** Aborted when the client disconnects (or the request fails); passed to the backend. */
  ac: AbortController;
  /** CORS headers for an allowed browser origin (empty otherwise). */
  headers: Record<string, string>;
}

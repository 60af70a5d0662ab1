// The request checks that make the server safe by default: Host (stops DNS rebinding, cf. Ollama CVE-2024-28224),
// Origin (a web page may not call the API unless the operator allowed its origin), the API key (constant time),
// and paths named in requests (refused unless under a folder the operator allowed).
import { createHash, timingSafeEqual } from "node:crypto";
import { isIP } from "node:net";
import { hostname as osHostname } from "node:os";
import { realpathSync } from "node:fs";
import { isAbsolute, resolve, sep } from "node:path";
import type { IncomingMessage } from "node:http";
import { HttpError } from "./errors.js";

/** The host part of a Host header ("[::1]:8080" → "::1", "Example.COM:80" → "example.com"), or null if malformed. */
export function hostName(header: string): string | null {
  const h = header.trim().toLowerCase();
  if (h === "") return null;
  if (h.startsWith("[")) {
    const end = h.indexOf("]");
    if (end < 0) return null;
    const rest = h.slice(end + 1);
    if (rest !== "" && !/^:\d{1,5}$/.test(rest)) return null;
    return h.slice(1, end);
  }
  const m = /^([^:\s/@]+)(:\d{1,5})?$/.exec(h);
  return m ? m[1]!.replace(/\.$/, "") : null;
}

const LOOPBACK_NAMES = new Set(["localhost", "127.0.0.1", "::1"]);

export function isLoopbackHost(host: string): boolean {
  return LOOPBACK_NAMES.has(host) || /^127\.\d+\.\d+\.\d+$/.test(host);
}

/**
 * Names a request's Host header may carry. IP literals are always fine: DNS rebinding needs a domain name that the
 * attacker controls. Besides those: localhost, the bound name, and (when bound beyond loopback) this machine's name.
 */
export function allowedHostNames(boundHost: string, extra: string[]): Set<string> {
  const names = new Set<string>(["localhost", ...extra.map((e) => e.toLowerCase())]);
  const b = boundHost.toLowerCase().replace(/^\[|\]$/g, "");
  if (!isIP(b) && b !== "") names.add(b);
  if (!isLoopbackHost(b)) {
    const h = osHostname().toLowerCase();
    names.add(h);
    names.add(`${h}.local`);
  }
  return names;
}

export function checkHost(req: IncomingMessage, allowed: Set<string>): void {
  const header = req.headers.host;
  if (header === undefined) throw new HttpError(400, "the request has no Host header", { code: "invalid_host" });
  const name = hostName(header);
  if (name === null) throw new HttpError(400, `malformed Host header '${header}'`, { code: "invalid_host" });
  if (isIP(name) || allowed.has(name)) return;
  throw new HttpError(403, `Host '${name}' is not allowed: this server answers only to its own address ` +
    "(DNS rebinding protection); start it with --allowed-host to add a name", { code: "host_not_allowed" });
}

/**
 * A browser sends Origin on cross-origin requests (and on every POST). Without --allowed-origin no web page may call
 * the API; with it, listed origins get CORS headers. Requests without Origin (curl, SDKs, Open WebUI's backend) pass.
 * Returns the origin to echo in CORS headers, or null when there is none.
 */
export function checkOrigin(req: IncomingMessage, allowedOrigins: string[]): string | null {
  const origin = req.headers.origin;
  if (origin === undefined) return null;
  if (allowedOrigins.includes(origin)) return origin;
  throw new HttpError(403, `Origin '${origin}' is not allowed: browser pages may call this server only when it is ` +
    "started with --allowed-origin <origin>", { code: "origin_not_allowed" });
}

export function corsHeaders(origin: string | null): Record<string, string> {
  if (origin === null) return {};
  return { "access-control-allow-origin": origin, vary: "Origin", "access-control-expose-headers": "retry-after" };
}

const digest = (s: string) => createHash("sha256").update(s, "utf8").digest();

/** Compares the Bearer key in constant time (both sides hashed to equal length first, so length leaks nothing). */
export function checkApiKey(req: IncomingMessage, key: string | undefined): void {
  if (key === undefined) return;
  const auth = req.headers.authorization;
  const m = auth === undefined ? null : /^Bearer\s+(.+)$/i.exec(auth.trim());
  const given = m ? m[1]!.trim() : "";
  const ok = timingSafeEqual(digest(given), digest(key));
  if (!ok || !m) {
    throw new HttpError(401, m ? "invalid API key" : "missing API key: send 'Authorization: Bearer <key>'", {
      code: "invalid_api_key",
      headers: { "www-authenticate": "Bearer" },
    });
  }
}

/** Whether a model or adapter name is a filesystem path rather than a served name. */
export function looksLikePath(name: string): boolean {
  return isAbsolute(name) || name.startsWith(".") || name.startsWith("~") || name.includes("\\") || name.startsWith("file:");
}

/**
 * A path named in a request, resolved (symlinks too) and confirmed to lie inside one of the allowed folders;
 * otherwise a 403 that says how the operator can allow it.
 */
export function allowedPath(raw: string, roots: string[], param: string): string {
  const plain = raw.startsWith("file://") ? decodeURIComponent(new URL(raw).pathname) : raw;
  if (roots.length === 0)
    throw new HttpError(403, `paths are not allowed in requests ('${raw}' in ${param}); the operator can allow a folder ` +
      "with --allowed-path", { param, code: "path_denied" });
  const inside = (p: string, root: string) => p === root || p.startsWith(root.endsWith(sep) ? root : root + sep);
  const realRoots = roots.flatMap((r) => {
    try {
      return [realpathSync(resolve(r))];
    } catch {
      return [];
    }
  });
  // First the path as written (so a refused path does not reveal whether it exists), then with symlinks resolved.
  const lexical = resolve(plain);
  if (realRoots.some((r) => inside(lexical, r)) || roots.some((r) => inside(lexical, resolve(r)))) {
    let real: string;
    try {
      real = realpathSync(lexical);
    } catch {
      throw new HttpError(404, `no such file or folder '${raw}' (${param})`, { param, code: "path_not_found" });
    }
    if (realRoots.some((r) => inside(real, r))) return real;
  }
  throw new HttpError(403, `'${raw}' (${param}) is outside the folders this server allows`, { param, code: "path_denied" });
}

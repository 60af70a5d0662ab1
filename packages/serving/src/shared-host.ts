// The per-user host: one LocalBackend served to every face of this user over a Unix domain socket in a private
// directory (0700). Protocol: newline-delimited JSON. Client → host: {t:"call", id, method, params} and
// {t:"cancel", id}. Host → client: {t:"event", id, event} (streams), {t:"result", id, value}, {t:"end", id},
// {t:"error", id, error:{code, message, param?, retryAfter?}}. Images travel as base64.
import { chmodSync, existsSync, lstatSync, mkdirSync, unlinkSync } from "node:fs";
import { createConnection, createServer, type Server, type Socket } from "node:net";
import { homedir } from "node:os";
import { join } from "node:path";
import type { Backend, ImageSource } from "./backend.js";
import { ServingError, isServingError } from "./errors.js";

/** Where the host's socket lives: $HEARTH_RUN_DIR, else $XDG_RUNTIME_DIR/hearth, else ~/.cache/hearth/run. */
export function defaultSocketDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.HEARTH_RUN_DIR) return env.HEARTH_RUN_DIR;
  if (env.XDG_RUNTIME_DIR) return join(env.XDG_RUNTIME_DIR, "hearth");
  return join(homedir(), ".cache", "hearth", "run");
}

export const SOCKET_NAME = "host.sock";

/** Creates the directory 0700 (or tightens it); refuses one that is a symlink or belongs to someone else. */
export function ensurePrivateDir(dir: string): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const st = lstatSync(dir);
  if (!st.isDirectory() || st.isSymbolicLink()) throw new ServingError("path_denied", `${dir} must be a directory (not a symlink) for the shared host's socket`);
  if (typeof process.getuid === "function" && st.uid !== process.getuid())
    throw new ServingError("path_denied", `${dir} belongs to another user: the shared host's socket directory must be private`);
  if ((st.mode & 0o077) !== 0) chmodSync(dir, 0o700);
}

export type Wire = Record<string, unknown>;

/** JSON-safe images (bytes → base64). */
export function encodeImages(images: ImageSource[]): Wire[] {
  return images.map((i) => (i.kind === "bytes" ? { kind: "bytes64", data: Buffer.from(i.data).toString("base64"), ...(i.mimeType ? { mimeType: i.mimeType } : {}) } : { ...i }));
}

export function decodeImages(images: unknown): ImageSource[] {
  if (!Array.isArray(images)) return [];
  return images.map((i: Wire) => (i.kind === "bytes64" ? { kind: "bytes", data: Buffer.from(String(i.data), "base64"), ...(i.mimeType ? { mimeType: String(i.mimeType) } : {}) } : i as unknown as ImageSource));
}

/** Turns wire content parts with images back into ImageSource parts. */
export function decodeMessages(messages: unknown): unknown {
  if (!Array.isArray(messages)) return messages;
  return messages.map((m: Wire) => (Array.isArray(m.content)
    ? { ...m, content: (m.content as Wire[]).map((p) => (p.type === "image" ? { type: "image", image: decodeImages([p.image])[0] } : p)) }
    : m));
}

export function encodeMessages(messages: unknown): unknown {
  if (!Array.isArray(messages)) return messages;
  return messages.map((m: Wire) => (Array.isArray(m.content)
    ? { ...m, content: (m.content as Wire[]).map((p) => (p.type === "image" ? { type: "image", image: encodeImages([p.image as ImageSource])[0] } : p)) }
    : m));
}

export function errorToWire(e: unknown): Wire {
  if (isServingError(e)) return { code: e.code, message: e.message, ...(e.param ? { param: e.param } : {}), ...(e.retryAfter !== undefined ? { retryAfter: e.retryAfter } : {}) };
  return { code: "internal", message: e instanceof Error ? e.message : String(e) };
}

export function errorFromWire(w: Wire): ServingError {
  return new ServingError((w.code as ServingError["code"]) ?? "internal", String(w.message ?? "shared host error"), {
    ...(w.param ? { param: String(w.param) } : {}), ...(w.retryAfter !== undefined ? { retryAfter: Number(w.retryAfter) } : {}),
  });
}

export interface SharedHost {
  socketPath: string;
  server: Server;
  close(): Promise<void>;
}

export interface SharedHostOptions {
  /** Exit callback when no client is connected and nothing runs for this long (ms); 0: never. */
  idleMs?: number;
  onIdle?: () => void;
  log?: (line: string) => void;
}

/** Whether a live host answers on the socket. */
export function probeSocket(path: string, timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createConnection(path);
    const t = setTimeout(() => {
      s.destroy();
      resolve(false);
    }, timeoutMs);
    s.once("connect", () => {
      clearTimeout(t);
      s.end();
      resolve(true);
    });
    s.once("error", () => {
      clearTimeout(t);
      resolve(false);
    });
  });
}

/** Serves `backend` on dir/host.sock. Fails with code "busy" when another live host already listens there. */
export async function startSharedHost(backend: Backend, dir: string, opts: SharedHostOptions = {}): Promise<SharedHost> {
  ensurePrivateDir(dir);
  const socketPath = join(dir, SOCKET_NAME);
  const log = opts.log ?? (() => undefined);
  const clients = new Set<Socket>();
  let running = 0;
  let idleTimer: NodeJS.Timeout | undefined;
  const armIdle = () => {
    if (!opts.idleMs || clients.size || running) return;
    clearTimeout(idleTimer);
    idleTimer = setTimeout(() => {
      if (!clients.size && !running) opts.onIdle?.();
    }, opts.idleMs);
  };

  const server = createServer((sock) => {
    clients.add(sock);
    clearTimeout(idleTimer);
    const cancels = new Map<number, AbortController>();
    const send = (m: Wire) => {
      if (!sock.destroyed) sock.write(JSON.stringify(m) + "\n");
    };
    let buf = "";
    sock.setEncoding("utf8");
    sock.on("data", (chunk: string) => {
      buf += chunk;
      let nl: number;
      while ((nl = buf.indexOf("\n")) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        if (!line.trim()) continue;
        let m: Wire;
        try {
          m = JSON.parse(line) as Wire;
        } catch {
          send({ t: "error", id: -1, error: { code: "invalid_request", message: "the shared host got a line that is not JSON" } });
          continue;
        }
        if (m.t === "cancel") cancels.get(Number(m.id))?.abort();
        else if (m.t === "call") void handle(Number(m.id), String(m.method), (m.params ?? {}) as Wire);
      }
    });
    sock.on("close", () => {
      clients.delete(sock);
      for (const ac of cancels.values()) ac.abort();  // a face that went away stops its work
      armIdle();
    });
    sock.on("error", () => undefined);

    async function handle(id: number, method: string, params: Wire): Promise<void> {
      const ac = new AbortController();
      cancels.set(id, ac);
      running++;
      try {
        switch (method) {
          case "generate":
          case "describeImage": {
            const req = { ...params, signal: ac.signal } as Wire;
            if (req.messages) req.messages = decodeMessages(req.messages);
            if (req.images) req.images = decodeImages(req.images);
            const it = method === "generate" ? backend.generate(req as never) : backend.describeImage(req as never);
            for await (const event of it) send({ t: "event", id, event });
            send({ t: "end", id });
            break;
          }
          case "train": {
            for await (const event of backend.train({ ...params, signal: ac.signal } as never)) send({ t: "event", id, event });
            send({ t: "end", id });
            break;
          }
          case "embed":
            send({ t: "result", id, value: await backend.embed(params as never) });
            break;
          case "models":
            send({ t: "result", id, value: await backend.models() });
            break;
          case "load":
            send({ t: "result", id, value: await backend.load(String(params.model), params.kind as never) });
            break;
          case "unload":
            await backend.unload(String(params.model));
            send({ t: "result", id, value: null });
            break;
          case "status":
            send({ t: "result", id, value: { ...(await backend.status()), kind: "shared", pid: process.pid } });
            break;
          case "shutdown":
            send({ t: "result", id, value: null });
            setImmediate(() => opts.onIdle?.());
            break;
          default:
            throw new ServingError("invalid_request", `unknown method '${method}'`);
        }
      } catch (e) {
        send({ t: "error", id, error: errorToWire(e) });
      } finally {
        cancels.delete(id);
        running--;
        armIdle();
      }
    }
  });

  const listen = () => new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(socketPath, () => {
      server.off("error", reject);
      resolve();
    });
  });
  try {
    await listen();
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "EADDRINUSE") throw e;
    if (await probeSocket(socketPath)) throw new ServingError("busy", `a shared host already listens on ${socketPath}`);
    // A stale socket from a host that died: take its place.
    if (existsSync(socketPath)) unlinkSync(socketPath);
    await listen();
  }
  chmodSync(socketPath, 0o600);
  log(`hearth shared host listening on ${socketPath} (pid ${process.pid})`);
  armIdle();
  return {
    socketPath,
    server,
    close: () => new Promise<void>((resolve) => {
      clearTimeout(idleTimer);
      for (const c of clients) c.destroy();
      server.close(() => resolve());
    }),
  };
}

// SharedBackend: a face's view of the per-user shared host. Connects to its Unix socket (in a 0700 directory),
// starting the host as a detached node process when none runs, so a model is loaded once for all faces.
import { spawn } from "node:child_process";
import { openSync } from "node:fs";
import { createConnection, type Socket } from "node:net";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type {
  Backend, BackendStatus, DescribeRequest, EmbedRequest, EmbedResult, GenerateEvent, GenerateRequest, ModelInfo,
  ModelKind, TrainEvent, TrainRequest,
} from "./backend.js";
import { ServingError } from "./errors.js";
import { EventQueue } from "./event-queue.js";
import {
  SOCKET_NAME, defaultSocketDir, encodeImages, encodeMessages, ensurePrivateDir, errorFromWire, probeSocket, type Wire,
} from "./shared-host.js";

export interface SharedBackendOptions {
  /** The socket directory (default: defaultSocketDir()). */
  dir?: string;
  /** Start a host when none runs (default true). */
  autoStart?: boolean;
  /** How long to wait for a started host (default 30 s). */
  startTimeoutMs?: number;
  /** Settings for a host this face starts (a running host keeps its own). */
  model?: string;
  embeddingModel?: string;
  visionModel?: string;
  adapterDir?: string;
  memoryLimitBytes?: number;
  maxQueue?: number;
  /** The host exits after this long without clients (default 15 min). */
  idleExitMs?: number;
}

interface Pending {
  queue?: EventQueue<unknown>;
  resolve?: (v: unknown) => void;
  reject?: (e: Error) => void;
}

/** Starts the host process detached (it outlives this face), logging to host.log in the socket directory. */
function spawnHost(dir: string, o: SharedBackendOptions): void {
  const main = fileURLToPath(new URL("./host-main.js", import.meta.url));
  const args = [main, "--dir", dir];
  if (o.model) args.push("--model", o.model);
  if (o.embeddingModel) args.push("--embedding-model", o.embeddingModel);
  if (o.visionModel) args.push("--vision-model", o.visionModel);
  if (o.adapterDir) args.push("--adapter-dir", o.adapterDir);
  if (o.memoryLimitBytes) args.push("--memory-limit-mb", String(o.memoryLimitBytes / 1024 / 1024));
  if (o.maxQueue) args.push("--max-queue", String(o.maxQueue));
  if (o.idleExitMs !== undefined) args.push("--idle-exit-ms", String(o.idleExitMs));
  const log = openSync(join(dir, "host.log"), "a", 0o600);
  const child = spawn(process.execPath, args, { detached: true, stdio: ["ignore", log, log] });
  child.unref();
}

export class SharedBackend implements Backend {
  readonly kind = "shared" as const;
  private sock: Socket | undefined;
  private connecting: Promise<Socket> | undefined;
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private readonly dir: string;
  private closed = false;

  constructor(private readonly opts: SharedBackendOptions = {}) {
    this.dir = opts.dir ?? defaultSocketDir();
  }

  get socketPath(): string {
    return join(this.dir, SOCKET_NAME);
  }

  /** Connects (starting the host if needed); every call does this first. */
  connect(): Promise<Socket> {
    if (this.sock && !this.sock.destroyed) return Promise.resolve(this.sock);
    if (!this.connecting) this.connecting = this.doConnect().finally(() => (this.connecting = undefined));
    return this.connecting;
  }

  private async doConnect(): Promise<Socket> {
    if (this.closed) throw new ServingError("unsupported", "this backend is closed");
    ensurePrivateDir(this.dir);
    if (!(await probeSocket(this.socketPath))) {
      if (this.opts.autoStart === false) throw new ServingError("upstream", `no shared host runs on ${this.socketPath}`);
      spawnHost(this.dir, this.opts);
      const deadline = Date.now() + (this.opts.startTimeoutMs ?? 30_000);
      while (!(await probeSocket(this.socketPath))) {
        if (Date.now() > deadline)
          throw new ServingError("upstream", `the shared host did not start within ${(this.opts.startTimeoutMs ?? 30_000) / 1000} s; see ${join(this.dir, "host.log")}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    const sock = await new Promise<Socket>((resolve, reject) => {
      const s = createConnection(this.socketPath);
      s.once("connect", () => resolve(s));
      s.once("error", (e) => reject(new ServingError("upstream", `cannot connect to the shared host: ${e.message}`, { cause: e })));
    });
    let buf = "";
    sock.setEncoding("utf8");
    sock.on("data", (chunk: string) => {
      buf += chunk;
      let nl: number;
      while ((nl = buf.indexOf("\n")) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        if (line.trim()) this.onMessage(JSON.parse(line) as Wire);
      }
    });
    sock.on("close", () => {
      const err = new ServingError("upstream", "the shared host closed the connection");
      for (const p of this.pending.values()) {
        p.queue?.fail(err);
        p.reject?.(err);
      }
      this.pending.clear();
      if (this.sock === sock) this.sock = undefined;
    });
    sock.on("error", () => undefined);
    this.sock = sock;
    return sock;
  }

  private onMessage(m: Wire): void {
    const p = this.pending.get(Number(m.id));
    if (!p) return;
    if (m.t === "event") p.queue?.push(m.event);
    else if (m.t === "end") {
      this.pending.delete(Number(m.id));
      p.queue?.end();
    } else if (m.t === "result") {
      this.pending.delete(Number(m.id));
      p.resolve?.(m.value);
    } else if (m.t === "error") {
      this.pending.delete(Number(m.id));
      const e = errorFromWire(m.error as Wire);
      p.queue?.fail(e);
      p.reject?.(e);
    }
  }

  private async call<T>(method: string, params: Wire = {}): Promise<T> {
    const sock = await this.connect();
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      sock.write(JSON.stringify({ t: "call", id, method, params }) + "\n");
    });
  }

  private async *stream<T>(method: string, params: Wire, signal: AbortSignal | undefined): AsyncGenerator<T, void, undefined> {
    if (signal?.aborted) throw new ServingError("aborted", "the request was cancelled");
    const sock = await this.connect();
    const id = this.nextId++;
    const queue = new EventQueue<unknown>();
    this.pending.set(id, { queue });
    const cancel = () => {
      if (this.pending.has(id) && !sock.destroyed) sock.write(JSON.stringify({ t: "cancel", id }) + "\n");
    };
    signal?.addEventListener("abort", cancel, { once: true });
    sock.write(JSON.stringify({ t: "call", id, method, params }) + "\n");
    let ended = false;
    try {
      for await (const e of queue.drain()) yield e as T;
      ended = true;
    } finally {
      signal?.removeEventListener("abort", cancel);
      if (!ended) cancel();  // the consumer stopped early: the host stops the work
    }
  }

  generate(req: GenerateRequest): AsyncIterable<GenerateEvent> {
    const { signal, ...rest } = req;
    const params: Wire = { ...rest };
    if (rest.messages) params.messages = encodeMessages(rest.messages);
    return this.stream<GenerateEvent>("generate", params, signal);
  }

  describeImage(req: DescribeRequest): AsyncIterable<GenerateEvent> {
    const { signal, ...rest } = req;
    return this.stream<GenerateEvent>("describeImage", { ...rest, images: encodeImages(rest.images ?? []) }, signal);
  }

  train(req: TrainRequest): AsyncIterable<TrainEvent> {
    const { signal, ...rest } = req;
    return this.stream<TrainEvent>("train", { ...rest }, signal);
  }

  async embed(req: EmbedRequest): Promise<EmbedResult> {
    const { signal, ...rest } = req;
    if (signal?.aborted) throw new ServingError("aborted", "the request was cancelled");
    return this.call<EmbedResult>("embed", { ...rest });
  }

  models(): Promise<ModelInfo[]> {
    return this.call<ModelInfo[]>("models");
  }

  load(model: string, kind?: ModelKind): Promise<ModelInfo> {
    return this.call<ModelInfo>("load", { model, ...(kind ? { kind } : {}) });
  }

  async unload(model: string): Promise<void> {
    await this.call("unload", { model });
  }

  status(): Promise<BackendStatus> {
    return this.call<BackendStatus>("status");
  }

  /** Asks the host to exit (every face attached to it loses it). */
  async shutdownHost(): Promise<void> {
    await this.call("shutdown");
  }

  /** Disconnects this face; the host keeps running for the others (and exits after its idle time). */
  async close(): Promise<void> {
    this.closed = true;
    this.sock?.end();
    this.sock = undefined;
  }
}

export function createSharedBackend(opts: SharedBackendOptions = {}): SharedBackend {
  return new SharedBackend(opts);
}

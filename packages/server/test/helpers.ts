// Starting a real `hearth server` process for the tests, and the tiny fixture models with their tokenizers.
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, readFileSync, readdirSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { request } from "node:http";

const here = dirname(fileURLToPath(import.meta.url));
/** packages/ (this file is packages/server/dist/test/helpers.js). */
export const packagesDir = resolve(here, "..", "..", "..");
export const enginePackage = join(packagesDir, "engine");

/**
 * The `hearth` bin as the acceptance scripts find it: from the packages' package.json files (the CLI package, which
 * dispatches `server` to this package). Without one, this package's own entry (`hearth server` without the word).
 */
export function hearthCommand(): string[] {
  for (const dir of readdirSync(packagesDir)) {
    const pj = join(packagesDir, dir, "package.json");
    if (!existsSync(pj)) continue;
    const pkg = JSON.parse(readFileSync(pj, "utf8")) as { bin?: Record<string, string> | string; dependencies?: Record<string, string> };
    const bin = typeof pkg.bin === "object" ? pkg.bin.hearth : undefined;
    if (!bin || !pkg.dependencies?.["@hearth/server"]) continue;
    const file = join(packagesDir, dir, bin);
    if (existsSync(file)) return [file, "server"];
  }
  return [join(packagesDir, "server", "dist", "src", "main.js")];
}

export interface RunningServer {
  url: string;
  proc: ChildProcess;
  stderr(): string;
  stop(): Promise<void>;
}

/** Spawns `hearth server --port 0 …` and waits for its "listening" line. */
export async function startServer(args: string[], env: Record<string, string> = {}): Promise<RunningServer> {
  const cmd = hearthCommand();
  // Without the test runner's NODE_TEST_CONTEXT: a child that inherits it behaves as a test file (e.g. on SIGTERM).
  const { NODE_TEST_CONTEXT: _ctx, ...base } = process.env;
  const proc = spawn(process.execPath, [...cmd, "--port", "0", ...args], {
    env: { ...base, HEARTH_SERVER_DEBUG: "1", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let err = "";
  const url = await new Promise<string>((res, rej) => {
    const timer = setTimeout(() => rej(new Error(`hearth server did not start in 120 s:\n${err}`)), 120_000);
    proc.stderr!.on("data", (d: Buffer) => {
      err += d.toString();
      const m = /^hearth server listening on (http:\/\/\S+)$/m.exec(err);
      if (m) {
        clearTimeout(timer);
        res(m[1]!);
      }
    });
    proc.once("exit", (code) => {
      clearTimeout(timer);
      rej(new Error(`hearth server exited with ${code}:\n${err}`));
    });
  });
  proc.stdout!.resume();
  return {
    url,
    proc,
    stderr: () => err,
    stop: () => new Promise<void>((res) => {
      if (proc.exitCode !== null) return res();
      proc.once("exit", () => res());
      proc.kill("SIGTERM");
    }),
  };
}

export interface RawResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
  json(): any;
}

/** A request with full control of the headers (Host, Origin), which fetch does not allow. */
export function raw(url: string, method: string, path: string, headers: Record<string, string> = {}, body?: string | Buffer): Promise<RawResponse> {
  const u = new URL(url);
  return new Promise((res, rej) => {
    const req = request({ host: u.hostname, port: u.port, method, path, headers: { ...(body !== undefined ? { "content-type": "application/json" } : {}), ...headers } }, (r) => {
      const chunks: Buffer[] = [];
      r.on("data", (c: Buffer) => chunks.push(c));
      r.on("end", () => {
        const text = Buffer.concat(chunks).toString("utf8");
        res({ status: r.statusCode ?? 0, headers: r.headers, body: text, json: () => JSON.parse(text) });
      });
      r.on("error", rej);
    });
    req.on("error", rej);
    if (body !== undefined) req.write(body);
    req.end();
  });
}

export async function debugStats(url: string): Promise<any> {
  const r = await fetch(`${url}/debug/stats`);
  return r.json();
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls until `check` returns a value, or fails after `ms`. */
export async function waitFor<T>(what: string, check: () => Promise<T | undefined>, ms = 30_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await check();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

interface TinyTokenizerHelpers {
  tinyVlmWithTokenizer(configFile?: string): string;
  tinyEmbedderWithTokenizer(configFile?: string): string;
}

/** The engine's fixture helpers (tiny models with a matching tokenizer in a temp folder). */
export async function engineHelpers(): Promise<TinyTokenizerHelpers> {
  return (await import(join(enginePackage, "dist", "test", "helpers", "tiny-tokenizer.js"))) as TinyTokenizerHelpers;
}

export function fixture(name: string): string {
  return join(enginePackage, "test", "fixtures", name);
}

/** Gemma's end-of-sequence ids (<eos>, <end_of_turn>); a -100 bias keeps a stream going for the abort and queue tests. */
export const NO_EOS_BIAS = { "1": -100, "106": -100 };

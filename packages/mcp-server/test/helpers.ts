// Shared by the MCP tests: a scratch workspace (a root with the tiny fixtures, images, datasets; a folder outside
// it; a symlink escape) and clients of the BUILT hearth-mcp bin over stdio and Streamable HTTP.
import { spawn, type ChildProcess } from "node:child_process";
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";

const here = dirname(fileURLToPath(import.meta.url));
/** packages/mcp-server (this file is dist/test/helpers.js). */
export const PKG = resolve(here, "../..");
export const BIN = join(PKG, "bin", "hearth-mcp.js");
export const ENGINE = resolve(PKG, "../engine");
export const FIXTURES = join(ENGINE, "test", "fixtures");

/** The engine's own test helper that gives the tiny fixtures a tokenizer (it is compiled with the engine's tests). */
async function engineTestHelper(): Promise<{ tinyVlmWithTokenizer(): string; tinyEmbedderWithTokenizer(): string }> {
  const p = join(ENGINE, "dist", "test", "helpers", "tiny-tokenizer.js");
  if (!existsSync(p)) throw new Error(`${p} is missing: build the engine (pnpm run build) first`);
  return import(pathToFileURL(p).href);
}

export interface Workspace {
  /** The --root folder. */
  root: string;
  /** A folder next to the root, not inside it. */
  outside: string;
  embedder: string;
  vlm: string;
  png: string;
  jpg: string;
  /** A file named .png that is not an image. */
  badImage: string;
  /** root/escape.png → outside/secret.png */
  escapeLink: string;
  outsideImage: string;
  dataset: string;
  badDataset: string;
  /** A Hugging Face hub cache (HF_HUB_CACHE) holding the tiny embedder as hearth-test/tiny-embedder. */
  hubCache: string;
}

let ws: Workspace | undefined;

/** A temporary folder removed when this process exits. */
export function scratchDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  process.once("exit", () => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** The scratch workspace, removed when this process exits unless `keep` (scripts that hand it to other processes). */
export async function workspace(opts: { keep?: boolean } = {}): Promise<Workspace> {
  if (ws) return ws;
  const base = opts.keep ? mkdtempSync(join(tmpdir(), "hearth-mcp-test-")) : scratchDir("hearth-mcp-test-");
  const root = join(base, "root");
  const outside = join(base, "root-evil"); // a sibling whose name extends the root's (CVE-2025-53110)
  mkdirSync(root);
  mkdirSync(outside);
  const h = await engineTestHelper();
  const embedder = join(root, "embedder");
  const vlm = join(root, "vlm");
  cpSync(h.tinyEmbedderWithTokenizer(), embedder, { recursive: true });
  cpSync(h.tinyVlmWithTokenizer(), vlm, { recursive: true });
  addJsonPunctuation(join(vlm, "tokenizer.json"));
  const png = join(root, "input.png");
  const jpg = join(root, "input.jpg");
  cpSync(join(FIXTURES, "image-preprocess", "input.png"), png);
  cpSync(join(FIXTURES, "image-preprocess", "input.jpg"), jpg);
  const badImage = join(root, "broken.png");
  writeFileSync(badImage, Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47]), Buffer.from("not really a png")]));
  const outsideImage = join(outside, "secret.png");
  cpSync(png, outsideImage);
  const escapeLink = join(root, "escape.png");
  symlinkSync(outsideImage, escapeLink);
  // A small dataset the bundled model can learn in a few steps: one fixed answer to one question.
  const dataset = join(root, "train.jsonl");
  const lines = [];
  for (let i = 0; i < 16; i++) lines.push(JSON.stringify({ messages: [{ role: "user", content: "What is 2 + 2?" }, { role: "assistant", content: "purple zebra" }] }));
  writeFileSync(dataset, lines.join("\n") + "\n");
  const badDataset = join(root, "bad.jsonl");
  writeFileSync(badDataset, `{"text": "fine"}\n{"text": broken\n`);
  // The hub cache layout lm.load resolves: models--org--name/refs/main names the snapshot folder.
  const hubCache = join(base, "hub");
  const repo = join(hubCache, "models--hearth-test--tiny-embedder");
  mkdirSync(join(repo, "refs"), { recursive: true });
  writeFileSync(join(repo, "refs", "main"), "0123abcd\n");
  cpSync(embedder, join(repo, "snapshots", "0123abcd"), { recursive: true });
  ws = { root, outside, embedder, vlm, png, jpg, badImage, escapeLink, outsideImage, dataset, badDataset, hubCache };
  return ws;
}

/** The engine's character tokenizer has no braces, so no JSON could be written with it: four unused ids become
 *  "{", "}", "[" and "]" (plain vocabulary entries, decoded like any character). */
function addJsonPunctuation(file: string): void {
  const tok = JSON.parse(readFileSync(file, "utf8"));
  const vocab = tok.model.vocab as Record<string, number>;
  ["{", "}", "[", "]"].forEach((c, i) => {
    const id = vocab[`<unused${i}>`];
    if (id === undefined) throw new Error(`${file}: no <unused${i}> to reuse`);
    delete vocab[`<unused${i}>`];
    vocab[c] = id;
  });
  writeFileSync(file, JSON.stringify(tok));
}

export interface Spawned {
  client: Client;
  stderr: () => string;
  close(): Promise<void>;
}

/** The built bin over stdio, through the SDK's own client transport. */
export async function stdioClient(args: string[], opts: { env?: Record<string, string>; unsetEnv?: string[]; client?: Client } = {}): Promise<Spawned & { pid: number | null }> {
  const env: Record<string, string> = { ...(process.env as Record<string, string>), ...opts.env };
  for (const k of opts.unsetEnv ?? []) delete env[k];
  const transport = new StdioClientTransport({
    command: BIN,
    args,
    env,
    stderr: "pipe",
  });
  let err = "";
  transport.stderr?.on("data", (d: Buffer) => { err += d.toString(); });
  const client = opts.client ?? new Client({ name: "hearth-mcp-test", version: "0.0.0" });
  await client.connect(transport);
  return { client, stderr: () => err, close: () => client.close(), pid: transport.pid };
}

/** Starts the bin with --http --port 0 and waits for its contract line. */
export async function httpServer(args: string[]): Promise<{ proc: ChildProcess; url: string; stderr: () => string; close(): Promise<void> }> {
  const proc = spawn(BIN, ["--http", "--port", "0", ...args], { stdio: ["ignore", "pipe", "pipe"] });
  let err = "";
  let out = "";
  proc.stdout!.on("data", (d: Buffer) => { out += d.toString(); });
  const url = await new Promise<string>((resolveUrl, reject) => {
    const timer = setTimeout(() => reject(new Error(`no listening line within 60 s; stderr:\n${err}`)), 60_000);
    proc.stderr!.on("data", (d: Buffer) => {
      err += d.toString();
      const m = /^hearth-mcp listening on (http:\/\/\S+\/mcp)$/m.exec(err);
      if (m) { clearTimeout(timer); resolveUrl(m[1]!); }
    });
    proc.once("exit", (code) => { clearTimeout(timer); reject(new Error(`exited ${code}; stderr:\n${err}`)); });
  });
  return {
    proc, url,
    stderr: () => err + (out ? `\n[stdout] ${out}` : ""),
    close: async () => {
      if (proc.exitCode !== null) return;
      const exited = new Promise((r) => proc.once("exit", r));
      proc.kill("SIGTERM");
      await exited;
    },
  };
}

export async function httpClient(url: string, headers: Record<string, string> = {}): Promise<Client> {
  const client = new Client({ name: "hearth-mcp-test-http", version: "0.0.0" });
  await client.connect(new StreamableHTTPClientTransport(new URL(url), { requestInit: { headers } }));
  return client;
}

export function text(r: CallToolResult | Record<string, unknown>): string {
  const c = (r as CallToolResult).content;
  return c.map((p) => (p.type === "text" ? p.text : "")).join("");
}

export function dataUrl(path: string, mime: string): string {
  return `data:${mime};base64,${readFileSync(path).toString("base64")}`;
}

/**
 * A real `hearth server` process on a free port (the `hearth` bin found from the packages' package.json files, as
 * the acceptance scripts find it): the OpenAI-compatible server that `--base-url` points hearth-mcp at.
 */
export async function hearthServer(args: string[]): Promise<{ url: string; stderr: () => string; close(): Promise<void> }> {
  const packages = resolve(PKG, "..");
  let bin: string | undefined;
  for (const dir of readdirSync(packages)) {
    const pj = join(packages, dir, "package.json");
    if (!existsSync(pj)) continue;
    const b = (JSON.parse(readFileSync(pj, "utf8")) as { bin?: Record<string, string> | string }).bin;
    if (typeof b === "object" && b.hearth && existsSync(join(packages, dir, b.hearth))) bin = join(packages, dir, b.hearth);
  }
  if (!bin) throw new Error(`no built 'hearth' bin under ${packages}: run pnpm run build at the root`);
  // Without the test runner's NODE_TEST_CONTEXT a child is not treated as a test file.
  const { NODE_TEST_CONTEXT: _ctx, ...env } = process.env;
  const proc = spawn(process.execPath, [bin, "server", "--port", "0", ...args], { env, stdio: ["ignore", "ignore", "pipe"] });
  let err = "";
  const url = await new Promise<string>((res, rej) => {
    const timer = setTimeout(() => rej(new Error(`hearth server did not start within 120 s:\n${err}`)), 120_000);
    proc.stderr!.on("data", (d: Buffer) => {
      err += d.toString();
      const m = /^hearth server listening on (http:\/\/\S+)$/m.exec(err);
      if (m) { clearTimeout(timer); res(m[1]!); }
    });
    proc.once("exit", (code) => { clearTimeout(timer); rej(new Error(`hearth server exited with ${code}:\n${err}`)); });
  });
  return {
    url, stderr: () => err,
    close: async () => {
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      const exited = new Promise((r) => proc.once("exit", r));
      proc.kill("SIGTERM");
      await exited;
    },
  };
}

// Loads the WebAssembly build of the engine (packages/engine/wasm/prebuilt, committed) in Node. The wasm module
// exports the same Node-API addon as the native build, through emnapi, so the rest of the engine cannot tell
// them apart except through backendInfo().
import { createRequire } from "node:module";
import { existsSync, readFileSync, readdirSync, statSync } from "node:fs";
import { cpus } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

/** What the emscripten glue (wasm/prebuilt/hearth*.js) exposes once the module is ready. */
export interface EmscriptenModule {
  emnapiInit(opts: { context: unknown; filename?: string }): Record<string, unknown>;
  FS: any;
  NODEFS?: unknown;
  ENV: Record<string, string>;
}

export function wasmPrebuiltDir(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    const p = join(dir, "wasm", "prebuilt");
    if (existsSync(join(p, "hearth.wasm"))) return p;
    dir = dirname(dir);
  }
  throw new Error("[backend] the WebAssembly engine (wasm/prebuilt/hearth.wasm) is missing from this installation");
}

/** Kernel threads for the wasm build: HEARTH_THREADS if set, else one per core up to 4 (each is a Worker). */
export function wasmThreadCount(): number {
  const v = process.env.HEARTH_THREADS;
  if (v !== undefined && v !== "") {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 1) throw new Error(`[backend] HEARTH_THREADS must be a positive integer, got "${v}"`);
    return n;
  }
  return Math.max(1, Math.min(4, cpus().length));
}

// The wasm file system sees the host's: each top-level directory is mounted through NODEFS at the same path
// (emscripten's own /dev and /proc stay), and the working directory is the process's, so paths mean the same.
function mountHostFs(M: EmscriptenModule): void {
  const FS = M.FS;
  for (const name of readdirSync("/")) {
    if (name === "dev" || name === "proc" || name === "sys") continue;
    const host = "/" + name;
    let isDir = false;
    try {
      isDir = statSync(host).isDirectory();
    } catch {
      continue;  // unreadable entries (dangling links) are skipped
    }
    if (!isDir) continue;
    try {
      FS.mkdir(host);
    } catch {
      // already there (emscripten creates /tmp and /home)
    }
    FS.mount(M.NODEFS, { root: host }, host);
  }
  FS.chdir(process.cwd());
}

export interface WasmAddon {
  addon: Record<string, unknown>;
  threads: number;
}

/** Instantiates the wasm engine; with threads > 1 the pthread build with threads - 1 preloaded workers. */
export async function loadWasmAddon(): Promise<WasmAddon> {
  const dir = wasmPrebuiltDir();
  const threads = wasmThreadCount();
  const mt = threads > 1 && existsSync(join(dir, "hearth-mt.js"));
  const glue = join(dir, mt ? "hearth-mt.js" : "hearth.js");
  const require = createRequire(import.meta.url);
  const factory = require(glue) as (opts: object) => Promise<EmscriptenModule>;
  const { getDefaultContext } = require("@emnapi/runtime") as { getDefaultContext(): unknown };
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (k.startsWith("HEARTH_") && v !== undefined) env[k] = v;
  env.HEARTH_WASM_THREADS = String(mt ? threads : 1);
  const M = await factory({
    // The bytes are handed over: emscripten 3.1.6's glue would otherwise fetch() a file path, which Node's
    // fetch rejects.
    wasmBinary: readFileSync(glue.replace(/\.js$/, ".wasm")),
    hearthPoolSize: mt ? threads - 1 : 0,
    // getenv() in C++ sees the HEARTH_* variables (HEARTH_ISA, HEARTH_POOL_SPIN...) as in the native build.
    preRun: [(m: EmscriptenModule) => Object.assign(m.ENV, env)],
    print: (s: string) => process.stdout.write(s + "\n"),
    printErr: (s: string) => process.stderr.write(s + "\n"),
  });
  (M as { hearthUnrefWorkers?: () => void }).hearthUnrefWorkers?.(); // pool workers must not keep Node alive
  mountHostFs(M);
  const addon = M.emnapiInit({ context: getDefaultContext(), filename: glue });
  return { addon, threads: mt ? threads : 1 };
}

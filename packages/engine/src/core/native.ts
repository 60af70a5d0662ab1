// Loads the C++ addon once. Everything native goes through this typed facade.
import { createRequire } from "node:module";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { EngineError } from "./errors.js";

/** The JS handle class of native arrays (methods are added by core/array-methods.ts). */
export interface NativeArrayHandle {
  _shape(): number[];
  _dtype(): number;
  _size(): number;
  _ndim(): number;
  _nbytes(): number;
  _item(): number;
  _toBytes(): ArrayBuffer;
  _dispose(): void;
  _disposed(): boolean;
  _evaluated(): boolean;
}

type H = NativeArrayHandle;
// The addon's exports; op families add functions here as they are bound.
export interface NativeAddon {
  NativeArray: { new (): H; prototype: H };
  setErrorClass(c: unknown): void;
  fromBytes(data: ArrayBufferView | ArrayBuffer, shape: number[], dtype: number): H;
  eval(arrays: H[]): void;
  asyncEval(arrays: H[]): Promise<void>;
  makeTracer(a: H): H;
  backprop(outputs: H[], cotangents: H[], inputs: H[]): H[];
  beginTrace(): void;
  endTrace(): void;
  isTracer(a: H): boolean;
  sameNode(a: H, b: H): boolean;
  getActiveMemory(): number;
  getPeakMemory(): number;
  resetPeakMemory(): void;
  getCacheMemory(): number;
  setCacheLimit(n: number): number;
  setMemoryLimit(n: number): number;
  getMemoryLimit(): number;
  clearCache(): void;
  numThreads(): number;
  setNumThreads(n: number): void;
  cpuInfo(): Record<string, string | boolean>;
  unaryOpNames(): string[];
  binaryOpNames(): string[];
  unary(op: number, a: H): H;
  binary(op: number, a: H, b: H): H;
  where(c: H, x: H, y: H): H;
  astype(a: H, dtype: number): H;
  reshape(a: H, shape: number[]): H;
  transpose(a: H, axes?: number[]): H;
  broadcastTo(a: H, shape: number[]): H;
  expandDims(a: H, axes: number[]): H;
  squeeze(a: H, axes?: number[]): H;
  flatten(a: H, start: number, end: number): H;
  swapaxes(a: H, a1: number, a2: number): H;
  moveaxis(a: H, s: number, d: number): H;
  stopGradient(a: H): H;
  contiguous(a: H): H;
  full(shape: number[], value: number, dtype: number): H;
  arange(start: number, stop: number, step: number, dtype: number): H;
  linspace(start: number, stop: number, num: number, dtype: number): H;
  eye(n: number, m: number, k: number, dtype: number): H;
  reduce(op: string, a: H, axes: number[] | null, keepdims: boolean): H;
  argmax(a: H, axis: number, keepdims: boolean): H;
  argmin(a: H, axis: number, keepdims: boolean): H;
  // Families bound in other files are reached through this index signature.
  [name: string]: any;
}

function findAddon(): string {
  // HEARTH_ADDON points at a specific build (used when several builds of the tree coexist).
  if (process.env.HEARTH_ADDON) return process.env.HEARTH_ADDON;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    for (const sub of ["build/Release/hearth_native.node", "build/Debug/hearth_native.node"]) {
      const p = join(dir, sub);
      if (existsSync(p)) return p;
    }
    dir = dirname(dir);
  }
  throw new Error(
    "The Hearth native addon (hearth_native.node) was not found: build it with `pnpm --filter @hearth/engine run build:native`",
  );
}

/** Which engine build is running: the native addon or WebAssembly, its kernel ISA, and its kernel threads. */
export interface BackendInfo {
  backend: "native" | "wasm";
  isa: string;
  threads: number;
}

// HEARTH_BACKEND=native|wasm forces a build; unset, the native addon is used when it loads, else WebAssembly
// (the package ships the .wasm, so an install without a C++ toolchain still works).
async function loadBackend(): Promise<{ addon: NativeAddon; backend: "native" | "wasm" }> {
  const choice = process.env.HEARTH_BACKEND;
  if (choice !== undefined && choice !== "" && choice !== "native" && choice !== "wasm")
    throw new EngineError(`[backend] HEARTH_BACKEND must be "native" or "wasm", got "${choice}"`);
  const wasm = async () => {
    const { loadWasmAddon } = await import("./wasm-loader.js");
    return { addon: (await loadWasmAddon()).addon as unknown as NativeAddon, backend: "wasm" as const };
  };
  if (choice === "wasm") return wasm();
  const require = createRequire(import.meta.url);
  if (choice === "native") return { addon: require(findAddon()) as NativeAddon, backend: "native" };
  let addon: NativeAddon;
  try {
    addon = require(findAddon()) as NativeAddon;
  } catch (e) {
    const why = (e instanceof Error ? e.message : String(e)).split("\n")[0];
    process.stderr.write(`hearth: native addon unavailable (${why}); using the WebAssembly engine\n`);
    return wasm();
  }
  return { addon, backend: "native" };
}

const loaded = await loadBackend();
export const native: NativeAddon = loaded.addon;
native.setErrorClass(EngineError);

export function backendInfo(): BackendInfo {
  return { backend: loaded.backend, isa: String(native.cpuInfo().isa), threads: native.numThreads() };
}

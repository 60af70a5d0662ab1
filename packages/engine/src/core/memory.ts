// Memory accounting and limits of the engine's allocator, and devices.
import { totalmem } from "node:os";
import { EngineError } from "./errors.js";
import { native } from "./native.js";

export const getActiveMemory = (): number => native.getActiveMemory();
export const getPeakMemory = (): number => native.getPeakMemory();
export const resetPeakMemory = (): void => native.resetPeakMemory();
export const getCacheMemory = (): number => native.getCacheMemory();
/** Bytes of freed buffers kept for reuse; returns the previous limit. */
export const setCacheLimit = (bytes: number): number => native.setCacheLimit(bytes);
/** An allocation past this many bytes throws an EngineError (code ENOMEM); 0 removes the limit. */
export const setMemoryLimit = (bytes: number): number => native.setMemoryLimit(bytes);
export const getMemoryLimit = (): number => native.getMemoryLimit();
export const clearCache = (): void => native.clearCache();

/**
 * The buffer cache's default bound: an eighth of the machine's memory, at most 2 GiB ($HEARTH_CACHE_LIMIT_MB
 * overrides it). Unbounded, the cache keeps every freed buffer, and a growing KV cache frees a buffer of a new size
 * at each growth step that is never reused, so a long generation's RSS grew without end (issue 17).
 */
export function defaultCacheLimit(): number {
  const env = Number(process.env.HEARTH_CACHE_LIMIT_MB);
  if (process.env.HEARTH_CACHE_LIMIT_MB !== undefined && Number.isFinite(env) && env >= 0) return Math.floor(env * 2 ** 20);
  return Math.min(2 * 2 ** 30, Math.floor(totalmem() / 8));
}
native.setCacheLimit(defaultCacheLimit());

export class Device {
  constructor(readonly type: "cpu" | "gpu", readonly index = 0) {}
  toString(): string {
    return `Device(${this.type}, ${this.index})`;
  }
}
export const cpu = new Device("cpu");
export const gpu = new Device("gpu");
let current = cpu;

export function defaultDevice(): Device {
  return current;
}
export function setDefaultDevice(d: Device): void {
  if (d.type === "gpu")
    throw new EngineError("[setDefaultDevice] the GPU backend (CUDA) is not built into this binary; use mx.cpu");
  current = d;
}
export function isAvailable(d: Device): boolean {
  return d.type === "cpu";
}
/** Kernel threads (one per core by default). */
export const setNumThreads = (n: number): void => native.setNumThreads(n);
export const numThreads = (): number => native.numThreads();
export const cpuInfo = () => native.cpuInfo();
/** `{ backend: "native" | "wasm", isa, threads }`: which engine build runs (HEARTH_BACKEND picks one). */
export { backendInfo, type BackendInfo } from "./native.js";
/**
 * The kernels this process dispatches to (ISA level after HEARTH_ISA, AMX, and the f32/bf16 GEMM, quantized product
 * and packed quantized product kernels), as `hearth bench` prints them.
 */
export function kernelInfo(): { isa: string; amx: boolean; gemm: string; quantized: string; packed: string } {
  const n = native as unknown as { gemmKernelName(): string; quantizedKernelName(): string; packedQuantizedKernelName(): string };
  const c = native.cpuInfo();
  return { isa: String(c.isa), amx: !!(c.amxBf16 || c.amxInt8), gemm: n.gemmKernelName(), quantized: n.quantizedKernelName(), packed: n.packedQuantizedKernelName() };
}
/** Read bandwidth of this machine (streams a buffer of `bytes` `repeats` times): best and median GB/s. */
export const measureReadBandwidth = (bytes: number, repeats = 5): { bestGBs: number; medianGBs: number; kernel: string } =>
  native.measureReadBandwidth(bytes, repeats);

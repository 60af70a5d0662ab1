// Browser stand-in for src/core/native.ts: the addon is the emnapi module the worker instantiated.
import { EngineError } from "../../src/core/errors.js";
import type { BackendInfo, NativeAddon } from "../../src/core/native.js";
import { wasmHost } from "./wasm-host.js";

export type { BackendInfo, NativeAddon, NativeArrayHandle } from "../../src/core/native.js";

export const native = wasmHost().addon as unknown as NativeAddon;
native.setErrorClass(EngineError);

export function backendInfo(): BackendInfo {
  return { backend: "wasm", isa: String(native.cpuInfo().isa), threads: native.numThreads() };
}

// What the worker hands to the engine bundle before it is initialised: the emnapi addon, the emscripten file
// system (the model's files live there) and the thread count.
export interface WasmHost {
  addon: Record<string, unknown>;
  FS: any;
  threads: number;
}

export function wasmHost(): WasmHost {
  const h = (globalThis as { __hearthWasm?: WasmHost }).__hearthWasm;
  if (!h) throw new Error("[backend] the WebAssembly engine is not loaded yet (the worker sets it up first)");
  return h;
}

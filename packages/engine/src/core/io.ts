// Safetensors I/O: mx.load / mx.loadWithMetadata (memory-mapped, zero-copy) and mx.saveSafetensors (atomic).
// The work is in C++ (native/io/load.cpp); this file checks arguments and builds the records.
import { isArray, track, type MxArray } from "./array.js";
import { EngineError } from "./errors.js";
import { native } from "./native.js";

/** Tensor name -> array, as `mx.load` returns it. */
export type ArrayRecord = Record<string, MxArray>;

function checkPath(path: unknown, op: string): string {
  if (typeof path !== "string") throw new EngineError(`[${op}] path must be a string, got ${typeof path}`);
  if (path.length === 0) throw new EngineError(`[${op}] path is empty`);
  if (path.includes("\0")) throw new EngineError(`[${op}] ${JSON.stringify(path)}: path contains a NUL character`);
  return path;
}

// Plain objects whose keys are tensor names: defineProperty, so a name like "__proto__" is just a key.
function record<T>(keys: string[], values: T[]): Record<string, T> {
  const out: Record<string, T> = {};
  for (let i = 0; i < keys.length; i++)
    Object.defineProperty(out, keys[i], { value: values[i], enumerable: true, writable: true, configurable: true });
  return out;
}

/**
 * Loads the tensors of a `.safetensors` file, a sharded checkpoint (`model.safetensors.index.json`, or any
 * `*.json` index with a `weight_map`), or a folder (its `model.safetensors`, else its index, else all its
 * `*.safetensors` files). Arrays are evaluated views of a read-only memory map: nothing is read from disk
 * until it is used, and the file stays mapped until its last array is freed. Malformed files throw an
 * `EngineError` naming the file, the tensor and the rule broken.
 */
export function load(path: string): ArrayRecord {
  return loadWithMetadata(path)[0];
}

/** Like `load`, also returning the file's `__metadata__` strings (merged over shards; first value wins). */
export function loadWithMetadata(path: string): [ArrayRecord, Record<string, string>] {
  const [names, arrays, keys, values] = native.loadSafetensors(checkPath(path, "load")) as [
    string[], MxArray[], string[], string[],
  ];
  for (const a of arrays) track(a);
  return [record(names, arrays), record(keys, values)];
}

/**
 * Saves arrays to a safetensors file, like MLX's `mx.save_safetensors`: ".safetensors" is appended to a path
 * without it. The arrays are evaluated first (strided ones copied row-major), then written to a temporary file
 * that replaces `path` by rename, so a failure (bad names, an evaluation error, I/O) leaves an existing file as
 * it was. Tensors are stored by element size, then name, so each is aligned for a zero-copy load.
 */
export function saveSafetensors(
  path: string,
  arrays: Record<string, MxArray> | Map<string, MxArray>,
  metadata?: Record<string, string> | Map<string, string>,
): void {
  let file = checkPath(path, "save");
  if (!file.endsWith(".safetensors")) file += ".safetensors";
  if (arrays === null || typeof arrays !== "object" || isArray(arrays))
    throw new EngineError(`[save] ${file}: arrays must be an object (or Map) of name -> array`);
  const entries = arrays instanceof Map ? [...arrays.entries()] : Object.entries(arrays);
  for (const [name, a] of entries) {
    if (typeof name !== "string") throw new EngineError(`[save] ${file}: tensor names must be strings`);
    if (!isArray(a))
      throw new EngineError(`[save] ${file}: tensor ${JSON.stringify(name)}: expected an array, got ${typeof a}`);
  }
  if (metadata !== undefined && metadata !== null && (typeof metadata !== "object" || isArray(metadata)))
    throw new EngineError(`[save] ${file}: metadata must be an object of string values`);
  const meta = metadata === undefined || metadata === null ? []
    : metadata instanceof Map ? [...metadata.entries()] : Object.entries(metadata);
  for (const [k, v] of meta)
    if (typeof k !== "string" || typeof v !== "string")
      throw new EngineError(
        `[save] ${file}: metadata value of ${JSON.stringify(k)} must be a string, got ${typeof v}`);
  native.saveSafetensors(
    file, entries.map((e) => e[0]), entries.map((e) => e[1]), meta.map((e) => e[0]), meta.map((e) => e[1]));
}

// The array handle users see: a native array with MLX's properties and methods. Creation from JS data,
// reading data back, and the lifetime helpers (dispose, tidy).
import { EngineError } from "./errors.js";
import { native, type NativeArrayHandle } from "./native.js";
import {
  bfloat16, bool_, Dtype, dtypeFromId, float16, float32, float64, int32, int64, int8, int16, toDtype, typedArrayFor,
  uint16, uint32, uint64, uint8, type TypedArray,
} from "./dtype.js";
import type { ArrayMethods } from "./array-methods-types.js";

/** An MLX-style lazy array. Ops build a graph; data is computed on `mx.eval`, `item()`, `tolist()`, etc. */
export interface MxArray extends NativeArrayHandle, ArrayMethods {
  readonly shape: number[];
  readonly dtype: Dtype;
  readonly size: number;
  readonly ndim: number;
  readonly nbytes: number;
  readonly itemsize: number;
  /** The one element as a JS number (boolean for bool arrays). */
  item(): number | boolean;
  /** Nested JS arrays (numbers; booleans for bool). */
  tolist(): unknown;
  /** The elements, row-major. bfloat16/float16 come back as raw Uint16Array bits (use toFloat32Array()). */
  toTypedArray(): TypedArray;
  /** The elements converted to float32 (any dtype). */
  toFloat32Array(): Float32Array;
  /** Releases the data now instead of at garbage collection; the array can't be used afterwards. */
  dispose(): void;
  readonly disposed: boolean;
}

export type ArrayLike = MxArray | number | boolean;
export type NestedNumbers = number | boolean | NestedNumbers[];

export const ArrayClass = native.NativeArray as unknown as { new (): MxArray; prototype: MxArray };

export function isArray(x: unknown): x is MxArray {
  return x instanceof (native.NativeArray as unknown as Function);
}

// ---- tidy scopes ----
const scopes: Set<MxArray>[] = [];

/** Registers a newly made array with the innermost tidy scope. Every op result passes through here. */
export function track<T extends NativeArrayHandle>(a: T): MxArray {
  const s = scopes[scopes.length - 1];
  if (s) s.add(a as unknown as MxArray);
  return a as unknown as MxArray;
}

function collectArrays(x: unknown, out: Set<MxArray>, seen = new Set<unknown>()): void {
  if (isArray(x)) { out.add(x); return; }
  if (x === null || typeof x !== "object" || seen.has(x)) return;
  seen.add(x);
  if (Array.isArray(x)) for (const v of x) collectArrays(v, out, seen);
  else if (Object.getPrototypeOf(x) === Object.prototype || x instanceof Map)
    for (const v of x instanceof Map ? x.values() : Object.values(x)) collectArrays(v, out, seen);
}

/** Runs fn and disposes every array created inside it except those it returns (like tf.tidy). */
export function tidy<T>(fn: () => T): T {
  scopes.push(new Set());
  let result: T;
  try {
    result = fn();
  } catch (e) {
    for (const a of scopes.pop()!) a._dispose();
    throw e;
  }
  if (result && typeof (result as { then?: unknown }).then === "function") {
    scopes.pop();
    throw new EngineError("[tidy] fn must be synchronous (it returned a Promise)");
  }
  const created = scopes.pop()!;
  const keep = new Set<MxArray>();
  collectArrays(result, keep);
  const parent = scopes[scopes.length - 1];
  for (const a of created) {
    if (keep.has(a)) parent?.add(a);
    else a._dispose();
  }
  return result;
}

/** Keeps arrays alive past the enclosing tidy scope. */
export function keep<T>(x: T): T {
  const s = new Set<MxArray>();
  collectArrays(x, s);
  for (const scope of scopes) for (const a of s) scope.delete(a);
  return x;
}

// ---- creation from JS data ----

function inferShape(x: NestedNumbers, shape: number[] = []): number[] {
  if (Array.isArray(x)) {
    shape.push(x.length);
    if (x.length) inferShape(x[0], shape);
  }
  return shape;
}

function flattenNested(x: NestedNumbers, shape: number[], depth: number, out: (number | boolean)[]): void {
  if (depth === shape.length) {
    if (Array.isArray(x)) throw new EngineError("[array] nested lists must be rectangular (ragged input)");
    if (typeof x !== "number" && typeof x !== "boolean")
      throw new EngineError(`[array] expected numbers or booleans, got ${typeof x}`);
    out.push(x);
    return;
  }
  if (!Array.isArray(x) || x.length !== shape[depth])
    throw new EngineError("[array] nested lists must be rectangular (ragged input)");
  for (const v of x) flattenNested(v, shape, depth + 1, out);
}

function typedDtype(t: ArrayBufferView): Dtype {
  if (t instanceof Float32Array) return float32;
  if (t instanceof Float64Array) return float32;  // as MLX does with float64 NumPy arrays
  if (t instanceof Int32Array) return int32;
  if (t instanceof Uint8Array || t instanceof Uint8ClampedArray) return uint8;
  if (t instanceof Int8Array) return int8;
  if (t instanceof Int16Array) return int16;
  if (t instanceof Uint16Array) return uint16;
  if (t instanceof Uint32Array) return uint32;
  if (t instanceof BigInt64Array) return int64;
  if (t instanceof BigUint64Array) return uint64;
  throw new EngineError("[array] unsupported typed array");
}

function nativeTypedDtype(t: ArrayBufferView): Dtype {
  return t instanceof Float64Array ? float64 : typedDtype(t);
}

/**
 * mx.array(value, dtype?): from a number, boolean, nested lists, a TypedArray (1-D unless `shape` is given;
 * a Uint16Array with dtype bfloat16/float16 is taken as raw bits) or another array.
 */
export function array(value: NestedNumbers | ArrayBufferView | MxArray, dtype?: Dtype | string, shape?: number[]): MxArray {
  const dt = dtype === undefined ? undefined : toDtype(dtype);
  if (isArray(value)) return track(native.astype(value, (dt ?? value.dtype).id));
  if (ArrayBuffer.isView(value)) {
    const shp = shape ?? [value.byteLength / ((value as unknown as { BYTES_PER_ELEMENT: number }).BYTES_PER_ELEMENT ?? 1)];
    if (value instanceof Uint16Array && (dt === bfloat16 || dt === float16))
      return track(native.fromBytes(value, shp, dt.id));
    const src = nativeTypedDtype(value);
    const a = track(native.fromBytes(value, shp, src.id));
    const target = dt ?? typedDtype(value);
    return target === src ? a : track(native.astype(a, target.id));
  }
  const shp = inferShape(value);
  const flat: (number | boolean)[] = [];
  flattenNested(value, shp, 0, flat);
  let natural: Dtype;
  if (flat.length && flat.every((v) => typeof v === "boolean")) natural = bool_;
  else if (flat.every((v) => typeof v === "boolean" || Number.isInteger(v))) natural = int32;
  else natural = float32;
  const target = dt ?? natural;
  if (shape) throw new EngineError("[array] `shape` is only for typed array input");
  if (target === bool_ || target === uint8) {
    const data = Uint8Array.from(flat, (v) => (target === bool_ ? (v ? 1 : 0) : Number(v)));
    return track(native.fromBytes(data, shp, target.id));
  }
  if (target === int32 && natural !== float32) {
    return track(native.fromBytes(Int32Array.from(flat, Number), shp, int32.id));
  }
  if (target === float32) return track(native.fromBytes(Float32Array.from(flat, Number), shp, float32.id));
  const a = track(native.fromBytes(Float64Array.from(flat, Number), shp, float64.id));
  return track(native.astype(a, target.id));
}

// ---- reading data ----

function bf16ToFloat(bits: number): number {
  const buf = new Float32Array(1);
  new Uint32Array(buf.buffer)[0] = bits << 16;
  return buf[0];
}
function f16ToFloat(h: number): number {
  const s = h & 0x8000 ? -1 : 1, e = (h >> 10) & 0x1f, m = h & 0x3ff;
  if (e === 0) return s * m * 2 ** -24;
  if (e === 31) return m ? NaN : s * Infinity;
  return s * (1 + m / 1024) * 2 ** (e - 15);
}

export function toTypedArray(a: MxArray): TypedArray {
  const C = typedArrayFor(dtypeFromId(a._dtype()));
  return new C(a._toBytes());
}

export function toFloat32Array(a: MxArray): Float32Array {
  const dt = dtypeFromId(a._dtype());
  if (dt === float32) return new Float32Array(a._toBytes());
  const raw = toTypedArray(a);
  const out = new Float32Array(raw.length);
  if (dt === bfloat16) for (let i = 0; i < raw.length; i++) out[i] = bf16ToFloat(raw[i] as number);
  else if (dt === float16) for (let i = 0; i < raw.length; i++) out[i] = f16ToFloat(raw[i] as number);
  else for (let i = 0; i < raw.length; i++) out[i] = Number(raw[i]);
  return out;
}

function elementsAsJs(a: MxArray): (number | boolean)[] {
  const dt = dtypeFromId(a._dtype());
  if (dt === bool_) return Array.from(new Uint8Array(a._toBytes()), (v) => v !== 0);
  if (dt === bfloat16 || dt === float16) return Array.from(toFloat32Array(a));
  return Array.from(toTypedArray(a) as unknown as Iterable<number | bigint>, (v) => Number(v));
}

export function tolist(a: MxArray): unknown {
  const shape = a._shape();
  const flat = elementsAsJs(a);
  if (shape.length === 0) return flat[0];
  let i = 0;
  const build = (d: number): unknown[] => {
    const out: unknown[] = [];
    for (let k = 0; k < shape[d]; k++) out.push(d === shape.length - 1 ? flat[i++] : build(d + 1));
    return out;
  };
  return build(0);
}

export function item(a: MxArray): number | boolean {
  const v = a._item();
  return a._dtype() === bool_.id ? v !== 0 : v;
}

export { dtypeFromId, uint32 };

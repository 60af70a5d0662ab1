// Shapes and indexing with MLX semantics: strided slices (views), slice updates, gathers (take,
// takeAlongAxis) and scatters (putAlongAxis), concatenate / stack / split, pad, repeat, tile, triangles,
// outer products and diagonals. Every op is differentiable.
import { array, isArray, track, type ArrayLike, type MxArray, type NestedNumbers } from "./array.js";
import { int32, int64 } from "./dtype.js";
import { EngineError } from "./errors.js";
import { native } from "./native.js";
import { asArray, weakScalar } from "./scalars.js";

/** An index argument: an integer array, an integer, or (nested) lists of integers. */
export type Indices = MxArray | number | NestedNumbers[];

function checkInt(v: unknown, op: string, what: string): number {
  if (typeof v !== "number" || !Number.isInteger(v)) throw new EngineError(`[${op}] ${what} must be integers, got ${String(v)}`);
  return v;
}

function asIndices(x: Indices, op: string): MxArray {
  if (isArray(x)) return x;
  let big = false;
  const walk = (v: unknown): void => {
    if (Array.isArray(v)) { v.forEach(walk); return; }
    const n = checkInt(v, op, "indices");
    if (Math.abs(n) > 0x7fffffff) big = true;
  };
  walk(x);
  return array(x as NestedNumbers, big ? int64 : int32);
}

// Slice bounds: integers, with ±Infinity standing for "past the end" in either direction.
function bounds(v: number[], op: string, what: string): number[] {
  if (!Array.isArray(v)) throw new EngineError(`[${op}] ${what} must be a list of integers (one per axis)`);
  return v.map((x) => (x === Infinity ? 2 ** 62 : x === -Infinity ? -(2 ** 62) : checkInt(x, op, what)));
}

/** A value operand: arrays as they are, JS scalars weakly typed to `like`'s dtype (as MLX does). */
function asValue(x: ArrayLike, like: MxArray, op: string): MxArray {
  if (isArray(x)) return x;
  if (typeof x === "number" || typeof x === "boolean") return weakScalar(x, like.dtype);
  return asArray(x, op);
}

/**
 * a[start:stop:strides] per axis, as MLX's C++ `slice`: one entry per axis, negative indices count from the
 * end, out-of-range bounds clamp like Python slicing, negative strides walk backwards (use -Infinity, or any
 * stop below -size, to run to the start). Returns a view that shares a's data.
 */
export function slice(a: ArrayLike, start: number[], stop: number[], strides?: number[]): MxArray {
  return track(native.slice(asArray(a, "slice"), bounds(start, "slice", "start"), bounds(stop, "slice", "stop"),
    strides === undefined ? undefined : bounds(strides, "slice", "strides")));
}

/** A copy of a with a[start:stop:strides] replaced by update (broadcast to the slice, cast to a's dtype). */
export function sliceUpdate(a: ArrayLike, update: ArrayLike, start: number[], stop: number[], strides?: number[]): MxArray {
  const x = asArray(a, "sliceUpdate");
  return track(native.sliceUpdate(x, asValue(update, x, "sliceUpdate"), bounds(start, "sliceUpdate", "start"),
    bounds(stop, "sliceUpdate", "stop"), strides === undefined ? undefined : bounds(strides, "sliceUpdate", "strides")));
}

/**
 * Elements (or sub-arrays) of a at integer `indices` along `axis` (over the flattened array when axis is
 * omitted). Negative indices wrap; an out-of-range index is an EngineError. A number index drops the axis.
 */
export function take(a: ArrayLike, indices: Indices, axis?: number | null): MxArray {
  return track(native.take(asArray(a, "take"), asIndices(indices, "take"), axis ?? undefined));
}

/** out[..., j, ...] = a[..., indices[..., j, ...], ...] along axis (flattened when omitted); shapes broadcast. */
export function takeAlongAxis(a: ArrayLike, indices: Indices, axis?: number | null): MxArray {
  return track(native.takeAlongAxis(asArray(a, "takeAlongAxis"), asIndices(indices, "takeAlongAxis"), axis ?? undefined));
}

/** A copy of a with `values` written at `indices` along axis (flattened when omitted). */
export function putAlongAxis(a: ArrayLike, indices: Indices, values: ArrayLike, axis?: number | null): MxArray {
  const x = asArray(a, "putAlongAxis");
  return track(native.putAlongAxis(x, asIndices(indices, "putAlongAxis"), asValue(values, x, "putAlongAxis"), axis ?? undefined));
}

function arrayList(arrays: ArrayLike[], op: string): MxArray[] {
  if (!Array.isArray(arrays)) throw new EngineError(`[${op}] expected a list of arrays`);
  return arrays.map((x) => asArray(x, op));
}

/** Joins arrays along an existing axis (dtypes promote). axis null: flattens every array first. */
export function concatenate(arrays: ArrayLike[], axis: number | null = 0): MxArray {
  let xs = arrayList(arrays, "concatenate");
  if (axis === null) {
    xs = xs.map((x) => track(native.reshape(x, [-1])));
    axis = 0;
  }
  return track(native.concatenate(xs, axis));
}

/** Joins same-shaped arrays along a new axis. */
export function stack(arrays: ArrayLike[], axis = 0): MxArray {
  return track(native.stack(arrayList(arrays, "stack"), axis));
}

/**
 * Splits a along axis into `indicesOrSections` equal parts (a number; it must divide the axis) or at the
 * given split points (a list, NumPy semantics). The parts are views.
 */
export function split(a: ArrayLike, indicesOrSections: number | number[], axis = 0): MxArray[] {
  const x = asArray(a, "split");
  const arg = Array.isArray(indicesOrSections)
    ? indicesOrSections.map((v) => checkInt(v, "split", "split points"))
    : checkInt(indicesOrSections, "split", "sections");
  return (native.split(x, arg, axis) as MxArray[]).map((p) => track(p));
}

/** Pad widths: n (all axes, both sides), [n], [before, after] (all axes), or one [before, after] per axis. */
export type PadWidth = number | [number] | [number, number] | ([number, number] | [number])[];

function padPairs(w: PadWidth, ndim: number): number[] {
  const pair = (p: number | number[]): [number, number] => {
    const q = typeof p === "number" ? [p, p] : p.length === 1 ? [p[0], p[0]] : p;
    if (q.length !== 2) throw new EngineError("[pad] each pad width must be a number or a [before, after] pair");
    return [checkInt(q[0], "pad", "pad widths"), checkInt(q[1], "pad", "pad widths")];
  };
  let pairs: [number, number][];
  if (typeof w === "number") pairs = Array.from({ length: ndim }, () => pair(w));
  else if (!Array.isArray(w)) throw new EngineError("[pad] padWidth must be a number or a list");
  else if (w.every((v) => typeof v === "number")) pairs = Array.from({ length: ndim }, () => pair(w as number[]));
  else if (w.length === 1) pairs = Array.from({ length: ndim }, () => pair(w[0] as number[]));
  else pairs = (w as number[][]).map((p) => pair(p));
  return pairs.flat();
}

/**
 * Pads a: padWidth as NumPy/MLX (a number, [before, after], or one pair per axis); mode "constant" (fills with
 * constantValues, a scalar) or "edge" (repeats the border values).
 */
export function pad(a: ArrayLike, padWidth: PadWidth, mode: "constant" | "edge" = "constant", constantValues: ArrayLike = 0): MxArray {
  const x = asArray(a, "pad");
  return track(native.pad(x, padPairs(padWidth, x.ndim), asValue(constantValues, x, "pad"), mode));
}

/** Repeats each element `repeats` times (or repeats[i] times for element i) along axis (flattened when omitted). */
export function repeat(a: ArrayLike, repeats: number | number[], axis?: number | null): MxArray {
  const r = Array.isArray(repeats) ? repeats.map((v) => checkInt(v, "repeat", "repeats")) : checkInt(repeats, "repeat", "repeats");
  return track(native.repeat(asArray(a, "repeat"), r, axis ?? undefined));
}

/** Tiles a `reps` times per axis (NumPy semantics when reps and a.ndim differ in length). */
export function tile(a: ArrayLike, reps: number | number[]): MxArray {
  const r = (typeof reps === "number" ? [reps] : reps).map((v) => checkInt(v, "tile", "reps"));
  return track(native.tile(asArray(a, "tile"), r));
}

/** Zeros below diagonal k of the last two axes. */
export function triu(a: ArrayLike, k = 0): MxArray {
  return track(native.triu(asArray(a, "triu"), checkInt(k, "triu", "k")));
}

/** Zeros above diagonal k of the last two axes. */
export function tril(a: ArrayLike, k = 0): MxArray {
  return track(native.tril(asArray(a, "tril"), checkInt(k, "tril", "k")));
}

/** The outer product of the flattened inputs. */
export function outer(a: ArrayLike, b: ArrayLike): MxArray {
  return track(native.outer(asArray(a, "outer"), asArray(b, "outer")));
}

/** The diagonal (offset > 0 above) of axes axis1/axis2, moved to the last axis; a view. */
export function diagonal(a: ArrayLike, offset = 0, axis1 = 0, axis2 = 1): MxArray {
  return track(native.diagonal(asArray(a, "diagonal"), checkInt(offset, "diagonal", "offset"), axis1, axis2));
}

/** 1-D input: a square matrix with a on diagonal k. 2-D input: its k-th diagonal. */
export function diag(a: ArrayLike, k = 0): MxArray {
  return track(native.diag(asArray(a, "diag"), checkInt(k, "diag", "k")));
}

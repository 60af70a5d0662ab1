// Scans (cumsum, cumprod, cummax, cummin) and the sort family (sort, argsort, partition, argpartition, topk),
// with MLX's names and argument order. `axis` null/undefined where MLX takes None means the flattened array.
import { track, type ArrayLike, type MxArray } from "./array.js";
import { native } from "./native.js";
import { asArray } from "./scalars.js";

export interface ScanOptions {
  /** Scan from the end of the axis towards the start (default false). */
  reverse?: boolean;
  /** Include the element itself (default true); exclusive scans start from the op's identity. */
  inclusive?: boolean;
}

function flatIfNone(a: MxArray, axis: number | null | undefined): [MxArray, number] {
  if (axis === undefined || axis === null) return [track(native.reshape(a, [-1])), 0];
  return [a, axis];
}

function scanOp(op: string) {
  return (a: ArrayLike, axis?: number | null, opts: ScanOptions = {}): MxArray => {
    const [x, ax] = flatIfNone(asArray(a, op), axis);
    return track(native.scan(op, x, ax, opts.reverse ?? false, opts.inclusive ?? true));
  };
}

/**
 * Cumulative sum along `axis` (all elements, flattened, when axis is undefined), as MLX's
 * `cumsum(a, axis=None, *, reverse=False, inclusive=True)`. Bool input counts in int32.
 * Gradient: the cotangent's cumulative sum in the opposite direction.
 */
export const cumsum = scanOp("cumsum");
/**
 * Cumulative product. The gradient is exact with zeros in the input (no division by zero): before the first
 * zero it is out/x, at the first zero the product of the others, after it 0.
 */
export const cumprod = scanOp("cumprod");
/** Running maximum (NaN propagates). The gradient goes to the element each output was taken from (first
 * occurrence on ties). */
export const cummax = scanOp("cummax");
/** Running minimum (NaN propagates); gradient as cummax. */
export const cummin = scanOp("cummin");

/**
 * Sorted copy along `axis` (default -1; null sorts the flattened array). Stable, NaN last as NumPy.
 * Differentiable: the gradient is scattered back through the sorting permutation.
 */
export function sort(a: ArrayLike, axis: number | null = -1): MxArray {
  const [x, ax] = flatIfNone(asArray(a, "sort"), axis);
  return track(native.sort(x, ax));
}

/** The positions that sort `a` along `axis` (uint32, stable, NaN last). */
export function argsort(a: ArrayLike, axis: number | null = -1): MxArray {
  const [x, ax] = flatIfNone(asArray(a, "argsort"), axis);
  return track(native.argsort(x, ax));
}

/**
 * The `k` largest values along `axis` (default -1; null flattens), **sorted in descending order** (MLX leaves
 * the order unspecified; Hearth always returns them largest first, ties in original order). O(n) per row:
 * a selection, then a sort of the k chosen. Differentiable (gradient to the chosen elements).
 */
export function topk(a: ArrayLike, k: number, axis: number | null = -1): MxArray {
  const [x, ax] = flatIfNone(asArray(a, "topk"), axis);
  return track(native.topk(x, k, ax));
}

/**
 * Positions (uint32) of `topk(a, k, axis)`'s values, in the same order. Not an MLX function; samplers use it to
 * keep the k most likely tokens without a second pass.
 */
export function topkIndices(a: ArrayLike, k: number, axis: number | null = -1): MxArray {
  const [x, ax] = flatIfNone(asArray(a, "topk"), axis);
  return track(native.topkIndices(x, k, ax));
}

/**
 * A copy where the element of rank `kth` (negative counts from the end) is in its sorted position, the smaller
 * ones before it and the larger ones after (each group in original order). O(n) per row. Differentiable.
 */
export function partition(a: ArrayLike, kth: number, axis: number | null = -1): MxArray {
  const [x, ax] = flatIfNone(asArray(a, "partition"), axis);
  return track(native.partition(x, kth, ax));
}

/** The positions (uint32) that `partition(a, kth, axis)` would take its values from. */
export function argpartition(a: ArrayLike, kth: number, axis: number | null = -1): MxArray {
  const [x, ax] = flatIfNone(asArray(a, "argpartition"), axis);
  return track(native.argpartition(x, kth, ax));
}

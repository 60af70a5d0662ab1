// Linear algebra and convolutions, in C++ (native/core/ops/linalg): matmul (batched, broadcasting), addmm,
// inner, tensordot, and MLX's convolutions (channels-last layouts, im2col + GEMM).
import { track, type ArrayLike, type MxArray } from "./array.js";
import { EngineError } from "./errors.js";
import { native } from "./native.js";
import { asArray, asPair } from "./scalars.js";

export function matmul(a: ArrayLike, b: ArrayLike): MxArray {
  const [x, y] = asPair(a, b, "matmul");
  return track(native.matmul(x, y));
}

/** beta * c + alpha * (a @ b), with c broadcast to the product's shape; one fused GEMM. */
export function addmm(c: ArrayLike, a: ArrayLike, b: ArrayLike, alpha = 1, beta = 1): MxArray {
  const [x, y] = asPair(a, b, "addmm");
  return track(native.addmm(asArray(c, "addmm"), x, y, num(alpha, "addmm", "alpha"), num(beta, "addmm", "beta")));
}

/** Sum of products over the last axes of a and b (NumPy `inner`); a 0-d operand multiplies. */
export function inner(a: ArrayLike, b: ArrayLike): MxArray {
  const [x, y] = asPair(a, b, "inner");
  return track(native.inner(x, y));
}

/**
 * Contracts the last `axes` dims of a with the first `axes` of b (default 2), or the listed axes:
 * `axes = [[a axes...], [b axes...]]`.
 */
export function tensordot(a: ArrayLike, b: ArrayLike, axes: number | [number[], number[]] = 2): MxArray {
  const [x, y] = asPair(a, b, "tensordot");
  if (typeof axes === "number") return track(native.tensordotN(x, y, axes));
  if (!Array.isArray(axes) || axes.length !== 2 || !Array.isArray(axes[0]) || !Array.isArray(axes[1]))
    throw new EngineError("[tensordot] axes must be a number or a pair of axis lists [[a axes], [b axes]]");
  return track(native.tensordot(x, y, axes[0], axes[1]));
}

/**
 * Einstein summation as in NumPy/MLX: `einsum("ij,jk->ik", a, b)`, with "...", implicit outputs and
 * repeated labels (diagonals). Pairs of operands contract left to right as batched matmuls.
 */
export function einsum(subscripts: string, ...operands: ArrayLike[]): MxArray {
  if (typeof subscripts !== "string") throw new EngineError("[einsum] the subscripts must be a string");
  return track(native.einsum(subscripts, operands.map((o) => asArray(o, "einsum"))));
}

// ---- convolutions ----

/** A number, or a list of one entry per spatial dim. */
export type SpatialArg = number | number[];

function num(v: number, op: string, what: string): number {
  if (typeof v !== "number" || Number.isNaN(v)) throw new EngineError(`[${op}] ${what} must be a number, got ${String(v)}`);
  return v;
}

function ints(v: SpatialArg, dims: number, op: string, what: string): number[] {
  const list = typeof v === "number" ? [v] : v;
  if (!Array.isArray(list) || (list.length !== 1 && list.length !== dims) || !list.every((x) => Number.isInteger(x)))
    throw new EngineError(`[${op}] ${what} must be an integer or a list of ${dims} integers, got ${JSON.stringify(v)}`);
  return list.length === dims ? list : new Array<number>(dims).fill(list[0]);
}

function group(v: number, op: string): number {
  if (!Number.isInteger(v)) throw new EngineError(`[${op}] groups must be an integer, got ${String(v)}`);
  return v;
}

function convNd(dims: number, op: string, input: ArrayLike, weight: ArrayLike, stride: SpatialArg, padding: SpatialArg,
                dilation: SpatialArg, groups: number): MxArray {
  const [x, w] = asPair(input, weight, op);
  return track(native.convNd(x, w, dims, ints(stride, dims, op, "stride"), ints(padding, dims, op, "padding"),
    ints(dilation, dims, op, "dilation"), group(groups, op)));
}

/** 1-D convolution: input [N, L, C_in], weight [C_out, K, C_in / groups] -> [N, L_out, C_out]. */
export function conv1d(input: ArrayLike, weight: ArrayLike, stride = 1, padding = 0, dilation = 1, groups = 1): MxArray {
  return convNd(1, "conv1d", input, weight, stride, padding, dilation, groups);
}

/** 2-D convolution: input [N, H, W, C_in], weight [C_out, KH, KW, C_in / groups] -> [N, H_out, W_out, C_out]. */
export function conv2d(input: ArrayLike, weight: ArrayLike, stride: SpatialArg = 1, padding: SpatialArg = 0,
                       dilation: SpatialArg = 1, groups = 1): MxArray {
  return convNd(2, "conv2d", input, weight, stride, padding, dilation, groups);
}

/** 3-D convolution: input [N, D, H, W, C_in], weight [C_out, KD, KH, KW, C_in / groups]. */
export function conv3d(input: ArrayLike, weight: ArrayLike, stride: SpatialArg = 1, padding: SpatialArg = 0,
                       dilation: SpatialArg = 1, groups = 1): MxArray {
  return convNd(3, "conv3d", input, weight, stride, padding, dilation, groups);
}

/**
 * MLX conv_general: any number of spatial dims, padding as a number, one per dim, or `[low[], high[]]`,
 * kernel and input dilation, groups, and `flip` (true convolution instead of cross-correlation).
 */
export function convGeneral(input: ArrayLike, weight: ArrayLike, stride: SpatialArg = 1,
                            padding: SpatialArg | [number[], number[]] = 0, kernelDilation: SpatialArg = 1,
                            inputDilation: SpatialArg = 1, groups = 1, flip = false): MxArray {
  const op = "conv_general";
  const [x, w] = asPair(input, weight, op);
  const dims = Math.max(1, x.ndim - 2);
  let lo: number[], hi: number[];
  if (Array.isArray(padding) && padding.length === 2 && Array.isArray(padding[0]) && Array.isArray(padding[1])) {
    lo = ints(padding[0], dims, op, "padding (low)");
    hi = ints(padding[1], dims, op, "padding (high)");
  } else {
    lo = hi = ints(padding as SpatialArg, dims, op, "padding");
  }
  return track(native.convGeneral(x, w, ints(stride, dims, op, "stride"), lo, hi,
    ints(kernelDilation, dims, op, "kernelDilation"), ints(inputDilation, dims, op, "inputDilation"), group(groups, op),
    Boolean(flip)));
}

function convTransposeNd(dims: number, op: string, input: ArrayLike, weight: ArrayLike, stride: SpatialArg,
                         padding: SpatialArg, dilation: SpatialArg, outputPadding: SpatialArg, groups: number): MxArray {
  const [x, w] = asPair(input, weight, op);
  return track(native.convTransposeNd(x, w, dims, ints(stride, dims, op, "stride"), ints(padding, dims, op, "padding"),
    ints(dilation, dims, op, "dilation"), ints(outputPadding, dims, op, "outputPadding"), group(groups, op)));
}

/** Transposed 1-D convolution: input [N, L, C_in], weight [C_out, K, C_in / groups] (MLX layout). */
export function convTranspose1d(input: ArrayLike, weight: ArrayLike, stride = 1, padding = 0, dilation = 1,
                                outputPadding = 0, groups = 1): MxArray {
  return convTransposeNd(1, "conv_transpose1d", input, weight, stride, padding, dilation, outputPadding, groups);
}

/** Transposed 2-D convolution: input [N, H, W, C_in], weight [C_out, KH, KW, C_in / groups]. */
export function convTranspose2d(input: ArrayLike, weight: ArrayLike, stride: SpatialArg = 1, padding: SpatialArg = 0,
                                dilation: SpatialArg = 1, outputPadding: SpatialArg = 0, groups = 1): MxArray {
  return convTransposeNd(2, "conv_transpose2d", input, weight, stride, padding, dilation, outputPadding, groups);
}

/** Transposed 3-D convolution: input [N, D, H, W, C_in], weight [C_out, KD, KH, KW, C_in / groups]. */
export function convTranspose3d(input: ArrayLike, weight: ArrayLike, stride: SpatialArg = 1, padding: SpatialArg = 0,
                                dilation: SpatialArg = 1, outputPadding: SpatialArg = 0, groups = 1): MxArray {
  return convTransposeNd(3, "conv_transpose3d", input, weight, stride, padding, dilation, outputPadding, groups);
}

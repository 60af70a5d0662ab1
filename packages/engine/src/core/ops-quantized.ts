// MLX's affine group quantization (native/core/ops/quantized): quantize, dequantize, quantizedMatmul.
// The format is MLX's bit for bit, so mlx-community checkpoints load as they are.
import { track, type MxArray } from "./array.js";
import type { Dtype } from "./dtype.js";
import { EngineError } from "./errors.js";
import { native } from "./native.js";
import { asArray } from "./scalars.js";

export interface QuantizeOptions {
  /** Consecutive elements along the last axis that share a scale and bias: 32, 64 (default) or 128. */
  groupSize?: number;
  /** Bits per element: 2, 3, 4 (default), 5, 6 or 8. */
  bits?: number;
  /** Only "affine" (MLX's default mode) is supported. */
  mode?: string;
}

export interface Quantized {
  /** The packed codes, uint32 [..., K · bits / 32]: element i in bits [i·bits, (i+1)·bits) of its row. */
  wq: MxArray;
  /** Per-group scales [..., K / groupSize], in w's dtype. */
  scales: MxArray;
  /** Per-group biases (the group's edge value or 0), in w's dtype. */
  biases: MxArray;
}

// MLX's Python signatures also take group_size and bits positionally.
function positional(a: QuantizeOptions | number | null | undefined, b: number | null | undefined): QuantizeOptions {
  if (a !== null && typeof a === "object") return a;
  return { groupSize: a ?? undefined, bits: b ?? undefined };
}

function params(op: string, o: QuantizeOptions): [number, number] {
  if (o.mode !== undefined && o.mode !== "affine")
    throw new EngineError(`[${op}] quantization mode '${o.mode}' is not supported; only 'affine' is`);
  return [o.groupSize ?? 64, o.bits ?? 4];
}

/**
 * Quantizes w (float, ≥ 2-D, last dim divisible by groupSize) per group of `groupSize` elements along the
 * last axis: scale = (max − min) / (2^bits − 1) (signed so the edge of larger magnitude is exact), bias = that
 * edge, codes = round((w − bias) / scale) packed into uint32 words. `w ≈ scale · code + bias`.
 * The result destructures as an object or, like MLX's tuple, as `[wq, scales, biases]`.
 */
export function quantize(w: MxArray, options?: QuantizeOptions): Quantized & Iterable<MxArray>;
/** MLX's positional form: `quantize(w, groupSize, bits)`. */
export function quantize(w: MxArray, groupSize?: number | null, bits?: number | null): Quantized & Iterable<MxArray>;
export function quantize(w: MxArray, a?: QuantizeOptions | number | null, b?: number | null): Quantized & Iterable<MxArray> {
  const [gs, bits] = params("quantize", positional(a, b));
  const [wq, scales, biases] = (native.quantize(asArray(w, "quantize"), gs, bits) as MxArray[]).map((a) => track(a));
  const out = { wq, scales, biases };
  Object.defineProperty(out, Symbol.iterator, { value: function* () { yield wq; yield scales; yield biases; } });
  return out as Quantized & Iterable<MxArray>;
}

export interface DequantizeOptions extends QuantizeOptions {
  /** Cast the result to this dtype (default: the scales' dtype). */
  dtype?: Dtype;
}

/** The float matrix `scale · code + bias` back from mx.quantize's outputs (in the scales' dtype). */
export function dequantize(wq: MxArray, scales: MxArray, biases: MxArray, options?: DequantizeOptions): MxArray;
/** MLX's positional form: `dequantize(wq, scales, biases, groupSize, bits)`. */
export function dequantize(wq: MxArray, scales: MxArray, biases: MxArray, groupSize?: number | null, bits?: number | null): MxArray;
export function dequantize(wq: MxArray, scales: MxArray, biases: MxArray, a?: DequantizeOptions | number | null,
                           b?: number | null): MxArray {
  const op = "dequantize";
  const options: DequantizeOptions = positional(a, b);
  if (biases === null || biases === undefined)
    throw new EngineError(`[${op}] biases are required for affine quantization`);
  const [gs, bits] = params(op, options);
  const out = track(native.dequantize(asArray(wq, op), asArray(scales, op), asArray(biases, op), gs, bits));
  return options.dtype && options.dtype !== out.dtype ? track(native.astype(out, options.dtype.id)) : out;
}

export interface QuantizedMatmulOptions extends QuantizeOptions {
  /** true (default): x · Wᵀ with W [N, K] as in Linear; false: x · W with W [K, N]. */
  transpose?: boolean;
}

/**
 * x · dequantize(W)ᵀ (or x · dequantize(W) with transpose: false) without materialising W: the decode path
 * streams the packed weights once. Differentiable with respect to x (and scales/biases), not the codes.
 */
export function quantizedMatmul(x: MxArray, wq: MxArray, scales: MxArray, biases: MxArray,
                                options?: QuantizedMatmulOptions): MxArray;
/** MLX's positional form: `quantizedMatmul(x, wq, scales, biases, transpose, groupSize, bits)`. */
export function quantizedMatmul(x: MxArray, wq: MxArray, scales: MxArray, biases: MxArray, transpose?: boolean,
                                groupSize?: number | null, bits?: number | null): MxArray;
export function quantizedMatmul(x: MxArray, wq: MxArray, scales: MxArray, biases: MxArray,
                                a?: QuantizedMatmulOptions | boolean, gsArg?: number | null, bitsArg?: number | null): MxArray {
  const op = "quantizedMatmul";
  const options: QuantizedMatmulOptions = typeof a === "boolean" || a === undefined && (gsArg != null || bitsArg != null)
    ? { transpose: a as boolean | undefined, groupSize: gsArg ?? undefined, bits: bitsArg ?? undefined } : (a ?? {});
  if (biases === null || biases === undefined)
    throw new EngineError(`[${op}] biases are required for affine quantization`);
  const [gs, bits] = params(op, options);
  return track(native.quantizedMatmul(asArray(x, op), asArray(wq, op), asArray(scales, op), asArray(biases, op),
    options.transpose ?? true, gs, bits));
}

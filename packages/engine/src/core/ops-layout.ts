// Shape and dtype changes that need no arithmetic (views where possible), and arrays made from nothing.
import { isArray, track, type ArrayLike, type MxArray } from "./array.js";
import { Dtype, float32, int32, toDtype } from "./dtype.js";
import { native } from "./native.js";
import { asArray } from "./scalars.js";

export function astype(a: ArrayLike, dtype: Dtype | string): MxArray {
  return track(native.astype(asArray(a, "astype"), toDtype(dtype).id));
}
export function reshape(a: ArrayLike, shape: number[]): MxArray {
  return track(native.reshape(asArray(a, "reshape"), shape));
}
export function flatten(a: ArrayLike, startAxis = 0, endAxis = -1): MxArray {
  return track(native.flatten(asArray(a, "flatten"), startAxis, endAxis));
}
export function transpose(a: ArrayLike, axes?: number[]): MxArray {
  return track(native.transpose(asArray(a, "transpose"), axes));
}
export function swapaxes(a: ArrayLike, axis1: number, axis2: number): MxArray {
  return track(native.swapaxes(asArray(a, "swapaxes"), axis1, axis2));
}
export function moveaxis(a: ArrayLike, source: number, destination: number): MxArray {
  return track(native.moveaxis(asArray(a, "moveaxis"), source, destination));
}
export function expandDims(a: ArrayLike, axis: number | number[]): MxArray {
  return track(native.expandDims(asArray(a, "expandDims"), typeof axis === "number" ? [axis] : axis));
}
export function squeeze(a: ArrayLike, axis?: number | number[]): MxArray {
  const ax = axis === undefined ? undefined : typeof axis === "number" ? [axis] : axis;
  return track(native.squeeze(asArray(a, "squeeze"), ax));
}
export function broadcastTo(a: ArrayLike, shape: number[]): MxArray {
  return track(native.broadcastTo(asArray(a, "broadcastTo"), shape));
}
export function stopGradient(a: ArrayLike): MxArray {
  return track(native.stopGradient(asArray(a, "stopGradient")));
}
/** A row-contiguous copy (no copy when already contiguous). */
export function contiguous(a: ArrayLike): MxArray {
  return track(native.contiguous(asArray(a, "contiguous")));
}
/** The arrays broadcast against each other. */
export function broadcastArrays(...arrays: MxArray[]): MxArray[] {
  let shape: number[] = [];
  for (const a of arrays) {
    const s = a.shape, n = Math.max(shape.length, s.length), out: number[] = [];
    for (let i = 0; i < n; i++) {
      const x = shape[i - (n - shape.length)] ?? 1, y = s[i - (n - s.length)] ?? 1;
      out.push(x === 1 ? y : x);
    }
    shape = out;
  }
  return arrays.map((a) => broadcastTo(a, shape));
}

// ---- creation ----

function dt(d: Dtype | string | undefined, fallback: Dtype): Dtype {
  return d === undefined ? fallback : toDtype(d);
}
function shapeOf(shape: number | number[]): number[] {
  return typeof shape === "number" ? [shape] : shape;
}

export function zeros(shape: number | number[], dtype?: Dtype | string): MxArray {
  return track(native.full(shapeOf(shape), 0, dt(dtype, float32).id));
}
export function ones(shape: number | number[], dtype?: Dtype | string): MxArray {
  return track(native.full(shapeOf(shape), 1, dt(dtype, float32).id));
}
/** full(shape, value, dtype?): value a number (dtype defaults to its natural type) or an array (broadcast). */
export function full(shape: number | number[], value: ArrayLike, dtype?: Dtype | string): MxArray {
  if (isArray(value)) {
    const v = dtype === undefined ? value : astype(value, dtype);
    return broadcastTo(v, shapeOf(shape));
  }
  const natural = typeof value === "boolean" ? toDtype("bool") : Number.isInteger(value) ? int32 : float32;
  return track(native.full(shapeOf(shape), Number(value), dt(dtype, natural).id));
}
export function zerosLike(a: MxArray, dtype?: Dtype | string): MxArray {
  return zeros(a.shape, dtype ?? a.dtype);
}
export function onesLike(a: MxArray, dtype?: Dtype | string): MxArray {
  return ones(a.shape, dtype ?? a.dtype);
}
export function fullLike(a: MxArray, value: number, dtype?: Dtype | string): MxArray {
  return full(a.shape, value, dtype ?? a.dtype);
}

/** arange(stop) | arange(start, stop, step?, dtype?) as MLX: int32 when all arguments are integers. */
export function arange(start: number, stop?: number, step?: number | Dtype | string, dtype?: Dtype | string): MxArray {
  if (typeof step === "string" || step instanceof Dtype) { dtype = step; step = undefined; }
  if (stop === undefined) { stop = start; start = 0; }
  const st = step ?? 1;
  const natural = [start, stop, st].every(Number.isInteger) ? int32 : float32;
  return track(native.arange(start, stop, st, dt(dtype, natural).id));
}
export function linspace(start: number, stop: number, num = 50, dtype?: Dtype | string): MxArray {
  return track(native.linspace(start, stop, num, dt(dtype, float32).id));
}
export function eye(n: number, m?: number, k = 0, dtype?: Dtype | string): MxArray {
  return track(native.eye(n, m ?? n, k, dt(dtype, float32).id));
}
export function identity(n: number, dtype?: Dtype | string): MxArray {
  return eye(n, n, 0, dtype);
}

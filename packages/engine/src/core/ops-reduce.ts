// Reductions over axes, and softmax / logsumexp / var / std built from them.
import { track, type ArrayLike, type MxArray } from "./array.js";
import { bfloat16, float16, float32 } from "./dtype.js";
import { native } from "./native.js";
import { asArray } from "./scalars.js";
import { add, divide, exp, log, multiply, sqrt, square, subtract, where, isinf } from "./ops-elementwise.js";
import { stopGradient, astype, reshape } from "./ops-layout.js";

export type Axis = number | number[] | undefined | null;

function axesOf(axis: Axis): number[] | null {
  if (axis === undefined || axis === null) return null;
  return typeof axis === "number" ? [axis] : axis;
}

function r(op: string) {
  return (a: ArrayLike, axis?: Axis, keepdims = false): MxArray =>
    track(native.reduce(op, asArray(a, op), axesOf(axis), keepdims));
}

export const sum = r("sum");
export const prod = r("prod");
export const max = r("max");
export const min = r("min");
export const all = r("all");
export const any = r("any");

function axisCount(a: MxArray, axis: Axis): number {
  const axes = axesOf(axis);
  const shape = a.shape;
  if (!axes) return a.size;
  return axes.reduce((n, ax) => n * shape[ax < 0 ? ax + shape.length : ax], 1);
}

export function mean(a: ArrayLike, axis?: Axis, keepdims = false): MxArray {
  const x = asArray(a, "mean");
  const f = x.dtype.kind === "float" ? x : astype(x, float32);
  const n = axisCount(x, axis);
  return multiply(sum(f, axis, keepdims), n ? 1 / n : NaN);
}

/** var(a, axis?, keepdims?, ddof?) as MLX (ddof default 0). */
export function variance(a: ArrayLike, axis?: Axis, keepdims = false, ddof = 0): MxArray {
  const x = asArray(a, "var");
  const f = x.dtype.kind === "float" ? x : astype(x, float32);
  const n = axisCount(x, axis);
  const d = subtract(f, mean(f, axis, true));
  return multiply(sum(square(d), axis, keepdims), 1 / Math.max(n - ddof, 0));
}

export function std(a: ArrayLike, axis?: Axis, keepdims = false, ddof = 0): MxArray {
  return sqrt(variance(a, axis, keepdims, ddof));
}

function argReduce(isMax: boolean) {
  return (a: ArrayLike, axis?: number | null, keepdims = false): MxArray => {
    let x = asArray(a, isMax ? "argmax" : "argmin");
    let ax = axis;
    if (ax === undefined || ax === null) {
      x = reshape(x, [-1]);
      ax = 0;
      const r = track(isMax ? native.argmax(x, ax, false) : native.argmin(x, ax, false));
      return keepdims ? reshape(r, a instanceof Object ? (a as MxArray).shape.map(() => 1) : []) : r;
    }
    return track(isMax ? native.argmax(x, ax, keepdims) : native.argmin(x, ax, keepdims));
  };
}
export const argmax = argReduce(true);
export const argmin = argReduce(false);

/** Half inputs are computed in float32 and cast back ("precise"), as the issue asks of softmax. */
function precise(a: MxArray): [MxArray, (y: MxArray) => MxArray] {
  if (a.dtype === bfloat16 || a.dtype === float16) {
    const dt = a.dtype;
    return [astype(a, float32), (y) => astype(y, dt)];
  }
  if (a.dtype.kind !== "float") return [astype(a, float32), (y) => y];
  return [a, (y) => y];
}

export function logsumexp(a: ArrayLike, axis?: Axis, keepdims = false): MxArray {
  const [x, back] = precise(asArray(a, "logsumexp"));
  let m = stopGradient(max(x, axis, true));
  m = where(isinf(m), 0, m);  // all -inf (or +inf) slices: keep the result exact
  const s = add(log(sum(exp(subtract(x, m)), axis, true)), m);
  const out = keepdims ? s : reshapeDrop(s, x.shape, axis);
  return back(out);
}

function reshapeDrop(s: MxArray, shape: number[], axis: Axis): MxArray {
  const axes = axesOf(axis);
  if (!axes) return reshape(s, []);
  const norm = new Set(axes.map((ax) => (ax < 0 ? ax + shape.length : ax)));
  return reshape(s, shape.filter((_, i) => !norm.has(i)));
}

export function softmax(a: ArrayLike, axis?: Axis, opts: { precise?: boolean } = {}): MxArray {
  void opts;
  const [x, back] = precise(asArray(a, "softmax"));
  const m = stopGradient(max(x, axis, true));
  const e = exp(subtract(x, m));
  return back(divide(e, sum(e, axis, true)));
}

export function logSoftmax(a: ArrayLike, axis?: Axis): MxArray {
  const [x, back] = precise(asArray(a, "logSoftmax"));
  return back(subtract(x, logsumexp(x, axis, true)));
}

// Turning JS numbers into arrays the way MLX treats Python scalars: "weakly typed", so they take the other
// operand's dtype unless that would lose the value's kind (a float with an int array gives float32).
import { array, isArray, track, type ArrayLike, type MxArray } from "./array.js";
import { bool_, Dtype, float32, int32, isFloating } from "./dtype.js";
import { EngineError } from "./errors.js";
import { native } from "./native.js";

export function scalar(v: number | boolean, dtype: Dtype): MxArray {
  return track(native.full([], typeof v === "boolean" ? (v ? 1 : 0) : v, dtype.id));
}

export function weakScalar(v: number | boolean, like: Dtype): MxArray {
  if (typeof v === "boolean") return scalar(v, like);
  if (Number.isInteger(v)) return scalar(v, like === bool_ ? int32 : like);
  return scalar(v, isFloating(like) ? like : float32);
}

export function asArray(x: ArrayLike, op = "op"): MxArray {
  if (isArray(x)) return x;
  if (typeof x === "number" || typeof x === "boolean") return array(x);
  throw new EngineError(`[${op}] expected an array or a number, got ${x === null ? "null" : typeof x}`);
}

/** Both operands as arrays, scalars weakly typed against the array operand. */
export function asPair(a: ArrayLike, b: ArrayLike, op: string): [MxArray, MxArray] {
  const aa = isArray(a), ba = isArray(b);
  if (aa && ba) return [a as MxArray, b as MxArray];
  if (aa) return [a as MxArray, weakScalar(checkScalar(b, op), (a as MxArray).dtype)];
  if (ba) return [weakScalar(checkScalar(a, op), (b as MxArray).dtype), b as MxArray];
  return [asArray(a, op), asArray(b, op)];
}

function checkScalar(x: ArrayLike, op: string): number | boolean {
  if (typeof x === "number" || typeof x === "boolean") return x;
  throw new EngineError(`[${op}] expected an array or a number, got ${x === null ? "null" : typeof x}`);
}

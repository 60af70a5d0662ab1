// Elementwise ops: NumPy broadcasting and MLX type promotion, computed in C++ (native/core/ops/elementwise).
import { track, type ArrayLike, type MxArray } from "./array.js";
import { native } from "./native.js";
import { asArray, asPair } from "./scalars.js";

const unaryIds = new Map(native.unaryOpNames().map((n, i) => [n, i]));
const binaryIds = new Map(native.binaryOpNames().map((n, i) => [n, i]));

function u(name: string) {
  const id = unaryIds.get(name)!;
  return (a: ArrayLike): MxArray => track(native.unary(id, asArray(a, name)));
}
function b(name: string) {
  const id = binaryIds.get(name)!;
  return (x: ArrayLike, y: ArrayLike): MxArray => {
    const [p, q] = asPair(x, y, name);
    return track(native.binary(id, p, q));
  };
}

export const add = b("add");
export const subtract = b("subtract");
export const multiply = b("multiply");
export const divide = b("divide");
export const floorDivide = b("floor_divide");
export const remainder = b("remainder");
export const power = b("power");
export const maximum = b("maximum");
export const minimum = b("minimum");
export const equal = b("equal");
export const notEqual = b("not_equal");
export const less = b("less");
export const lessEqual = b("less_equal");
export const greater = b("greater");
export const greaterEqual = b("greater_equal");
export const logicalAnd = b("logical_and");
export const logicalOr = b("logical_or");
export const arctan2 = b("arctan2");
export const logaddexp = b("logaddexp");

export const abs = u("abs");
export const negative = u("negative");
export const sign = u("sign");
export const exp = u("exp");
export const expm1 = u("expm1");
export const log = u("log");
export const log1p = u("log1p");
export const log2 = u("log2");
export const log10 = u("log10");
export const sqrt = u("sqrt");
export const rsqrt = u("rsqrt");
export const square = u("square");
export const reciprocal = u("reciprocal");
export const sin = u("sin");
export const cos = u("cos");
export const tan = u("tan");
export const arcsin = u("arcsin");
export const arccos = u("arccos");
export const arctan = u("arctan");
export const sinh = u("sinh");
export const cosh = u("cosh");
export const tanh = u("tanh");
export const sigmoid = u("sigmoid");
export const erf = u("erf");
export const erfinv = u("erfinv");
export const floor = u("floor");
export const ceil = u("ceil");
export const isnan = u("isnan");
export const isinf = u("isinf");
export const isposinf = u("isposinf");
export const isneginf = u("isneginf");
export const logicalNot = u("logical_not");
const roundHalfEven = u("round");

/** Rounds half to even; `decimals` as NumPy. */
export function round(a: ArrayLike, decimals = 0): MxArray {
  if (decimals === 0) return roundHalfEven(a);
  const s = 10 ** decimals;
  return divide(roundHalfEven(multiply(a, s)), s);
}

export function where(condition: ArrayLike, x: ArrayLike, y: ArrayLike): MxArray {
  const c = asArray(condition, "where");
  const [p, q] = asPair(x, y, "where");
  return track(native.where(c, p, q));
}

/** clip(a, min, max): either bound may be null. */
export function clip(a: ArrayLike, aMin: ArrayLike | null, aMax: ArrayLike | null): MxArray {
  let r = asArray(a, "clip");
  if (aMin === null && aMax === null) throw new TypeError("[clip] min and max cannot both be null");
  if (aMin !== null) r = maximum(r, aMin);
  if (aMax !== null) r = minimum(r, aMax);
  return r;
}

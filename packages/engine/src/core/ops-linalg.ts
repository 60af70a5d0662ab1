// Linear algebra: matmul (batched, broadcasting) and friends, in C++ (native/core/ops/linalg).
import { track, type ArrayLike, type MxArray } from "./array.js";
import { native } from "./native.js";
import { asPair } from "./scalars.js";

export function matmul(a: ArrayLike, b: ArrayLike): MxArray {
  const [x, y] = asPair(a, b, "matmul");
  return track(native.matmul(x, y));
}

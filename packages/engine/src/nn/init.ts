// nn.init: initializer factories as MLX's. Each returns a function of an array that gives a new array of the same
// shape (use with module.apply(init) or to build weights).
import * as mx from "../core/mx.js";
import type { MxArray } from "../core/array.js";
import type { Dtype } from "../core/dtype.js";
import { EngineError } from "../core/errors.js";
import { randomNormal, randomUniform } from "./engine-ops.js";

export type Initializer = (a: MxArray) => MxArray;
export type FanMode = "fan_in" | "fan_out" | "fanIn" | "fanOut";

/** Every element `value`. */
export function constant(value: number, dtype: Dtype = mx.float32): Initializer {
  return (a) => mx.full(a.shape, value, dtype);
}

/** N(mean, std²) samples. */
export function normal(mean = 0.0, std = 1.0, dtype: Dtype = mx.float32): Initializer {
  return (a) => randomNormal(a.shape, mean, std, dtype);
}

/** U(low, high) samples. */
export function uniform(low = 0.0, high = 1.0, dtype: Dtype = mx.float32): Initializer {
  return (a) => randomUniform(low, high, a.shape, dtype);
}

/** The identity matrix (2-D square arrays only). */
export function identity(dtype: Dtype = mx.float32): Initializer {
  return (a) => {
    if (a.ndim !== 2 || a.shape[0] !== a.shape[1])
      throw new EngineError(`[init.identity] needs a square 2-D array, got shape [${a.shape.join(", ")}]`);
    return mx.eye(a.shape[0], a.shape[0], 0, dtype);
  };
}

/** fan_in / fan_out as MLX: fan_in = shape[-1], fan_out = shape[0], both times the receptive field (shape[1:-1]). */
export function fanInFanOut(a: MxArray, op = "init"): [number, number] {
  if (a.ndim < 2)
    throw new EngineError(`[${op}] needs an array with at least 2 dimensions to compute fan in / fan out, got shape [${a.shape.join(", ")}]`);
  let fanIn = a.shape[a.ndim - 1], fanOut = a.shape[0];
  if (a.ndim > 2) {
    const rf = a.shape.slice(1, -1).reduce((x, y) => x * y, 1);
    fanIn *= rf;
    fanOut *= rf;
  }
  return [fanIn, fanOut];
}

/** Glorot (Xavier) normal: std = gain·sqrt(2 / (fan_in + fan_out)). */
export function glorotNormal(dtype: Dtype = mx.float32): (a: MxArray, gain?: number) => MxArray {
  return (a, gain = 1.0) => {
    const [fi, fo] = fanInFanOut(a, "init.glorotNormal");
    return randomNormal(a.shape, 0, gain * Math.sqrt(2.0 / (fi + fo)), dtype);
  };
}

/** Glorot (Xavier) uniform: U(-l, l) with l = gain·sqrt(6 / (fan_in + fan_out)). */
export function glorotUniform(dtype: Dtype = mx.float32): (a: MxArray, gain?: number) => MxArray {
  return (a, gain = 1.0) => {
    const [fi, fo] = fanInFanOut(a, "init.glorotUniform");
    const limit = gain * Math.sqrt(6.0 / (fi + fo));
    return randomUniform(-limit, limit, a.shape, dtype);
  };
}

function pickFan(a: MxArray, mode: FanMode, op: string): number {
  const [fi, fo] = fanInFanOut(a, op);
  if (mode === "fan_in" || mode === "fanIn") return fi;
  if (mode === "fan_out" || mode === "fanOut") return fo;
  throw new EngineError(`[${op}] mode must be "fan_in" or "fan_out", got '${String(mode)}'`);
}

/** He (Kaiming) normal: std = gain / sqrt(fan). */
export function heNormal(dtype: Dtype = mx.float32): (a: MxArray, mode?: FanMode, gain?: number) => MxArray {
  return (a, mode = "fan_in", gain = 1.0) => randomNormal(a.shape, 0, gain / Math.sqrt(pickFan(a, mode, "init.heNormal")), dtype);
}

/** He (Kaiming) uniform: U(-l, l) with l = gain·sqrt(3 / fan). */
export function heUniform(dtype: Dtype = mx.float32): (a: MxArray, mode?: FanMode, gain?: number) => MxArray {
  return (a, mode = "fan_in", gain = 1.0) => {
    const limit = gain * Math.sqrt(3.0 / pickFan(a, mode, "init.heUniform"));
    return randomUniform(-limit, limit, a.shape, dtype);
  };
}

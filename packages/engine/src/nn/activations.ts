// Activation functions (MLX's formulas) and their Module classes.
import * as mx from "../core/mx.js";
import type { MxArray } from "../core/array.js";
import { EngineError } from "../core/errors.js";
import { Module } from "./module.js";
import { requireOp } from "./engine-ops.js";
import { geluApprox as fusedGeluApprox } from "../core/ops-activations.js";

export function relu(x: MxArray): MxArray {
  return mx.maximum(x, 0);
}
export function relu6(x: MxArray): MxArray {
  return mx.minimum(mx.maximum(x, 0), 6);
}
/** Squared ReLU. */
export function relu2(x: MxArray): MxArray {
  return mx.square(mx.maximum(x, 0));
}
export function leakyRelu(x: MxArray, negativeSlope = 0.01): MxArray {
  return mx.maximum(mx.multiply(x, negativeSlope), x);
}
export function elu(x: MxArray, alpha = 1.0): MxArray {
  return mx.where(mx.greater(x, 0), x, mx.multiply(mx.expm1(x), alpha));
}
export function celu(x: MxArray, alpha = 1.0): MxArray {
  return mx.add(mx.maximum(x, 0), mx.multiply(mx.expm1(mx.divide(mx.minimum(x, 0), alpha)), alpha));
}
export function selu(x: MxArray): MxArray {
  return mx.multiply(elu(x, 1.67326), 1.0507);
}
/** Exact GELU: x·Φ(x) with the error function. */
export function gelu(x: MxArray): MxArray {
  return mx.divide(mx.multiply(x, mx.add(mx.erf(mx.multiply(x, Math.SQRT1_2)), 1)), 2);
}
/**
 * GELU with the tanh approximation (MLX's gelu_approx; PyTorch's approximate="tanh"): the fused kernel (one pass,
 * vectorised tanh), whose gradient is that of its plain-op definition.
 */
export function geluApprox(x: MxArray): MxArray {
  return fusedGeluApprox(x);
}
/** GELU as x·sigmoid(1.702x) (MLX's gelu_fast_approx). */
export function geluFastApprox(x: MxArray): MxArray {
  return mx.multiply(x, mx.sigmoid(mx.multiply(x, 1.702)));
}
export function silu(x: MxArray): MxArray {
  return mx.multiply(x, mx.sigmoid(x));
}
export function sigmoid(x: MxArray): MxArray {
  return mx.sigmoid(x);
}
export function tanh(x: MxArray): MxArray {
  return mx.tanh(x);
}
/** log(1 + exp(x)), stable for large |x|. */
export function softplus(x: MxArray): MxArray {
  return mx.logaddexp(x, 0);
}
export function softsign(x: MxArray): MxArray {
  return mx.divide(x, mx.add(mx.abs(x), 1));
}
export function mish(x: MxArray): MxArray {
  return mx.multiply(x, mx.tanh(softplus(x)));
}
export function logSigmoid(x: MxArray): MxArray {
  return mx.negative(softplus(mx.negative(x)));
}
export function hardSwish(x: MxArray): MxArray {
  return mx.divide(mx.multiply(x, mx.minimum(mx.maximum(mx.add(x, 3), 0), 6)), 6);
}
export function hardTanh(x: MxArray, minVal = -1.0, maxVal = 1.0): MxArray {
  return mx.minimum(mx.maximum(x, minVal), maxVal);
}
/** 1 where x > threshold, else 0 (in x's dtype). */
export function step(x: MxArray, threshold = 0.0): MxArray {
  return mx.astype(mx.greater(x, threshold), x.dtype);
}
export function softmax(x: MxArray, axis = -1): MxArray {
  return mx.softmax(x, axis);
}
export function softmin(x: MxArray, axis = -1): MxArray {
  return mx.softmax(mx.negative(x), axis);
}
export function logSoftmax(x: MxArray, axis = -1): MxArray {
  return mx.logSoftmax(x, axis);
}
/** Gated linear unit: the input split in two halves a, b along `axis`; a·sigmoid(b). */
export function glu(x: MxArray, axis = -1): MxArray {
  const n = x.shape[axis < 0 ? axis + x.ndim : axis];
  if (n === undefined || n % 2 !== 0)
    throw new EngineError(`[glu] the size of axis ${axis} must be even, got shape [${x.shape.join(", ")}]`);
  const [a, b] = requireOp("split", "glu")(x, 2, axis) as MxArray[];
  return mx.multiply(a, mx.sigmoid(b));
}
/** max(0, x) + alpha·min(0, x) with a learned alpha (broadcast against x). */
export function prelu(x: MxArray, alpha: MxArray): MxArray {
  return mx.add(mx.maximum(x, 0), mx.multiply(alpha, mx.minimum(x, 0)));
}

// ---- classes ----

export class ReLU extends Module { forward(x: MxArray): MxArray { return relu(x); } }
export class ReLU6 extends Module { forward(x: MxArray): MxArray { return relu6(x); } }
export class ReLU2 extends Module { forward(x: MxArray): MxArray { return relu2(x); } }
export class SELU extends Module { forward(x: MxArray): MxArray { return selu(x); } }
export class SiLU extends Module { forward(x: MxArray): MxArray { return silu(x); } }
export class Sigmoid extends Module { forward(x: MxArray): MxArray { return sigmoid(x); } }
export class Tanh extends Module { forward(x: MxArray): MxArray { return tanh(x); } }
export class Softplus extends Module { forward(x: MxArray): MxArray { return softplus(x); } }
export class Softsign extends Module { forward(x: MxArray): MxArray { return softsign(x); } }
export class Mish extends Module { forward(x: MxArray): MxArray { return mish(x); } }
export class LogSigmoid extends Module { forward(x: MxArray): MxArray { return logSigmoid(x); } }
export class Hardswish extends Module { forward(x: MxArray): MxArray { return hardSwish(x); } }
export class Softmin extends Module { forward(x: MxArray): MxArray { return softmin(x); } }

export class LeakyReLU extends Module {
  constructor(public negativeSlope = 0.01) { super(); }
  forward(x: MxArray): MxArray { return leakyRelu(x, this.negativeSlope); }
}
export class ELU extends Module {
  constructor(public alpha = 1.0) { super(); }
  forward(x: MxArray): MxArray { return elu(x, this.alpha); }
}
export class CELU extends Module {
  constructor(public alpha = 1.0) { super(); }
  forward(x: MxArray): MxArray { return celu(x, this.alpha); }
}
export class HardTanh extends Module {
  constructor(public minVal = -1.0, public maxVal = 1.0) { super(); }
  forward(x: MxArray): MxArray { return hardTanh(x, this.minVal, this.maxVal); }
}
export class Step extends Module {
  constructor(public threshold = 0.0) { super(); }
  forward(x: MxArray): MxArray { return step(x, this.threshold); }
}
export class Softmax extends Module {
  constructor(public axis = -1) { super(); }
  forward(x: MxArray): MxArray { return softmax(x, this.axis); }
}
export class LogSoftmax extends Module {
  constructor(public axis = -1) { super(); }
  forward(x: MxArray): MxArray { return logSoftmax(x, this.axis); }
}
export class GLU extends Module {
  constructor(public axis = -1) { super(); }
  forward(x: MxArray): MxArray { return glu(x, this.axis); }
}

/** GELU; approx: "none" (erf, default), "precise" or "tanh" (tanh approximation), "fast" (sigmoid(1.702x)). */
export class GELU extends Module {
  private _fn: (x: MxArray) => MxArray;
  constructor(public approx: "none" | "precise" | "tanh" | "fast" = "none") {
    super();
    if (approx === "none") this._fn = gelu;
    else if (approx === "precise" || approx === "tanh") this._fn = geluApprox;
    else if (approx === "fast") this._fn = geluFastApprox;
    else throw new EngineError(`[GELU] approx must be "none", "precise", "tanh" or "fast", got '${String(approx)}'`);
  }
  forward(x: MxArray): MxArray { return this._fn(x); }
}

/** PReLU with `numParameters` learned slopes (1, or one per channel on the last axis), starting at `init`. */
export class PReLU extends Module {
  weight: MxArray;
  constructor(numParameters = 1, init = 0.25) {
    super();
    this.weight = mx.full([numParameters], init, mx.float32);
  }
  forward(x: MxArray): MxArray { return prelu(x, this.weight); }
}

// Fused activations (native/core/ops/activations.h): one kernel instead of a chain of elementwise ops.
import { track, type MxArray } from "./array.js";
import { native } from "./native.js";
import { asArray } from "./scalars.js";

export interface GeluApproxOptions {
  /** Build the same function from plain ops instead (the reference; what the gradient differentiates). */
  fallback?: boolean;
}

/**
 * GELU with the tanh approximation (MLX's `nn.gelu_approx`, PyTorch's `gelu(approximate="tanh")`), optionally
 * multiplied by `mul` (a gated MLP's `gelu(gate) * up` in one pass): 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))).
 * Computed in float32 (float64 for float64 inputs) and rounded once to the result type.
 */
export function geluApprox(x: MxArray, mul?: MxArray | null, options: GeluApproxOptions = {}): MxArray {
  return track(native.geluApprox(asArray(x, "geluApprox"), mul == null ? null : asArray(mul, "geluApprox"), options.fallback ?? false));
}

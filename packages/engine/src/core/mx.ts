// The `mx` namespace: MLX's core API with camelCase names.
import "./array-methods.js";

export { array, tidy, keep, isArray, ArrayClass as Array } from "./array.js";
export type { MxArray, ArrayLike, NestedNumbers } from "./array.js";
export {
  Dtype, bool_ as bool, uint8, uint16, uint32, uint64, int8, int16, int32, int64, float16, bfloat16, float32, float64,
  dtypes, toDtype,
} from "./dtype.js";
export * from "./ops-elementwise.js";
export * from "./ops-layout.js";
export { sum, prod, max, min, all, any, mean, variance as var, std, argmax, argmin, logsumexp, softmax, logSoftmax } from "./ops-reduce.js";
export type { Axis } from "./ops-reduce.js";
export * from "./ops-indexing.js";
export * from "./ops-sort-scan.js";
export * from "./ops-linalg.js";
export * from "./ops-quantized.js";
export * as random from "./random.js";
export * as fast from "./fast.js";
export { evaluate as eval, asyncEval, grad, valueAndGrad, vjp, jvp, compile } from "./transforms.js";
export { vmap } from "./vmap.js";
export * from "./memory.js";
export * from "./io.js";
export { EngineError } from "./errors.js";
export * as utils from "./utils.js";

// nn.valueAndGrad: gradients of a function with respect to a model's trainable parameters.
import { valueAndGrad as mxValueAndGrad } from "../core/transforms.js";
import type { Module, ParamTree } from "./module.js";

/**
 * valueAndGrad(model, fn) → (...args) => [fn(...args), grads], grads shaped like model.trainableParameters().
 * While fn runs, the model holds traced copies of its trainable arrays; the original arrays are put back
 * afterwards (also when fn throws). Like MLX, fn gets exactly the arguments given (usually the model first).
 */
export function valueAndGrad<F extends (...args: any[]) => any>(model: Module, fn: F):
    (...args: Parameters<F>) => [ReturnType<F>, ParamTree] {
  const inner = (params: ParamTree, ...args: unknown[]) => {
    model.update(params);
    return fn(...args);
  };
  const vg = mxValueAndGrad(inner);
  return (...args: Parameters<F>) => {
    const original = model.trainableParameters();
    try {
      return vg(original, ...args) as [ReturnType<F>, ParamTree];
    } finally {
      model.update(original);
    }
  };
}

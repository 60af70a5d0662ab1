// Sequential: calls its layers in order.
import type { MxArray } from "../../core/array.js";
import { EngineError } from "../../core/errors.js";
import { Module, type UnaryModule } from "../module.js";

export type Layer = UnaryModule | ((x: MxArray) => MxArray);

/** Layers (modules with forward(x), or plain functions) applied in order; parameters are under `layers.<i>`. */
export class Sequential extends Module {
  layers: Layer[];

  constructor(...layers: Layer[]) {
    super();
    for (const [i, l] of layers.entries())
      if (typeof l !== "function" && !(l instanceof Module && typeof (l as UnaryModule).forward === "function"))
        throw new EngineError(`[Sequential] layer ${i} is neither a module with forward() nor a function`);
    this.layers = layers;
  }

  forward(x: MxArray): MxArray {
    for (const l of this.layers) x = typeof l === "function" ? l(x) : l.forward(x);
    return x;
  }
}

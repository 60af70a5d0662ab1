// Linear and Identity layers.
import * as mx from "../../core/mx.js";
import type { MxArray } from "../../core/array.js";
import { Module } from "../module.js";
import { randomUniform } from "../engine-ops.js";

/** Passes its input through (a placeholder layer). */
export class Identity extends Module {
  forward(x: MxArray): MxArray {
    return x;
  }
}

/**
 * y = x Wᵀ + b with W of shape [outputDims, inputDims] and b of shape [outputDims], both drawn from
 * U(-1/sqrt(inputDims), 1/sqrt(inputDims)) as MLX does.
 */
export class Linear extends Module {
  weight: MxArray;
  declare bias?: MxArray;

  constructor(inputDims: number, outputDims: number, bias = true) {
    super();
    const scale = Math.sqrt(1.0 / inputDims);
    this.weight = randomUniform(-scale, scale, [outputDims, inputDims]);
    if (bias) this.bias = randomUniform(-scale, scale, [outputDims]);
  }

  forward(x: MxArray): MxArray {
    const y = mx.matmul(x, mx.transpose(this.weight));
    return this.bias ? mx.add(y, this.bias) : y;
  }

  protected override describe(): string {
    const [o, i] = this.weight.shape;
    return `inputDims=${i}, outputDims=${o}, bias=${this.bias !== undefined}`;
  }
}

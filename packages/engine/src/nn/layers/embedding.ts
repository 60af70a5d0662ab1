// Embedding: a lookup table of vectors, usable as the tied output head (asLinear).
import * as mx from "../../core/mx.js";
import type { MxArray } from "../../core/array.js";
import { Module } from "../module.js";
import { randomNormal, requireOp } from "../engine-ops.js";

/** weight [numEmbeddings, dims] ~ N(0, 1/dims) as MLX; forward(ids) = weight[ids]. */
export class Embedding extends Module {
  weight: MxArray;

  constructor(numEmbeddings: number, dims: number) {
    super();
    this.weight = randomNormal([numEmbeddings, dims], 0, Math.sqrt(1 / dims));
  }

  /** The rows of the table for integer ids of any shape: [...ids.shape, dims]. */
  forward(x: MxArray): MxArray {
    return requireOp("take", "Embedding")(this.weight, x, 0) as MxArray;
  }

  /** x · weightᵀ: scores against every embedding (a tied output projection). */
  asLinear(x: MxArray): MxArray {
    return mx.matmul(x, mx.transpose(this.weight));
  }

  protected override describe(): string {
    return `${this.weight.shape[0]}, ${this.weight.shape[1]}`;
  }
}

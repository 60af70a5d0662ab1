// RoPE: rotary positional encoding as a module over mx.fast.rope.
import type { MxArray } from "../../core/array.js";
import { Module } from "../module.js";
import { requireOp } from "../engine-ops.js";

/**
 * Rotates the first `dims` features of [..., L, D] inputs by position-dependent angles
 * (position · scale · base^(-2i/dims)). traditional: rotate adjacent pairs (2i, 2i+1) instead of the two halves.
 */
export class RoPE extends Module {
  constructor(public dims: number, public traditional = false, public base = 10000, public scale = 1.0) {
    super();
  }
  /** `offset`: the position of the first row (the length of the cache before x). */
  forward(x: MxArray, offset: number | MxArray = 0): MxArray {
    return requireOp("fast.rope", "RoPE")(x, this.dims, {
      traditional: this.traditional, base: this.base, scale: this.scale, offset,
    }) as MxArray;
  }
  protected override describe(): string {
    return `${this.dims}, traditional=${this.traditional}`;
  }
}

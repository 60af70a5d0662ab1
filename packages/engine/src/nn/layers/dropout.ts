// Dropout: zeroes elements with probability p in training mode and scales the rest by 1/(1-p).
import * as mx from "../../core/mx.js";
import type { MxArray } from "../../core/array.js";
import { EngineError } from "../../core/errors.js";
import { Module } from "../module.js";
import { requireOp } from "../engine-ops.js";

export class Dropout extends Module {
  private _p1: number;

  constructor(p = 0.5) {
    super();
    if (!(p >= 0 && p < 1)) throw new EngineError(`[Dropout] the probability must be in [0, 1), got ${p}`);
    this._p1 = 1 - p;
  }

  get p(): number {
    return 1 - this._p1;
  }

  /** Identity in eval mode or with p = 0. */
  forward(x: MxArray): MxArray {
    if (this._p1 === 1 || !this.training) return x;
    const mask = requireOp("random.bernoulli", "Dropout")(this._p1, x.shape) as MxArray;
    return mx.multiply(mx.multiply(mask, x), 1 / this._p1);
  }

  protected override describe(): string {
    return `p=${this.p}`;
  }
}

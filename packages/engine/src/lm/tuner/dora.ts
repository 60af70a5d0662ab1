// DoRALinear (mlx-lm's tuner/dora.py semantics): LoRA whose output rows are renormalised to a learned magnitude
// m [output_dims], out = m / ‖W + scale·(lora_a lora_b)ᵀ‖_row · (x Wᵀ + scale·(dropout(x) lora_a) lora_b) (+ bias),
// the row norm held constant in the backward pass (stop_gradient) as in the paper and mlx-lm.
import * as mx from "../../core/mx.js";
import type { MxArray } from "../../core/array.js";
import { EngineError } from "../../core/errors.js";
import { Module } from "../../nn/module.js";
import { Linear } from "../../nn/layers/linear.js";
import { Dropout } from "../../nn/layers/dropout.js";
import {
  adapterDropout, dequantizedWeight, isLinearLike, linearDims, linearFromWeight, type LinearLike, type LoraLayerOptions,
} from "./lora.js";

/** ‖w‖ along axis 1 (row norms), computed in float32 (float64 stays float64). */
export function rowNorm(w: MxArray): MxArray {
  const f = w.dtype === mx.float64 ? w : mx.astype(w, mx.float32);
  return mx.sqrt(mx.sum(mx.square(f), 1));
}

export class DoRALinear extends Module {
  linear: LinearLike;
  dropout: Dropout;
  scale: number;
  lora_a: MxArray;
  lora_b: MxArray;
  m: MxArray;

  constructor(inputDims: number, outputDims: number, opts: LoraLayerOptions & { bias?: boolean } = {}) {
    super();
    const rank = opts.rank ?? 8, scale = opts.scale ?? 20.0, dropout = opts.dropout ?? 0.0;
    if (!Number.isInteger(rank) || rank < 1) throw new EngineError(`[DoRALinear] rank must be a positive integer, got ${rank}`);
    if (!(dropout >= 0 && dropout < 1)) throw new EngineError(`[DoRALinear] dropout must be in [0, 1), got ${dropout}`);
    this.linear = new Linear(inputDims, outputDims, opts.bias ?? false);
    this.dropout = new Dropout(dropout);
    this.scale = scale;
    const s = 1 / Math.sqrt(inputDims);
    this.lora_a = mx.random.uniform(-s, s, [inputDims, rank]);
    this.lora_b = mx.zeros([rank, outputDims]);
    this.m = rowNorm(dequantizedWeight(this.linear));
  }

  static fromBase(linear: LinearLike, opts: LoraLayerOptions = {}): DoRALinear {
    if (!isLinearLike(linear))
      throw new EngineError(`[DoRALinear] can't wrap a ${(linear as object)?.constructor?.name ?? typeof linear}: expected nn.Linear or nn.QuantizedLinear`);
    const [out, inp] = linearDims(linear);
    const d = new DoRALinear(inp, out, opts);
    d.setLinear(linear);
    return d;
  }

  /** Sets the base layer and recomputes the magnitude from its weight. */
  setLinear(linear: LinearLike): void {
    this.linear = linear;
    this.m = rowNorm(dequantizedWeight(linear));
  }

  get rank(): number {
    return this.lora_a.shape[1];
  }

  forward(x: MxArray): MxArray {
    const w = dequantizedWeight(this.linear);
    const y = mx.matmul(x, mx.transpose(w));
    const z = mx.matmul(mx.matmul(adapterDropout(this.dropout, x), this.lora_a), this.lora_b);
    let out = mx.add(y, mx.astype(mx.multiply(z, this.scale), x.dtype));
    const adapted = mx.add(w, mx.transpose(mx.matmul(mx.multiply(this.lora_a, this.scale), this.lora_b)));
    const denom = mx.stopGradient(rowNorm(adapted));
    out = mx.multiply(mx.astype(mx.divide(this.m, denom), x.dtype), out);
    const bias = this.linear.bias;
    return bias ? mx.add(out, bias) : out;
  }

  /** A float Linear with m/‖W'‖ · W', W' = W + scale·(lora_a lora_b)ᵀ (kept unquantized, as mlx-lm does). */
  fuse(_opts: { dequantize?: boolean } = {}): Module {
    const w = dequantizedWeight(this.linear);
    const delta = mx.transpose(mx.matmul(mx.multiply(this.lora_a, this.scale), this.lora_b));
    const adapted = mx.add(w, mx.astype(delta, w.dtype));
    const normScale = mx.divide(this.m, rowNorm(adapted));
    const fused = mx.astype(mx.multiply(mx.expandDims(normScale, 1), adapted), w.dtype);
    return linearFromWeight(fused, this.linear.bias);
  }

  protected override describe(): string {
    const [o, i] = linearDims(this.linear);
    return `inputDims=${i}, outputDims=${o}, rank=${this.rank}, scale=${this.scale}`;
  }
}

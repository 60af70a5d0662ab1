// RMSNorm, LayerNorm and GroupNorm. Statistics are computed in float32 for half inputs (as MLX's fast kernels do);
// mx.fast.rmsNorm / layerNorm are used when the engine has them, for float32 and half inputs.
import * as mx from "../../core/mx.js";
import type { MxArray } from "../../core/array.js";
import type { Dtype } from "../../core/dtype.js";
import { EngineError } from "../../core/errors.js";
import { Module } from "../module.js";
import { hasOp, requireOp } from "../engine-ops.js";

function isHalfOrF32(d: Dtype): boolean {
  return d === mx.float32 || d === mx.bfloat16 || d === mx.float16;
}

/** The dtype the result takes: the input's, promoted with the weight's when there is one. */
function outDtype(x: MxArray, w?: MxArray): Dtype {
  if (!w || w.dtype === x.dtype) return x.dtype;
  const rank = (d: Dtype) => (d === mx.float64 ? 3 : d === mx.float32 ? 2 : d.kind === "float" ? 1 : 0);
  const [a, b] = [x.dtype, w.dtype];
  if (rank(a) === 1 && rank(b) === 1) return mx.float32;  // bfloat16 with float16
  return rank(a) >= rank(b) ? a : b;
}

function statsDtype(x: MxArray): Dtype {
  return x.dtype === mx.float64 ? mx.float64 : mx.float32;
}

/** x·rsqrt(mean(x², -1) + eps)·weight, from plain ops (the reference for mx.fast.rmsNorm). */
export function rmsNorm(x: MxArray, weight: MxArray | undefined, eps: number): MxArray {
  if (weight && isHalfOrF32(x.dtype) && hasOp("fast.rmsNorm")) return requireOp("fast.rmsNorm", "RMSNorm")(x, weight, eps);
  const xf = mx.astype(x, statsDtype(x));
  let y = mx.multiply(xf, mx.rsqrt(mx.add(mx.mean(mx.square(xf), -1, true), eps)));
  y = mx.astype(y, outDtype(x, weight));
  return weight ? mx.multiply(y, weight) : y;
}

/** (x - mean)·rsqrt(var + eps)·weight + bias over the last axis, from plain ops. */
export function layerNorm(x: MxArray, weight: MxArray | undefined, bias: MxArray | undefined, eps: number): MxArray {
  if (weight && bias && isHalfOrF32(x.dtype) && hasOp("fast.layerNorm"))
    return requireOp("fast.layerNorm", "LayerNorm")(x, weight, bias, eps);
  const xf = mx.astype(x, statsDtype(x));
  const xc = mx.subtract(xf, mx.mean(xf, -1, true));
  let y = mx.multiply(xc, mx.rsqrt(mx.add(mx.mean(mx.square(xc), -1, true), eps)));
  y = mx.astype(y, outDtype(x, weight));
  if (weight) y = mx.multiply(y, weight);
  if (bias) y = mx.add(y, bias);
  return y;
}

function checkLast(x: MxArray, dims: number, op: string): void {
  if (x.ndim === 0 || x.shape[x.ndim - 1] !== dims)
    throw new EngineError(`[${op}] expected the last axis of the input to be ${dims}, got shape [${x.shape.join(", ")}]`);
}

/** Root-mean-square normalization over the last axis with a learned scale (ones at start). */
export class RMSNorm extends Module {
  weight: MxArray;
  constructor(public dims: number, public eps = 1e-5) {
    super();
    this.weight = mx.ones([dims]);
  }
  forward(x: MxArray): MxArray {
    checkLast(x, this.dims, "RMSNorm");
    return rmsNorm(x, this.weight, this.eps);
  }
  protected override describe(): string {
    return `${this.dims}, eps=${this.eps}`;
  }
}

/** Layer normalization over the last axis; affine adds a learned scale (ones), bias a learned shift (zeros). */
export class LayerNorm extends Module {
  declare weight?: MxArray;
  declare bias?: MxArray;
  constructor(public dims: number, public eps = 1e-5, opts: { affine?: boolean; bias?: boolean } = {}) {
    super();
    const { affine = true, bias = true } = opts;
    if (affine) {
      this.weight = mx.ones([dims]);
      if (bias) this.bias = mx.zeros([dims]);
    }
  }
  forward(x: MxArray): MxArray {
    checkLast(x, this.dims, "LayerNorm");
    return layerNorm(x, this.weight, this.bias, this.eps);
  }
  protected override describe(): string {
    return `${this.dims}, eps=${this.eps}, affine=${this.weight !== undefined}`;
  }
}

/**
 * Group normalization over the channels (last axis) of [batch, ..., dims] inputs. As MLX: by default channel c
 * belongs to group c mod numGroups; pytorchCompatible groups consecutive channels as PyTorch does.
 */
export class GroupNorm extends Module {
  declare weight?: MxArray;
  declare bias?: MxArray;
  constructor(public numGroups: number, public dims: number,
              opts: { eps?: number; affine?: boolean; pytorchCompatible?: boolean } = {}) {
    super();
    if (dims % numGroups !== 0) throw new EngineError(`[GroupNorm] dims (${dims}) must be divisible by numGroups (${numGroups})`);
    this.eps = opts.eps ?? 1e-5;
    this.pytorchCompatible = opts.pytorchCompatible ?? false;
    if (opts.affine ?? true) {
      this.weight = mx.ones([dims]);
      this.bias = mx.zeros([dims]);
    }
  }
  eps: number;
  pytorchCompatible: boolean;

  forward(x: MxArray): MxArray {
    checkLast(x, this.dims, "GroupNorm");
    if (x.ndim < 2) throw new EngineError(`[GroupNorm] expected [batch, ..., dims], got shape [${x.shape.join(", ")}]`);
    const shape = x.shape, batch = shape[0], g = this.numGroups, gs = this.dims / g;
    const xf = mx.astype(x, statsDtype(x));
    let y: MxArray;
    if (this.pytorchCompatible) {
      let t = mx.reshape(xf, [batch, -1, g, gs]);
      t = mx.reshape(mx.transpose(t, [0, 2, 1, 3]), [batch, g, -1]);
      t = layerNorm(t, undefined, undefined, this.eps);
      t = mx.transpose(mx.reshape(t, [batch, g, -1, gs]), [0, 2, 1, 3]);
      y = mx.reshape(t, shape);
    } else {
      const t = mx.reshape(xf, [batch, -1, g]);
      const mean = mx.mean(t, 1, true);
      const v = mx.var(t, 1, true);
      y = mx.reshape(mx.multiply(mx.subtract(t, mean), mx.rsqrt(mx.add(v, this.eps))), shape);
    }
    y = mx.astype(y, outDtype(x, this.weight));
    return this.weight ? mx.add(mx.multiply(y, this.weight), this.bias!) : y;
  }
  protected override describe(): string {
    return `${this.numGroups}, ${this.dims}, eps=${this.eps}, affine=${this.weight !== undefined}`;
  }
}

// MultiHeadAttention (MLX's layer) and the attention it computes, from plain ops.
import * as mx from "../../core/mx.js";
import type { MxArray } from "../../core/array.js";
import type { Dtype } from "../../core/dtype.js";
import { EngineError } from "../../core/errors.js";
import { Module } from "../module.js";
import { Linear } from "./linear.js";

/** The most negative finite value of a float dtype (mx.finfo(dtype).min). */
export function finfoMin(dtype: Dtype): number {
  if (dtype === mx.float16) return -65504;
  if (dtype === mx.bfloat16) return -3.3895313892515355e38;
  if (dtype === mx.float64) return -Number.MAX_VALUE;
  if (dtype === mx.float32) return -3.4028234663852886e38;
  throw new EngineError(`[finfo] ${dtype.name} is not a floating point type`);
}

export type AttentionMask = MxArray | "causal" | null | undefined;

/**
 * softmax(q kᵀ · scale + mask) v for q [..., Lq, d], k [..., Lk, d], v [..., Lk, dv]. mask: an additive float
 * array, a boolean array (true = attend), or "causal" (query i sees keys ≤ i + Lk - Lq), broadcast to [..., Lq, Lk].
 */
export function scaledDotProductAttention(q: MxArray, k: MxArray, v: MxArray, scale: number, mask?: AttentionMask): MxArray {
  let scores = mx.matmul(mx.multiply(q, scale), mx.swapaxes(k, -1, -2));
  const lq = q.shape[q.ndim - 2], lk = k.shape[k.ndim - 2];
  if (mask === "causal") {
    const qi = mx.reshape(mx.arange(lk - lq, lk), [lq, 1]), ki = mx.reshape(mx.arange(lk), [1, lk]);
    mask = mx.greaterEqual(qi, ki);
  }
  if (mask) {
    if (mask.dtype === mx.bool) scores = mx.where(mask, scores, finfoMin(scores.dtype));
    else scores = mx.add(scores, mx.astype(mask, scores.dtype));
  }
  return mx.matmul(mx.softmax(scores, -1), v);
}

function splitHeads(x: MxArray, heads: number): MxArray {
  const s = x.shape;
  return mx.swapaxes(mx.reshape(x, [...s.slice(0, -1), heads, -1]), -2, -3);
}

/**
 * Multi-head attention as MLX: queryProj, keyProj, valueProj and outProj (no bias by default). Inputs are
 * [..., L, dims]; `mask` is added to the attention scores (see createAdditiveCausalMask) or, when boolean, selects
 * the positions to attend to.
 */
export class MultiHeadAttention extends Module {
  queryProj: Linear;
  keyProj: Linear;
  valueProj: Linear;
  outProj: Linear;

  constructor(public dims: number, public numHeads: number, opts: {
    queryInputDims?: number; keyInputDims?: number; valueInputDims?: number; valueDims?: number;
    valueOutputDims?: number; bias?: boolean;
  } = {}) {
    super();
    if (dims % numHeads !== 0)
      throw new EngineError(`[MultiHeadAttention] the input feature dimensions should be divisible by the number of heads (${dims} % ${numHeads}) != 0`);
    const queryInputDims = opts.queryInputDims ?? dims;
    const keyInputDims = opts.keyInputDims ?? dims;
    const valueInputDims = opts.valueInputDims ?? keyInputDims;
    const valueDims = opts.valueDims ?? dims;
    const valueOutputDims = opts.valueOutputDims ?? dims;
    const bias = opts.bias ?? false;
    this.queryProj = new Linear(queryInputDims, dims, bias);
    this.keyProj = new Linear(keyInputDims, dims, bias);
    this.valueProj = new Linear(valueInputDims, valueDims, bias);
    this.outProj = new Linear(valueDims, valueOutputDims, bias);
  }

  forward(queries: MxArray, keys: MxArray, values: MxArray, mask?: AttentionMask): MxArray {
    const q = splitHeads(this.queryProj.forward(queries), this.numHeads);
    const k = splitHeads(this.keyProj.forward(keys), this.numHeads);
    const v = splitHeads(this.valueProj.forward(values), this.numHeads);
    const scale = Math.sqrt(1 / q.shape[q.ndim - 1]);
    const o = scaledDotProductAttention(q, k, v, scale, mask);
    const merged = mx.swapaxes(o, -2, -3);
    return this.outProj.forward(mx.reshape(merged, [...merged.shape.slice(0, -2), -1]));
  }

  /** [n, n] additive mask: 0 on and below the diagonal, the dtype's most negative value above it. */
  static createAdditiveCausalMask(n: number, dtype: Dtype = mx.float32): MxArray {
    const idx = mx.arange(n);
    const mask = mx.less(mx.reshape(idx, [n, 1]), mx.reshape(idx, [1, n]));
    return mx.multiply(mx.astype(mask, dtype), finfoMin(dtype));
  }

  protected override describe(): string {
    return `dims=${this.dims}, numHeads=${this.numHeads}`;
  }
}

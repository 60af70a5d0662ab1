// LoRALinear (mlx-lm's tuner/lora.py semantics): y = base(x) + scale · (dropout(x) @ lora_a) @ lora_b, with
// lora_a [input_dims, rank] ~ U(±1/sqrt(input_dims)) and lora_b [rank, output_dims] = 0, around an nn.Linear or a
// quantized linear (QLoRA: the base stays quantized and frozen).
import * as mx from "../../core/mx.js";
import { isArray, type MxArray } from "../../core/array.js";
import { EngineError } from "../../core/errors.js";
import { Module } from "../../nn/module.js";
import { Linear } from "../../nn/layers/linear.js";
import { Dropout } from "../../nn/layers/dropout.js";
import * as nn from "../../nn/index.js";

/** The options every adapter layer takes (mlx-lm's lora_parameters). */
export interface LoraLayerOptions {
  rank?: number;
  scale?: number;
  dropout?: number;
}

/** A quantized linear layer, recognised by duck typing (weight + scales), so QLoRA works with nn.QuantizedLinear. */
export interface QuantizedLinearLike extends Module {
  weight: MxArray;
  scales: MxArray;
  biases?: MxArray;
  bias?: MxArray;
  groupSize: number;
  bits: number;
  mode?: string;
  forward(x: MxArray): MxArray;
}

export type LinearLike = Linear | QuantizedLinearLike;

export function isQuantizedLinear(m: unknown): m is QuantizedLinearLike {
  return m instanceof Module && isArray((m as any).scales) && isArray((m as any).weight) && typeof (m as any).forward === "function";
}

/** nn.Linear or a quantized linear. */
export function isLinearLike(m: unknown): m is LinearLike {
  return m instanceof Linear || isQuantizedLinear(m);
}

/** [outputDims, inputDims] of a (possibly quantized) linear: packed weights hold 32/bits values per element. */
export function linearDims(lin: LinearLike): [number, number] {
  const [out, packed] = lin.weight.shape;
  if (!isQuantizedLinear(lin)) return [out, packed];
  if (typeof lin.bits !== "number")
    throw new EngineError(`[LoRALinear] the quantized layer has no 'bits'; cannot tell its input size`);
  return [out, (packed * 32) / lin.bits];
}

/** The base weight as a float matrix [out, in] (dequantized when the layer is quantized). */
export function dequantizedWeight(lin: LinearLike): MxArray {
  if (!isQuantizedLinear(lin)) return lin.weight;
  const own = (lin as { dequantizedWeight?: () => MxArray }).dequantizedWeight;
  if (typeof own === "function") return own.call(lin);
  const dq = (mx as any).dequantize;
  if (typeof dq !== "function")
    throw new EngineError("[LoRA] this build has no mx.dequantize, needed to read a quantized base weight");
  return dq(lin.weight, lin.scales, lin.biases, { groupSize: lin.groupSize, bits: lin.bits }) as MxArray;
}

/** A float Linear with this weight (and bias), re-quantized like `like` when asked. */
export function linearFromWeight(weight: MxArray, bias: MxArray | undefined, like?: QuantizedLinearLike): Module {
  const [out, inp] = weight.shape;
  const lin = new Linear(inp, out, bias !== undefined);
  lin.weight = weight;
  if (bias !== undefined) lin.bias = bias;
  if (!like) return lin;
  const Q = (nn as any).QuantizedLinear;
  if (!Q || typeof Q.fromLinear !== "function")
    throw new EngineError("[fuse] re-quantizing a fused layer needs nn.QuantizedLinear.fromLinear; pass dequantize: true");
  return Q.fromLinear(lin, like.groupSize, like.bits) as Module;
}

// ---- dropout keys for gradient checkpointing ----
// A recomputed forward must drop the same units as the first one; while a key source is set, adapter dropout
// draws its masks from it instead of the global random sequence.
let dropoutKeys: { key: MxArray } | null = null;

/** Runs fn with adapter dropout masks drawn from `key` (deterministically, in call order). */
export function withDropoutKey<T>(key: MxArray | null, fn: () => T): T {
  const prev = dropoutKeys;
  dropoutKeys = key ? { key } : null;
  try {
    return fn();
  } finally {
    dropoutKeys = prev;
  }
}

/** dropout(x) with the layer's probability, from the checkpoint key source when one is set. */
export function adapterDropout(d: Dropout, x: MxArray): MxArray {
  const p = d.p;
  if (p === 0 || !d.training) return x;
  if (!dropoutKeys) return d.forward(x);
  const ks = mx.random.split(dropoutKeys.key, 2);
  const row = (i: number) => mx.reshape(mx.slice(ks, [i, 0], [i + 1, 2]), [2]);
  const use = row(1);
  dropoutKeys.key = row(0);
  const mask = mx.random.bernoulli(1 - p, x.shape, use);
  return mx.multiply(mx.multiply(mask, x), 1 / (1 - p));
}

function checkOptions(opts: LoraLayerOptions, who: string): Required<LoraLayerOptions> {
  const rank = opts.rank ?? 8, scale = opts.scale ?? 20.0, dropout = opts.dropout ?? 0.0;
  if (!Number.isInteger(rank) || rank < 1) throw new EngineError(`[${who}] rank must be a positive integer, got ${rank}`);
  if (!Number.isFinite(scale)) throw new EngineError(`[${who}] scale must be a finite number, got ${scale}`);
  if (!(dropout >= 0 && dropout < 1)) throw new EngineError(`[${who}] dropout must be in [0, 1), got ${dropout}`);
  return { rank, scale, dropout };
}

export class LoRALinear extends Module {
  linear: LinearLike;
  dropout: Dropout;
  scale: number;
  lora_a: MxArray;
  lora_b: MxArray;

  /** A fresh adapter (with its own random base Linear, as mlx-lm's constructor); use fromBase to wrap a layer. */
  constructor(inputDims: number, outputDims: number, opts: LoraLayerOptions & { bias?: boolean } = {}) {
    super();
    const { rank, scale, dropout } = checkOptions(opts, "LoRALinear");
    this.linear = new Linear(inputDims, outputDims, opts.bias ?? false);
    this.dropout = new Dropout(dropout);
    this.scale = scale;
    const s = 1 / Math.sqrt(inputDims);
    this.lora_a = mx.random.uniform(-s, s, [inputDims, rank]);
    this.lora_b = mx.zeros([rank, outputDims]);
  }

  /** Wraps an existing nn.Linear or quantized linear (which keeps its frozen state). */
  static fromBase(linear: LinearLike, opts: LoraLayerOptions = {}): LoRALinear {
    if (!isLinearLike(linear))
      throw new EngineError(`[LoRALinear] can't wrap a ${(linear as object)?.constructor?.name ?? typeof linear}: expected nn.Linear or nn.QuantizedLinear`);
    const [out, inp] = linearDims(linear);
    const l = new LoRALinear(inp, out, opts);
    l.linear = linear;
    return l;
  }

  get rank(): number {
    return this.lora_a.shape[1];
  }

  forward(x: MxArray): MxArray {
    const y = this.linear.forward(x);
    const z = mx.matmul(mx.matmul(adapterDropout(this.dropout, x), this.lora_a), this.lora_b);
    return mx.add(y, mx.astype(mx.multiply(z, this.scale), x.dtype));
  }

  /** The base layer with W + scale · (lora_a @ lora_b)ᵀ folded in (re-quantized unless dequantize). */
  fuse(opts: { dequantize?: boolean } = {}): Module {
    const lin = this.linear;
    const w = dequantizedWeight(lin);
    const delta = mx.transpose(mx.matmul(mx.multiply(this.lora_a, this.scale), this.lora_b));
    const fused = mx.add(w, mx.astype(delta, w.dtype));
    const q = isQuantizedLinear(lin) && !opts.dequantize ? lin : undefined;
    return linearFromWeight(fused, lin.bias, q);
  }

  protected override describe(): string {
    const [o, i] = linearDims(this.linear);
    return `inputDims=${i}, outputDims=${o}, rank=${this.rank}, scale=${this.scale}`;
  }
}

// Quantized layers (MLX's affine format): QuantizedLinear, QuantizedEmbedding, and nn.quantize, which swaps the
// Linear/Embedding leaves of a model for them, as mlx.nn does.
import * as mx from "../../core/mx.js";
import type { MxArray } from "../../core/array.js";
import { EngineError } from "../../core/errors.js";
import { treeFlatten, treeUnflatten } from "../../core/tree.js";
import { Module } from "../module.js";
import { Linear } from "./linear.js";
import { Embedding } from "./embedding.js";
import { randomNormal, randomUniform } from "../engine-ops.js";

/** Per-layer quantization parameters, as mlx-lm writes them in config.json. */
export interface QuantParams {
  groupSize?: number;
  bits?: number;
  mode?: string;
}

function checkMode(mode: string | undefined, who: string): void {
  if (mode !== undefined && mode !== "affine")
    throw new EngineError(`[${who}] quantization mode '${mode}' is not supported; only 'affine' is`);
}

/**
 * y = x · dequantize(W)ᵀ + b with W stored as mx.quantize's codes, scales and biases (parameters `weight`,
 * `scales`, `biases`, optional `bias`). Frozen at construction, as in MLX; gradients flow to x (QLoRA).
 */
export class QuantizedLinear extends Module {
  readonly groupSize: number;
  readonly bits: number;
  readonly mode = "affine";
  weight: MxArray;
  scales: MxArray;
  biases: MxArray;
  declare bias?: MxArray;

  constructor(inputDims: number, outputDims: number, bias = true, groupSize = 64, bits = 4) {
    super();
    this.groupSize = groupSize;
    this.bits = bits;
    const scale = Math.sqrt(1 / inputDims);
    ({ wq: this.weight, scales: this.scales, biases: this.biases } =
      mx.quantize(randomUniform(-scale, scale, [outputDims, inputDims]), { groupSize, bits }));
    if (bias) this.bias = mx.zeros([outputDims]);
    this.freeze();
  }

  forward(x: MxArray): MxArray {
    const y = mx.quantizedMatmul(x, this.weight, this.scales, this.biases,
      { transpose: true, groupSize: this.groupSize, bits: this.bits });
    return this.bias ? mx.add(y, this.bias) : y;
  }

  /** The layer's dense weight [outputDims, inputDims] (mx.dequantize of its parameters). */
  dequantizedWeight(): MxArray {
    return mx.dequantize(this.weight, this.scales, this.biases, { groupSize: this.groupSize, bits: this.bits });
  }

  /** A QuantizedLinear holding mx.quantize(linear.weight) (and linear's bias). */
  static fromLinear(linear: Linear, groupSize = 64, bits = 4, mode?: string): QuantizedLinear {
    checkMode(mode, "QuantizedLinear.fromLinear");
    const [outputDims, inputDims] = linear.weight.shape;
    const q = mx.quantize(linear.weight, { groupSize, bits });  // validates before anything is built
    const ql = new QuantizedLinear(inputDims, outputDims, false, groupSize, bits);
    ql.weight = q.wq, ql.scales = q.scales, ql.biases = q.biases;
    if (linear.bias) ql.bias = linear.bias;
    return ql;
  }

  protected override describe(): string {
    const [o, i] = this.weight.shape;
    return `inputDims=${(i * 32) / this.bits}, outputDims=${o}, bias=${this.bias !== undefined}, ` +
      `groupSize=${this.groupSize}, bits=${this.bits}, mode=affine`;
  }
}

/**
 * An Embedding whose table is stored quantized: forward dequantizes only the rows it takes; asLinear is the tied
 * output head as a quantized matmul.
 */
export class QuantizedEmbedding extends Module {
  readonly groupSize: number;
  readonly bits: number;
  readonly mode = "affine";
  readonly numEmbeddings: number;
  readonly dims: number;
  weight: MxArray;
  scales: MxArray;
  biases: MxArray;

  constructor(numEmbeddings: number, dims: number, groupSize = 64, bits = 4) {
    super();
    this.groupSize = groupSize;
    this.bits = bits;
    this.numEmbeddings = numEmbeddings;
    this.dims = dims;
    ({ wq: this.weight, scales: this.scales, biases: this.biases } =
      mx.quantize(randomNormal([numEmbeddings, dims], 0, Math.sqrt(1 / dims)), { groupSize, bits }));
    this.freeze();
  }

  /** The dequantized rows for integer ids of any shape: [...ids.shape, dims]. */
  forward(x: MxArray): MxArray {
    return mx.dequantize(mx.take(this.weight, x, 0), mx.take(this.scales, x, 0), mx.take(this.biases, x, 0),
      { groupSize: this.groupSize, bits: this.bits });
  }

  /** x · tableᵀ as a quantized matmul (the tied output projection). */
  asLinear(x: MxArray): MxArray {
    return mx.quantizedMatmul(x, this.weight, this.scales, this.biases,
      { transpose: true, groupSize: this.groupSize, bits: this.bits });
  }

  /** The dense table [numEmbeddings, dims]. */
  dequantizedWeight(): MxArray {
    return mx.dequantize(this.weight, this.scales, this.biases, { groupSize: this.groupSize, bits: this.bits });
  }

  /** A QuantizedEmbedding holding mx.quantize(embedding.weight). */
  static fromEmbedding(embedding: Embedding, groupSize = 64, bits = 4, mode?: string): QuantizedEmbedding {
    checkMode(mode, "QuantizedEmbedding.fromEmbedding");
    const [n, dims] = embedding.weight.shape;
    const q = mx.quantize(embedding.weight, { groupSize, bits });
    const qe = new QuantizedEmbedding(n, dims, groupSize, bits);
    qe.weight = q.wq, qe.scales = q.scales, qe.biases = q.biases;
    return qe;
  }

  protected override describe(): string {
    return `${this.numEmbeddings}, ${this.dims}, groupSize=${this.groupSize}, bits=${this.bits}, mode=affine`;
  }
}

/** A module that nn.quantize can convert: Linear, Embedding, or anything with a toQuantized(groupSize, bits) method. */
export function isQuantizable(m: unknown): boolean {
  return m instanceof Linear || m instanceof Embedding ||
    (m instanceof Module && typeof (m as { toQuantized?: unknown }).toQuantized === "function");
}

function toQuantized(m: Module, groupSize: number, bits: number): Module {
  if (m instanceof Linear) return QuantizedLinear.fromLinear(m, groupSize, bits);
  if (m instanceof Embedding) return QuantizedEmbedding.fromEmbedding(m, groupSize, bits);
  const f = (m as unknown as { toQuantized?: (g: number, b: number) => Module }).toQuantized;
  if (typeof f === "function") return f.call(m, groupSize, bits);
  throw new EngineError(`[nn.quantize] unable to quantize a module of type ${m.constructor.name}`);
}

/** (path, module) → false (keep), true (quantize with the defaults) or per-layer parameters. */
export type ClassPredicate = (path: string, module: Module) => boolean | QuantParams | { group_size?: number; bits?: number; mode?: string };

export interface QuantizeModelOptions extends QuantParams {
  /**
   * Which leaves to quantize, as MLX's class_predicate (may also return `{ groupSize, bits }` or mlx-lm's
   * `{ group_size, bits }` for that layer). Default: every Linear/Embedding whose last dim the group size divides.
   */
  classPredicate?: ClassPredicate;
}

/**
 * Replaces, in place, the leaf modules of `model` that the predicate selects by their quantized versions
 * (QuantizedLinear / QuantizedEmbedding, built with mx.quantize of their weights). Returns the model.
 */
export function quantize<M extends Module>(model: M, options: QuantizeModelOptions = {}): M {
  const { groupSize = 64, bits = 4, classPredicate } = options;
  checkMode(options.mode, "nn.quantize");
  const divides = (m: Module) => {
    const w = (m as unknown as { weight?: MxArray }).weight;
    return !w || w.shape[w.shape.length - 1] % groupSize === 0;
  };
  const pred: ClassPredicate = classPredicate ?? ((_p, m) => isQuantizable(m) && divides(m));
  const replaced: [string, Module][] = [];
  for (const [path, m] of model.namedModules()) {
    if (path === "" || treeFlatten(m.children(), "", Module.isModule).length > 0) continue;  // leaves only
    const r = pred(path, m);
    if (r === false || r === undefined || r === null) continue;
    if (!isQuantizable(m)) throw new EngineError(`[nn.quantize] unable to quantize '${path}' of type ${m.constructor.name}`);
    let gs = groupSize, b = bits;
    if (typeof r === "object") {
      const o = r as Record<string, unknown>;
      checkMode(o.mode as string | undefined, "nn.quantize");
      gs = Number(o.groupSize ?? o.group_size ?? groupSize);
      b = Number(o.bits ?? bits);
    } else if (r !== true) {
      throw new EngineError(`[nn.quantize] classPredicate must return a boolean or { groupSize, bits }, got ${typeof r} for '${path}'`);
    }
    try {
      replaced.push([path, toQuantized(m, gs, b)]);
    } catch (e) {
      throw new EngineError(`[nn.quantize] cannot quantize '${path}': ${(e as Error).message}`);
    }
  }
  if (replaced.length) model.updateModules(treeUnflatten(replaced));
  return model;
}

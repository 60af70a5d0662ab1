// nn.losses: MLX's loss functions (camelCase names, keyword arguments as an options object).
import * as mx from "../core/mx.js";
import type { MxArray } from "../core/array.js";
import { EngineError } from "../core/errors.js";
import { hasOp, requireOp } from "./engine-ops.js";

export type Reduction = "none" | "mean" | "sum";

function reduce(loss: MxArray, reduction: Reduction, op: string): MxArray {
  if (reduction === "mean") return mx.mean(loss);
  if (reduction === "sum") return mx.sum(loss);
  if (reduction === "none") return loss;
  throw new EngineError(`[${op}] invalid reduction '${String(reduction)}'; must be "none", "mean" or "sum"`);
}

const shp = (a: MxArray) => `[${a.shape.join(", ")}]`;
const sameShape = (a: MxArray, b: MxArray) => a.shape.length === b.shape.length && a.shape.every((d, i) => d === b.shape[i]);

function normAxis(axis: number, ndim: number, op: string): number {
  const ax = axis < 0 ? axis + ndim : axis;
  if (ax < 0 || ax >= ndim) throw new EngineError(`[${op}] axis ${axis} is out of bounds for an array with ${ndim} dimension(s)`);
  return ax;
}

function applyWeights(loss: MxArray, weights: MxArray | undefined, op: string): MxArray {
  if (!weights) return loss;
  if (!sameShape(weights, loss))
    throw new EngineError(`[${op}] weights with shape ${shp(weights)} do not match the loss shape ${shp(loss)}`);
  return mx.multiply(loss, weights);
}

/**
 * logits[..., targets, ...] along `axis`: with mx.takeAlongAxis when the engine has it, otherwise as
 * sum(logits · onehot(targets)), the one-hot built with equal(targets, arange(C)).
 */
function pickAlongAxis(logits: MxArray, targets: MxArray, axis: number): MxArray {
  const t = mx.expandDims(targets, axis);
  if (hasOp("takeAlongAxis"))
    return mx.squeeze(requireOp("takeAlongAxis", "crossEntropy")(logits, t, axis) as MxArray, axis);
  const c = logits.shape[axis];
  const classes = mx.reshape(mx.arange(c), logits.shape.map((_, i) => (i === axis ? c : 1)));
  const onehot = mx.equal(t, classes);
  return mx.sum(mx.where(onehot, logits, 0), axis);
}

export interface CrossEntropyOptions {
  /** Per-element weights, shaped like the unreduced loss. */
  weights?: MxArray;
  axis?: number;
  labelSmoothing?: number;
  reduction?: Reduction;
  /**
   * Positions to ignore, shaped like the unreduced loss (bool or 0/1): masked-out positions get loss 0, and the
   * "mean" reduction divides by the number of kept positions (not all of them), as masked LM training wants.
   */
  mask?: MxArray;
  /** Class-index targets equal to this are ignored like masked positions (PyTorch's ignore_index, e.g. -100). */
  ignoreIndex?: number;
}

/**
 * Cross entropy between logits and targets: class indices (integer array, logits' shape without `axis`) or
 * probabilities (same shape as logits). Defaults as MLX: axis -1, labelSmoothing 0, reduction "none".
 */
export function crossEntropy(logits: MxArray, targets: MxArray, opts: CrossEntropyOptions = {}): MxArray {
  const { weights, axis = -1, labelSmoothing = 0, reduction = "none", ignoreIndex } = opts;
  const op = "crossEntropy";
  if (!(labelSmoothing >= 0 && labelSmoothing < 1))
    throw new EngineError(`[${op}] labelSmoothing must be in [0, 1), got ${labelSmoothing}`);
  const ax = normAxis(axis, logits.ndim, op);
  const asProbs = targets.ndim === logits.ndim;
  let mask = opts.mask;
  let score: MxArray;
  if (asProbs) {
    if (!sameShape(targets, logits))
      throw new EngineError(`[${op}] targets of probabilities must have the logits' shape ${shp(logits)}, got ${shp(targets)}`);
    if (ignoreIndex !== undefined) throw new EngineError(`[${op}] ignoreIndex needs class-index targets, not probabilities`);
    score = mx.sum(mx.multiply(logits, targets), ax);
  } else {
    const expected = logits.shape.filter((_, i) => i !== ax);
    if (targets.ndim !== expected.length || targets.shape.some((d, i) => d !== expected[i]))
      throw new EngineError(`[${op}] class-index targets must have shape [${expected.join(", ")}] (logits ${shp(logits)} without axis ${axis}), got ${shp(targets)}`);
    if (targets.dtype.kind !== "int" && targets.dtype.kind !== "uint")
      throw new EngineError(`[${op}] class-index targets must be integers, got ${targets.dtype.name}`);
    let t = targets;
    if (ignoreIndex !== undefined) {
      const keep = mx.notEqual(targets, ignoreIndex);
      mask = mask ? mx.logicalAnd(mx.astype(mask, mx.bool), keep) : keep;
      t = mx.where(keep, targets, 0);  // a valid index where ignored, so the gather stays in range
    }
    score = pickAlongAxis(logits, t, ax);
  }
  const lse = mx.logsumexp(logits, ax);
  let loss: MxArray;
  if (labelSmoothing > 0) {
    const adjusted = mx.multiply(score, 1 - labelSmoothing);
    const smoothed = mx.multiply(mx.mean(logits, ax), -labelSmoothing);
    loss = mx.add(mx.subtract(lse, adjusted), smoothed);
  } else loss = mx.subtract(lse, score);
  loss = applyWeights(loss, weights, op);
  if (!mask) return reduce(loss, reduction, op);
  if (!sameShape(mask, loss)) throw new EngineError(`[${op}] mask with shape ${shp(mask)} does not match the loss shape ${shp(loss)}`);
  loss = mx.where(mx.astype(mask, mx.bool), loss, 0);
  if (reduction === "mean") return mx.divide(mx.sum(loss), mx.maximum(mx.sum(mx.astype(mask, mx.float32)), 1));
  return reduce(loss, reduction, op);
}

/**
 * Binary cross entropy. withLogits (default true): inputs are logits, computed stably as
 * log(1 + e^x) - x·t; otherwise inputs are probabilities with the logs clipped at -100 (as MLX / PyTorch).
 */
export function binaryCrossEntropy(inputs: MxArray, targets: MxArray,
                                   opts: { weights?: MxArray; withLogits?: boolean; reduction?: Reduction } = {}): MxArray {
  const { weights, withLogits = true, reduction = "mean" } = opts;
  const op = "binaryCrossEntropy";
  if (!sameShape(inputs, targets)) throw new EngineError(`[${op}] inputs ${shp(inputs)} and targets ${shp(targets)} must have the same shape`);
  let loss: MxArray;
  if (withLogits) loss = mx.subtract(mx.logaddexp(inputs, 0), mx.multiply(inputs, targets));
  else {
    const logP = mx.maximum(mx.log(inputs), -100);
    const log1mP = mx.maximum(mx.log(mx.subtract(1, inputs)), -100);
    loss = mx.negative(mx.add(mx.multiply(targets, logP), mx.multiply(mx.subtract(1, targets), log1mP)));
  }
  return reduce(applyWeights(loss, weights, op), reduction, op);
}

function checkSame(a: MxArray, b: MxArray, op: string): void {
  if (!sameShape(a, b)) throw new EngineError(`[${op}] predictions ${shp(a)} and targets ${shp(b)} must have the same shape`);
}

/** Mean squared error (default reduction "mean"). */
export function mseLoss(predictions: MxArray, targets: MxArray, opts: { reduction?: Reduction } = {}): MxArray {
  checkSame(predictions, targets, "mseLoss");
  return reduce(mx.square(mx.subtract(predictions, targets)), opts.reduction ?? "mean", "mseLoss");
}

/** Mean absolute error (default reduction "mean"). */
export function l1Loss(predictions: MxArray, targets: MxArray, opts: { reduction?: Reduction } = {}): MxArray {
  checkSame(predictions, targets, "l1Loss");
  return reduce(mx.abs(mx.subtract(predictions, targets)), opts.reduction ?? "mean", "l1Loss");
}

/** 0.5·d²/beta where |d| < beta, else |d| - 0.5·beta (default beta 1, reduction "mean"). */
export function smoothL1Loss(predictions: MxArray, targets: MxArray, opts: { beta?: number; reduction?: Reduction } = {}): MxArray {
  const { beta = 1.0, reduction = "mean" } = opts;
  checkSame(predictions, targets, "smoothL1Loss");
  const d = mx.abs(mx.subtract(predictions, targets));
  const loss = mx.where(mx.less(d, beta), mx.divide(mx.multiply(mx.square(d), 0.5), beta), mx.subtract(d, 0.5 * beta));
  return reduce(loss, reduction, "smoothL1Loss");
}

/** 0.5·d² where |d| ≤ delta, else delta·(|d| - 0.5·delta) (default delta 1, reduction "none"). */
export function huberLoss(inputs: MxArray, targets: MxArray, opts: { delta?: number; reduction?: Reduction } = {}): MxArray {
  const { delta = 1.0, reduction = "none" } = opts;
  checkSame(inputs, targets, "huberLoss");
  const d = mx.abs(mx.subtract(inputs, targets));
  const loss = mx.where(mx.lessEqual(d, delta), mx.multiply(mx.square(d), 0.5), mx.multiply(mx.subtract(d, 0.5 * delta), delta));
  return reduce(loss, reduction, "huberLoss");
}

/** log(cosh(d)), computed stably as logaddexp(d, -d) - log 2 (default reduction "none"). */
export function logCoshLoss(inputs: MxArray, targets: MxArray, opts: { reduction?: Reduction } = {}): MxArray {
  checkSame(inputs, targets, "logCoshLoss");
  const d = mx.subtract(inputs, targets);
  return reduce(mx.subtract(mx.logaddexp(d, mx.negative(d)), Math.LN2), opts.reduction ?? "none", "logCoshLoss");
}

/** max(0, 1 - inputs·targets) for targets in {-1, 1} (default reduction "none"). */
export function hingeLoss(inputs: MxArray, targets: MxArray, opts: { reduction?: Reduction } = {}): MxArray {
  checkSame(inputs, targets, "hingeLoss");
  return reduce(mx.maximum(mx.subtract(1, mx.multiply(inputs, targets)), 0), opts.reduction ?? "none", "hingeLoss");
}

/** Negative log likelihood of class-index targets under log-probabilities `inputs` (default reduction "none"). */
export function nllLoss(inputs: MxArray, targets: MxArray, opts: { axis?: number; reduction?: Reduction } = {}): MxArray {
  const { axis = -1, reduction = "none" } = opts;
  const ax = normAxis(axis, inputs.ndim, "nllLoss");
  const expected = inputs.shape.filter((_, i) => i !== ax);
  if (targets.ndim !== expected.length || targets.shape.some((d, i) => d !== expected[i]))
    throw new EngineError(`[nllLoss] targets must have shape [${expected.join(", ")}], got ${shp(targets)}`);
  return reduce(mx.negative(pickAlongAxis(inputs, targets, ax)), reduction, "nllLoss");
}

/** KL divergence sum(exp(t)·(t - x)) along `axis`, with inputs x and targets t both log-probabilities (default "none"). */
export function klDivLoss(inputs: MxArray, targets: MxArray, opts: { axis?: number; reduction?: Reduction } = {}): MxArray {
  const { axis = -1, reduction = "none" } = opts;
  checkSame(inputs, targets, "klDivLoss");
  const ax = normAxis(axis, inputs.ndim, "klDivLoss");
  return reduce(mx.sum(mx.multiply(mx.exp(targets), mx.subtract(targets, inputs)), ax), reduction, "klDivLoss");
}

/**
 * Cosine similarity x1·x2 / max(|x1|·|x2|, eps) along `axis` (default 1 as MLX; reduction "none"). As in MLX this
 * returns the similarity itself (1 for parallel vectors), not 1 - similarity.
 */
export function cosineSimilarityLoss(x1: MxArray, x2: MxArray, opts: { axis?: number; eps?: number; reduction?: Reduction } = {}): MxArray {
  const { axis = 1, eps = 1e-8, reduction = "none" } = opts;
  checkSame(x1, x2, "cosineSimilarityLoss");
  const ax = normAxis(axis, x1.ndim, "cosineSimilarityLoss");
  const n1 = mx.sqrt(mx.sum(mx.square(x1), ax)), n2 = mx.sqrt(mx.sum(mx.square(x2), ax));
  const loss = mx.divide(mx.sum(mx.multiply(x1, x2), ax), mx.maximum(mx.multiply(n1, n2), eps));
  return reduce(loss, reduction, "cosineSimilarityLoss");
}

// Short aliases.
export const mse = mseLoss;
export const l1 = l1Loss;
export const smoothL1 = smoothL1Loss;
export const huber = huberLoss;
export const klDiv = klDivLoss;
export const cosineSimilarity = cosineSimilarityLoss;

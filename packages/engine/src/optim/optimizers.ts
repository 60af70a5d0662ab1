// Optimizers with mlx.optimizers semantics (camelCase). State is a plain tree of arrays: { step, learningRate,
// <parameter paths>: { m, v, … } }, so it can be flattened, saved as safetensors and assigned back.
import * as mx from "../core/mx.js";
import { isArray, type MxArray } from "../core/array.js";
import { EngineError } from "../core/errors.js";
import { treeMap, treeArrays } from "../core/tree.js";
import { Module, isPlainObject, type ParamTree } from "../nn/module.js";

/** A function of the step counter (a uint64 scalar array) giving a value, e.g. the learning rate. */
export type Schedule = (step: MxArray) => MxArray;
export type LearningRate = number | MxArray | Schedule;
type State = Record<string, MxArray>;

function isEmptyState(s: unknown): boolean {
  return s === undefined || (isPlainObject(s) && Object.keys(s).length === 0);
}

/** The optimizer base class: subclasses give initSingle (state of one parameter) and applySingle (its update). */
export abstract class Optimizer {
  private _initialized = false;
  private _state: ParamTree = { step: mx.array(0, mx.uint64) };
  private _schedulers: Record<string, Schedule> = {};

  /** The whole state tree: step, scheduled values and per-parameter arrays. Assigning it restores a saved state. */
  get state(): ParamTree {
    return this._state;
  }
  set state(s: ParamTree) {
    if (!isPlainObject(s)) throw new EngineError("[Optimizer.state] expected a plain object tree of arrays");
    this._initialized = false;
    this._state = s;
  }

  /** The number of updates made so far (uint64 scalar). */
  get step(): MxArray {
    return this._state.step;
  }

  get learningRate(): MxArray {
    return this._state.learningRate;
  }
  set learningRate(lr: number | MxArray) {
    this._state.learningRate = isArray(lr) ? lr : mx.array(lr, mx.float32);
  }

  /** Stores a hyperparameter in the state; a function becomes a schedule re-evaluated at every update. */
  protected maybeSchedule(name: string, value: LearningRate): void {
    if (typeof value === "function") {
      this._schedulers[name] = value;
      this._state[name] = value(this.step);
    } else this._state[name] = isArray(value) ? value : mx.array(value, mx.float32);
  }

  /** Creates the state of every parameter in the tree that has none yet (called by the first update). */
  init(parameters: ParamTree | Module): void {
    const params = parameters instanceof Module ? parameters.trainableParameters() : parameters;
    const empty = (t: unknown) => treeMap(() => ({}), t);
    const merge = (p: unknown, s: any): any => {
      if (Array.isArray(p)) {
        const list: any[] = Array.isArray(s) ? s.slice() : [];
        for (let i = 0; i < list.length && i < p.length; i++) list[i] = merge(p[i], list[i]);
        for (let i = list.length; i < p.length; i++) list.push(empty(p[i]));
        return list;
      }
      if (isPlainObject(p)) {
        const obj = isPlainObject(s) ? s : {};
        for (const [k, v] of Object.entries(p)) obj[k] = k in obj ? merge(v, obj[k]) : empty(v);
        return obj;
      }
      return s;
    };
    merge(params, this._state);
    treeMap((p: MxArray, s: unknown) => {
      if (isEmptyState(s)) {
        if (!isPlainObject(s)) throw new EngineError("[Optimizer.init] the state tree does not match the parameters");
        this.initSingle(p, s as State);
      }
      return s;
    }, params, this._state);
    this._initialized = true;
  }

  /** The updated parameters (a tree shaped like gradients); advances the step and the schedules. */
  applyGradients(gradients: ParamTree, parameters: ParamTree | Module): ParamTree {
    if (!this._initialized) this.init(gradients);
    for (const [name, schedule] of Object.entries(this._schedulers)) this._state[name] = schedule(this.step);
    this._state.step = mx.add(this.step, 1);
    return treeMap((g: MxArray, p: MxArray, s: State) => {
      if (!isArray(p))
        throw new EngineError("[Optimizer.applyGradients] a gradient has no matching parameter; gradients must be shaped like the parameters");
      return this.applySingle(g, p, s);
    }, gradients, parameters, this._state);
  }

  /** Applies the gradients to the model's parameters (model.update(applyGradients(grads, model))). */
  update(model: Module, gradients: ParamTree): void {
    model.update(this.applyGradients(gradients, model));
  }

  /** Fills `state` (an empty object) with the initial state of one parameter. */
  abstract initSingle(parameter: MxArray, state: State): void;
  /** The new value of one parameter; may replace entries of `state`. */
  abstract applySingle(gradient: MxArray, parameter: MxArray, state: State): MxArray;

  protected lr(dtype: MxArray["dtype"]): MxArray {
    return mx.astype(this.learningRate, dtype);
  }
}

const lerp = (prev: MxArray, x: MxArray, beta: number) => mx.add(mx.multiply(prev, beta), mx.multiply(x, 1 - beta));

function checkRange(name: string, v: number, lo: number, hi: number, op: string): void {
  if (!(v >= lo && v <= hi)) throw new EngineError(`[${op}] ${name} must be in [${lo}, ${hi}], got ${v}`);
}

/** Stochastic gradient descent with optional momentum, dampening, Nesterov momentum and L2 weight decay. */
export class SGD extends Optimizer {
  momentum: number; weightDecay: number; dampening: number; nesterov: boolean;
  constructor(opts: { learningRate: LearningRate; momentum?: number; weightDecay?: number; dampening?: number; nesterov?: boolean }) {
    super();
    this.momentum = opts.momentum ?? 0;
    this.weightDecay = opts.weightDecay ?? 0;
    this.dampening = opts.dampening ?? 0;
    this.nesterov = opts.nesterov ?? false;
    if (this.nesterov && (this.momentum <= 0 || this.dampening !== 0))
      throw new EngineError("[SGD] Nesterov momentum requires a momentum and zero dampening");
    this.maybeSchedule("learningRate", opts.learningRate);
  }
  initSingle(parameter: MxArray, state: State): void {
    state.v = mx.zerosLike(parameter);
  }
  applySingle(g: MxArray, p: MxArray, state: State): MxArray {
    if (this.weightDecay !== 0) g = mx.add(g, mx.multiply(p, this.weightDecay));
    const lr = this.lr(g.dtype);
    if (this.momentum <= 0) return mx.subtract(p, mx.multiply(lr, g));
    let v = mx.multiply(state.v, this.momentum);
    v = mx.add(v, this.dampening > 0 ? mx.multiply(g, 1 - this.dampening) : g);
    const update = this.nesterov ? mx.add(g, mx.multiply(v, this.momentum)) : v;
    state.v = v;
    return mx.subtract(p, mx.multiply(lr, update));
  }
}

/** RMSprop: v = α v + (1-α) g²; p -= lr g / (sqrt(v) + eps). */
export class RMSprop extends Optimizer {
  alpha: number; eps: number;
  constructor(opts: { learningRate: LearningRate; alpha?: number; eps?: number }) {
    super();
    this.alpha = opts.alpha ?? 0.99;
    this.eps = opts.eps ?? 1e-8;
    checkRange("alpha", this.alpha, 0, Infinity, "RMSprop");
    checkRange("eps", this.eps, 0, Infinity, "RMSprop");
    this.maybeSchedule("learningRate", opts.learningRate);
  }
  initSingle(p: MxArray, state: State): void {
    state.v = mx.zerosLike(p);
  }
  applySingle(g: MxArray, p: MxArray, state: State): MxArray {
    const v = lerp(state.v, mx.square(g), this.alpha);
    state.v = v;
    return mx.subtract(p, mx.divide(mx.multiply(this.lr(g.dtype), g), mx.add(mx.sqrt(v), this.eps)));
  }
}

/** Adagrad: v += g²; p -= lr g / (sqrt(v) + eps). */
export class Adagrad extends Optimizer {
  eps: number;
  constructor(opts: { learningRate: LearningRate; eps?: number }) {
    super();
    this.eps = opts.eps ?? 1e-8;
    checkRange("eps", this.eps, 0, Infinity, "Adagrad");
    this.maybeSchedule("learningRate", opts.learningRate);
  }
  initSingle(p: MxArray, state: State): void {
    state.v = mx.zerosLike(p);
  }
  applySingle(g: MxArray, p: MxArray, state: State): MxArray {
    const v = mx.add(state.v, mx.square(g));
    state.v = v;
    return mx.subtract(p, mx.divide(mx.multiply(this.lr(g.dtype), g), mx.add(mx.sqrt(v), this.eps)));
  }
}

/** AdaDelta: v = ρv + (1-ρ)g²; d = sqrt(u + eps)/sqrt(v + eps)·g; u = ρu + (1-ρ)d²; p -= lr d. */
export class AdaDelta extends Optimizer {
  rho: number; eps: number;
  constructor(opts: { learningRate: LearningRate; rho?: number; eps?: number }) {
    super();
    this.rho = opts.rho ?? 0.9;
    this.eps = opts.eps ?? 1e-6;
    checkRange("rho", this.rho, 0, Infinity, "AdaDelta");
    checkRange("eps", this.eps, 0, Infinity, "AdaDelta");
    this.maybeSchedule("learningRate", opts.learningRate);
  }
  initSingle(p: MxArray, state: State): void {
    state.v = mx.zerosLike(p);
    state.u = mx.zerosLike(p);
  }
  applySingle(g: MxArray, p: MxArray, state: State): MxArray {
    const v = lerp(state.v, mx.square(g), this.rho);
    const d = mx.multiply(mx.divide(mx.sqrt(mx.add(state.u, this.eps)), mx.sqrt(mx.add(v, this.eps))), g);
    state.v = v;
    state.u = lerp(state.u, mx.square(d), this.rho);
    return mx.subtract(p, mx.multiply(this.lr(g.dtype), d));
  }
}

export interface AdamOptions {
  learningRate: LearningRate;
  betas?: [number, number];
  eps?: number;
  /** Divide m and v by (1 - βᵗ) as PyTorch does (default false, as MLX). */
  biasCorrection?: boolean;
}

/** Adam: m = β₁m + (1-β₁)g, v = β₂v + (1-β₂)g², p -= lr m / (sqrt(v) + eps) (with bias correction when asked). */
export class Adam extends Optimizer {
  betas: [number, number]; eps: number; biasCorrection: boolean;
  constructor(opts: AdamOptions) {
    super();
    this.betas = opts.betas ?? [0.9, 0.999];
    this.eps = opts.eps ?? 1e-8;
    this.biasCorrection = opts.biasCorrection ?? false;
    this.maybeSchedule("learningRate", opts.learningRate);
  }
  initSingle(p: MxArray, state: State): void {
    state.m = mx.zerosLike(p);
    state.v = mx.zerosLike(p);
  }
  applySingle(g: MxArray, p: MxArray, state: State): MxArray {
    const lr = this.lr(g.dtype);
    const [b1, b2] = this.betas;
    const m = lerp(state.m, g, b1);
    const v = lerp(state.v, mx.square(g), b2);
    state.m = m;
    state.v = v;
    if (this.biasCorrection) {
      const c1 = mx.astype(mx.divide(lr, mx.subtract(1, mx.power(b1, this.step))), g.dtype);
      const c2 = mx.astype(mx.rsqrt(mx.subtract(1, mx.power(b2, this.step))), g.dtype);
      return mx.subtract(p, mx.divide(mx.multiply(c1, m), mx.add(mx.multiply(mx.sqrt(v), c2), this.eps)));
    }
    return mx.subtract(p, mx.divide(mx.multiply(lr, m), mx.add(mx.sqrt(v), this.eps)));
  }
}

/**
 * AdamW: Adam with decoupled weight decay, p ← p·(1 - lr·weightDecay) before the Adam step (default
 * weightDecay 0.01). With biasCorrection: true it is PyTorch's torch.optim.AdamW step for step.
 */
export class AdamW extends Adam {
  weightDecay: number;
  constructor(opts: AdamOptions & { weightDecay?: number }) {
    super(opts);
    this.weightDecay = opts.weightDecay ?? 0.01;
  }
  override applySingle(g: MxArray, p: MxArray, state: State): MxArray {
    const decayed = mx.multiply(p, mx.subtract(1, mx.multiply(this.lr(g.dtype), this.weightDecay)));
    return super.applySingle(g, decayed, state);
  }
}

/** Adamax: m = β₁m + (1-β₁)g, v = max(β₂v, |g|), p -= lr m / (v + eps). */
export class Adamax extends Adam {
  constructor(opts: { learningRate: LearningRate; betas?: [number, number]; eps?: number }) {
    super(opts);
    checkRange("eps", this.eps, 0, Infinity, "Adamax");
  }
  override applySingle(g: MxArray, p: MxArray, state: State): MxArray {
    const [b1, b2] = this.betas;
    const m = lerp(state.m, g, b1);
    const v = mx.maximum(mx.multiply(state.v, b2), mx.abs(g));
    state.m = m;
    state.v = v;
    return mx.subtract(p, mx.divide(mx.multiply(this.lr(g.dtype), m), mx.add(v, this.eps)));
  }
}

/** Lion: p -= lr·sign(β₁m + (1-β₁)g) (after decoupled decay); m = β₂m + (1-β₂)g. */
export class Lion extends Optimizer {
  betas: [number, number]; weightDecay: number;
  constructor(opts: { learningRate: LearningRate; betas?: [number, number]; weightDecay?: number }) {
    super();
    this.betas = opts.betas ?? [0.9, 0.99];
    this.weightDecay = opts.weightDecay ?? 0;
    this.maybeSchedule("learningRate", opts.learningRate);
  }
  initSingle(p: MxArray, state: State): void {
    state.m = mx.zerosLike(p);
  }
  applySingle(g: MxArray, p: MxArray, state: State): MxArray {
    const lr = this.lr(g.dtype);
    const [b1, b2] = this.betas;
    const c = lerp(state.m, g, b1);
    state.m = lerp(state.m, g, b2);
    if (this.weightDecay > 0) p = mx.multiply(p, mx.subtract(1, mx.multiply(lr, this.weightDecay)));
    return mx.subtract(p, mx.multiply(lr, mx.sign(c)));
  }
}

export interface AdafactorOptions {
  learningRate?: LearningRate;
  eps?: [number, number];
  clipThreshold?: number;
  decayRate?: number;
  beta1?: number;
  weightDecay?: number;
  scaleParameter?: boolean;
  relativeStep?: boolean;
  warmupInit?: boolean;
}

/** Adafactor (Shazeer & Stern 2018) with MLX's defaults: factored second moments for parameters with ≥ 2 dims. */
export class Adafactor extends Optimizer {
  eps: [number, number]; clipThreshold: number; decayRate: number; beta1?: number; weightDecay: number;
  scaleParameter: boolean; relativeStep: boolean; warmupInit: boolean;
  constructor(opts: AdafactorOptions = {}) {
    super();
    this.eps = opts.eps ?? [1e-30, 1e-3];
    this.clipThreshold = opts.clipThreshold ?? 1.0;
    this.decayRate = opts.decayRate ?? -0.8;
    this.beta1 = opts.beta1;
    this.weightDecay = opts.weightDecay ?? 0;
    this.scaleParameter = opts.scaleParameter ?? true;
    this.relativeStep = opts.relativeStep ?? true;
    this.warmupInit = opts.warmupInit ?? false;
    if (opts.learningRate !== undefined) this.maybeSchedule("learningRate", opts.learningRate);
    else if (!this.relativeStep) throw new EngineError("[Adafactor] a learningRate is needed when relativeStep is false");
  }
  initSingle(p: MxArray, state: State): void {
    if (p.ndim >= 2) {
      const s = p.shape;
      state.expAvgSqRow = mx.zeros(s.slice(0, -1), p.dtype);
      state.expAvgSqCol = mx.zeros([...s.slice(0, -2), s[s.length - 1]], p.dtype);
    } else state.expAvgSq = mx.zerosLike(p);
    if (this.beta1 !== undefined) state.expAvg = mx.zerosLike(p);
  }
  private rms(x: MxArray): MxArray {
    return mx.sqrt(mx.mean(mx.square(x)));
  }
  private computeLearningRate(step: MxArray, paramRms: MxArray): MxArray {
    let rel: MxArray;
    if (this.relativeStep) {
      const minStep = this.warmupInit ? mx.multiply(step, 1e-6) : 1e-2;
      rel = mx.minimum(minStep, mx.rsqrt(step));
    } else rel = this.learningRate;
    rel = mx.astype(rel, paramRms.dtype);
    return this.scaleParameter ? mx.multiply(mx.maximum(paramRms, this.eps[1]), rel) : rel;
  }
  applySingle(g: MxArray, p: MxArray, state: State): MxArray {
    const factored = g.ndim >= 2;
    const step = this.step;
    const paramRms = this.rms(p);
    const lr = this.computeLearningRate(step, paramRms);
    const beta2 = mx.subtract(1, mx.astype(mx.power(step, this.decayRate), paramRms.dtype));
    let update = mx.add(mx.square(g), this.eps[0]);
    const ema = (prev: MxArray, x: MxArray) => mx.add(mx.multiply(beta2, prev), mx.multiply(mx.subtract(1, beta2), x));
    if (factored) {
      const row = ema(state.expAvgSqRow, mx.mean(update, -1));
      const col = ema(state.expAvgSqCol, mx.mean(update, -2));
      state.expAvgSqRow = row;
      state.expAvgSqCol = col;
      const rFactor = mx.rsqrt(mx.divide(row, mx.mean(row, -1, true)));
      const cFactor = mx.rsqrt(col);
      update = mx.multiply(mx.matmul(mx.expandDims(rFactor, -1), mx.expandDims(cFactor, -2)), g);
    } else {
      const sq = ema(state.expAvgSq, update);
      state.expAvgSq = sq;
      update = mx.multiply(mx.rsqrt(sq), g);
    }
    update = mx.divide(update, mx.maximum(mx.divide(this.rms(update), this.clipThreshold), 1.0));
    update = mx.multiply(lr, update);
    if (this.beta1 !== undefined) {
      const avg = lerp(state.expAvg, update, this.beta1);
      state.expAvg = avg;
      update = avg;
    }
    if (this.weightDecay !== 0) p = mx.add(p, mx.multiply(p, mx.multiply(lr, -this.weightDecay)));
    return mx.subtract(p, update);
  }
}

/**
 * Scales the gradients so that their global L2 norm is at most maxNorm: returns [clipped, totalNorm]. The scale
 * is cast to each gradient's dtype so half-precision gradients stay half.
 */
export function clipGradNorm(grads: ParamTree, maxNorm: number): [ParamTree, MxArray] {
  const leaves = treeArrays(grads);
  let sq: MxArray = mx.array(0, mx.float32);
  for (const g of leaves) {
    const gf = g.dtype === mx.bfloat16 || g.dtype === mx.float16 ? mx.astype(g, mx.float32) : g;
    sq = mx.add(sq, mx.sum(mx.square(gf)));
  }
  const total = mx.sqrt(sq);
  const scale = mx.minimum(mx.divide(maxNorm, mx.add(total, 1e-6)), 1.0);
  return [treeMap((g: MxArray) => mx.multiply(g, mx.astype(scale, g.dtype)), grads), total];
}

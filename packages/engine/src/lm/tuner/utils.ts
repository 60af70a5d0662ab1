// Turning a model into a fine-tunable one (mlx-lm's tuner/utils.py): linear → LoRA/DoRA layers in the last N
// blocks, full fine-tuning of the last N blocks, learning-rate schedules from config dicts.
import { EngineError } from "../../core/errors.js";
import { treeFlatten, treeUnflatten } from "../../core/tree.js";
import { Module } from "../../nn/module.js";
import * as optim from "../../optim/index.js";
import type { ScheduleFn } from "../../optim/index.js";
import { DoRALinear } from "./dora.js";
import { LoRALinear, isLinearLike, type LoraLayerOptions } from "./lora.js";

/** mlx-lm's lora_parameters: rank, scale, dropout and (optionally) the module keys to adapt. */
export interface LoraParameters extends LoraLayerOptions {
  /** Module paths relative to a block ("self_attn.q_proj") or to the model ("lm_head"); default every linear. */
  keys?: string[];
}

export const DEFAULT_LORA_PARAMETERS = { rank: 8, scale: 20.0, dropout: 0.0 } as const;

/** A model whose `layers` are its transformer blocks (what every LanguageModel has). */
export interface LayeredModel extends Module {
  readonly layers: Module[];
}

export type AdapterLayer = LoRALinear | DoRALinear;

export function isAdapterLayer(m: unknown): m is AdapterLayer {
  return m instanceof LoRALinear || m instanceof DoRALinear;
}

function layersOf(model: Module): Module[] {
  const layers = (model as LayeredModel).layers;
  if (!Array.isArray(layers) || !layers.every((l) => l instanceof Module))
    throw new EngineError(`[linearToLoraLayers] ${model.constructor.name} has no 'layers' list of blocks`);
  return layers;
}

/** The blocks that `numLayers` selects: the last numLayers (≤ 0 means all, as mlx-lm's layers[-max(n, 0):]). */
export function lastLayers(model: Module, numLayers: number): Module[] {
  const layers = layersOf(model);
  if (!Number.isInteger(numLayers)) throw new EngineError(`[lora] numLayers must be an integer, got ${numLayers}`);
  if (numLayers > layers.length)
    throw new EngineError(`[lora] requested to train ${numLayers} layers but the model only has ${layers.length} layers`);
  return numLayers > 0 ? layers.slice(layers.length - numLayers) : layers.slice();
}

/** Default keys: the path (relative to its block) of every linear layer in any block, as mlx-lm collects them. */
export function defaultLoraKeys(model: Module): string[] {
  const keys = new Set<string>();
  for (const l of layersOf(model)) for (const [k, m] of l.namedModules()) if (k && isLinearLike(m)) keys.add(k);
  return [...keys];
}

/**
 * Replaces the linear layers named by `config.keys` (default: all linear layers of the blocks) in the last
 * `numLayers` blocks with LoRA (or DoRA) layers; keys that are paths from the model's root (e.g. "lm_head") are
 * converted too. The new adapter parameters are trainable; the wrapped layers keep their frozen state.
 */
export function linearToLoraLayers(model: Module, numLayers: number, config: LoraParameters = {},
                                   opts: { useDora?: boolean } = {}): void {
  const params = { ...DEFAULT_LORA_PARAMETERS, ...config };
  const keys = new Set(config.keys ?? defaultLoraKeys(model));
  const Layer = opts.useDora ? DoRALinear : LoRALinear;
  const toLora = (path: string, m: Module) => {
    if (!isLinearLike(m))
      throw new EngineError(`[linearToLoraLayers] can't convert '${path}' (${m.constructor.name}) to ${Layer.name}: only nn.Linear and nn.QuantizedLinear layers can be adapted`);
    return Layer.fromBase(m, params);
  };
  const matched = new Set<string>();
  for (const block of lastLayers(model, numLayers)) {
    const found = block.namedModules().filter(([k]) => keys.has(k));
    found.forEach(([k]) => matched.add(k));
    if (found.length) block.updateModules(treeUnflatten(found.map(([k, m]) => [k, toLora(k, m)])));
  }
  const top = model.namedModules().filter(([k]) => keys.has(k));
  top.forEach(([k]) => matched.add(k));
  if (top.length) model.updateModules(treeUnflatten(top.map(([k, m]) => [k, toLora(k, m)])));
  if (config.keys && matched.size === 0)
    throw new EngineError(`[linearToLoraLayers] none of the keys ${[...keys].map((k) => `'${k}'`).join(", ")} names a module of the model's blocks (e.g. ${defaultLoraKeys(model).slice(0, 3).map((k) => `'${k}'`).join(", ")})`);
}

/** [path, layer] for every LoRA/DoRA layer in the model. */
export function adapterLayers(model: Module): [string, AdapterLayer][] {
  return model.namedModules().filter((e): e is [string, AdapterLayer] => isAdapterLayer(e[1]));
}

export type FineTuneType = "lora" | "dora" | "full";

/**
 * Prepares a model for training as mlx-lm's train_model does: everything frozen, then either the last numLayers
 * blocks unfrozen (full) or adapter layers added there (lora/dora). A model that already has adapter layers (loaded
 * or resumed) keeps them and trains their lora_a / lora_b / m.
 */
export function prepareForTraining(model: Module, fineTuneType: FineTuneType, numLayers: number,
                                   loraParameters: LoraParameters = {}): void {
  model.freeze();
  if (fineTuneType === "full") {
    for (const l of lastLayers(model, numLayers)) l.unfreeze();
    return;
  }
  if (fineTuneType !== "lora" && fineTuneType !== "dora")
    throw new EngineError(`[lora] unknown fine-tune type '${fineTuneType}'; expected lora, dora or full`);
  const existing = adapterLayers(model);
  if (existing.length) {
    for (const [, l] of existing) l.unfreeze({ keys: l instanceof DoRALinear ? ["lora_a", "lora_b", "m"] : ["lora_a", "lora_b"], recurse: false });
    return;
  }
  linearToLoraLayers(model, numLayers, loraParameters, { useDora: fineTuneType === "dora" });
}

/** Number of parameters (quantized layers counted unpacked) and of trainable ones. */
export function countParameters(model: Module): { total: number; trainable: number } {
  let total = 0;
  for (const [, m] of model.namedModules()) {
    const own = treeFlatten(m.filterAndMap((_mod, _k, v) => !(v instanceof Module) && Module.validParameterFilter(_mod, _k, v)));
    const bits = (m as any).bits;
    for (const [k, a] of own) {
      if (typeof bits === "number" && k === "weight") total += (a.size * 32) / bits;
      else if (typeof bits === "number" && (k === "scales" || k === "biases")) continue;
      else total += a.size;
    }
  }
  const trainable = treeFlatten(model.trainableParameters()).reduce((n, [, a]) => n + a.size, 0);
  return { total, trainable };
}

/** mlx-lm's lr_schedule config: { name, arguments, warmup?, warmup_init? } (name as in mlx.optimizers). */
export interface ScheduleConfig {
  name: string;
  arguments: number[];
  warmup?: number;
  warmup_init?: number;
}

const SCHEDULES: Record<string, (...a: number[]) => ScheduleFn> = {
  cosine_decay: (a, b, c) => optim.cosineDecay(a, b, c),
  linear_schedule: (a, b, c) => optim.linearSchedule(a, b, c),
  exponential_decay: (a, b) => optim.exponentialDecay(a, b),
  step_decay: (a, b, c) => optim.stepDecay(a, b, c),
};

/** A schedule from its config, with a linear warmup from warmup_init joined in front (mlx-lm's build_schedule). */
export function buildSchedule(config: ScheduleConfig): ScheduleFn {
  const name = String(config.name).replace(/([a-z])([A-Z])/g, "$1_$2").toLowerCase();
  const make = SCHEDULES[name];
  if (!make) throw new EngineError(`[lr_schedule] unknown schedule '${config.name}'; expected one of ${Object.keys(SCHEDULES).join(", ")}`);
  if (!Array.isArray(config.arguments) || !config.arguments.every((v) => typeof v === "number"))
    throw new EngineError(`[lr_schedule] 'arguments' must be a list of numbers (e.g. [1e-5, 1000, 1e-7] for cosine_decay)`);
  const main = make(...config.arguments);
  const warmup = config.warmup ?? 0;
  if (!warmup) return main;
  const init = config.arguments[0];
  const warm = optim.linearSchedule(config.warmup_init ?? 0.0, init, warmup);
  return optim.joinSchedules([warm, main], [warmup + 1]);
}

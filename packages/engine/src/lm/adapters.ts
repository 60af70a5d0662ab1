// Adapter files: mlx-lm's layout (adapters.safetensors + adapter_config.json with fine_tune_type, num_layers,
// lora_parameters) and PEFT's (adapter_model.safetensors with base_model.model.<path>.lora_A/B.weight +
// adapter_config.json with r, lora_alpha, target_modules). loadAdapters detects either; fuse folds adapters in.
import { existsSync, mkdirSync, readdirSync, renameSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import * as mx from "../core/mx.js";
import type { MxArray } from "../core/array.js";
import { EngineError } from "../core/errors.js";
import { treeFlatten, treeUnflatten } from "../core/tree.js";
import { Module } from "../nn/module.js";
import { readJson, type Json } from "./config.js";
import { DoRALinear } from "./tuner/dora.js";
import {
  LoRALinear, dequantizedWeight, isLinearLike, isQuantizedLinear, linearFromWeight, type LinearLike,
} from "./tuner/lora.js";
import { adapterLayers, isAdapterLayer, linearToLoraLayers, type FineTuneType, type LoraParameters } from "./tuner/utils.js";

export const ADAPTER_WEIGHTS = "adapters.safetensors";
export const ADAPTER_CONFIG = "adapter_config.json";
export const PEFT_WEIGHTS = "adapter_model.safetensors";
const PEFT_PREFIX = "base_model.model.";

/** Writes JSON atomically (temp file + rename), keys sorted as mlx-lm's save_config does. */
export function writeJsonAtomic(path: string, value: Json, sortKeys = true): void {
  const sorted = sortKeys ? Object.fromEntries(Object.entries(value).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) : value;
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, JSON.stringify(sorted, null, 4) + "\n");
  renameSync(tmp, path);
}

/** The trainable parameters as flat name → array (what mlx-lm writes to adapters.safetensors). */
export function adapterWeights(model: Module): Record<string, MxArray> {
  return Object.fromEntries(treeFlatten(model.trainableParameters()));
}

/** Saves the trainable parameters to `file` atomically. */
export function saveAdapterWeights(model: Module, file: string): void {
  mx.saveSafetensors(file, adapterWeights(model));
}

/** adapter_config.json in mlx-lm's layout (the training arguments, snake_case, with lora_parameters). */
export function writeAdapterConfig(dir: string, config: Json): void {
  mkdirSync(dir, { recursive: true });
  writeJsonAtomic(join(dir, ADAPTER_CONFIG), config);
}

function fmtShape(s: number[]): string {
  return `(${s.join(", ")})`;
}

/**
 * A multimodal (gemma3) checkpoint's text-model name as the text model here spells it: mlx-lm's
 * language_model.model.* and transformers 5's model.language_model.* both become model.*.
 */
function textModelName(name: string, known: { has(k: string): boolean }): string {
  if (known.has(name)) return name;
  if (name.startsWith("language_model.")) return name.slice("language_model.".length);
  if (name.startsWith("model.language_model.")) return "model." + name.slice("model.language_model.".length);
  return name;
}

/**
 * Loads adapter tensors (name → array) into the model after checking each against the model's parameters: with
 * full false only lora_a / lora_b / m may be set; every unknown name or shape misfit is named in one error.
 */
export function loadAdapterWeights(model: Module, weights: Record<string, MxArray>, source: string, full: boolean): void {
  const params = new Map<string, MxArray>(treeFlatten(model.parameters()));
  const leaves = new Set(["lora_a", "lora_b", "m"]);
  const errors: string[] = [];
  weights = Object.fromEntries(Object.entries(weights).map(([k, v]) => [textModelName(k, params), v]));
  for (const [name, w] of Object.entries(weights)) {
    const p = params.get(name);
    const allowed = p && (full || leaves.has(name.slice(name.lastIndexOf(".") + 1)));
    if (!allowed) errors.push(`  ${name}: not ${full ? "a parameter" : "an adapter parameter"} of the model`);
    else if (w.shape.join(",") !== p!.shape.join(","))
      errors.push(`  ${name}: adapter shape ${fmtShape(w.shape)} does not match model parameter shape ${fmtShape(p!.shape)}`);
  }
  if (errors.length)
    throw new EngineError(`[loadAdapters] the adapter at ${source} does not fit this model (${errors.length} tensor(s)):\n${errors.slice(0, 20).join("\n")}${errors.length > 20 ? `\n  … and ${errors.length - 20} more` : ""}`);
  model.loadWeights(Object.entries(weights), { strict: false });
}

export type AdapterFormat = "mlx" | "peft";

/** Which layout a folder holds (or a file: an .safetensors path next to its adapter_config.json). */
export function detectAdapterFormat(path: string): AdapterFormat {
  if (!existsSync(path)) throw new EngineError(`[loadAdapters] the adapter path does not exist: ${path}`);
  if (!statSync(path).isDirectory())
    throw new EngineError(`[loadAdapters] ${path} is a file; pass the adapter folder (with ${ADAPTER_CONFIG} and ${ADAPTER_WEIGHTS} or ${PEFT_WEIGHTS})`);
  const hasConfig = existsSync(join(path, ADAPTER_CONFIG));
  if (existsSync(join(path, ADAPTER_WEIGHTS)) && hasConfig) return "mlx";
  if (existsSync(join(path, PEFT_WEIGHTS)) && hasConfig) return "peft";
  const files = readdirSync(path);
  throw new EngineError(`[loadAdapters] ${path} holds no adapter: expected ${ADAPTER_CONFIG} with ${ADAPTER_WEIGHTS} (mlx-lm) or ${PEFT_WEIGHTS} (PEFT); found ${files.length ? files.join(", ") : "nothing"}`);
}

/**
 * Applies the adapter in `path` (mlx-lm or PEFT layout, detected) to the model: adapter layers are created where
 * the config says and their weights loaded; shapes or names that don't fit the model are errors.
 */
export function loadAdapters<M extends Module>(model: M, path: string): M {
  return detectAdapterFormat(path) === "mlx" ? loadMlxAdapters(model, path) : loadPeftAdapters(model, path);
}

function loadMlxAdapters<M extends Module>(model: M, path: string): M {
  const config = readJson(join(path, ADAPTER_CONFIG));
  const type = (config.fine_tune_type ?? "lora") as FineTuneType;
  if (!["lora", "dora", "full"].includes(type))
    throw new EngineError(`[loadAdapters] ${join(path, ADAPTER_CONFIG)}: unknown fine_tune_type '${type}'; expected lora, dora or full`);
  if (type !== "full") {
    const lp = config.lora_parameters;
    if (!lp || typeof lp !== "object")
      throw new EngineError(`[loadAdapters] ${join(path, ADAPTER_CONFIG)}: missing lora_parameters {rank, scale, dropout}`);
    if (typeof config.num_layers !== "number")
      throw new EngineError(`[loadAdapters] ${join(path, ADAPTER_CONFIG)}: missing num_layers`);
    linearToLoraLayers(model, config.num_layers, lp as LoraParameters, { useDora: type === "dora" });
  }
  const file = join(path, ADAPTER_WEIGHTS);
  loadAdapterWeights(model, mx.load(file), file, type === "full");
  return model;
}

/** PEFT's target_modules / layers_to_transform as a predicate on a module path; the tensors decide in the end. */
function peftScale(cfg: Json, path: string, rank: number): number {
  let alpha = typeof cfg.lora_alpha === "number" ? cfg.lora_alpha : rank;
  for (const [pat, a] of Object.entries((cfg.alpha_pattern ?? {}) as Record<string, number>))
    if (new RegExp(`(^|\\.)${pat}$`).test(path)) alpha = a;
  return cfg.use_rslora ? alpha / Math.sqrt(rank) : alpha / rank;
}

function loadPeftAdapters<M extends Module>(model: M, path: string): M {
  const cfgPath = join(path, ADAPTER_CONFIG);
  const cfg = readJson(cfgPath);
  if (cfg.peft_type !== undefined && String(cfg.peft_type).toUpperCase() !== "LORA")
    throw new EngineError(`[loadAdapters] ${cfgPath}: peft_type '${cfg.peft_type}' is not supported (only LORA)`);
  const file = join(path, PEFT_WEIGHTS);
  const tensors = mx.load(file);
  const byModule = new Map<string, { A?: MxArray; B?: MxArray; mag?: MxArray }>();
  const unknown: string[] = [];
  for (const [k, v] of Object.entries(tensors)) {
    const m = /^(?:base_model\.model\.)?(.+)\.(lora_A\.weight|lora_B\.weight|lora_magnitude_vector(?:\.weight)?)$/.exec(k);
    if (!m) { unknown.push(k); continue; }
    const e = byModule.get(m[1]) ?? {};
    if (m[2] === "lora_A.weight") e.A = v;
    else if (m[2] === "lora_B.weight") e.B = v;
    else e.mag = v;
    byModule.set(m[1], e);
  }
  if (unknown.length)
    throw new EngineError(`[loadAdapters] ${file}: tensor(s) that are not LoRA weights: ${unknown.slice(0, 5).join(", ")}${unknown.length > 5 ? ", …" : ""} (only lora_A / lora_B / lora_magnitude_vector are supported)`);
  if (!byModule.size) throw new EngineError(`[loadAdapters] ${file} holds no LoRA tensors`);
  const modules = new Map(model.namedModules());
  const errors: string[] = [];
  const replace: [string, Module][] = [];
  const weights: [string, MxArray][] = [];
  const useDora = Boolean(cfg.use_dora);
  for (const [raw, e] of byModule) {
    const p = textModelName(raw, modules);
    const base = modules.get(p);
    if (!e.A || !e.B) { errors.push(`  ${p}: needs both lora_A.weight and lora_B.weight`); continue; }
    if (!base) { errors.push(`  ${p}: no such module in the model`); continue; }
    if (!isLinearLike(base)) { errors.push(`  ${p}: is a ${base.constructor.name}, not a linear layer`); continue; }
    const [rank, inA] = e.A.shape, [outB, rankB] = e.B.shape;
    const lin = base as LinearLike;
    const dims = isQuantizedLinear(lin) ? [lin.weight.shape[0], (lin.weight.shape[1] * 32) / lin.bits] : lin.weight.shape;
    if (e.A.ndim !== 2 || e.B.ndim !== 2 || rank !== rankB || inA !== dims[1] || outB !== dims[0]) {
      errors.push(`  ${p}: lora_A ${fmtShape(e.A.shape)} / lora_B ${fmtShape(e.B.shape)} do not fit a (${dims[0]} out, ${dims[1]} in) layer`);
      continue;
    }
    if (typeof cfg.r === "number" && cfg.r !== rank && !(cfg.rank_pattern && Object.keys(cfg.rank_pattern).length))
      errors.push(`  ${p}: rank ${rank} differs from the config's r = ${cfg.r}`);
    const opts = { rank, scale: peftScale(cfg, p, rank), dropout: 0 };
    const layer = useDora || e.mag ? DoRALinear.fromBase(lin, opts) : LoRALinear.fromBase(lin, opts);
    replace.push([p, layer]);
    weights.push([`${p}.lora_a`, mx.transpose(e.A)], [`${p}.lora_b`, mx.transpose(e.B)]);
    if (e.mag) weights.push([`${p}.m`, mx.reshape(e.mag, [outB])]);
  }
  if (errors.length)
    throw new EngineError(`[loadAdapters] the PEFT adapter at ${path} does not fit this model:\n${errors.slice(0, 20).join("\n")}`);
  model.updateModules(treeUnflatten(replace));
  model.loadWeights(weights, { strict: false });
  return model;
}

/**
 * Writes the model's LoRA layers as a PEFT adapter: adapter_model.safetensors (lora_A (rank, in), lora_B (out, rank),
 * DoRA magnitudes as lora_magnitude_vector) and adapter_config.json (r, lora_alpha = scale·r, target_modules).
 */
export function exportPeftAdapter(model: Module, dir: string, opts: { baseModel?: string } = {}): void {
  const layers = adapterLayers(model);
  if (!layers.length) throw new EngineError("[exportPeftAdapter] the model has no LoRA/DoRA layers to export");
  const ranks = new Set(layers.map(([, l]) => l.rank));
  const scales = new Set(layers.map(([, l]) => l.scale));
  const dora = new Set(layers.map(([, l]) => l instanceof DoRALinear));
  if (dora.size > 1) throw new EngineError("[exportPeftAdapter] mixing LoRA and DoRA layers can't be expressed in one PEFT config");
  const [r] = ranks;
  const [scale] = scales;
  const tensors: Record<string, MxArray> = {};
  const rankPattern: Record<string, number> = {}, alphaPattern: Record<string, number> = {};
  for (const [p, l] of layers) {
    tensors[`${PEFT_PREFIX}${p}.lora_A.weight`] = mx.contiguous(mx.transpose(l.lora_a));
    tensors[`${PEFT_PREFIX}${p}.lora_B.weight`] = mx.contiguous(mx.transpose(l.lora_b));
    if (l instanceof DoRALinear) tensors[`${PEFT_PREFIX}${p}.lora_magnitude_vector`] = l.m;
    if (l.rank !== r) rankPattern[p] = l.rank;
    if (l.scale !== scale || l.rank !== r) alphaPattern[p] = l.scale * l.rank;
  }
  const targets = [...new Set(layers.map(([p]) => p.slice(p.lastIndexOf(".") + 1)))].sort();
  const layerIdx = [...new Set(layers.map(([p]) => /(?:^|\.)layers\.(\d+)\./.exec(p)?.[1]).filter((x): x is string => x !== undefined).map(Number))].sort((a, b) => a - b);
  mkdirSync(dir, { recursive: true });
  mx.saveSafetensors(join(dir, PEFT_WEIGHTS), tensors, { format: "pt" });
  const config: Json = {
    peft_type: "LORA",
    task_type: "CAUSAL_LM",
    base_model_name_or_path: opts.baseModel ?? null,
    r,
    lora_alpha: scale * r,
    lora_dropout: layers[0][1].dropout.p,
    target_modules: targets,
    bias: "none",
    fan_in_fan_out: false,
    inference_mode: true,
    use_dora: dora.has(true),
    use_rslora: false,
    rank_pattern: rankPattern,
    alpha_pattern: alphaPattern,
  };
  // Every adapted module is named by its full path in the tensors; layers_to_transform narrows the targets as PEFT needs.
  if (layerIdx.length && layers.every(([p]) => /(?:^|\.)layers\.\d+\./.test(p))) config.layers_to_transform = layerIdx;
  writeJsonAtomic(join(dir, ADAPTER_CONFIG), config);
}

/**
 * Folds every LoRA/DoRA layer into its base weight (W + scale · (lora_a @ lora_b)ᵀ), re-quantizing quantized bases
 * unless dequantize; with dequantize, every remaining quantized linear becomes a float Linear too.
 */
export function fuse<M extends Module>(model: M, opts: { dequantize?: boolean } = {}): M {
  const fused = adapterLayers(model).map(([p, l]) => [p, l.fuse({ dequantize: opts.dequantize })] as [string, Module]);
  if (fused.length) model.updateModules(treeUnflatten(fused));
  if (opts.dequantize) {
    const deq = model.namedModules().filter(([, m]) => isQuantizedLinear(m))
      .map(([p, m]) => [p, linearFromWeight(dequantizedWeight(m as LinearLike), (m as LinearLike).bias)] as [string, Module]);
    if (deq.length) model.updateModules(treeUnflatten(deq));
  }
  return model;
}

/** True when any module of the model is an adapter layer. */
export function hasAdapters(model: Module): boolean {
  return model.namedModules().some(([, m]) => isAdapterLayer(m));
}

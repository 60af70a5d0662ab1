// lm.convert: mlx-lm's convert — a Hugging Face (or MLX) checkpoint → an mlx-community-style folder, optionally
// cast, quantized (uniform or a mixed recipe) or dequantized.
import { copyFileSync, existsSync, mkdirSync, readdirSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import * as mx from "../core/mx.js";
import type { MxArray } from "../core/array.js";
import { treeFlatten, treeUnflatten } from "../core/tree.js";
import { Module } from "../nn/module.js";
import { Linear } from "../nn/layers/linear.js";
import { Embedding } from "../nn/layers/embedding.js";
import {
  QuantizedEmbedding, QuantizedLinear, isQuantizable, quantize as quantizeModel, type ClassPredicate,
} from "../nn/layers/quantized.js";
import type { Json } from "./config.js";
import { assertNotEmbedder, load } from "./load.js";
import { resolveModelPath } from "./hub.js";
import type { LanguageModel } from "./model.js";
import { assertNotOverwritingInput } from "./paths.js";
import { sideFiles } from "./save-model.js";

export const QUANT_RECIPES = ["mixed_2_6", "mixed_3_4", "mixed_3_6", "mixed_4_6"] as const;
export type QuantRecipe = (typeof QUANT_RECIPES)[number];
export const CONVERSION_DTYPES = ["float16", "bfloat16", "float32"] as const;

/** Where a conversion is: "load", "quantize", "dequantize", "write" (done/total in tensors for "write"). */
export type ConvertProgress = (stage: string, done: number, total: number) => void;

export interface ConvertOptions {
  /** Source: a folder or a Hugging Face hub id in the local cache. */
  hfPath: string;
  /** Destination folder (default "mlx_model"). */
  mlxPath?: string;
  quantize?: boolean;
  /** Bits per weight (default 4). */
  qBits?: number;
  /** Quantization group size (default 64). */
  qGroupSize?: number;
  /** Type of the unquantized parameters; default the config's torch_dtype / dtype. */
  dtype?: (typeof CONVERSION_DTYPES)[number];
  /** A mixed-bit recipe as mlx-lm's, or a predicate (path, module) → boolean | { group_size, bits }. */
  quantPredicate?: QuantRecipe | ClassPredicate;
  /** Turn a quantized checkpoint back into float weights. */
  dequantize?: boolean;
  /** Replace an existing non-empty destination. */
  force?: boolean;
  /** Largest shard in bytes (default 5 GiB, as mlx-lm). */
  maxShardBytes?: number;
  onProgress?: ConvertProgress;
}

export interface ConvertResult {
  path: string;
  config: Json;
  /** Files written (relative names). */
  files: string[];
  /** Average bits per parameter of the written weights (mlx-lm's figure), when quantized. */
  bitsPerWeight?: number;
  /**
   * The source's quantization when it was already quantized and `quantize` asked again: the weights were
   * dequantized and quantized anew (their precision is that of the source's quantized weights).
   */
  requantizedFrom?: Json;
}


/**
 * mlx-lm's mixed-bit recipes (after llama.cpp's Q4_K_M choices): v_proj and down_proj of the first and last
 * eighth of the layers and of every third layer in between, and lm_head, get the high bits; the rest the low.
 */
export function mixedQuantPredicate(recipe: QuantRecipe, model: Module & { layers?: unknown[] }, groupSize = 64): ClassPredicate {
  const [low, high] = recipe === "mixed_2_6" ? [2, 6] : recipe === "mixed_3_4" ? [3, 4] : recipe === "mixed_3_6" ? [3, 6]
    : recipe === "mixed_4_6" ? [4, 6] : [0, 0];
  if (!low) throw new Error(`Invalid quant recipe '${recipe}': use one of ${QUANT_RECIPES.join(", ")}`);
  const downKeys = model.namedModules().map(([k]) => k).filter((k) => k.includes("down_proj"));
  if (!downKeys.length) throw new Error("Model does not have expected keys for mixed quant (no down_proj layers)");
  const layerLocation = Math.max(0, downKeys[0].split(".").findIndex((p) => /^\d+$/.test(p)));
  const numLayers = Array.isArray(model.layers) ? model.layers.length : 0;
  const eighth = Math.floor(numLayers / 8);
  const mod3 = (v: number) => ((v % 3) + 3) % 3;  // Python's modulo
  return (path) => {
    const parts = path.split(".");
    const index = parts.length > layerLocation ? Number.parseInt(parts[layerLocation], 10) || 0 : 0;
    const more = index < eighth || index >= Math.floor((7 * numLayers) / 8) || mod3(index - eighth) === 2;
    const hi = { group_size: groupSize, bits: high, mode: "affine" };
    if ((path.includes("v_proj") || path.includes("v_a_proj") || path.includes("v_b_proj")) && more) return hi;
    if (path.includes("down_proj") && more) return hi;
    if (path.includes("lm_head")) return hi;
    return { group_size: groupSize, bits: low, mode: "affine" };
  };
}

function configDtype(config: Json): string | undefined {
  return config.torch_dtype ?? config.dtype ?? config.text_config?.dtype ?? config.text_config?.torch_dtype;
}

/**
 * mlx-lm's quantize_model: quantizes every quantizable layer whose last dim the group size divides (and that the
 * predicate accepts) and records the parameters in the config, per layer where a predicate chose them.
 */
export function quantizeLoadedModel(model: Module, config: Json, groupSize = 64, bits = 4,
                                    predicate?: ClassPredicate): Json {
  const out: Json = structuredClone(config);
  const params = { group_size: groupSize, bits, mode: "affine" };
  const fineGrained = "quantization" in out;
  if (!fineGrained) out.quantization = params;
  quantizeModel(model, {
    groupSize,
    bits,
    classPredicate: (path, m) => {
      if (!isQuantizable(m)) return false;
      // As mlx-vlm: the vision tower and the projector stay in float (small, and precision-sensitive).
      if (/^(vision_tower|multi_modal_projector)(\.|$)/.test(path)) return false;
      const w = (m as unknown as { weight: MxArray }).weight;
      if (w.shape[w.shape.length - 1] % groupSize !== 0) return false;
      const r = predicate ? predicate(path, m) : true;
      if (r && typeof r === "object") out.quantization[path] = { ...r };
      else if (fineGrained && r) out.quantization[path] = params;
      return r;
    },
  });
  out.quantization_config = out.quantization;
  return out;
}

/** Replaces QuantizedLinear / QuantizedEmbedding layers by Linear / Embedding holding the dequantized weights. */
export function dequantizeLoadedModel(model: Module): void {
  const swaps: [string, Module][] = [];
  for (const [path, m] of model.namedModules()) {
    if (m instanceof QuantizedLinear) {
      const w = m.dequantizedWeight();
      const l = new Linear(w.shape[1], w.shape[0], m.bias !== undefined);
      l.weight = w;
      if (m.bias) l.bias = m.bias;
      swaps.push([path, l]);
    } else if (m instanceof QuantizedEmbedding) {
      const e = new Embedding(m.numEmbeddings, m.dims);
      e.weight = m.dequantizedWeight();
      swaps.push([path, e]);
    }
  }
  if (swaps.length) model.updateModules(treeUnflatten(swaps));
}

/** mlx-lm's make_shards: consecutive tensors while the shard stays within maxBytes. */
export function makeShards(weights: [string, MxArray][], maxBytes: number): [string, MxArray][][] {
  const shards: [string, MxArray][][] = [];
  let shard: [string, MxArray][] = [], size = 0;
  for (const [k, v] of weights) {
    if (size + v.nbytes > maxBytes && shard.length) {
      shards.push(shard);
      shard = [], size = 0;
    }
    shard.push([k, v]);
    size += v.nbytes;
  }
  shards.push(shard);
  return shards;
}

function sortedConfig(config: Json): Json {
  const c: Json = { ...config };
  delete c._name_or_path;
  if ("quantization" in c) c.quantization_config = c.quantization;
  return Object.fromEntries(Object.keys(c).sort().map((k) => [k, c[k]]));
}

function modelCard(hfPath: string, quantized: Json | undefined): string {
  const hub = !existsSync(hfPath) ? hfPath : undefined;
  const lines = ["---", "library_name: mlx", "pipeline_tag: text-generation", "tags:", "- mlx"];
  if (hub) lines.push(`base_model: ${hub}`);
  lines.push("---", "", `# ${hub ? basename(hub) : "MLX model"}`, "",
    `Converted to MLX format${hub ? ` from [${hub}](https://huggingface.co/${hub})` : ""} with Hearth` +
    (quantized ? ` (${quantized.bits}-bit, group size ${quantized.group_size})` : "") + ".", "");
  return lines.join("\n");
}

function isNonEmptyDir(p: string): boolean {
  return existsSync(p) && readdirSync(p).length > 0;
}

/**
 * Converts a checkpoint into an mlx-community-style folder: config.json (with "quantization" and
 * "quantization_config" when quantized), model.safetensors or shards of at most 5 GiB with
 * model.safetensors.index.json, and the tokenizer / chat template / generation config files. The folder is
 * written beside the destination and moved into place at the end, so a failure leaves the destination as it was.
 */
export async function convert(opts: ConvertOptions): Promise<ConvertResult> {
  const {
    hfPath, mlxPath = "mlx_model", quantize = false, dequantize = false, force = false,
    maxShardBytes = 5 * 2 ** 30, onProgress,
  } = opts;
  const dest = resolve(mlxPath);
  if (quantize && dequantize) throw new Error("Choose either quantize or dequantize, not both");
  if (existsSync(dest) && !force && isNonEmptyDir(dest))
    throw new Error(`Cannot save to ${dest}: the folder exists and is not empty. Delete it, choose another ` +
      "--mlx-path, or pass --force to replace it");
  if (opts.dtype !== undefined && !(CONVERSION_DTYPES as readonly string[]).includes(opts.dtype))
    throw new Error(`Unsupported --dtype '${opts.dtype}': use one of ${CONVERSION_DTYPES.join(", ")}`);
  if (quantize && opts.qBits !== undefined && ![2, 3, 4, 5, 6, 8].includes(opts.qBits))
    throw new Error(`[quantize] ${opts.qBits} bits are not supported; use 2, 3, 4, 5, 6 or 8`);
  if (quantize && opts.qGroupSize !== undefined && ![32, 64, 128].includes(opts.qGroupSize))
    throw new Error(`[quantize] group size ${opts.qGroupSize} is not supported; use 32, 64 or 128`);
  if (typeof opts.quantPredicate === "string" && !(QUANT_RECIPES as readonly string[]).includes(opts.quantPredicate))
    throw new Error(`Invalid quant recipe '${opts.quantPredicate}': use one of ${QUANT_RECIPES.join(", ")}`);

  const src = resolveModelPath(hfPath);
  assertNotOverwritingInput("convert", "the output folder", dest, [["the source model", src]]);
  assertNotEmbedder(src, hfPath);
  onProgress?.("load", 0, 1);
  const loaded = await load(src, { noTokenizer: true });
  const model: LanguageModel = loaded.model;
  let config: Json = structuredClone(loaded.config);
  onProgress?.("load", 1, 1);

  const dtype = opts.dtype ?? configDtype(config);
  if (dtype && (CONVERSION_DTYPES as readonly string[]).includes(dtype)) {
    const dt = mx.toDtype(dtype);
    model.update(treeUnflatten(treeFlatten(model.parameters()).map(([k, v]: [string, MxArray]) =>
      [k, v.dtype.kind === "float" && v.dtype !== dt ? mx.astype(v, dt) : v])));
  }

  let bitsPerWeight: number | undefined;
  let requantizedFrom: Json | undefined;
  if (quantize && (config.quantization || config.quantization_config)) {
    // Quantizing quantized layers again would skip them (they are no longer Linear): dequantize first, so the
    // requested bits are what gets written, and say so in the result.
    requantizedFrom = config.quantization ?? config.quantization_config;
    onProgress?.("dequantize", 0, 1);
    delete config.quantization;
    delete config.quantization_config;
    dequantizeLoadedModel(model);
    onProgress?.("dequantize", 1, 1);
  }
  if (quantize) {
    onProgress?.("quantize", 0, 1);
    const gs = opts.qGroupSize ?? 64, bits = opts.qBits ?? 4;
    const pred = typeof opts.quantPredicate === "string"
      ? mixedQuantPredicate(opts.quantPredicate, model, gs) : opts.quantPredicate;
    config = quantizeLoadedModel(model, config, gs, bits, pred);
    onProgress?.("quantize", 1, 1);
  }
  if (dequantize) {
    onProgress?.("dequantize", 0, 1);
    delete config.quantization;
    delete config.quantization_config;
    dequantizeLoadedModel(model);
    onProgress?.("dequantize", 1, 1);
  }

  // Write everything into a sibling folder, then move it into place.
  const parent = dirname(dest);
  mkdirSync(parent, { recursive: true });
  const tmp = join(parent, `.${basename(dest)}.tmp-${process.pid}-${Date.now()}`);
  mkdirSync(tmp);
  try {
    const weights = treeFlatten(model.parameters()) as [string, MxArray][];
    const shards = makeShards(weights, maxShardBytes);
    const files: string[] = [];
    const weightMap: Record<string, string> = {};
    let done = 0, totalBytes = 0;
    for (let i = 0; i < shards.length; i++) {
      const name = shards.length > 1
        ? `model-${String(i + 1).padStart(5, "0")}-of-${String(shards.length).padStart(5, "0")}.safetensors`
        : "model.safetensors";
      const shard: Record<string, MxArray> = {};
      for (const [k, v] of shards[i]) {
        mx.eval(v);  // one tensor at a time: the progress bar moves and memory stays bounded
        shard[k] = v;
        weightMap[k] = name;
        totalBytes += v.nbytes;
        onProgress?.("write", ++done, weights.length);
      }
      mx.saveSafetensors(join(tmp, name), shard, { format: "mlx" });
      files.push(name);
    }
    if (quantize) bitsPerWeight = (totalBytes * 8) / totalParameters(model);
    if (shards.length > 1) {
      const index = { metadata: { total_size: totalBytes }, weight_map: Object.fromEntries(Object.keys(weightMap).sort().map((k) => [k, weightMap[k]])) };
      writeFileSync(join(tmp, "model.safetensors.index.json"), JSON.stringify(index, null, 4));
      files.push("model.safetensors.index.json");
    }
    config = sortedConfig(config);
    writeFileSync(join(tmp, "config.json"), JSON.stringify(config, null, 4));
    files.push("config.json");
    for (const f of sideFiles(src)) {
      copyFileSync(join(src, f), join(tmp, f));
      files.push(f);
    }
    writeFileSync(join(tmp, "README.md"), modelCard(hfPath, quantize ? config.quantization : undefined));
    files.push("README.md");
    // Swap into place: the old folder (if any) is removed only once the new one is complete.
    if (existsSync(dest)) {
      const old = join(parent, `.${basename(dest)}.old-${process.pid}-${Date.now()}`);
      renameSync(dest, old);
      renameSync(tmp, dest);
      rmSync(old, { recursive: true, force: true });
    } else {
      renameSync(tmp, dest);
    }
    return { path: dest, config, files, bitsPerWeight, ...(requantizedFrom ? { requantizedFrom } : {}) };
  } catch (e) {
    rmSync(tmp, { recursive: true, force: true });
    throw e;
  }
}

/** mlx-lm's parameter count: quantized layers count their unpacked weight (and bias), not scales/biases. */
export function totalParameters(model: Module): number {
  let n = 0;
  for (const [, m] of model.namedModules()) {
    if (treeFlatten(m.children(), "", Module.isModule).length) continue;
    if (m instanceof QuantizedLinear || m instanceof QuantizedEmbedding) {
      n += (m.weight.size * 32) / m.bits + ((m as QuantizedLinear).bias?.size ?? 0);
    } else {
      for (const [, v] of treeFlatten(m.parameters()) as [string, MxArray][]) n += v.size;
    }
  }
  return n;
}

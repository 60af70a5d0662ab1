// Quantized checkpoints: reading config.json's "quantization" (mlx-lm / mlx-community) and turning the model's
// layers into their quantized versions before the weights are loaded, exactly where the weights say so.
import type { MxArray } from "../core/array.js";
import { Module } from "../nn/module.js";
import { isQuantizable, quantize as quantizeModel } from "../nn/layers/quantized.js";
import type { Json } from "./config.js";

/** The model-wide parameters and the per-layer entries (`false` or `{ group_size, bits }`) of a config. */
export interface QuantizationConfig {
  groupSize: number;
  bits: number;
  /** module path → false (not quantized) or its own parameters. */
  layers: Record<string, false | { groupSize: number; bits: number }>;
}

const GLOBAL_KEYS = new Set(["group_size", "bits", "mode", "quant_method"]);

function parseEntry(where: string, v: Json): { groupSize: number; bits: number } {
  const gs = v.group_size, bits = v.bits;
  if (!Number.isInteger(gs) || !Number.isInteger(bits))
    throw new Error(`config.json: ${where} needs integer "group_size" and "bits", got ${JSON.stringify(v)}`);
  if (v.mode !== undefined && v.mode !== "affine")
    throw new Error(`config.json: ${where} uses quantization mode '${v.mode}'; only 'affine' is supported`);
  return { groupSize: gs, bits };
}

/**
 * The quantization a config declares, or undefined: `"quantization"` (mlx-lm's), else an mlx-style
 * `"quantization_config"` (also under text_config). Other quantization methods (AWQ, GPTQ, bitnet, fp4 …)
 * are an error naming the method.
 */
export function readQuantization(config: Json): QuantizationConfig | undefined {
  let q: Json | undefined = config.quantization ?? config.text_config?.quantization;
  let where = "\"quantization\"";
  if (q === undefined || q === null) {
    q = config.quantization_config ?? config.text_config?.quantization_config;
    where = "\"quantization_config\"";
    if (q === undefined || q === null) return undefined;
    if (q.quant_method !== undefined && q.group_size === undefined)
      throw new Error(`config.json: quantization method '${q.quant_method}' is not supported; ` +
        "Hearth loads MLX affine quantization (convert the original model with `hearth convert --quantize`)");
  }
  if (typeof q !== "object" || Array.isArray(q)) throw new Error(`config.json: ${where} must be an object`);
  const { groupSize, bits } = parseEntry(where, q);
  const layers: QuantizationConfig["layers"] = {};
  for (const [k, v] of Object.entries(q)) {
    if (GLOBAL_KEYS.has(k)) continue;
    if (v === false) layers[k] = false;
    else if (v !== null && typeof v === "object") layers[k] = parseEntry(`${where} entry '${k}'`, v as Json);
    else if (v !== true) throw new Error(`config.json: ${where} entry '${k}' must be false or { group_size, bits }`);
  }
  return { groupSize, bits, layers };
}

/** A per-layer entry for a model path: as written, or under a multimodal checkpoint's "language_model." prefix. */
function layerEntry(q: QuantizationConfig, path: string) {
  if (path in q.layers) return q.layers[path];
  const alt = `language_model.${path}`;
  return alt in q.layers ? q.layers[alt] : undefined;
}

/**
 * Quantizes the layers of `model` that the checkpoint stores quantized: a layer is quantized exactly when
 * `<path>.scales` is among the (sanitized) weights, with its config.json entry's parameters or the global ones.
 * A config that declares quantization for a layer the weights hold unquantized, or weights with `.scales` but
 * no quantization in the config, is an error naming the layer.
 */
export function applyQuantization(model: Module, config: Json, weights: Record<string, MxArray>): void {
  const q = readQuantization(config);
  const quantizable = model.namedModules().filter(([p, m]) => p !== "" && isQuantizable(m))
    .sort(([a], [b]) => a.localeCompare(b, "en", { numeric: true }));  // checkpoint order, for the messages
  if (!q) {
    const stray = quantizable.find(([p]) => `${p}.scales` in weights);
    if (stray)
      throw new Error(`The weights hold quantized layer '${stray[0]}' ('${stray[0]}.scales') but config.json has no ` +
        "\"quantization\" entry ({ \"group_size\", \"bits\" }) to say how it was quantized");
    return;
  }
  const hasScales = quantizable.filter(([p]) => `${p}.scales` in weights);
  if (!hasScales.length) {
    const first = quantizable[0]?.[0] ?? "(none)";
    throw new Error(`config.json declares quantization (bits=${q.bits}, group_size=${q.groupSize}) but ` +
      `the weights hold no quantized layer: '${first}.scales' is missing. Is this the unquantized checkpoint? ` +
      "Remove \"quantization\" from config.json or convert it with `hearth convert --quantize`.");
  }
  for (const [path] of quantizable) {
    const e = layerEntry(q, path);
    if (e && !(`${path}.scales` in weights))
      throw new Error(`config.json gives quantization parameters for '${path}' (bits=${e.bits}, ` +
        `group_size=${e.groupSize}) but the weights have no '${path}.scales'`);
  }
  quantizeModel(model, {
    groupSize: q.groupSize,
    bits: q.bits,
    classPredicate: (path) => {
      if (!(`${path}.scales` in weights)) return false;
      const e = layerEntry(q, path);
      return e === false ? false : e ? { groupSize: e.groupSize, bits: e.bits } : true;
    },
  });
}

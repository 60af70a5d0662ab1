// Writing a model folder that lm.load reads back: config.json, weights (one file, or shards of at most 5 GB with
// model.safetensors.index.json as mlx-lm writes them) and the tokenizer / generation files of the source folder.
import { copyFileSync, existsSync, mkdirSync, readdirSync, rmSync } from "node:fs";
import { join, resolve } from "node:path";
import * as mx from "../core/mx.js";
import type { MxArray } from "../core/array.js";
import { EngineError } from "../core/errors.js";
import { treeFlatten } from "../core/tree.js";
import type { Module } from "../nn/module.js";
import { writeJsonAtomic } from "./adapters.js";
import type { Json } from "./config.js";

const SIDE_FILES = /^(tokenizer[^/]*|special_tokens_map\.json|chat_template\.(jinja|json)|generation_config\.json|added_tokens\.json|vocab\.json|merges\.txt|[^/]*\.tiktoken|preprocessor_config\.json|processor_config\.json)$/;

/** Weight shards of at most maxBytes each, in name order. */
function shards(weights: [string, MxArray][], maxBytes: number): [string, MxArray][][] {
  const out: [string, MxArray][][] = [[]];
  let size = 0;
  for (const e of weights) {
    const bytes = e[1].size * e[1].dtype.size;
    if (size + bytes > maxBytes && out[out.length - 1].length) {
      out.push([]);
      size = 0;
    }
    out[out.length - 1].push(e);
    size += bytes;
  }
  return out;
}

/**
 * Saves the model's parameters (names as its parameter paths, which are the checkpoint's names), config.json and
 * the tokenizer / generation files found in sourceFolder into dir. Existing weight files in dir are replaced.
 */
export function saveModelFolder(dir: string, model: Module, config: Json, sourceFolder?: string,
                                opts: { maxShardBytes?: number } = {}): string[] {
  if (sourceFolder && resolve(sourceFolder) === resolve(dir))
    throw new EngineError(`[save] the output folder ${dir} is the source model's folder; choose another --save-path`);
  mkdirSync(dir, { recursive: true });
  const weights = (treeFlatten(model.parameters()) as [string, MxArray][]).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  const parts = shards(weights, opts.maxShardBytes ?? 5 * 2 ** 30);
  for (const f of readdirSync(dir)) if (/^model(-\d+-of-\d+)?\.safetensors(\.index\.json)?$/.test(f)) rmSync(join(dir, f));
  const written: string[] = [];
  if (parts.length === 1) {
    mx.saveSafetensors(join(dir, "model.safetensors"), Object.fromEntries(parts[0]), { format: "mlx" });
    written.push("model.safetensors");
  } else {
    const map: Record<string, string> = {};
    let total = 0;
    parts.forEach((p, i) => {
      const name = `model-${String(i + 1).padStart(5, "0")}-of-${String(parts.length).padStart(5, "0")}.safetensors`;
      mx.saveSafetensors(join(dir, name), Object.fromEntries(p), { format: "mlx" });
      for (const [k, a] of p) { map[k] = name; total += a.size * a.dtype.size; }
      written.push(name);
    });
    writeJsonAtomic(join(dir, "model.safetensors.index.json"), { metadata: { total_size: total }, weight_map: map }, false);
    written.push("model.safetensors.index.json");
  }
  writeJsonAtomic(join(dir, "config.json"), config);
  written.push("config.json");
  if (sourceFolder && existsSync(sourceFolder))
    for (const f of readdirSync(sourceFolder))
      if (SIDE_FILES.test(f) && f !== "config.json") {
        copyFileSync(join(sourceFolder, f), join(dir, f));
        written.push(f);
      }
  return written;
}

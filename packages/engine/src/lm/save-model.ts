// Writing a model folder that lm.load reads back: config.json, weights (one file, or shards of at most 5 GB with
// model.safetensors.index.json as mlx-lm writes them) and the tokenizer / generation files of the source folder.
import { copyFileSync, existsSync, mkdirSync, readdirSync, renameSync, rmSync } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import * as mx from "../core/mx.js";
import type { MxArray } from "../core/array.js";
import { treeFlatten } from "../core/tree.js";
import type { Module } from "../nn/module.js";
import { writeJsonAtomic } from "./adapters.js";
import type { Json } from "./config.js";
import { assertNotOverwritingInput } from "./paths.js";

/** Weights and files a writer makes itself; every other file of a model folder is carried over as it is. */
const NOT_CARRIED = /^(config\.json|README\.md|\..*|.*\.(safetensors|bin|pt|pth|gguf|h5|msgpack|ckpt|onnx|npz)|.*\.index\.json)$/;

/**
 * The files of a model folder that a converted or fused copy keeps unchanged: tokenizer files, chat templates,
 * generation, preprocessor and processor configs, and any other JSON or text file the writer does not own.
 */
export function sideFiles(folder: string): string[] {
  return readdirSync(folder, { withFileTypes: true })
    .filter((e) => e.isFile() && !NOT_CARRIED.test(e.name))
    .map((e) => e.name)
    .sort();
}

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
 * the side files of sourceFolder (see sideFiles) into dir. Everything is written into a sibling folder that then
 * replaces dir, so an interrupted save leaves the old folder (or none), never a half-written one. dir must not be
 * or contain sourceFolder (or the other way round).
 */
export function saveModelFolder(dir: string, model: Module, config: Json, sourceFolder?: string,
                                opts: { maxShardBytes?: number } = {}): string[] {
  assertNotOverwritingInput("save", "the output folder", dir, [["the source model", sourceFolder]]);
  const dest = resolve(dir);
  const parent = dirname(dest);
  mkdirSync(parent, { recursive: true });
  const tmp = join(parent, `.${basename(dest)}.tmp-${process.pid}-${Date.now()}`);
  mkdirSync(tmp);
  try {
    const written = writeFolder(tmp, model, config, sourceFolder, opts.maxShardBytes ?? 5 * 2 ** 30);
    if (existsSync(dest)) {
      const old = join(parent, `.${basename(dest)}.old-${process.pid}-${Date.now()}`);
      renameSync(dest, old);
      renameSync(tmp, dest);
      rmSync(old, { recursive: true, force: true });
    } else {
      renameSync(tmp, dest);
    }
    return written;
  } catch (e) {
    rmSync(tmp, { recursive: true, force: true });
    throw e;
  }
}

function writeFolder(dir: string, model: Module, config: Json, sourceFolder: string | undefined, maxShardBytes: number): string[] {
  const weights = (treeFlatten(model.parameters()) as [string, MxArray][]).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  const parts = shards(weights, maxShardBytes);
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
    for (const f of sideFiles(sourceFolder)) {
      copyFileSync(join(sourceFolder, f), join(dir, f));
      written.push(f);
    }
  return written;
}

// Prompt caches: the per-layer KV caches of one conversation plus the token ids they hold, so a later prompt
// that starts with the same tokens (a system prompt, a RAG context, the conversation so far) only prefills the
// rest. Rotating (sliding-window) layers can't be trimmed once they have wrapped, so the cache also keeps a few
// checkpoints (snapshots of those layers, which share buffers and are at most a window each) to roll back to.
import { existsSync } from "node:fs";
import * as mx from "../core/mx.js";
import type { MxArray } from "../core/array.js";
import { cacheFromKind, emptyLike, QuantizedKVCache, type Cache, type CacheSnapshot, type QuantizeOptions } from "./cache.js";
import type { LanguageModel } from "./model.js";

interface Checkpoint {
  /** Tokens held at the checkpoint (the cache's first `length` ids, which never change while it is kept). */
  length: number;
  /** Per layer: a snapshot for rotating layers, null for layers that roll back by trimming. */
  snaps: (CacheSnapshot | null)[];
}

// Each holds up to a window per rotating layer; a generate call makes up to three (divergence, prompt end - 1,
// prompt end), and rolling back drops the ones past the new end.
const MAX_CHECKPOINTS = 3;

export class PromptCache {
  /** One cache per model layer. */
  layers: Cache[];
  /** The token ids the layers hold, in order; null when unknown (a cache built outside this class). */
  tokens: number[] | null;
  private checkpoints: Checkpoint[] = [];

  constructor(layers: Cache[], tokens: number[] | null = []) {
    this.layers = layers;
    this.tokens = tokens;
  }

  /** Tokens the cache holds (its layers' offset). */
  get offset(): number {
    return this.layers[0]?.offset ?? 0;
  }

  get nbytes(): number {
    return this.layers.reduce((s, c) => s + c.nbytes, 0);
  }

  /** Every array the layers hold. */
  get arrays(): MxArray[] {
    return this.layers.flatMap((c) => c.arrays);
  }

  canTrim(): boolean {
    return this.layers.every((c) => c.isTrimmable());
  }

  /** Drops the last n tokens when every layer can; returns how many were dropped. */
  trim(n: number): number {
    if (!this.canTrim() || n <= 0) return 0;
    const t = this.layers.map((c) => c.trim(n))[0] ?? 0;
    if (this.tokens) this.tokens.length = Math.max(0, this.tokens.length - t);
    this.dropCheckpointsAbove(this.offset);
    return t;
  }

  /** Forgets everything: empty layers of the same kinds. */
  reset(): void {
    for (const c of this.layers) for (const a of c.arrays) a.dispose();
    for (const cp of this.checkpoints) this.disposeCheckpoint(cp);
    this.layers = this.layers.map(emptyLike);
    this.tokens = this.tokens ? [] : null;
    this.checkpoints = [];
  }

  /** Replaces unquantized layers by quantized ones holding the same tokens. */
  quantize(opts: QuantizeOptions): void {
    if (this.layers.every((c) => c instanceof QuantizedKVCache)) return;
    this.layers = this.layers.map((c) => {
      if (c instanceof QuantizedKVCache) return c;
      const q = QuantizedKVCache.fromCache(c, opts);
      for (const a of c.arrays) a.dispose();
      return q;
    });
    this.checkpoints = [];  // their snapshots are of the unquantized layers
  }

  /** Records the current contents as a point to roll back to (only useful when some layer can't always trim). */
  checkpoint(): void {
    if (!this.tokens || !this.layers.some((c) => c.snapshot)) return;
    const length = this.tokens.length;
    if (this.checkpoints.some((c) => c.length === length)) return;
    this.checkpoints.push({ length, snaps: this.layers.map((c) => (c.snapshot ? c.snapshot() : null)) });
    if (this.checkpoints.length > MAX_CHECKPOINTS) this.disposeCheckpoint(this.checkpoints.shift()!);
  }

  private disposeCheckpoint(cp: Checkpoint): void {
    for (const s of cp.snaps) {
      const d = s?.data as { keys?: MxArray[]; values?: MxArray[] } | undefined;
      for (const a of [...(d?.keys ?? []), ...(d?.values ?? [])]) a.dispose();
    }
  }

  private dropCheckpointsAbove(length: number): void {
    this.checkpoints = this.checkpoints.filter((cp) => {
      if (cp.length <= length) return true;
      this.disposeCheckpoint(cp);
      return false;
    });
  }

  /**
   * Gets the cache ready for `prompt`: keeps the longest prefix of it the cache can hold (trimming what
   * diverges, rolling back to a checkpoint, or starting over) and returns how many prompt tokens are already
   * in the cache, always fewer than prompt.length so that the last prompt token is run for its logits.
   * `divergence` is where the prompt first differs from what was cached (a good place for a checkpoint).
   */
  prepare(prompt: readonly number[]): { reused: number; divergence: number } {
    if (!this.tokens) return { reused: 0, divergence: 0 };  // unknown contents: the prompt is appended
    const held = this.tokens;
    let n = 0;
    while (n < held.length && n < prompt.length && held[n] === prompt[n]) n++;
    const divergence = n;
    const target = Math.min(n, prompt.length - 1);
    if (target === held.length) return { reused: target, divergence };
    // Roll back to `target` by trimming if every layer can, else to the best checkpoint at or below it.
    if (this.layers.every((c) => c.isTrimmable() || c.offset - target <= 0)) {
      for (const c of this.layers) c.trim(c.offset - target);
      held.length = target;
      this.dropCheckpointsAbove(target);
      return { reused: target, divergence };
    }
    let best: Checkpoint | undefined;
    for (const cp of this.checkpoints) if (cp.length <= target && (!best || cp.length > best.length)) best = cp;
    if (!best) {
      this.reset();
      return { reused: 0, divergence };
    }
    this.layers.forEach((c, i) => {
      const s = best!.snaps[i];
      if (s && c.restoreSnapshot) c.restoreSnapshot(s);
      else c.trim(c.offset - best!.length);
    });
    held.length = best.length;
    this.dropCheckpointsAbove(best.length);
    return { reused: best.length, divergence };
  }
}

export interface MakePromptCacheOptions {
  /** A rotating cache of this many tokens on every layer (global layers keep their first 4 tokens). */
  maxKvSize?: number;
  /** Quantize the cache (4 or 8 bits), in groups of kvGroupSize (default 64) along the head dimension. */
  kvBits?: number;
  kvGroupSize?: number;
}

/** An empty prompt cache for `model` (mlx-lm's make_prompt_cache). */
export function makePromptCache(model: LanguageModel, opts: MakePromptCacheOptions = {}): PromptCache {
  if (opts.maxKvSize !== undefined && !(Number.isInteger(opts.maxKvSize) && opts.maxKvSize > 4))
    throw new RangeError(`[makePromptCache] maxKvSize must be an integer > 4, got ${opts.maxKvSize}`);
  const pc = new PromptCache(model.makeCache(opts.maxKvSize !== undefined ? { maxKvSize: opts.maxKvSize } : {}));
  if (opts.kvBits !== undefined) pc.quantize({ bits: opts.kvBits, groupSize: opts.kvGroupSize ?? 64 });
  return pc;
}

type PromptCacheLike = PromptCache | Cache[];
const layersOf = (c: PromptCacheLike) => (c instanceof PromptCache ? c.layers : c);

/** Whether every layer can drop tokens from its end. */
export function canTrimPromptCache(cache: PromptCacheLike): boolean {
  return layersOf(cache).every((c) => c.isTrimmable());
}

/** Drops the last n tokens of every layer when possible; returns how many were dropped (0 when it can't). */
export function trimPromptCache(cache: PromptCacheLike, n: number): number {
  if (cache instanceof PromptCache) return cache.trim(n);
  if (!canTrimPromptCache(cache) || n <= 0) return 0;
  return cache.map((c) => c.trim(n))[0] ?? 0;
}

const META = "hearth.";

/**
 * Saves a prompt cache as safetensors (arrays `<layer>.<i>`); the layers' kinds and meta states, the token ids
 * and your `metadata` (string values; keys may not start with "hearth.") go in the file's metadata. Returns the
 * path written (".safetensors" is appended to a path without it, as mx.saveSafetensors does).
 */
export function savePromptCache(path: string, cache: PromptCacheLike, metadata: Record<string, string> = {}): string {
  const layers = layersOf(cache);
  const arrays: Record<string, MxArray> = {};
  layers.forEach((c, i) => c.state.forEach((a, j) => (arrays[`${i}.${j}`] = a)));
  for (const k of Object.keys(metadata))
    if (k.startsWith(META)) throw new Error(`[savePromptCache] metadata key '${k}' is reserved (keys starting with '${META}' are Hearth's)`);
  const tokens = cache instanceof PromptCache ? cache.tokens : null;
  mx.saveSafetensors(path, arrays, {
    ...metadata,
    [`${META}format`]: "1",
    [`${META}kinds`]: JSON.stringify(layers.map((c) => c.kind)),
    [`${META}meta`]: JSON.stringify(layers.map((c) => c.metaState)),
    ...(tokens ? { [`${META}tokens`]: JSON.stringify(tokens) } : {}),
  });
  return path.endsWith(".safetensors") ? path : `${path}.safetensors`;
}

/** Loads a prompt cache written by savePromptCache: [cache, your metadata]. */
export function loadPromptCache(path: string): [PromptCache, Record<string, string>] {
  // savePromptCache (like mx.saveSafetensors) appends ".safetensors" to a path without it.
  if (!existsSync(path) && existsSync(`${path}.safetensors`)) path = `${path}.safetensors`;
  const [arrays, meta] = mx.loadWithMetadata(path);
  const parse = <T>(key: string): T => {
    const v = meta[`${META}${key}`];
    if (v === undefined) throw new Error(`${path} is not a Hearth prompt cache (no '${META}${key}' in its metadata)`);
    try {
      return JSON.parse(v) as T;
    } catch {
      throw new Error(`${path}: malformed '${META}${key}' metadata`);
    }
  };
  const kinds = parse<string[]>("kinds");
  const metas = parse<string[][]>("meta");
  const tokens = meta[`${META}tokens`] !== undefined ? parse<number[]>("tokens") : null;
  const layers = kinds.map((kind, i) => {
    const c = cacheFromKind(kind, metas[i] ?? []);
    const state: MxArray[] = [];
    for (let j = 0; arrays[`${i}.${j}`] !== undefined; j++) state.push(arrays[`${i}.${j}`]);
    c.restore(state, metas[i] ?? []);
    return c;
  });
  if (tokens && layers.length && tokens.length !== layers[0].offset)
    throw new Error(`${path}: the cache holds ${layers[0].offset} tokens but its metadata lists ${tokens.length} token ids`);
  const user: Record<string, string> = {};
  for (const [k, v] of Object.entries(meta)) if (!k.startsWith(META)) user[k] = v;
  return [new PromptCache(layers, tokens), user];
}

// ModelHost: the models one process keeps resident (text, vision, embedding), shared by every face in it. Loads by
// name or path, checks the memory cap from file sizes before reading any weights, unloads on request or after an
// idle time, and builds adapter variants of a text model that share the base model's weight arrays.
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { isAbsolute, join, resolve } from "node:path";
import { lm, mx, type MxArray } from "@hearth/engine";
import type { ModelInfo, ModelKind } from "./backend.js";
import { ServingError } from "./errors.js";

type LanguageModel = lm.LanguageModel;
type Tokenizer = lm.Tokenizer;

export interface ModelHostOptions {
  /** Names → folders (or hub ids); "hearth-tiny" always names the bundled model. */
  models?: Record<string, string>;
  /** Adapters known from the start: name → folder (mlx-lm or PEFT layout). */
  adapters?: Record<string, string>;
  /** Refuse a load when resident weights would pass this many bytes (file sizes, checked before loading). */
  memoryLimitBytes?: number;
  /** Unload a model nobody used for this long (ms); 0 or absent: never. */
  idleUnloadMs?: number;
  /** Accept paths (not only configured names); default true. Faces that take paths from requests check roots first. */
  allowPaths?: boolean;
}

/** A resident text or vision model. */
export interface TextModel {
  id: string;
  kind: "text" | "vision";
  path: string;
  model: LanguageModel;
  tokenizer: Tokenizer;
  processor?: lm.Gemma3Processor;
  config: Record<string, unknown>;
  /** Extra end-of-sequence ids from generation_config.json / config.json. */
  eosTokenIds: number[];
}

interface Entry {
  id: string;
  kind: ModelKind;
  path: string;
  bytes: number;
  lastUsed: number;
  users: number;
  text?: TextModel;
  embedder?: lm.EmbeddingGemma;
  /** Adapter name → the model with that adapter applied (sharing the base weights). */
  variants: Map<string, { model: LanguageModel; bytes: number }>;
}

export interface Lease<T> {
  value: T;
  release(): void;
}

/** Sum of the weight files' sizes under a folder (the cost of loading it). */
export function weightBytes(folder: string): number {
  let total = 0;
  for (const f of readdirSync(folder)) {
    const p = join(folder, f);
    const s = statSync(p);
    if (s.isDirectory()) total += weightBytes(p);
    else if (f.endsWith(".safetensors") || f.endsWith(".gguf")) total += s.size;
  }
  return total;
}

function readJsonMaybe(path: string): Record<string, unknown> | undefined {
  if (!existsSync(path)) return undefined;
  try {
    return JSON.parse(readFileSync(path, "utf8")) as Record<string, unknown>;
  } catch (e) {
    throw new ServingError("invalid_request", `${path} is not valid JSON: ${(e as Error).message}`);
  }
}

/** What a model folder holds: an EmbeddingGemma (sentence-transformers layout), a vision model, or a text model. */
export function detectKind(folder: string): ModelKind {
  if (existsSync(join(folder, "modules.json"))) return "embedding";
  const cfg = readJsonMaybe(join(folder, "config.json"));
  if (!cfg) throw new ServingError("model_not_found", `${folder} has no config.json: it is not a model folder`);
  const arch = (cfg.architectures as string[] | undefined) ?? [];
  if (arch.some((a) => /Gemma3TextModel$|EmbeddingGemma/.test(a))) return "embedding";
  if (cfg.vision_config !== undefined || cfg.model_type === "gemma3") return "vision";
  return "text";
}

function eosIds(folder: string): number[] {
  const out = new Set<number>();
  for (const f of ["generation_config.json", "config.json"]) {
    const c = readJsonMaybe(join(folder, f));
    const e = c?.eos_token_id;
    for (const id of Array.isArray(e) ? e : e === undefined ? [] : [e]) if (Number.isInteger(id)) out.add(id as number);
  }
  return [...out];
}

export class ModelHost {
  private readonly entries = new Map<string, Entry>();
  private readonly loading = new Map<string, Promise<Entry>>();
  private readonly names: Record<string, string>;
  private readonly adapterPaths = new Map<string, string>();
  private readonly memoryLimit: number;
  private readonly idleMs: number;
  private readonly allowPaths: boolean;
  private timer: NodeJS.Timeout | undefined;
  /** Called before a model is unloaded (the scheduler drops its loops and prefix caches). */
  onUnload?: (id: string) => void;

  constructor(opts: ModelHostOptions = {}) {
    this.names = { ...(opts.models ?? {}) };
    for (const [n, p] of Object.entries(opts.adapters ?? {})) this.addAdapter(n, p);
    this.memoryLimit = opts.memoryLimitBytes ?? Infinity;
    this.idleMs = opts.idleUnloadMs ?? 0;
    this.allowPaths = opts.allowPaths ?? true;
    if (this.idleMs > 0) {
      this.timer = setInterval(() => this.unloadIdle(), Math.max(50, Math.min(this.idleMs / 2, 30_000)));
      this.timer.unref();
    }
  }

  /** The folder a model name or path refers to. */
  resolvePath(ref: string): string {
    if (typeof ref !== "string" || !ref) throw new ServingError("invalid_request", "a model name or path is needed", { param: "model" });
    if (ref === lm.BUNDLED_MODEL_NAME) return lm.bundledModelPath();
    const named = this.names[ref];
    if (named !== undefined) return named === lm.BUNDLED_MODEL_NAME ? lm.bundledModelPath() : lm.resolveModelPath(named);
    const looksLikePath = isAbsolute(ref) || ref.startsWith(".") || existsSync(ref);
    if (looksLikePath && !this.allowPaths)
      throw new ServingError("path_denied", `model paths are not allowed here; use one of the configured names: ${this.knownNames().join(", ")}`, { param: "model" });
    try {
      const p = lm.resolveModelPath(ref);
      if (!existsSync(p) || !statSync(p).isDirectory()) throw new Error("not a folder");
      return p;
    } catch (e) {
      throw new ServingError("model_not_found",
        `model '${ref}' not found: give a model folder, a model in the Hugging Face cache, or one of ${this.knownNames().join(", ")}`,
        { param: "model", cause: e });
    }
  }

  private knownNames(): string[] {
    return [lm.BUNDLED_MODEL_NAME, ...Object.keys(this.names)];
  }

  /** Registers an adapter folder under a name (a newly trained one is served by the next request). */
  addAdapter(name: string, path: string): void {
    if (!name || !/^[\w.-]+$/.test(name)) throw new ServingError("invalid_request", `adapter name '${name}' must be letters, digits, '.', '-' or '_'`, { param: "adapter" });
    const p = resolve(path);
    if (!existsSync(join(p, "adapter_config.json")))
      throw new ServingError("model_not_found", `adapter '${name}': ${p} has no adapter_config.json`, { param: "adapter" });
    this.adapterPaths.set(name, p);
    // A re-trained adapter under the same name: drop the stale variants.
    for (const e of this.entries.values()) e.variants.delete(name);
  }

  adapterNames(): string[] {
    return [...this.adapterPaths.keys()];
  }

  adapterPath(name: string): string | undefined {
    return this.adapterPaths.get(name);
  }

  get loadedBytes(): number {
    let s = 0;
    for (const e of this.entries.values()) s += e.bytes + [...e.variants.values()].reduce((a, v) => a + v.bytes, 0);
    return s;
  }

  private checkMemory(extra: number, what: string): void {
    if (this.loadedBytes + extra > this.memoryLimit) {
      const loaded = [...this.entries.values()].map((e) => `${e.id} (${(e.bytes / 1e6).toFixed(1)} MB)`).join(", ") || "none";
      throw new ServingError("out_of_memory",
        `loading ${what} needs ${(extra / 1e6).toFixed(1)} MB but only ${(Math.max(0, this.memoryLimit - this.loadedBytes) / 1e6).toFixed(1)} MB of the ` +
        `${(this.memoryLimit / 1e6).toFixed(1)} MB limit is free (loaded: ${loaded}); unload a model or raise the limit`);
    }
  }

  /** Loads (or finds) a model; `kind` forces how the folder is read. */
  async load(ref: string | undefined, kind?: ModelKind): Promise<ModelInfo> {
    const e = await this.entry(ref, kind);
    return this.info(e);
  }

  private async entry(ref: string | undefined, kind?: ModelKind): Promise<Entry> {
    const id = ref ?? lm.BUNDLED_MODEL_NAME;
    const have = this.entries.get(id);
    if (have) {
      if (kind && have.kind !== kind && !(kind === "text" && have.kind === "vision"))
        throw new ServingError("unsupported", `model '${id}' is a ${have.kind} model, not ${kind === "embedding" ? "an" : "a"} ${kind} model`, { param: "model" });
      have.lastUsed = Date.now();
      return have;
    }
    const pending = this.loading.get(id);
    if (pending) return pending;
    const p = this.doLoad(id, kind);
    this.loading.set(id, p);
    try {
      return await p;
    } finally {
      this.loading.delete(id);
    }
  }

  private async doLoad(id: string, want?: ModelKind): Promise<Entry> {
    const path = this.resolvePath(id);
    const kind = detectKind(path);
    if (want && want !== kind && !(want === "text" && kind === "vision"))
      throw new ServingError("unsupported", `model '${id}' (${path}) is a ${kind} model, not ${want === "embedding" ? "an" : "a"} ${want} model`, { param: "model" });
    const bytes = weightBytes(path);
    this.checkMemory(bytes, `model '${id}'`);
    const e: Entry = { id, kind, path, bytes, lastUsed: Date.now(), users: 0, variants: new Map() };
    try {
      if (kind === "embedding") {
        e.embedder = await lm.loadEmbedder(path);
        if (!e.embedder.tokenizer) throw new ServingError("invalid_request", `embedding model '${id}' has no tokenizer.json in ${path}`);
      } else {
        const loaded = await lm.load(path);
        if (!loaded.tokenizer) throw new ServingError("invalid_request", `model '${id}' has no tokenizer.json in ${path}: the serving layer needs text`);
        const text: TextModel = {
          id, kind, path, model: loaded.model, tokenizer: loaded.tokenizer, config: loaded.config as Record<string, unknown>,
          eosTokenIds: eosIds(path),
        };
        if (kind === "vision") text.processor = await lm.loadProcessor(path);
        e.text = text;
      }
    } catch (err) {
      if (err instanceof ServingError) throw err;
      throw new ServingError("internal", `loading model '${id}' from ${path} failed: ${(err as Error).message}`, { cause: err });
    }
    if (this.entries.has(id)) return this.entries.get(id)!;  // raced with another load of the same id
    this.entries.set(id, e);
    return e;
  }

  /** A text (or vision) model for a request, held until release() so idle unloading leaves it alone. */
  async acquireText(ref: string | undefined): Promise<Lease<TextModel>> {
    const e = await this.entry(ref, "text");
    if (!e.text) throw new ServingError("unsupported", `model '${e.id}' is an ${e.kind} model and cannot generate text`, { param: "model" });
    return this.lease(e, e.text);
  }

  async acquireEmbedder(ref: string | undefined): Promise<Lease<{ id: string; embedder: lm.EmbeddingGemma }>> {
    const e = await this.entry(ref, "embedding");
    return this.lease(e, { id: e.id, embedder: e.embedder! });
  }

  private lease<T>(e: Entry, value: T): Lease<T> {
    e.users++;
    e.lastUsed = Date.now();
    let done = false;
    return {
      value,
      release: () => {
        if (done) return;
        done = true;
        e.users--;
        e.lastUsed = Date.now();
      },
    };
  }

  /**
   * The model `base` with adapter `name` applied: a second module tree whose base weights are the same arrays as
   * the base model's (no copy), plus the adapter's small matrices. Built once per (model, adapter).
   */
  async adapterModel(base: TextModel, name: string): Promise<LanguageModel> {
    const e = this.entries.get(base.id);
    if (!e) throw new ServingError("model_not_found", `model '${base.id}' is not loaded`);
    const cached = e.variants.get(name);
    if (cached) return cached.model;
    const path = this.adapterPaths.get(name);
    if (!path) {
      throw new ServingError("model_not_found",
        `adapter '${name}' not found; known adapters: ${this.adapterNames().join(", ") || "none"}`, { param: "adapter" });
    }
    const bytes = weightBytes(path);
    this.checkMemory(bytes, `adapter '${name}'`);
    let model: LanguageModel;
    try {
      model = await shareWeights(base);
      lm.loadAdapters(model, path);
      model.eval();
    } catch (err) {
      throw new ServingError("invalid_request", `adapter '${name}' (${path}) does not fit model '${base.id}': ${(err as Error).message}`, { param: "adapter", cause: err });
    }
    e.variants.set(name, { model, bytes });
    return model;
  }

  info(e: Entry): ModelInfo {
    return {
      id: e.id, kind: e.kind, loaded: true, path: e.path,
      bytes: e.bytes, adapters: e.kind === "embedding" ? [] : this.adapterNames(),
    };
  }

  /** Loaded models, then configured ones not loaded yet. */
  list(): ModelInfo[] {
    const out = [...this.entries.values()].map((e) => this.info(e));
    for (const name of this.knownNames()) {
      if (this.entries.has(name)) continue;
      try {
        const path = this.resolvePath(name);
        out.push({ id: name, kind: detectKind(path), loaded: false, path, adapters: [] });
      } catch {
        // a configured name whose folder is gone: listed by load() errors instead
      }
    }
    return out;
  }

  isLoaded(id: string): boolean {
    return this.entries.has(id);
  }

  /** Frees a model (and its adapter variants). Requests holding it keep their reference until they end. */
  unload(id: string): void {
    const e = this.entries.get(id);
    if (!e) throw new ServingError("model_not_found", `model '${id}' is not loaded`, { param: "model" });
    this.onUnload?.(id);
    this.entries.delete(id);
    e.variants.clear();
    const dispose = () => {
      // Weight arrays are freed once no module refers to them; dropping the entry is enough for GC, and
      // disposing eagerly returns the memory now when nothing is running on the model.
      if (e.users > 0) return;
      const arrays: MxArray[] = [];
      if (e.text) arrays.push(...mx.utils.treeFlatten(e.text.model.parameters()).map(([, a]) => a as MxArray));
      if (e.embedder) arrays.push(...mx.utils.treeFlatten(e.embedder.parameters()).map(([, a]) => a as MxArray));
      for (const a of arrays) if (!a.disposed) a.dispose();
    };
    dispose();
  }

  private unloadIdle(): void {
    const now = Date.now();
    for (const e of [...this.entries.values()])
      if (e.users === 0 && now - e.lastUsed >= this.idleMs) this.unload(e.id);
  }

  close(): void {
    if (this.timer) clearInterval(this.timer);
    for (const id of [...this.entries.keys()]) this.unload(id);
  }
}

/** A fresh module tree for the same checkpoint whose parameters are the base model's arrays (no copy). */
async function shareWeights(base: TextModel): Promise<LanguageModel> {
  const weights = Object.fromEntries(mx.utils.treeFlatten(base.model.parameters()) as [string, MxArray][]);
  const model = await lm.createModel(base.config as never);
  lm.applyQuantization(model, base.config as never, weights);
  model.loadWeights(Object.entries(weights), { strict: true });
  return model;
}

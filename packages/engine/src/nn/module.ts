// nn.Module: MLX's module semantics on plain JS objects. A module's parameters are its array-valued own
// properties (and lists / plain objects of arrays); its children are Module-valued properties (or lists / plain
// objects of modules). Both are found by walking own enumerable properties, skipping `_`-prefixed ones (private
// state such as the training flag and the frozen set), exactly as MLX skips `_`-prefixed keys.
import { isArray, type MxArray } from "../core/array.js";
import { EngineError } from "../core/errors.js";
import { treeFlatten, treeUnflatten } from "../core/tree.js";
import { requireOp } from "./engine-ops.js";

/** A nested plain-object / list tree of arrays, as `parameters()` returns. */
export type ParamTree = { [key: string]: any };

/** (module, key, value) → keep? `key` is the dotted path relative to `module` ("weight", "layers.0"). */
export type FilterFn = (module: Module, key: string, value: unknown) => boolean;
export type IsLeafFn = (module: Module, key: string, value: unknown) => boolean;

export function isPlainObject(x: unknown): x is Record<string, unknown> {
  if (x === null || typeof x !== "object") return false;
  const p = Object.getPrototypeOf(x);
  return p === Object.prototype || p === null;
}

function isContainer(v: unknown): boolean {
  return v instanceof Module || Array.isArray(v) || isPlainObject(v);
}

/** True when a list/object holds only plain values (numbers, strings, …): settings such as `kernelSize = [3, 3]`. */
function isSettingsContainer(v: unknown): boolean {
  let leaves = 0, tensors = 0;
  const walk = (n: unknown) => {
    if (isArray(n) || n instanceof Module) { tensors++; return; }
    if (Array.isArray(n)) n.forEach(walk);
    else if (isPlainObject(n)) Object.values(n).forEach(walk);
    else leaves++;
  };
  walk(v);
  return leaves > 0 && tensors === 0;
}

function hasOwn(o: object, k: string | number): boolean {
  return Object.prototype.hasOwnProperty.call(o, k);
}

function shapeStr(a: MxArray): string {
  return `[${a.shape.join(", ")}]`;
}

function typeName(v: unknown): string {
  if (v === null) return "null";
  if (isArray(v)) return "array";
  if (v instanceof Module) return v.constructor.name;
  if (Array.isArray(v)) return "list";
  return typeof v;
}

export class Module {
  /** Training mode (Dropout is active); set with train()/eval(). */
  private _training = true;
  /** Local parameter keys excluded from trainableParameters() (see freeze). */
  private _noGrad = new Set<string>();

  /** Whether the module is in training mode. */
  get training(): boolean {
    return this._training;
  }

  /** The public [key, value] pairs the tree walks look at. */
  protected items(): [string, unknown][] {
    return Object.keys(this).filter((k) => !k.startsWith("_")).map((k) => [k, (this as Record<string, unknown>)[k]]);
  }

  /** Arrays, and containers of arrays or modules (not settings lists), under a public key. */
  static validParameterFilter: FilterFn = (_m, key, value) =>
    !key.startsWith("_") && (isArray(value) || (isContainer(value) && !isSettingsContainer(value)));

  static trainableParameterFilter: FilterFn = (m, key, value) =>
    Module.validParameterFilter(m, key, value) && !m._noGrad.has(key);

  static validChildFilter: FilterFn = (_m, key, value) =>
    !key.startsWith("_") && isContainer(value) && !isSettingsContainer(value);

  static isModule(x: unknown): x is Module {
    return x instanceof Module;
  }

  /**
   * MLX's filter_and_map: walks the public properties, keeps those `filter` accepts, maps the leaves with `map`.
   * Modules become plain objects; a list entry the filter rejects becomes {} so list positions stay aligned.
   */
  filterAndMap(filter: FilterFn, map: (v: any) => any = (v) => v, isLeaf?: IsLeafFn): ParamTree {
    const leaf: IsLeafFn = isLeaf ?? ((_m, _k, v) => !isContainer(v));
    const unwrap = (model: Module, key: string, value: unknown): unknown => {
      if (leaf(model, key, value)) return map(value);
      if (value instanceof Module) {
        const out: ParamTree = {};
        for (const [k, v] of value.items()) if (filter(value, k, v)) out[k] = unwrap(value, k, v);
        return out;
      }
      if (Array.isArray(value))
        return value.map((v, i) => (filter(model, `${key}.${i}`, v) ? unwrap(model, `${key}.${i}`, v) : {}));
      if (isPlainObject(value)) {
        const out: ParamTree = {};
        for (const [k, v] of Object.entries(value)) out[k] = filter(model, `${key}.${k}`, v) ? unwrap(model, `${key}.${k}`, v) : {};
        return out;
      }
      throw new EngineError(`[Module] unexpected leaf '${key}' (${typeName(value)}) while walking the module`);
    };
    const out: ParamTree = {};
    for (const [k, v] of this.items()) if (filter(this, k, v)) out[k] = unwrap(this, k, v);
    return out;
  }

  /** Every parameter array, as a tree of plain objects and lists. */
  parameters(): ParamTree {
    return this.filterAndMap(Module.validParameterFilter);
  }

  /** The parameters that are not frozen. */
  trainableParameters(): ParamTree {
    return this.filterAndMap(Module.trainableParameterFilter);
  }

  /** The direct child modules (a tree whose leaves are modules). */
  children(): ParamTree {
    return this.filterAndMap(Module.validChildFilter, (v) => v, (_m, _k, v) => v instanceof Module);
  }

  /** The descendant modules that have no children of their own (a tree whose leaves are modules). */
  leafModules(): ParamTree {
    const isLeafModule: IsLeafFn = (_m, _k, v) =>
      v instanceof Module && treeFlatten(v.children(), "", Module.isModule).length === 0;
    return this.filterAndMap(Module.validChildFilter, (v) => v, isLeafModule);
  }

  /** Calls fn(path, module) for this module ("") and every descendant, in MLX's order (depth first, last child first). */
  applyToModules(fn: (path: string, module: Module) => void): this {
    const stack: [string, Module][] = [["", this]];
    while (stack.length) {
      const [prefix, mod] = stack.pop()!;
      fn(prefix, mod);
      stack.push(...(treeFlatten(mod.children(), prefix, Module.isModule) as [string, Module][]));
    }
    return this;
  }

  /** [[path, module], …] for this module and all descendants. */
  namedModules(): [string, Module][] {
    const out: [string, Module][] = [];
    this.applyToModules((k, m) => out.push([k, m]));
    return out;
  }

  /** This module and all descendants. */
  modules(): Module[] {
    return this.namedModules().map(([, m]) => m);
  }

  /**
   * Replaces the arrays at the tree's paths (a tree shaped like parameters(), possibly partial). With strict
   * (default), a path the module doesn't have, or a non-array where an array is, is an error naming every such
   * path; nothing is changed then.
   */
  update(tree: ParamTree, strict = true): this {
    const errors: string[] = [];
    const sets: [any, string | number, MxArray][] = [];
    const visit = (dst: any, src: unknown, path: string) => {
      const entries: [string | number, unknown][] =
        Array.isArray(src) ? src.map((v, i) => [i, v]) : isPlainObject(src) ? Object.entries(src) : [];
      if (!Array.isArray(src) && !isPlainObject(src)) {
        if (strict) errors.push(`'${path || "(root)"}' (got ${typeName(src)}, expected a tree of arrays)`);
        return;
      }
      for (const [k, v] of entries) {
        const p = path ? `${path}.${k}` : String(k);
        const isList = Array.isArray(dst);
        const present = isList ? typeof k === "number" && k < dst.length : !String(k).startsWith("_") && hasOwn(dst, k);
        const cur = present ? dst[k] : undefined;
        if (isPlainObject(v) && Object.keys(v).length === 0) continue;  // {} = nothing to change (list padding)
        if (cur === undefined || cur === null) {
          if (strict) errors.push(`'${p}' (no such parameter)`);
        } else if (isArray(cur)) {
          if (isArray(v)) sets.push([dst, k, v]);
          else if (strict) errors.push(`'${p}' (got ${typeName(v)}, expected an array)`);
        } else if (isContainer(cur)) {
          visit(cur, v, p);
        } else if (strict) errors.push(`'${p}' (not a parameter: holds ${typeName(cur)})`);
      }
    };
    visit(this, tree, "");
    if (errors.length)
      throw new EngineError(`[Module.update] ${this.constructor.name} cannot take ${errors.length} path(s): ${errors.join(", ")}`);
    for (const [dst, k, v] of sets) dst[k] = v;
    return this;
  }

  /** Replaces child modules at the tree's paths (a tree shaped like children()). */
  updateModules(tree: ParamTree, strict = true): this {
    const errors: string[] = [];
    const sets: [any, string | number, Module][] = [];
    const visit = (dst: any, src: unknown, path: string) => {
      const entries: [string | number, unknown][] =
        Array.isArray(src) ? src.map((v, i) => [i, v]) : isPlainObject(src) ? Object.entries(src) : [];
      for (const [k, v] of entries) {
        const p = path ? `${path}.${k}` : String(k);
        const present = Array.isArray(dst) ? typeof k === "number" && k < dst.length : !String(k).startsWith("_") && hasOwn(dst, k);
        const cur = present ? dst[k] : undefined;
        if (cur instanceof Module && v instanceof Module) sets.push([dst, k, v]);
        else if (isPlainObject(v) && Object.keys(v).length === 0) continue;
        else if (cur !== undefined && cur !== null && isContainer(cur) && (Array.isArray(v) || isPlainObject(v))) visit(cur, v, p);
        else if (strict) errors.push(cur === undefined ? `'${p}' (no such sub-module)` : `'${p}' (got ${typeName(v)} for ${typeName(cur)})`);
      }
    };
    visit(this, tree, "");
    if (errors.length)
      throw new EngineError(`[Module.updateModules] ${this.constructor.name} cannot take ${errors.length} path(s): ${errors.join(", ")}`);
    for (const [dst, k, v] of sets) dst[k] = v;
    return this;
  }

  /** Maps every parameter (those `filter` accepts, default all) through fn and writes the results back. */
  apply(fn: (a: MxArray) => MxArray, filter?: FilterFn): this {
    const f = filter ?? Module.validParameterFilter;
    // Only arrays reach fn, whatever else the filter lets through (functions in a Sequential, numbers, …).
    return this.update(this.filterAndMap((m, k, v) => (isArray(v) || isContainer(v)) && f(m, k, v), fn));
  }

  /**
   * Freezes parameters: they leave trainableParameters() (so get no gradients and no optimizer updates).
   * keys: local parameter names (default all of each module's own); recurse (default true): every descendant too;
   * strict: a key a module doesn't have is an error.
   */
  freeze(opts: { keys?: string | string[]; recurse?: boolean; strict?: boolean } = {}): this {
    const { recurse = true, strict = false } = opts;
    const keys = typeof opts.keys === "string" ? [opts.keys] : opts.keys;
    const freezeOne = (_p: string, m: Module) => {
      const local = keys ?? m.ownParameterKeys();
      if (strict) m.checkKeys(local, "freeze");
      for (const k of local) m._noGrad.add(k);
    };
    if (recurse) this.applyToModules(freezeOne);
    else freezeOne("", this);
    return this;
  }

  /** Undoes freeze (same options); without keys every parameter becomes trainable again. */
  unfreeze(opts: { keys?: string | string[]; recurse?: boolean; strict?: boolean } = {}): this {
    const { recurse = true, strict = false } = opts;
    const keys = typeof opts.keys === "string" ? [opts.keys] : opts.keys;
    const unfreezeOne = (_p: string, m: Module) => {
      if (strict && keys) m.checkKeys(keys, "unfreeze");
      if (keys) for (const k of keys) m._noGrad.delete(k);
      else m._noGrad.clear();
    };
    if (recurse) this.applyToModules(unfreezeOne);
    else unfreezeOne("", this);
    return this;
  }

  /** Paths of this module's own parameters (not those inside child modules). */
  private ownParameterKeys(): string[] {
    const own = this.filterAndMap((m, k, v) => !(v instanceof Module) && Module.validParameterFilter(m, k, v));
    return treeFlatten(own).map(([k]) => k);
  }

  private checkKeys(keys: string[], op: string): void {
    const missing = keys.filter((k) => !hasOwn(this, k.split(".")[0]) || k.startsWith("_"));
    if (missing.length)
      throw new EngineError(`[Module.${op}] ${this.constructor.name} has no member(s) ${missing.map((k) => `'${k}'`).join(", ")}`);
  }

  /** Sets training mode on this module and every descendant. */
  train(mode = true): this {
    this.applyToModules((_p, m) => { m._training = mode; });
    return this;
  }

  /** Evaluation mode (train(false)). */
  eval(): this {
    return this.train(false);
  }

  /**
   * Loads weights from a list of [name, array] pairs or a .safetensors path (through mx.load). With strict
   * (default) names the model lacks, parameters the list lacks and shape mismatches are errors.
   */
  loadWeights(fileOrWeights: string | [string, MxArray][], opts: { strict?: boolean } = {}): this {
    const { strict = true } = opts;
    let weights: [string, MxArray][];
    if (typeof fileOrWeights === "string") {
      const loaded = requireOp("load", "Module.loadWeights")(fileOrWeights);
      weights = loaded instanceof Map ? [...loaded.entries()] : Object.entries(loaded as Record<string, MxArray>);
    } else weights = fileOrWeights;
    if (strict) {
      const given = new Map(weights);
      const current = new Map(treeFlatten(this.parameters()) as [string, MxArray][]);
      const extra = [...given.keys()].filter((k) => !current.has(k));
      if (extra.length)
        throw new EngineError(`[Module.loadWeights] received ${extra.length} parameter(s) not in the model: ${extra.join(", ")}`);
      const missing = [...current.keys()].filter((k) => !given.has(k));
      if (missing.length)
        throw new EngineError(`[Module.loadWeights] missing ${missing.length} parameter(s): ${missing.join(", ")}`);
      for (const [k, cur] of current) {
        const v = given.get(k);
        if (!isArray(v)) throw new EngineError(`[Module.loadWeights] parameter '${k}' is ${typeName(v)}, expected an array`);
        if (v.shape.join(",") !== cur.shape.join(","))
          throw new EngineError(`[Module.loadWeights] parameter '${k}' has shape ${shapeStr(v)} but the model expects ${shapeStr(cur)}`);
      }
    }
    if (weights.length) this.update(treeUnflatten(weights), false);
    return this;
  }

  /** Saves the parameters as a .safetensors file (through mx.saveSafetensors), names as treeFlatten gives them. */
  saveWeights(path: string): void {
    if (!path.endsWith(".safetensors"))
      throw new EngineError(`[Module.saveWeights] unsupported file extension in '${path}'; use .safetensors`);
    const params = Object.fromEntries(treeFlatten(this.parameters()));
    requireOp("saveSafetensors", "Module.saveWeights")(path, params);
  }

  /** MLX-like summary: the class name and its children, indented. */
  toString(): string {
    const lines: string[] = [];
    const walk = (m: Module, name: string, depth: number) => {
      lines.push(`${"  ".repeat(depth)}${name ? `(${name}): ` : ""}${m.constructor.name}(${m.describe()})`);
      for (const [k, c] of treeFlatten(m.children(), "", Module.isModule) as [string, Module][]) walk(c, k, depth + 1);
    };
    walk(this, "", 0);
    return lines.join("\n");
  }

  /** Extra text for toString (layers override it with their sizes). */
  protected describe(): string {
    return "";
  }
}

/** A module with a one-input forward (what Sequential chains). */
export interface UnaryModule extends Module {
  forward(x: MxArray): MxArray;
}

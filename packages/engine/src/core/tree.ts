// Trees of arrays (nested plain objects and lists), with paths joined by dots as mlx.utils does.
import { isArray, type MxArray } from "./array.js";
import { EngineError } from "./errors.js";

export type Tree = MxArray | Tree[] | { [key: string]: Tree } | unknown;

function isPlainObject(x: unknown): x is Record<string, unknown> {
  if (x === null || typeof x !== "object") return false;
  const p = Object.getPrototypeOf(x);
  return p === Object.prototype || p === null;
}

/** [[path, leaf], …] for every array leaf ("layers.0.weight"). Non-array leaves are kept when isLeaf says so. */
export function treeFlatten(tree: unknown, prefix = "", isLeaf?: (x: unknown) => boolean): [string, any][] {
  const out: [string, any][] = [];
  const walk = (node: unknown, path: string) => {
    if (isLeaf ? isLeaf(node) : isArray(node)) { out.push([path, node]); return; }
    if (Array.isArray(node)) node.forEach((v, i) => walk(v, path ? `${path}.${i}` : String(i)));
    else if (isPlainObject(node))
      for (const [k, v] of Object.entries(node)) walk(v, path ? `${path}.${k}` : k);
    else if (!isLeaf && node !== undefined && node !== null) out.push([path, node]);
  };
  walk(tree, prefix);
  return out;
}

/** Rebuilds a tree from [[path, value], …]; numeric path parts become list indices. */
export function treeUnflatten(items: [string, unknown][]): any {
  if (items.length === 1 && items[0][0] === "") return items[0][1];
  const root: Record<string, any> = {};
  for (const [path, value] of items) {
    const parts = path.split(".");
    let node: Record<string, any> = root;
    for (let i = 0; i < parts.length - 1; i++) node = node[parts[i]] ??= {};
    node[parts[parts.length - 1]] = value;
  }
  const toLists = (n: any): any => {
    if (!isPlainObject(n)) return n;
    const keys = Object.keys(n);
    const conv: Record<string, any> = {};
    for (const k of keys) conv[k] = toLists(n[k]);
    if (keys.length && keys.every((k) => /^\d+$/.test(k))) {
      const list: any[] = [];
      for (const k of keys) list[Number(k)] = conv[k];
      for (let i = 0; i < list.length; i++) if (!(i in list)) list[i] = {};  // gaps become {} as in mlx.utils
      return list;
    }
    return conv;
  };
  return toLists(root);
}

/** Applies fn to every array leaf of `tree` (and the matching leaves of `rest`), keeping the structure. */
export function treeMap(fn: (x: any, ...rest: any[]) => any, tree: unknown, ...rest: unknown[]): any {
  if (isArray(tree)) return fn(tree, ...rest);
  if (Array.isArray(tree)) return tree.map((v, i) => treeMap(fn, v, ...rest.map((r) => (r as any[])?.[i])));
  if (isPlainObject(tree)) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(tree)) out[k] = treeMap(fn, v, ...rest.map((r) => (r as any)?.[k]));
    return out;
  }
  return tree;
}

/** The array leaves in order; any other leaf is an error naming its path (for grad inputs and outputs). */
export function treeLeavesStrict(tree: unknown, op: string): MxArray[] {
  if (isArray(tree)) return [tree];
  const leaves = treeFlatten(tree, "", (x) => !Array.isArray(x) && !isPlainObject(x));
  return leaves.map(([path, leaf]) => {
    if (!isArray(leaf))
      throw new EngineError(`[${op}] expected only arrays in the tree, found ${leaf === null ? "null" : typeof leaf} at '${path || "(root)"}'`);
    return leaf;
  });
}

/** The array leaves in order, ignoring anything else (as mx.eval does). */
export function treeArrays(tree: unknown): MxArray[] {
  const out: MxArray[] = [];
  const walk = (n: unknown) => {
    if (isArray(n)) out.push(n);
    else if (Array.isArray(n)) n.forEach(walk);
    else if (isPlainObject(n)) Object.values(n).forEach(walk);
  };
  walk(tree);
  return out;
}

// The vectorising map transform, with MLX's interface. It loops over the mapped axis (see vmap's doc).
import { isArray, type MxArray } from "./array.js";
import { EngineError } from "./errors.js";
import { slice, stack } from "./ops-indexing.js";
import { squeeze } from "./ops-layout.js";

/**
 * Which axis of an input (or output) is mapped: a number, null (not mapped), or, for an argument that is a
 * list or object of arrays, a matching list/object of axes. For the whole argument list (or a list of
 * outputs), either one spec for everything or a list with one spec per argument (output).
 */
export type VmapAxes = number | null | VmapAxes[] | { [key: string]: VmapAxes };

type Fn = (...args: any[]) => any;

function isPlainObject(x: unknown): x is Record<string, unknown> {
  return x !== null && typeof x === "object" && !Array.isArray(x) && !isArray(x) &&
    (Object.getPrototypeOf(x) === Object.prototype || Object.getPrototypeOf(x) === null);
}

/** Calls f on every array leaf of x with the axis spec that covers it; other leaves are kept as they are. */
function visit(x: unknown, spec: VmapAxes, f: (a: MxArray, axis: number | null) => unknown, where: string): unknown {
  if (spec === null || typeof spec === "number") {
    if (isArray(x)) return f(x, spec);
    if (Array.isArray(x)) return x.map((v) => visit(v, spec, f, where));
    if (isPlainObject(x)) return Object.fromEntries(Object.entries(x).map(([k, v]) => [k, visit(v, spec, f, where)]));
    return x;
  }
  if (Array.isArray(spec)) {
    if (!Array.isArray(x) || x.length !== spec.length)
      throw new EngineError(`[vmap] the axes for ${where} are a list of ${spec.length} but the value does not match it`);
    return x.map((v, i) => visit(v, spec[i], f, `${where}[${i}]`));
  }
  if (isPlainObject(spec)) {
    if (!isPlainObject(x)) throw new EngineError(`[vmap] the axes for ${where} are an object but the value is not`);
    return Object.fromEntries(Object.entries(x).map(([k, v]) => [k, visit(v, spec[k] ?? null, f, `${where}.${k}`)]));
  }
  throw new EngineError(`[vmap] axes must be numbers, null, or lists/objects of them; got ${typeof spec} for ${where}`);
}

function perArgument(specs: VmapAxes, n: number): VmapAxes[] {
  if (Array.isArray(specs)) {
    if (specs.length !== n) throw new EngineError(`[vmap] inAxes has ${specs.length} entries for ${n} argument(s)`);
    return specs;
  }
  return Array.from({ length: n }, () => specs);
}

function normAxis(axis: number, ndim: number, where: string): number {
  if (!Number.isInteger(axis) || axis < -ndim || axis >= ndim)
    throw new EngineError(`[vmap] axis ${axis} is out of bounds for ${where} with ${ndim} dimension(s)`);
  return axis < 0 ? axis + ndim : axis;
}

/** Item i of a along axis, as a view without that axis. */
function itemOf(a: MxArray, axis: number, i: number): MxArray {
  const start = a.shape.map(() => 0), stop = a.shape.slice();
  start[axis] = i;
  stop[axis] = i + 1;
  return squeeze(slice(a, start, stop), axis);
}

/**
 * vmap(fn, inAxes = 0, outAxes = 0) → a function that applies fn over axis `inAxes` of its inputs and stacks
 * the results along `outAxes`, as MLX's `mx.vmap` (inAxes/outAxes: a number, null for "not mapped", or a list
 * with one entry per argument / output; list and object arguments take matching nested specs).
 *
 * This implementation LOOPS: each mapped input is sliced (a view) at every index of its mapped axis, fn is
 * called once per item, and the outputs are stacked. It is exact and differentiable (grad of a vmap works),
 * but costs one call of fn per item rather than one batched kernel. Outputs with outAxes null are taken from
 * the first item (they must not depend on the mapped inputs).
 */
export function vmap(fn: Fn, inAxes: VmapAxes = 0, outAxes: VmapAxes = 0): (...args: any[]) => any {
  if (typeof fn !== "function") throw new EngineError("[vmap] fn must be a function");
  return (...args: any[]) => {
    const specs = perArgument(inAxes, args.length);
    let size = -1;
    // Resolve every mapped leaf's axis once and check the sizes agree.
    const resolved = args.map((arg, k) => visit(arg, specs[k], (a, axis) => {
      if (axis === null) return { a, axis: null };
      const ax = normAxis(axis, a.ndim, `argument ${k}`);
      const n = a.shape[ax];
      if (size >= 0 && n !== size) throw new EngineError(`[vmap] inconsistent sizes for the mapped axes: ${size} and ${n}`);
      size = n;
      return { a, axis: ax };
    }, `argument ${k}`));
    if (size < 0) throw new EngineError("[vmap] at least one input must be mapped (inAxes are all null)");
    if (size === 0) throw new EngineError("[vmap] cannot map over an axis of size 0");

    const isLeaf = (x: unknown): x is { a: MxArray; axis: number | null } =>
      x !== null && typeof x === "object" && "a" in (x as object) && "axis" in (x as object) && isArray((x as { a: unknown }).a);
    const pick = (x: unknown, i: number): unknown => {
      if (isLeaf(x)) return x.axis === null ? x.a : itemOf(x.a, x.axis, i);
      if (Array.isArray(x)) return x.map((v) => pick(v, i));
      if (isPlainObject(x)) return Object.fromEntries(Object.entries(x).map(([k, v]) => [k, pick(v, i)]));
      return x;
    };

    const results: unknown[] = [];
    for (let i = 0; i < size; i++) results.push(fn(...resolved.map((r) => pick(r, i))));

    const first = results[0];
    // Rebuild the output structure; each array leaf stacks the matching leaf of every item.
    const build = (x: unknown, spec: VmapAxes, path: (r: unknown) => unknown, where: string): unknown => {
      if (isArray(x)) {
        if (spec !== null && typeof spec !== "number")
          throw new EngineError(`[vmap] outAxes for ${where} must be a number or null`);
        if (spec === null) return x;
        return stack(results.map((r) => path(r) as MxArray), normAxis(spec, x.ndim + 1, where));
      }
      if (Array.isArray(x)) {
        const specs2 = Array.isArray(spec) ? spec : x.map(() => spec);
        if (specs2.length !== x.length)
          throw new EngineError(`[vmap] outAxes for ${where} has ${specs2.length} entries for ${x.length} outputs`);
        return x.map((v, j) => build(v, specs2[j], (r) => (path(r) as unknown[])[j], `${where}[${j}]`));
      }
      if (isPlainObject(x)) {
        const obj = isPlainObject(spec) ? spec : null;
        return Object.fromEntries(Object.entries(x).map(([k, v]) =>
          [k, build(v, obj ? obj[k] ?? null : spec, (r) => (path(r) as Record<string, unknown>)[k], `${where}.${k}`)]));
      }
      throw new EngineError(`[vmap] fn must return arrays (or lists/objects of arrays), got ${x === null ? "null" : typeof x} at ${where}`);
    };
    return build(first, outAxes, (r) => r, "the output");
  };
}

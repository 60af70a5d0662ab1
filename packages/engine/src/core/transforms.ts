// Function transforms on the lazy graph: eval, asyncEval, grad, valueAndGrad, vjp, jvp.
import { isArray, track, type MxArray } from "./array.js";
import { EngineError } from "./errors.js";
import { native } from "./native.js";
import { onesLike, zerosLike } from "./ops-layout.js";
import { treeArrays, treeLeavesStrict, treeMap } from "./tree.js";

/** Computes every array in the arguments (trees allowed); other leaves are ignored. */
export function evaluate(...trees: unknown[]): void {
  const arrays = treeArrays(trees);
  for (const a of arrays) if (a._disposed()) throw new EngineError("[eval] an array was used after dispose()", "EDISPOSED");
  if (arrays.length) native.eval(arrays);
}

/** Starts computing on the engine thread; the Promise resolves when done. The event loop keeps running. */
export function asyncEval(...trees: unknown[]): Promise<void> {
  const arrays = treeArrays(trees);
  for (const a of arrays)
    if (a._disposed()) return Promise.reject(new EngineError("[asyncEval] an array was used after dispose()", "EDISPOSED"));
  return arrays.length ? native.asyncEval(arrays) : Promise.resolve();
}

type Fn = (...args: any[]) => any;

interface Traced {
  outputs: unknown;
  grads: unknown[];  // one tree per argnum
}

/** Calls fn with tracer copies of args[argnums], then walks back from `seed(outputs)` to them. */
function trace(fn: Fn, args: unknown[], argnums: number[], op: string,
               seed: (outputs: unknown) => [MxArray[], MxArray[]]): Traced {
  for (const i of argnums)
    if (i < 0 || i >= args.length)
      throw new EngineError(`[${op}] argnum ${i} is out of range for ${args.length} argument(s)`);
  native.beginTrace();
  try {
    const traced = args.slice();
    const tracers: MxArray[][] = [];
    for (const i of argnums) {
      treeLeavesStrict(args[i], op);  // every leaf must be an array
      const list: MxArray[] = [];
      traced[i] = treeMap((a: MxArray) => {
        const t = track(native.makeTracer(a));
        list.push(t);
        return t;
      }, args[i]);
      tracers.push(list);
    }
    const outputs = fn(...traced);
    const [outs, cots] = seed(outputs);
    const flat = native.backprop(outs, cots, tracers.flat()).map((g) => track(g));
    let k = 0;
    const grads = argnums.map((i, j) => treeMap(() => flat[k++], args[i], tracers[j]));
    return { outputs, grads };
  } finally {
    native.endTrace();
  }
}

function scalarLoss(op: string) {
  return (outputs: unknown): [MxArray[], MxArray[]] => {
    const loss = isArray(outputs) ? outputs : Array.isArray(outputs) && isArray(outputs[0]) ? outputs[0] : null;
    if (!loss) throw new EngineError(`[${op}] the function must return an array (or a list whose first item is one)`);
    if (loss.size !== 1)
      throw new EngineError(`[${op}] the function must return a scalar array, got shape [${loss.shape.join(", ")}]`);
    return [[loss], [onesLike(loss)]];
  };
}

function normArgnums(argnums: number | number[] | undefined): [number[], boolean] {
  if (argnums === undefined) return [[0], true];
  if (typeof argnums === "number") return [[argnums], true];
  return [argnums, false];
}

/** valueAndGrad(fn, argnums?) → (...args) => [value, grads] (grads of the first output w.r.t. args[argnums]). */
export function valueAndGrad(fn: Fn, argnums?: number | number[]): (...args: any[]) => [any, any] {
  const [nums, single] = normArgnums(argnums);
  return (...args: any[]) => {
    const t = trace(fn, args, nums, "valueAndGrad", scalarLoss("valueAndGrad"));
    return [t.outputs, single ? t.grads[0] : t.grads];
  };
}

/** grad(fn, argnums?) → (...args) => grads. */
export function grad(fn: Fn, argnums?: number | number[]): (...args: any[]) => any {
  const vg = valueAndGrad(fn, argnums);
  return (...args: any[]) => vg(...args)[1];
}

function asList(x: unknown, op: string): MxArray[] {
  const list = isArray(x) ? [x] : Array.isArray(x) ? x : null;
  if (!list || !list.every(isArray)) throw new EngineError(`[${op}] expected an array or a list of arrays`);
  return list as MxArray[];
}

/** vjp(fn, primals, cotangents) → [outputs, vjps] as MLX: fn takes and returns arrays. */
export function vjp(fn: Fn, primals: MxArray[], cotangents: MxArray[]): [MxArray[], MxArray[]] {
  const ps = asList(primals, "vjp");
  const t = trace(fn, ps, ps.map((_, i) => i), "vjp", (outputs) => {
    const outs = asList(outputs, "vjp");
    const cots = asList(cotangents, "vjp");
    if (cots.length !== outs.length)
      throw new EngineError(`[vjp] got ${cots.length} cotangent(s) for ${outs.length} output(s)`);
    return [outs, cots];
  });
  return [asList(t.outputs, "vjp"), t.grads as MxArray[]];
}

/**
 * jvp(fn, primals, tangents) → [outputs, jvps]. Forward mode through two reverse passes: u ↦ vjp(fn)(u)
 * is linear, so the vjp of that map applied to the tangents is the jvp.
 */
export function jvp(fn: Fn, primals: MxArray[], tangents: MxArray[]): [MxArray[], MxArray[]] {
  const ps = asList(primals, "jvp"), ts = asList(tangents, "jvp");
  if (ts.length !== ps.length) throw new EngineError(`[jvp] got ${ts.length} tangent(s) for ${ps.length} primal(s)`);
  ps.forEach((p, i) => {
    if (p.shape.join() !== ts[i].shape.join())
      throw new EngineError(`[jvp] tangent ${i} has shape [${ts[i].shape}] but the primal has [${p.shape}]`);
  });
  const outs = asList(fn(...ps), "jvp");
  const us = outs.map((o) => zerosLike(o));
  const pullback = (...u: MxArray[]) => vjp(fn, ps, u)[1];
  const [, jvps] = vjp(pullback, us, ts);
  return [outs, jvps];
}

export interface CompileOptions {
  /** Fuse chains of float elementwise ops into single kernels (default true). */
  fuse?: boolean;
}

/**
 * compile(fn): traces fn once per distinct input signature (shapes, dtypes, tree structure) and afterwards
 * replays the recorded graph without calling fn, with elementwise chains fused. As in MLX, fn must be pure:
 * arrays it captures (not passed as arguments) are frozen at trace time, including the random state.
 */
export function compile<F extends (...args: any[]) => any>(fn: F, opts: CompileOptions = {}): F {
  const fuse = opts.fuse ?? true;
  const cache = new Map<string, { handle: unknown; outTemplate: unknown; nOut: number }>();
  const compiled = (...args: unknown[]) => {
    const inputs = treeArrays(args);
    const key = JSON.stringify(structureOf(args)) + "|" + inputs.map((a) => `${a.dtype.name}[${a.shape}]`).join(";");
    let entry = cache.get(key);
    if (!entry) {
      native.beginTrace();
      try {
        const tracers = inputs.map((a) => track(native.makeTracer(a)));
        let k = 0;
        const tracedArgs = treeMap(() => tracers[k++], args);
        const out = fn(...(tracedArgs as unknown[]));
        const outs = treeLeavesStrict(out, "compile");
        const handle = native.compileTrace(tracers, outs, fuse);
        entry = { handle, outTemplate: out, nOut: outs.length };
        cache.set(key, entry);
      } finally {
        native.endTrace();
      }
    }
    const results = (native.compileRun(entry.handle, inputs) as MxArray[]).map((a) => track(a));
    let k = 0;
    return treeMap(() => results[k++], entry.outTemplate);
  };
  return compiled as unknown as F;
}

// The tree shape of the arguments, with non-array leaves by value (they are baked into the trace).
function structureOf(x: unknown): unknown {
  if (isArray(x)) return 0;
  if (Array.isArray(x)) return x.map(structureOf);
  if (x && typeof x === "object") return Object.fromEntries(Object.entries(x).map(([k, v]) => [k, structureOf(v)]));
  return x === undefined ? null : typeof x === "number" || typeof x === "string" || typeof x === "boolean" ? x : String(x);
}

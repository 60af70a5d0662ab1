// Engine ops that nn needs but that other op families provide (take, conv, random, fast, load/save). They are
// looked up when called, not at import, so nn works with whichever families this build of the engine has;
// where a plain-op fallback exists it is used when the op is missing.
import * as mx from "../core/mx.js";
import { EngineError } from "../core/errors.js";
import type { MxArray } from "../core/array.js";
import type { Dtype } from "../core/dtype.js";
import { rng } from "./rng.js";

type AnyFn = (...args: any[]) => any;
const root = mx as unknown as Record<string, any>;

function lookup(path: string): AnyFn | undefined {
  let node: any = root;
  for (const part of path.split(".")) node = node?.[part];
  return typeof node === "function" ? node : undefined;
}

/** Whether `mx.<path>` exists in this build ("take", "random.bernoulli", "fast.rope", …). */
export function hasOp(path: string): boolean {
  return lookup(path) !== undefined;
}

/** `mx.<path>`, or an EngineError naming the layer that needs it. */
export function requireOp(path: string, who: string): AnyFn {
  const f = lookup(path);
  if (!f) throw new EngineError(`[${who}] needs mx.${path}, which this build of the engine does not have yet`);
  return f;
}

/** Uniform samples in [low, high) of the given shape (mx.random.uniform; a fixed-seed JS generator until it exists). */
export function randomUniform(low: number, high: number, shape: number[], dtype?: Dtype): MxArray {
  const f = lookup("random.uniform");
  let u: MxArray;
  if (f) u = mx.add(mx.multiply(f(0, 1, shape) as MxArray, high - low), low);
  else u = mx.array(Float32Array.from(rng.uniforms(size(shape)), (v) => low + (high - low) * v), mx.float32, shape);
  return dtype && u.dtype !== dtype ? mx.astype(u, dtype) : u;
}

/** Normal samples (mx.random.normal; a fixed-seed JS generator until it exists). */
export function randomNormal(shape: number[], loc = 0, scale = 1, dtype?: Dtype): MxArray {
  const f = lookup("random.normal");
  let n: MxArray;
  if (f) n = f(shape) as MxArray;
  else n = mx.array(Float32Array.from(rng.normals(size(shape))), mx.float32, shape);
  if (scale !== 1) n = mx.multiply(n, scale);
  if (loc !== 0) n = mx.add(n, loc);
  return dtype && n.dtype !== dtype ? mx.astype(n, dtype) : n;
}

function size(shape: number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

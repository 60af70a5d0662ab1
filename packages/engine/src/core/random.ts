// mx.random: counter-based random numbers as in MLX. A key is a uint32 array of shape [2]; every value is a pure
// function of (key, element index) through the Threefry-2x32-20 cipher, so a key gives the same numbers
// whatever the thread count. Calls without a key take the next key of a global sequence (`seed` resets it).
//
// Arguments follow MLX's positional order, and each function also takes an options object as its last
// argument (e.g. `uniform({ shape: [3], key })` or `uniform(0, 10, { shape: [3] })`).
import { isArray, track, type ArrayLike, type MxArray } from "./array.js";
import { Dtype, float32, int32, toDtype } from "./dtype.js";
import { EngineError } from "./errors.js";
import { native } from "./native.js";

type DtypeLike = Dtype | string;
type Param = number | MxArray;

function isOptions(x: unknown): x is Record<string, unknown> {
  if (x === null || typeof x !== "object" || isArray(x) || Array.isArray(x)) return false;
  const proto = Object.getPrototypeOf(x);
  return proto === Object.prototype || proto === null;
}

/** Positional arguments (undefined where skipped) and the trailing options object, if any. */
function parse(args: unknown[], op: string, names: string[]): Record<string, unknown> {
  let pos = args;
  let opts: Record<string, unknown> = {};
  const last = args.length ? args[args.length - 1] : undefined;
  if (isOptions(last)) {
    opts = last;
    pos = args.slice(0, -1);
  }
  if (pos.length > names.length)
    throw new EngineError(`[${op}] takes at most ${names.length} positional arguments (${names.join(", ")}), got ${pos.length}`);
  for (const k of Object.keys(opts))
    if (!names.includes(k)) throw new EngineError(`[${op}] unknown option '${k}'; expected one of ${names.join(", ")}`);
  const out: Record<string, unknown> = {};
  names.forEach((n, i) => (out[n] = opts[n] !== undefined ? opts[n] : pos[i]));
  return out;
}

function param(x: unknown, fallback: number, op: string, name: string): Param {
  if (x === undefined || x === null) return fallback;
  if (typeof x === "number" || isArray(x)) return x;
  if (typeof x === "boolean") return x ? 1 : 0;
  if (Array.isArray(x))
    throw new EngineError(`[${op}] ${name} must be a number or an mx array, got a JS array (a shape? pass it in its position or as { shape })`);
  throw new EngineError(`[${op}] ${name} must be a number or an mx array, got ${typeof x}`);
}

function shapeOf(p: Param): number[] {
  return typeof p === "number" ? [] : p.shape;
}

function broadcastShape(...shapes: number[][]): number[] {
  let out: number[] = [];
  for (const s of shapes) {
    const n = Math.max(out.length, s.length), r: number[] = [];
    for (let i = 0; i < n; i++) {
      const a = out[i - (n - out.length)] ?? 1, b = s[i - (n - s.length)] ?? 1;
      r.push(a === 1 ? b : a);  // a mismatch is reported by the engine
    }
    out = r;
  }
  return out;
}

function shapeArg(x: unknown, fallback: number[], op: string): number[] {
  if (x === undefined || x === null) return fallback;
  if (typeof x === "number") return [x];
  if (Array.isArray(x)) return x as number[];
  throw new EngineError(`[${op}] shape must be an array of integers, got ${typeof x}`);
}

function dtypeArg(x: unknown, fallback: Dtype): Dtype {
  return x === undefined || x === null ? fallback : toDtype(x as DtypeLike);
}

function keyArg(x: unknown, op: string): MxArray | undefined {
  if (x === undefined || x === null) return undefined;
  if (!isArray(x)) throw new EngineError(`[${op}] key must be an array (from random.key or random.split)`);
  return x;
}

/** A key from an integer seed: [seed >> 32, seed & 0xffffffff] as uint32. */
export function key(seed: number): MxArray {
  return track(native.randomKey(seed));
}

/** Seeds the global key used by calls without a key. */
export function seed(s: number): void {
  native.randomSeed(s);
}

/** `num` new keys from one (shape [num, 2]); the same key always splits the same way. */
export function split(k: MxArray, num = 2): MxArray {
  if (!isArray(k)) throw new EngineError("[split] key must be an array (from random.key or random.split)");
  return track(native.randomSplit(k, num));
}

export interface BitsOptions { shape?: number[]; width?: number; key?: MxArray }
/** Raw random bits: width 1, 2, 4 or 8 bytes gives uint8/16/32/64 (MLX's bits). */
export function bits(shape?: number[], width?: number, k?: MxArray, opts?: BitsOptions): MxArray;
export function bits(shape: number[], opts: BitsOptions): MxArray;
export function bits(opts: BitsOptions): MxArray;
export function bits(...args: unknown[]): MxArray {
  const a = parse(args, "bits", ["shape", "width", "key"]);
  return track(native.randomBits(shapeArg(a.shape, [], "bits"), (a.width as number | undefined) ?? 4, keyArg(a.key, "bits")));
}

export interface UniformOptions { low?: Param; high?: Param; shape?: number[]; dtype?: DtypeLike; key?: MxArray }
/**
 * Uniform values in [low, high) (MLX: `uniform(low=0, high=1, shape=[], dtype=float32, key=None)`). The values
 * are exact multiples of the dtype's precision and never reach `high`. Without a shape, the broadcast shape
 * of low and high.
 */
export function uniform(low?: Param, high?: Param, shape?: number[], dtype?: DtypeLike, k?: MxArray, opts?: UniformOptions): MxArray;
export function uniform(low: Param, high: Param, opts: UniformOptions): MxArray;
export function uniform(opts: UniformOptions): MxArray;
export function uniform(...args: unknown[]): MxArray {
  const a = parse(args, "uniform", ["low", "high", "shape", "dtype", "key"]);
  const low = param(a.low, 0, "uniform", "low"), high = param(a.high, 1, "uniform", "high");
  const shape = shapeArg(a.shape, broadcastShape(shapeOf(low), shapeOf(high)), "uniform");
  return track(native.randomUniform(low, high, shape, dtypeArg(a.dtype, float32).id, keyArg(a.key, "uniform")));
}

export interface NormalOptions { shape?: number[]; dtype?: DtypeLike; loc?: Param; scale?: Param; key?: MxArray }
/**
 * Normal values (MLX: `normal(shape=[], dtype=float32, loc=0, scale=1, key=None)`), as sqrt(2) * erfinv(u) of a
 * uniform u in (-1, 1) like MLX. Half dtypes are drawn in float32 and rounded.
 */
export function normal(shape?: number[], dtype?: DtypeLike, loc?: Param, scale?: Param, k?: MxArray, opts?: NormalOptions): MxArray;
export function normal(shape: number[], opts: NormalOptions): MxArray;
export function normal(opts: NormalOptions): MxArray;
export function normal(...args: unknown[]): MxArray {
  const a = parse(args, "normal", ["shape", "dtype", "loc", "scale", "key"]);
  const loc = param(a.loc, 0, "normal", "loc"), scale = param(a.scale, 1, "normal", "scale");
  const shape = shapeArg(a.shape, broadcastShape(shapeOf(loc), shapeOf(scale)), "normal");
  return track(native.randomNormal(shape, dtypeArg(a.dtype, float32).id, loc, scale, keyArg(a.key, "normal")));
}

export interface RandintOptions { low?: Param; high?: Param; shape?: number[]; dtype?: DtypeLike; key?: MxArray }
/** Integers in [low, high) (MLX: `randint(low, high, shape=[], dtype=int32, key=None)`). */
export function randint(low: Param, high: Param, shape?: number[], dtype?: DtypeLike, k?: MxArray, opts?: RandintOptions): MxArray;
export function randint(low: Param, high: Param, opts: RandintOptions): MxArray;
export function randint(opts: RandintOptions): MxArray;
export function randint(...args: unknown[]): MxArray {
  const a = parse(args, "randint", ["low", "high", "shape", "dtype", "key"]);
  if (a.low === undefined || a.high === undefined) throw new EngineError("[randint] low and high are required");
  const low = param(a.low, 0, "randint", "low"), high = param(a.high, 0, "randint", "high");
  const shape = shapeArg(a.shape, broadcastShape(shapeOf(low), shapeOf(high)), "randint");
  return track(native.randomRandint(low, high, shape, dtypeArg(a.dtype, int32).id, keyArg(a.key, "randint")));
}

export interface BernoulliOptions { p?: Param; shape?: number[]; key?: MxArray }
/** Booleans that are true with probability p (MLX: `bernoulli(p=0.5, shape=None, key=None)`; shape defaults to p's). */
export function bernoulli(p?: Param, shape?: number[], k?: MxArray, opts?: BernoulliOptions): MxArray;
export function bernoulli(p: Param, opts: BernoulliOptions): MxArray;
export function bernoulli(p: Param, shape: number[], opts: BernoulliOptions): MxArray;
export function bernoulli(opts: BernoulliOptions): MxArray;
export function bernoulli(...args: unknown[]): MxArray {
  const a = parse(args, "bernoulli", ["p", "shape", "key"]);
  const p = param(a.p, 0.5, "bernoulli", "p");
  const shape = shapeArg(a.shape, shapeOf(p), "bernoulli");
  return track(native.randomBernoulli(p, shape, keyArg(a.key, "bernoulli")));
}

export interface TruncatedNormalOptions { lower?: Param; upper?: Param; shape?: number[]; dtype?: DtypeLike; key?: MxArray }
/** Normal values conditioned on [lower, upper] (MLX: `truncated_normal(lower, upper, shape=None, dtype=float32, key=None)`). */
export function truncatedNormal(lower: Param, upper: Param, shape?: number[], dtype?: DtypeLike, k?: MxArray, opts?: TruncatedNormalOptions): MxArray;
export function truncatedNormal(lower: Param, upper: Param, opts: TruncatedNormalOptions): MxArray;
export function truncatedNormal(opts: TruncatedNormalOptions): MxArray;
export function truncatedNormal(...args: unknown[]): MxArray {
  const a = parse(args, "truncated_normal", ["lower", "upper", "shape", "dtype", "key"]);
  if (a.lower === undefined || a.upper === undefined) throw new EngineError("[truncated_normal] lower and upper are required");
  const lower = param(a.lower, 0, "truncated_normal", "lower"), upper = param(a.upper, 0, "truncated_normal", "upper");
  const shape = shapeArg(a.shape, broadcastShape(shapeOf(lower), shapeOf(upper)), "truncated_normal");
  return track(native.randomTruncatedNormal(lower, upper, shape, dtypeArg(a.dtype, float32).id, keyArg(a.key, "truncated_normal")));
}

export interface GumbelOptions { shape?: number[]; dtype?: DtypeLike; key?: MxArray }
/** Standard Gumbel values, -log(-log(u)) (MLX: `gumbel(shape=[], dtype=float32, key=None)`). */
export function gumbel(shape?: number[], dtype?: DtypeLike, k?: MxArray, opts?: GumbelOptions): MxArray;
export function gumbel(shape: number[], opts: GumbelOptions): MxArray;
export function gumbel(opts: GumbelOptions): MxArray;
export function gumbel(...args: unknown[]): MxArray {
  const a = parse(args, "gumbel", ["shape", "dtype", "key"]);
  return track(native.randomGumbel(shapeArg(a.shape, [], "gumbel"), dtypeArg(a.dtype, float32).id, keyArg(a.key, "gumbel")));
}

export interface LaplaceOptions { shape?: number[]; dtype?: DtypeLike; loc?: Param; scale?: Param; key?: MxArray }
/** Laplace values (MLX: `laplace(shape=[], dtype=float32, loc=0, scale=1, key=None)`). */
export function laplace(shape?: number[], dtype?: DtypeLike, loc?: Param, scale?: Param, k?: MxArray, opts?: LaplaceOptions): MxArray;
export function laplace(shape: number[], opts: LaplaceOptions): MxArray;
export function laplace(opts: LaplaceOptions): MxArray;
export function laplace(...args: unknown[]): MxArray {
  const a = parse(args, "laplace", ["shape", "dtype", "loc", "scale", "key"]);
  const loc = param(a.loc, 0, "laplace", "loc"), scale = param(a.scale, 1, "laplace", "scale");
  const shape = shapeArg(a.shape, broadcastShape(shapeOf(loc), shapeOf(scale)), "laplace");
  return track(native.randomLaplace(shape, dtypeArg(a.dtype, float32).id, loc, scale, keyArg(a.key, "laplace")));
}

export interface CategoricalOptions { axis?: number; shape?: number[]; numSamples?: number; key?: MxArray }
/**
 * Samples category indices (uint32) from unnormalised log-probabilities along `axis` by the Gumbel-max trick
 * (MLX: `categorical(logits, axis=-1, shape=None, num_samples=None, key=None)`). `shape` is the sample shape
 * (broadcast with the logits' other dims); `numSamples` draws that many per distribution (a new last dim).
 */
export function categorical(logits: ArrayLike, axis?: number, opts?: CategoricalOptions): MxArray;
export function categorical(logits: ArrayLike, axis?: number, shape?: number[], numSamples?: number, k?: MxArray, opts?: CategoricalOptions): MxArray;
export function categorical(logits: ArrayLike, opts: CategoricalOptions): MxArray;
export function categorical(logits: ArrayLike, ...args: unknown[]): MxArray {
  if (!isArray(logits)) throw new EngineError("[categorical] logits must be an array");
  const a = parse(args, "categorical", ["axis", "shape", "numSamples", "key"]);
  const axis = (a.axis as number | undefined) ?? -1;
  const shape = a.shape === undefined || a.shape === null ? null : shapeArg(a.shape, [], "categorical");
  const num = a.numSamples === undefined || a.numSamples === null ? null : (a.numSamples as number);
  return track(native.randomCategorical(logits, axis, shape, num, keyArg(a.key, "categorical")));
}

export interface PermutationOptions { axis?: number; key?: MxArray }
/**
 * A random permutation of 0..n-1 (int32) when given an integer, else the array shuffled along `axis`
 * (MLX: `permutation(x, axis=0, key=None)`). Differentiable with respect to the array.
 */
export function permutation(x: number | MxArray, axis?: number, k?: MxArray, opts?: PermutationOptions): MxArray;
export function permutation(x: number | MxArray, opts: PermutationOptions): MxArray;
export function permutation(x: number | MxArray, ...args: unknown[]): MxArray {
  const a = parse(args, "permutation", ["axis", "key"]);
  if (typeof x !== "number" && !isArray(x)) throw new EngineError("[permutation] x must be an integer or an array");
  return track(native.randomPermutation(x, (a.axis as number | undefined) ?? 0, keyArg(a.key, "permutation")));
}

/**
 * The raw Threefry-2x32-20 block function on (key words, counter words) -> two uint32 words: what every random
 * op is built on, exposed for known-answer tests against the published vectors.
 */
export function threefry2x32(k: [number, number], counter: [number, number]): [number, number] {
  return native.randomThreefry(k[0], k[1], counter[0], counter[1]) as [number, number];
}

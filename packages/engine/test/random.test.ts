import { test } from "node:test";
import assert from "node:assert/strict";
import { mx, EngineError } from "../src/index.js";
import type { MxArray } from "../src/index.js";
import { runGradCases } from "./helpers/gradcheck.js";

const R = mx.random;
const K = R.key(42);

function values(a: MxArray): number[] {
  return Array.from(a.toFloat32Array());
}
function bitsOf(a: MxArray): string {
  return Buffer.from(a._toBytes()).toString("hex");
}
function stats(v: ArrayLike<number>): { mean: number; std: number; min: number; max: number } {
  let s = 0, s2 = 0, min = Infinity, max = -Infinity;
  for (let i = 0; i < v.length; i++) { s += v[i]; s2 += v[i] * v[i]; min = Math.min(min, v[i]); max = Math.max(max, v[i]); }
  const mean = s / v.length;
  return { mean, std: Math.sqrt(s2 / v.length - mean * mean), min, max };
}
// Abramowitz & Stegun 7.1.26 (|error| < 1.5e-7): enough for expected moments.
function erf(x: number): number {
  const t = 1 / (1 + 0.3275911 * Math.abs(x));
  const y = 1 - ((((1.061405429 * t - 1.453152027) * t + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t * Math.exp(-x * x);
  return x >= 0 ? y : -y;
}
function rowsOf(k: MxArray): MxArray[] {
  return (k.tolist() as number[][]).map((r) => mx.array(Uint32Array.from(r)));
}
function throwsEngine(fn: () => unknown, re: RegExp) {
  assert.throws(() => { const r = fn(); if (r && typeof r === "object" && "tolist" in (r as object)) (r as MxArray).tolist(); },
    (e: unknown) => e instanceof EngineError && re.test(e.message), `expected ${re}`);
}

test("Threefry-2x32-20 matches the published known-answer vectors", () => {
  const hex = (w: number[]) => w.map((x) => "0x" + x.toString(16).padStart(8, "0"));
  assert.deepEqual(hex(R.threefry2x32([0, 0], [0, 0])), ["0x6b200159", "0x99ba4efe"]);
  assert.deepEqual(hex(R.threefry2x32([0xffffffff, 0xffffffff], [0xffffffff, 0xffffffff])), ["0x1cb996fc", "0xbb002be7"]);
  assert.deepEqual(hex(R.threefry2x32([0x13198a2e, 0x03707344], [0x243f6a88, 0x85a308d3])), ["0xc4923a9c", "0x483df7a0"]);
  // The ops read the same cipher: block 0 of key(0) is the first vector.
  assert.deepEqual(R.bits([2], 4, R.key(0)).tolist(), [0x6b200159, 0x99ba4efe]);
  assert.deepEqual(R.split(R.key(0), 1).tolist(), [[0x6b200159, 0x99ba4efe]]);
});

test("keys: [seed >> 32, seed & 0xffffffff] as uint32", () => {
  assert.equal(K.dtype, mx.uint32);
  assert.deepEqual(K.shape, [2]);
  assert.deepEqual(R.key(0).tolist(), [0, 0]);
  assert.deepEqual(R.key(2 ** 32 + 5).tolist(), [1, 5]);
  assert.deepEqual(R.key(-1).tolist(), [0xffffffff, 0xffffffff]);
  throwsEngine(() => R.key(1.5), /^\[key\] seed must be an integer/);
});

test("the byte stream is the same at every width", () => {
  const w4 = R.bits([8], 4, K), w8 = R.bits([4], 8, K), w1 = R.bits([32], 1, K), w2 = R.bits([16], 2, K);
  assert.equal(bitsOf(w8), bitsOf(w4));
  assert.equal(bitsOf(w1), bitsOf(w4));
  assert.equal(bitsOf(w2), bitsOf(w4));
  assert.equal(w8.dtype, mx.uint64);
  assert.equal(R.bits([3], { key: K }).dtype, mx.uint32);
});

test("the same key gives the same numbers; other keys give other numbers", () => {
  const draws = (k: MxArray) => [
    R.uniform(0, 1, [257], mx.float32, k), R.normal([257], mx.float32, 0, 1, k), R.randint(0, 1000, [257], mx.int32, k),
    R.bernoulli(0.5, [257], k), R.gumbel([257], mx.float32, k), R.truncatedNormal(-1, 1, [257], mx.float32, k),
    R.categorical(mx.zeros([257, 10]), -1, { key: k }), R.permutation(257, 0, k), R.uniform(0, 1, [65], mx.float64, k),
    R.laplace([257], mx.bfloat16, 0, 1, k),
  ].map(bitsOf);
  const a = draws(K), b = draws(R.key(42)), c = draws(R.key(43));
  assert.deepEqual(a, b);
  a.forEach((x, i) => assert.notEqual(x, c[i], `draw ${i} differs with another key`));
});

test("split: keys differ from each other and from the parent, and the rows are a prefix-stable stream", () => {
  const s3 = R.split(K, 3), s2 = R.split(K, 2);
  assert.deepEqual(s3.shape, [3, 2]);
  assert.equal(s3.dtype, mx.uint32);
  assert.deepEqual((s3.tolist() as number[][]).slice(0, 2), s2.tolist());
  const rows = rowsOf(s3);
  const seen = new Set([JSON.stringify(K.tolist()), ...rows.map((r) => JSON.stringify(r.tolist()))]);
  assert.equal(seen.size, 4);
  // Streams of sibling keys look independent: near-zero correlation over 20k draws.
  const x = values(R.normal([20000], { key: rows[0] })), y = values(R.normal([20000], { key: rows[1] }));
  let sxy = 0;
  for (let i = 0; i < x.length; i++) sxy += x[i] * y[i];
  assert.ok(Math.abs(sxy / x.length) < 0.03, `correlation ${sxy / x.length}`);
  assert.deepEqual(R.split(K).shape, [2, 2]);
});

test("results do not depend on the thread count or on how much is drawn (counter = element index)", () => {
  const draw = () => [
    R.uniform(-1, 1, [1 << 17], mx.float32, K), R.normal([3, 50001], mx.bfloat16, 0, 1, K), R.randint(0, 7, [1 << 17], mx.int32, K),
    R.bits([100003], 1, K), R.permutation(5000, 0, K), R.uniform(0, 1, [70001], mx.float64, K),
    R.categorical(mx.zeros([300, 500]), -1, { key: K }),
  ].map(bitsOf);
  const base = draw();
  const before = mx.numThreads();
  try {
    mx.setNumThreads(1);
    assert.deepEqual(draw(), base);
    mx.setNumThreads(3);
    assert.deepEqual(draw(), base);
  } finally {
    mx.setNumThreads(before);
  }
  const long = values(R.uniform(0, 1, [1000], mx.float32, K)), short = values(R.uniform(0, 1, [10], mx.float32, K));
  assert.deepEqual(long.slice(0, 10), short);
});

test("normal: mean and std of 100k draws", () => {
  for (const dt of [mx.float32, mx.float64, mx.bfloat16, mx.float16]) {
    const s = stats(values(R.normal([100000], dt, 0, 1, K)));
    assert.ok(Math.abs(s.mean) < 0.02, `${dt.name} mean ${s.mean}`);
    assert.ok(Math.abs(s.std - 1) < 0.02, `${dt.name} std ${s.std}`);
    assert.ok(Number.isFinite(s.min) && Number.isFinite(s.max));
  }
  const s = stats(values(R.normal([100000], { loc: 3, scale: 2, key: R.key(1) })));
  assert.ok(Math.abs(s.mean - 3) < 0.04 && Math.abs(s.std - 2) < 0.04, JSON.stringify(s));
  const arr = R.normal([2, 50000], mx.float32, mx.array([[-5], [5]]), 0.5, K);
  const v = values(arr);
  assert.ok(Math.abs(stats(v.slice(0, 50000)).mean + 5) < 0.02 && Math.abs(stats(v.slice(50000)).mean - 5) < 0.02);
  assert.equal(R.normal().shape.length, 0);
  assert.equal(R.normal([2], "float16").dtype, mx.float16);
});

test("uniform: values in [low, high), exact multiples of the dtype's precision, mean in the middle", () => {
  for (const dt of [mx.float32, mx.float64, mx.bfloat16, mx.float16]) {
    const v = values(R.uniform(-2, 3, [100000], dt, K));
    const s = stats(v);
    assert.ok(s.min >= -2 && s.max < 3, `${dt.name} range ${s.min}..${s.max}`);
    assert.ok(Math.abs(s.mean - 0.5) < 0.03, `${dt.name} mean ${s.mean}`);
    const unit = values(R.uniform(0, 1, [20000], dt, K));
    const p = dt === mx.float64 ? 53 : dt === mx.float32 ? 24 : dt === mx.float16 ? 11 : 8;
    assert.ok(unit.every((x) => x >= 0 && x < 1 && Number.isInteger(x * 2 ** p)), `${dt.name} on the 2^-${p} grid`);
  }
  // A range narrower than float32's spacing: rounding would give `high`; the value below it is kept.
  const narrow = values(R.uniform(1, 1.0000001, [1000], mx.float32, K));
  assert.ok(narrow.every((x) => x === 1), "all values are the float just below high");
  const b = values(R.uniform(mx.array([0, 10]), mx.array([1, 20]), undefined, undefined, K));
  assert.ok(b[0] >= 0 && b[0] < 1 && b[1] >= 10 && b[1] < 20);
  assert.deepEqual(R.uniform(mx.zeros([3, 1]), 1, [3, 4]).shape, [3, 4]);
  assert.deepEqual(R.uniform({ shape: [2, 2], low: 5, high: 6 }).shape, [2, 2]);
  assert.deepEqual(R.uniform(0, 10, { shape: [4], dtype: mx.float16 }).dtype, mx.float16);
});

test("randint: low inclusive, high exclusive, every value about equally often", () => {
  const v = values(R.randint(-3, 5, [100000], mx.int32, K));
  const counts = new Map<number, number>();
  for (const x of v) counts.set(x, (counts.get(x) ?? 0) + 1);
  assert.deepEqual([...counts.keys()].sort((a, b) => a - b), [-3, -2, -1, 0, 1, 2, 3, 4]);
  for (const [x, c] of counts) assert.ok(Math.abs(c / v.length - 1 / 8) < 0.01, `value ${x}: ${c}`);
  assert.equal(R.randint(0, 10, [3]).dtype, mx.int32);
  const u8 = R.randint(250, 256, [1000], mx.uint8, K);
  assert.equal(u8.dtype, mx.uint8);
  assert.ok(values(u8).every((x) => x >= 250 && x <= 255));
  const wide = R.randint(0, 2 ** 40, [10000], mx.int64, K).toTypedArray() as BigInt64Array;
  assert.ok(wide.every((x) => x >= 0n && x < 2n ** 40n));
  assert.ok(Math.abs(stats(Array.from(wide, (x) => Number(x) / 2 ** 40)).mean - 0.5) < 0.02, "wide ranges use all the bits");
  const per = values(R.randint(mx.array([0, 100]), mx.array([2, 103]), [2], mx.int32, K));
  assert.ok(per[0] >= 0 && per[0] < 2 && per[1] >= 100 && per[1] < 103);
});

test("bernoulli: frequency of true follows p", () => {
  const v = values(R.bernoulli(0.3, [100000], K));
  assert.ok(Math.abs(stats(v).mean - 0.3) < 0.01);
  assert.equal(R.bernoulli(0.5, [3], K).dtype, mx.bool);
  assert.ok(values(R.bernoulli(0, [1000], K)).every((x) => x === 0));
  assert.ok(values(R.bernoulli(1, [1000], K)).every((x) => x === 1));
  const perRow = values(R.bernoulli(mx.array([[0.1], [0.9]]), [2, 50000], K));
  assert.ok(Math.abs(stats(perRow.slice(0, 50000)).mean - 0.1) < 0.01 && Math.abs(stats(perRow.slice(50000)).mean - 0.9) < 0.01);
  assert.deepEqual(R.bernoulli(mx.array([0.2, 0.4, 0.6])).shape, [3], "shape defaults to p's");
  assert.deepEqual(R.bernoulli().shape, []);
});

test("categorical: sample frequencies match softmax(logits) over 50k samples", () => {
  const logits = [1, 2, 0.5, -1, 3, -Infinity];
  const m = Math.max(...logits.filter(Number.isFinite));
  const e = logits.map((x) => Math.exp(x - m)), z = e.reduce((a, b) => a + b, 0);
  const s = R.categorical(mx.array(logits), -1, { numSamples: 50000, key: K });
  assert.deepEqual(s.shape, [50000]);
  assert.equal(s.dtype, mx.uint32);
  const counts = new Array(logits.length).fill(0);
  for (const x of values(s)) counts[x]++;
  counts.forEach((c, i) => assert.ok(Math.abs(c / 50000 - e[i] / z) < 0.02, `class ${i}: ${c / 50000} vs ${e[i] / z}`));
  assert.equal(counts[5], 0, "a -inf logit is never drawn");
  // Shapes: batch of distributions along axis 0, an explicit sample shape, and samples per distribution.
  const batch = mx.array([[0, 50], [50, 0], [0, 0]]);  // [3 classes, 2 distributions]
  assert.deepEqual(R.categorical(batch, 0, { key: K }).tolist(), [1, 0]);
  assert.deepEqual(R.categorical(batch, 0, { shape: [4, 2], key: K }).shape, [4, 2]);
  assert.deepEqual(R.categorical(batch, 0, { numSamples: 5, key: K }).shape, [2, 5]);
  assert.deepEqual(R.categorical(batch, 0, [4, 2], undefined, K).shape, [4, 2]);
  const bf = R.categorical(mx.astype(mx.array([[0, 0, 10]]), mx.bfloat16), -1, { numSamples: 20, key: K });
  assert.ok(values(bf).every((x) => x === 2));
});

test("truncatedNormal: within the bounds, with the truncated distribution's mean", () => {
  const [a, b] = [-1, 2];
  const v = values(R.truncatedNormal(a, b, [100000], mx.float32, K));
  const s = stats(v);
  assert.ok(s.min >= a && s.max <= b, `${s.min}..${s.max}`);
  const phi = (x: number) => Math.exp(-x * x / 2) / Math.sqrt(2 * Math.PI), cdf = (x: number) => (1 + erf(x / Math.SQRT2)) / 2;
  const mean = (phi(a) - phi(b)) / (cdf(b) - cdf(a));
  assert.ok(Math.abs(s.mean - mean) < 0.02, `mean ${s.mean} vs ${mean}`);
  const tail = values(R.truncatedNormal(3, 4, [20000], mx.bfloat16, K));
  assert.ok(tail.every((x) => x >= 3 && x <= 4));
  const per = R.truncatedNormal(mx.array([0, -10]), mx.array([1, -9]), undefined, undefined, K);
  assert.deepEqual(per.shape, [2]);
  const pv = values(per);
  assert.ok(pv[0] >= 0 && pv[0] <= 1 && pv[1] >= -10 && pv[1] <= -9);
});

test("gumbel and laplace moments", () => {
  const g = stats(values(R.gumbel([100000], mx.float32, K)));
  assert.ok(Math.abs(g.mean - 0.5772156649) < 0.02 && Math.abs(g.std - Math.PI / Math.sqrt(6)) < 0.03, JSON.stringify(g));
  const l = stats(values(R.laplace([100000], mx.float32, 1, 2, K)));
  assert.ok(Math.abs(l.mean - 1) < 0.03 && Math.abs(l.std - 2 * Math.SQRT2) < 0.05, JSON.stringify(l));
});

test("permutation: of n, and of an array along an axis", () => {
  const p = R.permutation(1000, 0, K);
  assert.equal(p.dtype, mx.int32);
  assert.deepEqual(values(p).sort((a, b) => a - b), Array.from({ length: 1000 }, (_, i) => i));
  assert.notDeepEqual(values(p), Array.from({ length: 1000 }, (_, i) => i));
  const x = mx.reshape(mx.arange(15), [3, 5]);
  const y = R.permutation(x, 1, K).tolist() as number[][];
  const cols = y[0];
  assert.deepEqual([...cols].sort((a, b) => a - b), [0, 1, 2, 3, 4]);
  y.forEach((row, r) => assert.deepEqual(row, cols.map((c) => c + 5 * r), "every row moves the same way"));
  assert.deepEqual(R.permutation(0, 0, K).shape, [0]);
});

test("empty shapes give empty arrays", () => {
  assert.deepEqual(R.uniform(0, 1, [0], mx.float32, K).shape, [0]);
  assert.deepEqual(R.normal([2, 0], mx.bfloat16, 0, 1, K).shape, [2, 0]);
  assert.deepEqual(R.randint(0, 5, [0, 3], mx.int32, K).shape, [0, 3]);
  assert.deepEqual(R.bits([0], 8, K).shape, [0]);
  assert.deepEqual(R.categorical(mx.zeros([4, 3]), -1, { numSamples: 0, key: K }).shape, [4, 0]);
  assert.deepEqual(R.categorical(mx.zeros([0, 3]), -1, { key: K }).shape, [0]);
});

test("the global key: seed() restarts the sequence; each call splits it like MLX", () => {
  R.seed(7);
  const a = R.uniform().item(), b = R.uniform().item();
  R.seed(7);
  assert.equal(R.uniform().item(), a);
  assert.equal(R.uniform().item(), b);
  assert.notEqual(a, b);
  // state = key(7); a call uses split(state)[1] and keeps split(state)[0] as the state.
  const [s1, k1] = rowsOf(R.split(R.key(7)));
  assert.equal(R.uniform(0, 1, [], mx.float32, k1).item(), a);
  assert.equal(R.uniform(0, 1, [], mx.float32, rowsOf(R.split(s1))[1]).item(), b);
});

test("random errors name the op and what was expected", () => {
  throwsEngine(() => R.uniform(0, 1, [2], mx.float32, mx.array([1, 2, 3], mx.uint32)), /^\[uniform\] key must be a uint32 array of shape \[2\].*got uint32 \[3\]/);
  throwsEngine(() => R.normal([2], mx.float32, 0, 1, mx.array([1, 2])), /^\[normal\] key must be a uint32 array of shape \[2\].*got int32/);
  throwsEngine(() => R.split(mx.zeros([2, 2], mx.uint32)), /^\[split\] key must be/);
  throwsEngine(() => R.split(K, 0), /^\[split\] num must be at least 1/);
  throwsEngine(() => R.uniform(1, 1), /^\[uniform\] low \(1\.0+\) must be less than high/);
  throwsEngine(() => R.uniform(2, 1, [3]), /^\[uniform\] low .* must be less than high/);
  throwsEngine(() => R.randint(5, 2, [3]), /^\[randint\] low \(5\) must be less than high \(2\)/);
  throwsEngine(() => R.randint(mx.array([0, 5]), mx.array([1, 5]), [2]), /^\[randint\] low must be less than high/);
  throwsEngine(() => R.truncatedNormal(1, -1), /^\[truncated_normal\] lower .* must be less than upper/);
  throwsEngine(() => R.uniform(0, 1, [2, -1]), /^\[uniform\] negative dimension in shape \[2, -1\]/);
  throwsEngine(() => R.normal([-3]), /^\[normal\] negative dimension/);
  throwsEngine(() => R.uniform(mx.zeros([3]), 1, [2]), /^\[uniform\] (low of shape \[3\] does not broadcast|shapes)/);
  throwsEngine(() => R.uniform(mx.zeros([3]), 1, [2, 1]), /^\[uniform\] low of shape \[3\] does not broadcast to the requested shape \[2, 1\]/);
  throwsEngine(() => R.uniform(0, 1, [2], mx.int32), /^\[uniform\] dtype must be a floating type, got int32/);
  throwsEngine(() => R.normal([2], mx.uint8), /^\[normal\] dtype must be a floating type/);
  throwsEngine(() => R.normal([2], { scale: -1 }), /^\[normal\] scale must be non-negative/);
  throwsEngine(() => R.randint(0, 4, [2], mx.float32), /^\[randint\] dtype must be an integer type, got float32/);
  throwsEngine(() => R.bernoulli(1.5, [2]), /^\[bernoulli\] p must be a probability in \[0, 1\]/);
  throwsEngine(() => R.bits([2], 3, K), /^\[bits\] width must be 1, 2, 4 or 8/);
  throwsEngine(() => R.categorical(mx.zeros([2, 3]), -1, { shape: [2], numSamples: 2 }), /^\[categorical\] pass at most one of shape and numSamples/);
  throwsEngine(() => R.categorical(mx.zeros([2, 3]), 2), /^\[categorical\] axis 2 is out of bounds/);
  throwsEngine(() => R.categorical(mx.zeros([2, 3]), -1, { shape: [4] }), /^\[categorical\]/);
  throwsEngine(() => R.categorical(mx.zeros([2, 0]), -1), /^\[categorical\] the categories axis is empty/);
  throwsEngine(() => R.permutation(-1), /^\[permutation\] n must be non-negative/);
  throwsEngine(() => R.uniform({ shape: [2], sizes: [3] } as never), /^\[uniform\] unknown option 'sizes'/);
  throwsEngine(() => R.uniform([2, 3] as never), /^\[uniform\] low must be a number or an mx array, got a JS array/);
  throwsEngine(() => R.uniform(0, 1, [2], mx.float32, 5 as never), /^\[uniform\] key must be an array/);
});

runGradCases("random", [
  // Draws are fixed by their key, so they are ordinary functions of low/high, loc/scale and the input.
  { name: "uniform wrt low and high", shapes: [[4], [4]],
    fn: (l, h) => R.uniform(l, mx.add(l, mx.add(mx.abs(h), 1)), [4], mx.float64, K) },
  { name: "normal wrt loc and scale", shapes: [[3], [3]], fn: (loc, s) => R.normal([3], mx.float64, loc, s, K) },
  { name: "permutation of an array", shapes: [[3, 5]], fn: (x) => R.permutation(x, 1, K) },
]);

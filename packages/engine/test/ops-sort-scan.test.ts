import { test } from "node:test";
import assert from "node:assert/strict";
import { mx, EngineError } from "../src/index.js";
import { inp, runOpCases, type OpCase } from "./helpers/op-cases.js";
import { runGradCases } from "./helpers/gradcheck.js";
import { randn, randint } from "./helpers/random.js";

const X = inp(randn([3, 5], 31), [3, 5]);
const X3 = inp(randn([2, 3, 4], 32), [2, 3, 4]);
const V = inp(randn([7], 33), [7]);
// Duplicates, NaN and signed zeros: the order NumPy's stable sort gives. (The NumPy bridge cannot carry
// infinities in inputs: they are covered by explicit tests below.)
const D = inp([3, 1, NaN, 2, 0, -0, 1, -7, NaN, 9, 2, -1], [2, 6]);
const I = inp(randint([3, 6], -4, 5, 34), [3, 6], "int32");
const B = inp(randint([2, 5], 0, 2, 35), [2, 5], "bool");
// Long rows take the radix sort and histogram selection paths; few distinct values make crowded buckets.
const L = inp(randn([2, 3000], 36), [2, 3000]);
const LD = inp(randint([2, 3000], -3, 4, 37), [2, 3000]);

// NumPy helpers for the scans that NumPy lacks (reverse / exclusive), over axis `ax` of a 2-D a0.
const flip = (e: string, ax: number) => `np.flip(${e}, axis=${ax})`;
const shiftIn = (e: string, fill: string, ax: number) =>
  ax === 1
    ? `np.concatenate([np.full_like(a0[:, :1], ${fill}), (${e})[:, :-1]], axis=1)`
    : `np.concatenate([np.full_like(a0[:1], ${fill}), (${e})[:-1]], axis=0)`;
// Partition layout: smaller, equal, larger than the kth value, each in original order (rows of a 2-D a0).
const npPartition = (k: number) =>
  `np.stack([np.concatenate([r[r < t], r[r == t], r[r > t]]) for r in a0 for t in [np.sort(r)[${k}]]])`;
const npArgPartition = (k: number) =>
  `np.stack([np.concatenate([np.nonzero(r < t)[0], np.nonzero(r == t)[0], np.nonzero(r > t)[0]]) for r in a0 for t in [np.sort(r)[${k}]]])`;

const cases: OpCase[] = [];
for (const [name, np, fill] of [
  ["cumsum", "np.cumsum", "0"], ["cumprod", "np.cumprod", "1"],
  ["cummax", "np.maximum.accumulate", "-np.inf"], ["cummin", "np.minimum.accumulate", "np.inf"],
] as const) {
  const f = (mx as any)[name];
  cases.push(
    { name: `${name} axis 1`, inputs: [X], mx: (a) => f(a, 1), np: `${np}(a0, axis=1)` },
    { name: `${name} axis 0`, inputs: [X], mx: (a) => f(a, 0), np: `${np}(a0, axis=0)` },
    { name: `${name} axis -2 of 3-d`, inputs: [X3], mx: (a) => f(a, -2), np: `${np}(a0, axis=1)` },
    { name: `${name} flattened`, inputs: [X], mx: (a) => f(a), np: `${np}(a0.reshape(-1))` },
    { name: `${name} reverse`, inputs: [X], mx: (a) => [f(a, 1, { reverse: true }), f(a, 0, { reverse: true })],
      np: `[${flip(`${np}(${flip("a0", 1)}, axis=1)`, 1)}, ${flip(`${np}(${flip("a0", 0)}, axis=0)`, 0)}]` },
    { name: `${name} exclusive`, inputs: [X], mx: (a) => [f(a, 1, { inclusive: false }), f(a, 0, { inclusive: false })],
      np: `[${shiftIn(`${np}(a0, axis=1)`, fill, 1)}, ${shiftIn(`${np}(a0, axis=0)`, fill, 0)}]` },
    { name: `${name} reverse exclusive`, inputs: [X], mx: (a) => f(a, 1, { reverse: true, inclusive: false }),
      np: flip(shiftIn(`${np}(${flip("a0", 1)}, axis=1)`, fill, 1), 1) },
    { name: `${name} int32`, inputs: [I], mx: (a) => f(a, 1), np: `${np}(a0, axis=1).astype(np.int32)`, dtype: "int32" },
  );
}
cases.push(
  { name: "cumsum / cumprod of bool count in int32", inputs: [B], mx: (a) => [mx.cumsum(a, 1), mx.cumprod(a, 0)],
    np: "[np.cumsum(a0, axis=1), np.cumprod(a0, axis=0)]", dtype: "int32" },
  { name: "cummax / cummin of bool stay bool", inputs: [B], mx: (a) => [mx.cummax(a, 1), mx.cummin(a, 1)],
    np: "[np.maximum.accumulate(a0, axis=1), np.minimum.accumulate(a0, axis=1)]", dtype: "bool" },
  { name: "scans propagate NaN", inputs: [D], mx: (a) => [mx.cumsum(a, 1), mx.cummax(a, 1), mx.cummin(a, 0)],
    np: "[np.cumsum(a0, axis=1), np.maximum.accumulate(a0, axis=1), np.minimum.accumulate(a0, axis=0)]", variants: [] },
  { name: "scans of an empty axis", inputs: [inp([], [0, 3])], mx: (a) => [mx.cumsum(a, 0), mx.cumprod(a, 1)],
    np: "[np.cumsum(a0, axis=0), np.cumprod(a0, axis=1)]", variants: [] },

  { name: "sort axis -1 / 0 / flattened", inputs: [X], mx: (a) => [mx.sort(a), mx.sort(a, 0), mx.sort(a, null)],
    np: "[np.sort(a0), np.sort(a0, axis=0), np.sort(a0, axis=None)]" },
  { name: "sort 3-d axis 1", inputs: [X3], mx: (a) => mx.sort(a, 1), np: "np.sort(a0, axis=1)" },
  { name: "sort with NaN, inf, duplicates", inputs: [D], mx: (a) => [mx.sort(a), mx.sort(a, 0)],
    np: "[np.sort(a0), np.sort(a0, axis=0)]" },
  { name: "argsort is stable, NaN last", inputs: [D], mx: (a) => [mx.argsort(a), mx.argsort(a, 0), mx.argsort(a, null)],
    np: "[np.argsort(a0, kind='stable'), np.argsort(a0, axis=0, kind='stable'), np.argsort(a0, axis=None, kind='stable')]" },
  { name: "argsort returns uint32", inputs: [X], mx: (a) => mx.argsort(a), np: "np.argsort(a0, kind='stable')", dtype: "uint32" },
  { name: "sort / argsort int32", inputs: [I], mx: (a) => [mx.sort(a), mx.argsort(a, 0)],
    np: "[np.sort(a0), np.argsort(a0, axis=0, kind='stable')]" },
  { name: "sort bool", inputs: [B], mx: (a) => [mx.sort(a), mx.argsort(a)], np: "[np.sort(a0), np.argsort(a0, kind='stable')]" },
  { name: "sort / argsort long rows", inputs: [L], mx: (a) => [mx.sort(a), mx.argsort(a)],
    np: "[np.sort(a0), np.argsort(a0, kind='stable')]" },
  { name: "argsort long rows with many ties", inputs: [LD], mx: (a) => [mx.argsort(a), mx.argsort(a, 0)],
    np: "[np.argsort(a0, kind='stable'), np.argsort(a0, axis=0, kind='stable')]" },
  { name: "sort of an empty axis", inputs: [inp([], [2, 0])], mx: (a) => [mx.sort(a), mx.argsort(a, 0)],
    np: "[np.sort(a0), np.argsort(a0, axis=0)]", variants: [] },

  { name: "topk is sorted descending", inputs: [X], mx: (a) => [mx.topk(a, 3), mx.topk(a, 2, 0), mx.topk(a, 4, null)],
    np: "[np.flip(np.sort(a0), -1)[:, :3], np.flip(np.sort(a0, axis=0), 0)[:2], np.flip(np.sort(a0, axis=None))[:4]]" },
  { name: "topk puts NaN first (largest)", inputs: [D], mx: (a) => mx.topk(a, 4), np: "np.flip(np.sort(a0), -1)[:, :4]", variants: [] },
  { name: "topk k = n and k = 0", inputs: [X], mx: (a) => [mx.topk(a, 5), mx.topk(a, 0)],
    np: "[np.flip(np.sort(a0), -1), np.zeros((3, 0))]" },
  { name: "topkIndices: descending, ties by lower position", inputs: [LD], mx: (a) => mx.topkIndices(a, 700),
    np: "np.argsort(-a0, kind='stable')[:, :700]" },
  { name: "topk long rows", inputs: [L], mx: (a) => [mx.topk(a, 50), mx.topk(a, 2999), mx.topkIndices(a, 7)],
    np: "[np.flip(np.sort(a0), -1)[:, :50], np.flip(np.sort(a0), -1)[:, :2999], np.argsort(-a0, kind='stable')[:, :7]]" },
  { name: "topk int32", inputs: [I], mx: (a) => mx.topk(a, 3), np: "np.flip(np.sort(a0), -1)[:, :3]" },

  { name: "partition / argpartition", inputs: [X], mx: (a) => [mx.partition(a, 2), mx.argpartition(a, 2), mx.partition(a, -1)],
    np: `[${npPartition(2)}, ${npArgPartition(2)}, ${npPartition(4)}]` },
  { name: "partition with many ties (long rows)", inputs: [LD], mx: (a) => [mx.partition(a, 1500), mx.argpartition(a, -10)],
    np: `[${npPartition(1500)}, ${npArgPartition(2990)}]` },
  { name: "partition long rows", inputs: [L], mx: (a) => [mx.partition(a, 0), mx.argpartition(a, 2999)],
    np: `[${npPartition(0)}, ${npArgPartition(2999)}]` },
  { name: "partition axis 0 matches axis -1 of the transpose", inputs: [X],
    mx: (a) => mx.swapaxes(mx.partition(a, 1, 0), 0, 1), np: npPartition(1).replace("in a0", "in a0.T") },
);
runOpCases("sort/scan", cases);

runGradCases("sort/scan", [
  { name: "cumsum", shapes: [[3, 4]], fn: (a) => mx.cumsum(a, 1) },
  { name: "cumsum reverse exclusive axis 0", shapes: [[3, 4]], fn: (a) => mx.cumsum(a, 0, { reverse: true, inclusive: false }) },
  { name: "cumsum flattened", shapes: [[2, 3]], fn: (a) => mx.cumsum(a) },
  { name: "cumprod", shapes: [[3, 4]], fn: (a) => mx.cumprod(a, 1) },
  { name: "cumprod reverse axis 0", shapes: [[4, 3]], fn: (a) => mx.cumprod(a, 0, { reverse: true }) },
  { name: "cumprod exclusive", shapes: [[3, 5]], fn: (a) => mx.cumprod(a, 1, { inclusive: false }) },
  // About a third of the inputs are exactly 0: rows with no zero, one zero and several.
  { name: "cumprod with zeros", shapes: [[5, 6]], fn: (a) => mx.cumprod(a, 1), init: (x) => (Math.abs(x) < 0.5 ? 0 : x) },
  { name: "cumprod with zeros, reverse exclusive", shapes: [[5, 6]], init: (x) => (Math.abs(x) < 0.5 ? 0 : x),
    fn: (a) => mx.cumprod(a, 1, { reverse: true, inclusive: false }) },
  { name: "cummax", shapes: [[3, 5]], fn: (a) => mx.cummax(a, 1) },
  { name: "cummin reverse axis 0", shapes: [[4, 3]], fn: (a) => mx.cummin(a, 0, { reverse: true }) },
  // The exclusive scan starts at -inf: clamp it so the loss stays finite.
  { name: "cummax exclusive", shapes: [[3, 5]], fn: (a) => mx.maximum(mx.cummax(a, 1, { inclusive: false }), -100) },
  { name: "sort", shapes: [[3, 5]], fn: (a) => mx.sort(a, 1) },
  { name: "sort axis 0", shapes: [[4, 3]], fn: (a) => mx.sort(a, 0) },
  { name: "topk", shapes: [[3, 6]], fn: (a) => mx.topk(a, 2) },
  { name: "topk axis 0", shapes: [[6, 3]], fn: (a) => mx.topk(a, 3, 0) },
  { name: "partition", shapes: [[3, 6]], fn: (a) => mx.partition(a, 2) },
]);

test("cumprod's gradient at zeros matches the analytic value", () => {
  // y = cumprod([2, 0, 3, 0]) weighted by [1, 2, 3, 4]: d/dx1 = 2*2 + 3*2*3 = 22, zero after the first zero.
  const g = mx.grad((x) => mx.sum(mx.multiply(mx.cumprod(x), mx.array([1, 2, 3, 4]))))(mx.array([2, 0, 3, 0]));
  assert.deepEqual(g.tolist(), [1, 22, 0, 0]);
});

test("topk over a 262144-wide row agrees with a full sort", () => {
  const n = 262144;
  const d = randn([n], 38);
  for (let i = 0; i < n; i += 97) d[i] = 1.5;  // many ties inside the selected range
  const x = mx.array(d, mx.float32, [1, n]);
  for (const k of [1, 50, 1000]) {
    const want = mx.flatten(mx.sort(x)).toFloat32Array().slice(n - k).reverse();
    assert.deepEqual(Array.from(mx.topk(x, k).toFloat32Array()), Array.from(want), `k = ${k}`);
    const idx = mx.topkIndices(x, k).toTypedArray() as Uint32Array;
    const xs = x.toFloat32Array();
    assert.deepEqual(Array.from(idx, (i) => xs[i]), Array.from(want), `indices k = ${k}`);
  }
  for (const kth of [0, 100, n - 1]) {
    const p = mx.argpartition(x, kth).toTypedArray() as Uint32Array;
    const xs = x.toFloat32Array();
    const t = mx.flatten(mx.sort(x)).toFloat32Array()[kth];
    assert.equal(xs[p[kth]], t);
    for (let i = 0; i < n; i += 1013) assert.ok(i < kth ? xs[p[i]] <= t : i > kth ? xs[p[i]] >= t : true);
    assert.equal(new Set(p).size, n, "argpartition is a permutation");
  }
});

test("sort keeps every integer dtype's order (int8 negatives, uint64 and int64 extremes)", () => {
  assert.deepEqual(mx.sort(mx.array([3, -128, 127, 0, -1], mx.int8)).tolist(), [-128, -1, 0, 3, 127]);
  assert.deepEqual(mx.sort(mx.array([5, 0, 65535, 7], mx.uint16)).tolist(), [0, 5, 7, 65535]);
  const big = mx.array(new BigUint64Array([2n ** 64n - 1n, 0n, 2n ** 63n, 5n]));
  assert.deepEqual(Array.from(mx.sort(big).toTypedArray() as BigUint64Array), [0n, 5n, 2n ** 63n, 2n ** 64n - 1n]);
  const s = mx.array(new BigInt64Array([2n ** 62n, -(2n ** 63n), -1n, 0n]));
  assert.deepEqual(Array.from(mx.sort(s).toTypedArray() as BigInt64Array), [-(2n ** 63n), -1n, 0n, 2n ** 62n]);
  assert.deepEqual(mx.argsort(mx.array([0.5, -2, NaN, -Infinity], mx.float64)).tolist(), [3, 1, 0, 2]);
  assert.deepEqual(mx.topk(mx.array([1, 3, 2], mx.uint8), 2).tolist(), [3, 2]);
});

test("infinities sort before NaN and after every finite value", () => {
  const a = mx.array([Infinity, NaN, -Infinity, 0, -0, 3e38, -3e38]);
  assert.deepEqual(mx.sort(a).tolist(), [-Infinity, -3e38, 0, -0, 3e38, Infinity, NaN].map(Math.fround));
  assert.deepEqual(mx.argsort(a).tolist(), [2, 6, 3, 4, 5, 0, 1]);
  assert.deepEqual(mx.topk(a, 3).tolist(), [NaN, Infinity, Math.fround(3e38)]);
  assert.deepEqual(mx.cummax(mx.array([-Infinity, 1, Infinity, 2])).tolist(), [-Infinity, 1, Infinity, Infinity]);
  assert.deepEqual(mx.cumsum(mx.array([1, Infinity, -Infinity])).tolist(), [1, Infinity, NaN]);
});

test("half-precision sort, topk and partition order NaN last / first", () => {
  for (const dt of [mx.bfloat16, mx.float16]) {
    const a = mx.array([1, NaN, -2, 0.5, -Infinity], dt);
    assert.deepEqual(mx.sort(a).tolist(), [-Infinity, -2, 0.5, 1, NaN]);
    assert.deepEqual(mx.topk(a, 2).tolist(), [NaN, 1]);
    assert.equal((mx.argpartition(a, 4).tolist() as number[])[4], 1);
  }
});

test("sort-family errors name the op and the fix", () => {
  const a = mx.array([[1, 2, 3]]);
  assert.throws(() => mx.sort(a, 2), (e: unknown) => e instanceof EngineError && /^\[sort\] axis 2 is out of bounds/.test(e.message));
  assert.throws(() => mx.argsort(a, -3), (e: unknown) => e instanceof EngineError && /^\[argsort\] axis -3/.test(e.message));
  assert.throws(() => mx.sort(mx.array(1)), (e: unknown) => e instanceof EngineError && /^\[sort\] expected an array with at least one dimension/.test(e.message));
  assert.throws(() => mx.topk(a, 4), (e: unknown) => e instanceof EngineError && /^\[topk\] k 4 is out of range .*0 <= k <= 3/.test(e.message));
  assert.throws(() => mx.topk(a, -1), (e: unknown) => e instanceof EngineError && /^\[topk\] k -1/.test(e.message));
  assert.throws(() => mx.topk(a, 1.5), (e: unknown) => e instanceof EngineError);
  assert.throws(() => mx.partition(a, 3), (e: unknown) => e instanceof EngineError && /^\[partition\] kth 3 is out of bounds/.test(e.message));
  assert.throws(() => mx.argpartition(a, -4), (e: unknown) => e instanceof EngineError && /^\[argpartition\] kth -4/.test(e.message));
  assert.throws(() => mx.partition(mx.zeros([2, 0]), 0), (e: unknown) => e instanceof EngineError && /^\[partition\]/.test(e.message));
});

test("scan errors name the op", () => {
  const a = mx.array([[1, 2, 3]]);
  assert.throws(() => mx.cumsum(a, 2), (e: unknown) => e instanceof EngineError && /^\[cumsum\] axis 2 is out of bounds/.test(e.message));
  assert.throws(() => mx.cummax(a, -3), (e: unknown) => e instanceof EngineError && /^\[cummax\] axis -3/.test(e.message));
  assert.throws(() => mx.cumprod(mx.array(2), 0), (e: unknown) => e instanceof EngineError && /^\[cumprod\]/.test(e.message));
  assert.deepEqual(mx.cumsum(mx.array(2)).tolist(), [2], "axis undefined flattens even a 0-d array");
});

test("results do not depend on the thread count", () => {
  const x = mx.array(randn([64, 3000], 39), mx.float32, [64, 3000]);
  const run = () => [mx.sort(x), mx.argsort(x, 0), mx.topk(x, 10), mx.argpartition(x, 5), mx.cumsum(x, 0), mx.cummax(x, 1)]
    .map((r) => Array.from(r.toFloat32Array()));
  const base = run();
  const before = mx.numThreads();
  try {
    mx.setNumThreads(1);
    assert.deepEqual(run(), base);
    mx.setNumThreads(3);
    assert.deepEqual(run(), base);
  } finally {
    mx.setNumThreads(before);
  }
});

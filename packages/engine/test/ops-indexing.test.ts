import { test } from "node:test";
import assert from "node:assert/strict";
import { mx, EngineError } from "../src/index.js";
import type { MxArray } from "../src/index.js";
import { vmap } from "../src/core/vmap.js";
import { inp, runOpCases, type OpCase } from "./helpers/op-cases.js";
import { runGradCases } from "./helpers/gradcheck.js";
import { randn, randint, rng } from "./helpers/random.js";

const X = inp(randn([3, 4, 5], 31), [3, 4, 5]);
const M = inp(randn([5, 6], 32), [5, 6]);
const N = inp(randn([5, 6], 33), [5, 6]);
const V = inp(randn([7], 34), [7]);
const W = inp(randn([5], 35), [5]);
const I = inp(randint([4, 5], -9, 10, 36), [4, 5], "int32");
const Bo = inp(randint([4, 5], 0, 2, 37), [4, 5], "bool");
const L = inp(randint([3, 4], -1e6, 1e6, 38), [3, 4], "int64");
const E = inp([], [0, 4]);
const T = inp(randn([50, 64], 39), [50, 64]);  // an embedding table
const ix = (data: number[], shape: number[], dtype = "int32") => inp(data, shape, dtype);

// NumPy has no expression form of item assignment; this runs `b[key] = v` on a copy and returns it.
const setitem = (key: string, v = "a1") => `(lambda b: (b.__setitem__(${key}, ${v}), b)[1])(a0.copy())`;
const putAlong = (axis: string) => `(lambda b: (np.put_along_axis(b, a1, a2, axis=${axis}), b)[1])(a0.copy())`;

const cases: OpCase[] = [
  // ---- slice ----
  { name: "slice basic", inputs: [X], mx: (a) => mx.slice(a, [1, 0, 2], [3, 4, 5]), np: "a0[1:3, 0:4, 2:5]" },
  { name: "slice negative start/stop, clamped stop", inputs: [M], mx: (a) => mx.slice(a, [-2, -3], [10, -1]), np: "a0[-2:10, -3:-1]" },
  { name: "slice strides", inputs: [M], mx: (a) => mx.slice(a, [0, 1], [5, 6], [2, 3]), np: "a0[0:5:2, 1:6:3]" },
  { name: "slice negative strides", inputs: [M], mx: (a) => mx.slice(a, [-1, 4], [-Infinity, 0], [-1, -2]), np: "a0[::-1, 4:0:-2]" },
  { name: "slice negative stride from a clamped start", inputs: [V], mx: (a) => mx.slice(a, [100], [-100], [-3]), np: "a0[100:-100:-3]" },
  { name: "slice empty result", inputs: [M], mx: (a) => [mx.slice(a, [3, 0], [1, 6]), mx.slice(a, [0, 2], [5, 4], [1, -1])],
    np: "[a0[3:1, 0:6], a0[0:5, 2:4:-1]]" },
  { name: "slice of an empty array", inputs: [E], mx: (a) => mx.slice(a, [0, 1], [0, 3]), np: "a0[0:0, 1:3]", variants: [] },
  { name: "slice int32 reversed", inputs: [I], mx: (a) => mx.slice(a, [1, -1], [4, -Infinity], [1, -2]), np: "a0[1:4, ::-2]", dtype: "int32" },
  { name: "slice of a slice", inputs: [X], mx: (a) => mx.slice(mx.slice(a, [2, 0, 4], [-Infinity, 4, -Infinity], [-1, 1, -1]), [0, 1, 1], [2, 4, 5], [1, 2, 2]),
    np: "a0[::-1, :, ::-1][0:2, 1:4:2, 1:5:2]" },
  { name: "reversed views feed other ops", inputs: [M, N], mx: (a, b) => {
    const ra = mx.slice(a, [-1, -1], [-Infinity, -Infinity], [-1, -1]);
    const rb = mx.slice(b, [0, -1], [5, -Infinity], [1, -1]);
    return [mx.sum(ra, 0), mx.add(ra, rb), mx.matmul(ra, mx.transpose(rb)), mx.reshape(ra, [-1])];
  }, np: "[np.sum(a0[::-1, ::-1], 0), a0[::-1, ::-1] + a1[:, ::-1], a0[::-1, ::-1] @ a1[:, ::-1].T, a0[::-1, ::-1].reshape(-1)]", rtol: 1e-4, atol: 1e-5 },
  // ---- sliceUpdate ----
  { name: "sliceUpdate scalar", inputs: [M], mx: (a) => mx.sliceUpdate(a, 7, [1, 2], [3, 5]), np: setitem("(slice(1, 3), slice(2, 5))", "7") },
  { name: "sliceUpdate array, negative strides", inputs: [M, inp(randn([3, 3], 40), [3, 3])],
    mx: (a, u) => mx.sliceUpdate(a, u, [-1, 5], [-Infinity, 0], [-2, -2]), np: setitem("(slice(None, None, -2), slice(5, 0, -2))") },
  { name: "sliceUpdate broadcast row", inputs: [X, inp(randn([5], 41), [5])],
    mx: (a, u) => mx.sliceUpdate(a, u, [0, 1, 0], [3, 3, 5]), np: setitem("(slice(0, 3), slice(1, 3), slice(0, 5))") },
  { name: "sliceUpdate empty slice", inputs: [M, inp([], [0, 6])], mx: (a, u) => mx.sliceUpdate(a, u, [2, 0], [2, 6]), np: "a0" },
  { name: "sliceUpdate casts to the array's dtype", inputs: [I, inp([2.7, -3.9], [2])],
    mx: (a, u) => mx.sliceUpdate(a, u, [0, 0], [1, 2]), np: setitem("(slice(0, 1), slice(0, 2))", "np.trunc(a1).astype(np.int32)"), dtype: "int32" },
  // ---- take ----
  { name: "take axis 0 (negative, repeated)", inputs: [M, ix([4, 0, -1, 2, 2], [5])], mx: (a, i) => mx.take(a, i, 0), np: "np.take(a0, a1, axis=0)" },
  { name: "take axis -1 with 2-d indices", inputs: [X, ix([0, 4, -2, 1, 1, 3], [2, 3])], mx: (a, i) => mx.take(a, i, -1), np: "np.take(a0, a1, axis=-1)" },
  { name: "take axis 1 of 3-d", inputs: [X, ix([3, 0, -4], [3])], mx: (a, i) => mx.take(a, i, 1), np: "np.take(a0, a1, axis=1)" },
  { name: "take flattened", inputs: [M, ix([0, 29, -1, 7, 13, 13], [2, 3])], mx: (a, i) => mx.take(a, i), np: "np.take(a0, a1)" },
  { name: "take scalar index drops the axis", inputs: [X], mx: (a) => [mx.take(a, 2, 1), mx.take(a, -1, 0), mx.take(a, 17)],
    np: "[np.take(a0, 2, axis=1), np.take(a0, -1, axis=0), np.take(a0, 17)]" },
  { name: "take empty indices", inputs: [M, ix([], [0])], mx: (a, i) => mx.take(a, i, 1), np: "np.take(a0, a1, axis=1)" },
  { name: "take embedding rows", inputs: [T, ix([3, 7, 49, 0, -50, 3], [2, 3])], mx: (a, i) => mx.take(a, i, 0), np: "np.take(a0, a1, axis=0)" },
  { name: "take with uint8 and int64 indices", inputs: [M, ix([4, 1], [2], "uint8"), ix([-5, 3], [2], "int64")],
    mx: (a, i, j) => [mx.take(a, i, 0), mx.take(a, j, 1)], np: "[np.take(a0, a1, axis=0), np.take(a0, a2, axis=1)]" },
  { name: "take from int64 and bool", inputs: [L, Bo, ix([2, 0, 2], [3])], mx: (a, b, i) => [mx.take(a, i, 0), mx.take(b, i, 1)],
    np: "[np.take(a0, a2, axis=0), np.take(a1, a2, axis=1)]" },
  // ---- takeAlongAxis / putAlongAxis ----
  { name: "takeAlongAxis", inputs: [M, ix([0, 4, -1, 2, 2, 2, 1, 0, 3, -5, 4, 0], [6, 2])],
    mx: (a, i) => mx.takeAlongAxis(mx.transpose(a), i, 1), np: "np.take_along_axis(a0.T, a1, axis=1)" },
  { name: "takeAlongAxis broadcasts", inputs: [X, ix([0, 3, 1, 2, 2, 0], [3, 2, 1])], mx: (a, i) => mx.takeAlongAxis(a, i, 1),
    np: "np.take_along_axis(a0, a1, axis=1)" },
  { name: "takeAlongAxis argmax gather", inputs: [M], mx: (a) => mx.takeAlongAxis(a, mx.expandDims(mx.argmax(a, -1), -1), -1),
    np: "np.max(a0, axis=-1, keepdims=True)" },
  { name: "takeAlongAxis flattened", inputs: [M, ix([0, 29, 5, -1], [4])], mx: (a, i) => mx.takeAlongAxis(a, i),
    np: "np.take_along_axis(a0, a1, axis=None)" },
  { name: "putAlongAxis", inputs: [M, ix([0, 5, 2, 3, 1], [5, 1]), inp(randn([5, 1], 42), [5, 1])],
    mx: (a, i, v) => mx.putAlongAxis(a, i, v, 1), np: putAlong("1") },
  { name: "putAlongAxis scalar value, axis 0", inputs: [M, ix([4, 0, 1, 2, 3, 4, 0, 1, 2, 3, 4, 0], [2, 6])],
    mx: (a, i) => mx.putAlongAxis(a, i, -2, 0), np: "(lambda b: (np.put_along_axis(b, a1, -2, axis=0), b)[1])(a0.copy())" },
  { name: "putAlongAxis int32", inputs: [I, ix([1, 0, 4, 3], [4, 1]), ix([9, 8, 7, 6], [4, 1])],
    mx: (a, i, v) => mx.putAlongAxis(a, i, v, -1), np: putAlong("-1"), dtype: "int32" },
  // ---- concatenate / stack / split ----
  { name: "concatenate axis 0", inputs: [M, N], mx: (a, b) => mx.concatenate([a, b]), np: "np.concatenate([a0, a1])" },
  { name: "concatenate axis -1, three inputs", inputs: [M, N, inp(randn([5, 2], 43), [5, 2])], mx: (a, b, c) => mx.concatenate([a, b, c], -1),
    np: "np.concatenate([a0, a1, a2], axis=-1)" },
  { name: "concatenate with an empty piece", inputs: [M, inp([], [5, 0])], mx: (a, b) => mx.concatenate([b, a, b], 1), np: "np.concatenate([a1, a0, a1], axis=1)" },
  { name: "concatenate promotes int32 + float32", inputs: [I, inp(randn([1, 5], 44), [1, 5])], mx: (a, b) => mx.concatenate([a, b], 0),
    np: "np.concatenate([a0.astype(np.float32), a1], axis=0)", dtype: "float32" },
  { name: "concatenate axis null flattens", inputs: [M, W], mx: (a, b) => mx.concatenate([a, b], null), np: "np.concatenate([a0, a1], axis=None)" },
  { name: "concatenate bool / int64", inputs: [Bo, L], mx: (a, b) => [mx.concatenate([a, a], 1), mx.concatenate([b, b], 0)],
    np: "[np.concatenate([a0, a0], 1), np.concatenate([a1, a1], 0)]" },
  { name: "stack", inputs: [M, N], mx: (a, b) => [mx.stack([a, b]), mx.stack([a, b], -1), mx.stack([a, b, a], 1)],
    np: "[np.stack([a0, a1]), np.stack([a0, a1], -1), np.stack([a0, a1, a0], 1)]" },
  { name: "split sections", inputs: [M], mx: (a) => mx.split(a, 3, 1), np: "np.split(a0, 3, axis=1)" },
  { name: "split points, negative", inputs: [X], mx: (a) => mx.split(a, [1, -2], -1), np: "np.split(a0, [1, -2], axis=-1)" },
  { name: "split points out of order give empty pieces", inputs: [M], mx: (a) => mx.split(a, [4, 2, 9]), np: "np.split(a0, [4, 2, 9])" },
  // ---- pad ----
  { name: "pad constant 0, one width", inputs: [M], mx: (a) => mx.pad(a, 2), np: "np.pad(a0, 2)" },
  { name: "pad per-axis pairs and value", inputs: [X], mx: (a) => mx.pad(a, [[1, 0], [0, 2], [3, 1]], "constant", 1.5),
    np: "np.pad(a0, ((1, 0), (0, 2), (3, 1)), constant_values=1.5)" },
  { name: "pad [before, after] for all axes", inputs: [M], mx: (a) => mx.pad(a, [1, 3]), np: "np.pad(a0, (1, 3))" },
  { name: "pad edge", inputs: [M], mx: (a) => [mx.pad(a, [[2, 1], [0, 3]], "edge"), mx.pad(a, 1, "edge")],
    np: "[np.pad(a0, ((2, 1), (0, 3)), mode='edge'), np.pad(a0, 1, mode='edge')]" },
  { name: "pad int32 and bool", inputs: [I, Bo], mx: (a, b) => [mx.pad(a, 1, "constant", 5), mx.pad(b, [[0, 1], [2, 0]], "edge")],
    np: "[np.pad(a0, 1, constant_values=5), np.pad(a1, ((0, 1), (2, 0)), mode='edge')]" },
  { name: "pad of an empty array (constant)", inputs: [E], mx: (a) => mx.pad(a, 1), np: "np.pad(a0, 1)", variants: [] },
  // ---- repeat / tile ----
  { name: "repeat along axis", inputs: [M], mx: (a) => [mx.repeat(a, 3, 0), mx.repeat(a, 2, -1)], np: "[np.repeat(a0, 3, 0), np.repeat(a0, 2, -1)]" },
  { name: "repeat flattened and zero", inputs: [M], mx: (a) => [mx.repeat(a, 2), mx.repeat(a, 0, 1)], np: "[np.repeat(a0, 2), np.repeat(a0, 0, 1)]" },
  { name: "repeat per element", inputs: [M], mx: (a) => mx.repeat(a, [1, 0, 2, 1, 3], 0), np: "np.repeat(a0, [1, 0, 2, 1, 3], 0)" },
  { name: "tile", inputs: [M, V], mx: (a, v) => [mx.tile(a, [2, 3]), mx.tile(a, [2, 1, 2]), mx.tile(a, 2), mx.tile(v, [3, 1])],
    np: "[np.tile(a0, (2, 3)), np.tile(a0, (2, 1, 2)), np.tile(a0, 2), np.tile(a1, (3, 1))]" },
  // ---- triangles, outer, diagonals ----
  { name: "triu / tril", inputs: [M], mx: (a) => [mx.triu(a), mx.triu(a, 2), mx.tril(a), mx.tril(a, -1)],
    np: "[np.triu(a0), np.triu(a0, 2), np.tril(a0), np.tril(a0, -1)]" },
  { name: "triu / tril batched int", inputs: [inp(randint([2, 3, 4], -5, 5, 45), [2, 3, 4], "int32")], mx: (a) => [mx.triu(a, -1), mx.tril(a, 1)],
    np: "[np.triu(a0, -1), np.tril(a0, 1)]" },
  { name: "outer", inputs: [V, W], mx: (a, b) => mx.outer(a, b), np: "np.outer(a0, a1)" },
  { name: "outer flattens", inputs: [M, W], mx: (a, b) => mx.outer(a, b), np: "np.outer(a0, a1)" },
  { name: "diag of a vector", inputs: [W], mx: (a) => [mx.diag(a), mx.diag(a, 2), mx.diag(a, -1)], np: "[np.diag(a0), np.diag(a0, 2), np.diag(a0, -1)]" },
  { name: "diag of a matrix", inputs: [M], mx: (a) => [mx.diag(a), mx.diag(a, 1), mx.diag(a, -3), mx.diag(a, 9)],
    np: "[np.diag(a0), np.diag(a0, 1), np.diag(a0, -3), np.diag(a0, 9)]" },
  { name: "diagonal of 3-d", inputs: [X], mx: (a) => [mx.diagonal(a), mx.diagonal(a, 1, 2, 0), mx.diagonal(a, -1, -1, 1), mx.diagonal(a, 0, 1, 2)],
    np: "[np.diagonal(a0), np.diagonal(a0, 1, 2, 0), np.diagonal(a0, -1, -1, 1), np.diagonal(a0, 0, 1, 2)]" },
];
runOpCases("indexing", cases);

// ---- gradients (float64 central differences) ----
const i64 = (v: unknown) => mx.array(v as number[], mx.int32);
runGradCases("indexing", [
  { name: "slice", shapes: [[4, 5]], fn: (a) => mx.slice(a, [1, -1], [4, -Infinity], [2, -2]) },
  { name: "slice of slice", shapes: [[3, 4, 5]], fn: (a) => mx.slice(mx.slice(a, [0, 1, 0], [3, 4, 5]), [-1, 0, 1], [-Infinity, 3, 5], [-1, 2, 1]) },
  { name: "sliceUpdate (both inputs)", shapes: [[4, 5], [2, 3]], fn: (a, u) => mx.sliceUpdate(a, u, [3, 0], [-Infinity, 5], [-2, 2]) },
  { name: "sliceUpdate broadcast update", shapes: [[4, 5], [3]], fn: (a, u) => mx.sliceUpdate(a, u, [1, 1], [4, 4]) },
  { name: "take repeated indices (scatter-add)", shapes: [[5, 3]], fn: (a) => mx.take(a, i64([1, 4, 1, -1, 0, 1]), 0) },
  { name: "take axis 1, 2-d indices", shapes: [[3, 4, 2]], fn: (a) => mx.take(a, i64([[0, 3], [3, 3]]), 1) },
  { name: "take flattened / scalar", shapes: [[3, 4]], fn: (a) => mx.add(mx.take(a, i64([11, 0, 5, 5])), mx.take(a, 2, 0)) },
  { name: "takeAlongAxis", shapes: [[3, 4]], fn: (a) => mx.takeAlongAxis(a, i64([[0, 0, 3], [1, 2, 1], [3, -1, 0]]), 1) },
  { name: "takeAlongAxis broadcast", shapes: [[3, 4, 2]], fn: (a) => mx.takeAlongAxis(a, i64([[[1], [0]]]), 1) },
  { name: "putAlongAxis (array and values)", shapes: [[3, 4], [3, 1]], fn: (a, v) => mx.putAlongAxis(a, i64([[2], [0], [3]]), v, 1) },
  { name: "concatenate", shapes: [[2, 3], [4, 3], [1, 3]], fn: (a, b, c) => mx.concatenate([a, b, c], 0) },
  { name: "stack", shapes: [[2, 3], [2, 3]], fn: (a, b) => mx.stack([a, b], 1) },
  { name: "split", shapes: [[4, 6]], fn: (a) => { const [p, q, r] = mx.split(a, 3, 1); return mx.add(mx.multiply(p, q), r); } },
  { name: "pad constant", shapes: [[2, 3]], fn: (a) => mx.pad(a, [[1, 2], [0, 1]], "constant", 3) },
  { name: "pad edge", shapes: [[2, 3]], fn: (a) => mx.pad(a, [[2, 1], [1, 2]], "edge") },
  { name: "repeat", shapes: [[2, 3]], fn: (a) => mx.repeat(a, 3, 1) },
  { name: "repeat per element", shapes: [[4]], fn: (a) => mx.repeat(a, [2, 0, 1, 3], 0) },
  { name: "tile", shapes: [[2, 3]], fn: (a) => mx.tile(a, [2, 1, 2]) },
  { name: "triu / tril", shapes: [[3, 4]], fn: (a) => mx.add(mx.triu(a, 1), mx.multiply(mx.tril(a, -1), 3)) },
  { name: "outer", shapes: [[3], [4]], fn: (a, b) => mx.outer(a, b) },
  { name: "diag of a vector", shapes: [[3]], fn: (a) => mx.diag(a, -1) },
  { name: "diag of a matrix", shapes: [[3, 4]], fn: (a) => mx.diag(a, 1) },
  { name: "diagonal of 3-d", shapes: [[3, 4, 5]], fn: (a) => mx.diagonal(a, -1, 2, 0) },
  { name: "vmap", shapes: [[3, 4], [4]], fn: (a, b) => vmap((x: MxArray, y: MxArray) => mx.multiply(mx.sum(mx.square(x)), y), [0, null])(a, b) },
]);

// ---- behaviour beyond the NumPy table ----

test("slice returns a view: no new buffer, and later ops see the right elements", () => {
  const a = mx.reshape(mx.arange(0, 1 << 20, 1, mx.float32), [1024, 1024]);
  mx.eval(a);
  const before = mx.getActiveMemory();
  const s = mx.slice(a, [1023, 0], [-Infinity, 1024], [-2, 4]);
  mx.eval(s);
  assert.equal(mx.getActiveMemory(), before, "slice allocated memory");
  assert.deepEqual(s.shape, [512, 256]);
  assert.equal(mx.take(mx.take(s, 1, 0), 3).item(), 1021 * 1024 + 12);
});

test("all dtypes move through slice, take, concatenate, pad, sliceUpdate exactly", () => {
  const base = [[0, 1, 2], [3, 4, 5]];
  for (const dt of mx.dtypes) {
    const a = mx.array(base, dt);
    const expect = (rows: number[][]) => rows.map((r) => r.map((v) => (dt.name === "bool" ? v !== 0 : v)));
    assert.deepEqual(mx.slice(a, [1, 2], [-Infinity, -Infinity], [-1, -1]).tolist(), expect([[5, 4, 3], [2, 1, 0]]), dt.name);
    assert.deepEqual(mx.take(a, [2, 0], 1).tolist(), expect([[2, 0], [5, 3]]), dt.name);
    assert.deepEqual(mx.concatenate([a, a], 1).tolist(), expect([[0, 1, 2, 0, 1, 2], [3, 4, 5, 3, 4, 5]]), dt.name);
    assert.deepEqual(mx.pad(a, [[0, 0], [1, 0]], "edge").tolist(), expect([[0, 0, 1, 2], [3, 3, 4, 5]]), dt.name);
    assert.deepEqual(mx.sliceUpdate(a, mx.array([[1, 1]], dt), [0, 1], [1, 3]).tolist(), expect([[0, 1, 1], [3, 4, 5]]), dt.name);
    assert.deepEqual(mx.takeAlongAxis(a, [[1], [0]], 0).tolist(), expect([[3, 4, 5], [0, 1, 2]]), dt.name);
    assert.equal(mx.concatenate([a, a]).dtype, dt);
  }
});

test("embedding lookup: a large row gather matches the table rows", () => {
  const vocab = 1000, hidden = 256, n = 4096;
  const table = mx.reshape(mx.arange(0, vocab * hidden, 1, mx.float32), [vocab, hidden]);
  const ids = Int32Array.from({ length: n }, (_, i) => (i * 7919) % vocab);
  const out = mx.take(table, mx.array(ids, mx.int32), 0);
  const got = out.toFloat32Array();
  for (let r = 0; r < n; r += 97)
    for (const c of [0, 1, 128, 255]) assert.equal(got[r * hidden + c], ids[r] * hidden + c);
  // bf16 table takes the same memcpy path
  const tb = mx.astype(mx.reshape(mx.arange(0, 64 * 32, 1, mx.float32), [64, 32]), mx.bfloat16);
  const rows = tb.tolist() as number[][];
  assert.deepEqual(mx.take(tb, [63, 0], 0).tolist(), [rows[63], rows[0]]);
});

test("take's gradient accumulates repeated indices (large embedding grad)", () => {
  const vocab = 300, hidden = 5000, ids = [5, 7, 5, 5, 299, 0, 7];
  const table = mx.zeros([vocab, hidden], mx.float32);
  const g = mx.grad((t: MxArray) => mx.sum(mx.take(t, mx.array(ids, mx.int32), 0)))(table);
  const rowSums = mx.sum(g, 1).tolist() as number[];
  const expect = new Array(vocab).fill(0);
  for (const i of ids) expect[i] += hidden;
  assert.deepEqual(rowSums, expect);
});

test("large concatenate and sliceUpdate copy correctly (threaded memcpy path)", () => {
  const a = mx.reshape(mx.arange(0, 300000, 1, mx.float32), [300, 1000]);
  const b = mx.multiply(mx.ones([300, 24], mx.float32), -1);
  const c = mx.concatenate([a, b, a], 1);
  assert.deepEqual(c.shape, [300, 2024]);
  const f = c.toFloat32Array();
  for (const [r, col, v] of [[0, 0, 0], [299, 999, 299999], [150, 1010, -1], [7, 1024 + 3, 7003], [299, 2023, 299999]])
    assert.equal(f[r * 2024 + col], v);
  const u = mx.sliceUpdate(a, mx.zeros([100, 500]), [100, 0], [200, 1000], [1, 2]);
  const uf = u.toFloat32Array();
  assert.equal(uf[150 * 1000 + 2], 0);
  assert.equal(uf[150 * 1000 + 3], 150003);
  assert.equal(uf[99 * 1000 + 2], 99002);
});

test("vmap matches the batched computation", () => {
  const A = mx.array(randn([4, 3, 5], 50), mx.float32, [4, 3, 5]);
  const x = mx.array(randn([4, 5], 51), mx.float32, [4, 5]);
  // batched matrix-vector product
  const mv = vmap((m: MxArray, v: MxArray) => mx.matmul(m, v))(A, x);
  const direct = mx.squeeze(mx.matmul(A, mx.expandDims(x, -1)), -1);
  assert.deepEqual(mv.shape, [4, 3]);
  assert.ok(mx.all(mx.less(mx.abs(mx.subtract(mv, direct)), 1e-5)).item());
  // inAxes per argument (one unmapped), mapped axis 1, outAxes 1
  const B = mx.array(randn([5, 4], 52), mx.float32, [5, 4]);
  const w = mx.array(randn([5], 53), mx.float32, [5]);
  const r = vmap((col: MxArray, ww: MxArray) => mx.multiply(col, ww), [1, null], 1)(B, w);
  assert.deepEqual(r.shape, [5, 4]);
  assert.ok(mx.all(mx.less(mx.abs(mx.subtract(r, mx.multiply(B, mx.expandDims(w, 1)))), 1e-6)).item());
  // several outputs with their own outAxes; negative in axis; tree argument
  const [s, t] = vmap((p: { a: MxArray; b: MxArray }) => [mx.sum(p.a), mx.add(p.a, p.b)], { a: -1, b: null } as any, [0, -1])(
    { a: B, b: mx.ones([5]) }) as MxArray[];
  assert.ok(mx.all(mx.less(mx.abs(mx.subtract(s, mx.sum(B, 0))), 1e-5)).item());
  assert.deepEqual(t.shape, [5, 4]);
  assert.ok(mx.all(mx.less(mx.abs(mx.subtract(t, mx.add(B, 1))), 1e-6)).item());
  // nested vmap = outer product
  const o = vmap((a: MxArray) => vmap((b: MxArray) => mx.multiply(a, b))(w))(w);
  assert.ok(mx.all(mx.less(mx.abs(mx.subtract(o, mx.outer(w, w))), 1e-6)).item());
  // gradient through vmap equals the gradient of the batched form
  const g1 = mx.grad((m: MxArray) => mx.sum(vmap((mm: MxArray, v: MxArray) => mx.matmul(mm, v))(m, x)))(A);
  const g2 = mx.grad((m: MxArray) => mx.sum(mx.matmul(m, mx.expandDims(x, -1))))(A);
  assert.ok(mx.all(mx.less(mx.abs(mx.subtract(g1, g2)), 1e-5)).item());
});

// ---- error paths ----
const engineErr = (re: RegExp, code = "EINVAL") => (e: unknown) => e instanceof EngineError && re.test(e.message) && e.code === code;

test("errors: slice / sliceUpdate", () => {
  const a = mx.zeros([3, 4]);
  assert.throws(() => mx.slice(a, [0], [1, 2]), engineErr(/^\[slice\] start, stop and strides need one entry per axis: got 1, 2 and 0 entries for an array with 2 dimensions/));
  assert.throws(() => mx.slice(a, [0, 0], [1, 2], [1]), engineErr(/^\[slice\] start, stop and strides need one entry per axis/));
  assert.throws(() => mx.slice(a, [0, 0], [1, 2], [1, 0]), engineErr(/^\[slice\] slice step cannot be zero \(axis 1\)/));
  assert.throws(() => mx.slice(a, [0.5, 0], [1, 2]), engineErr(/^\[slice\] start must be integers/));
  assert.throws(() => mx.sliceUpdate(a, mx.ones([2, 3]), [0, 0], [3, 4]), engineErr(/^\[sliceUpdate\] (an update of shape \[2, 3\]|shapes)/));
  assert.throws(() => mx.sliceUpdate(a, 1, [0, 0, 0], [3, 4, 1]), engineErr(/^\[sliceUpdate\] start, stop and strides need one entry per axis/));
});

test("errors: take and friends, out-of-range indices never crash", () => {
  const a = mx.arange(0, 5, 1, mx.float32);
  assert.throws(() => mx.take(a, 7, 0), engineErr(/^\[take\] index 7 is out of bounds for axis 0 with size 5$/, "ERANGE"));
  assert.throws(() => mx.take(a, [1, -6]), engineErr(/^\[take\] index -6 is out of bounds for axis 0 with size 5$/, "ERANGE"));
  assert.throws(() => mx.take(mx.zeros([2, 3]), [0], 2), engineErr(/^\[take\] axis 2 is out of bounds for an array with 2 dimensions/));
  assert.throws(() => mx.take(a, mx.array([1.5])), engineErr(/^\[take\] indices must be an integer array, got float32/));
  assert.throws(() => mx.take(a, 1.5), engineErr(/^\[take\] indices must be integers/));
  assert.throws(() => mx.take(mx.zeros([0, 3]), [0], 0), (e: unknown) => e instanceof EngineError && /^\[take\]/.test(e.message));
  // Indices known only at evaluation time: the error comes from eval, and the engine keeps working.
  const lazy = mx.add(mx.array([1, 2], mx.int32), 8);
  const t = mx.take(a, lazy, 0);
  assert.throws(() => mx.eval(t), engineErr(/^\[take\] index 9 is out of bounds for axis 0 with size 5$/, "ERANGE"));
  const lazy2 = mx.add(mx.array([[1], [2]], mx.int32), 4);
  assert.throws(() => mx.eval(mx.takeAlongAxis(mx.zeros([2, 5]), lazy2, 1)), engineErr(/^\[takeAlongAxis\] index 5 is out of bounds for axis 1 with size 5$/, "ERANGE"));
  assert.throws(() => mx.eval(mx.putAlongAxis(mx.zeros([2, 5]), lazy2, 1, 1)), engineErr(/^\[putAlongAxis\] index 5 is out of bounds/, "ERANGE"));
  // Reading data (tolist/item) evaluates through another path: the message is the same.
  assert.throws(() => mx.take(a, lazy, 0).tolist(), (e: unknown) => e instanceof EngineError && /^\[take\] index 9 is out of bounds/.test(e.message));
  assert.deepEqual(mx.take(a, [4], 0).tolist(), [4]);
  assert.throws(() => mx.takeAlongAxis(mx.zeros([2, 5]), [1, 2], 1), engineErr(/^\[takeAlongAxis\] indices must have as many dimensions as the array \(2\), got 1/));
  assert.throws(() => mx.takeAlongAxis(mx.zeros([2, 5]), [[1, 2]], 1.5), /argument 2: expected an integer/);
  assert.throws(() => mx.putAlongAxis(mx.zeros([2, 5]), [[0], [1]], mx.ones([3]), 1), engineErr(/^\[putAlongAxis\]/));
  assert.throws(() => mx.putAlongAxis(mx.zeros([2, 5]), [[0], [9]], 1, 1), engineErr(/^\[putAlongAxis\] index 9 is out of bounds for axis 1 with size 5/, "ERANGE"));
});

test("errors: concatenate / stack / split", () => {
  assert.throws(() => mx.concatenate([mx.zeros([2, 3]), mx.zeros([2, 4])], 0),
    engineErr(/^\[concatenate\] all dimensions except the concatenation axis \(0\) must match; array 0 has shape \[2, 3\] and array 1 has shape \[2, 4\]/));
  assert.throws(() => mx.concatenate([mx.zeros([2, 3]), mx.zeros([3])]), engineErr(/^\[concatenate\] all arrays must have the same number of dimensions/));
  assert.throws(() => mx.concatenate([]), engineErr(/^\[concatenate\] needs at least one array/));
  assert.throws(() => mx.concatenate([mx.array(1), mx.array(2)]), engineErr(/^\[concatenate\] zero-dimensional arrays cannot be concatenated/));
  assert.throws(() => mx.concatenate([mx.zeros([2, 3])], 2), engineErr(/^\[concatenate\] axis 2 is out of bounds for an array with 2 dimensions/));
  assert.throws(() => mx.stack([mx.zeros([2, 3]), mx.zeros([3, 2])]), engineErr(/^\[stack\] all arrays must have the same shape; array 0 has shape \[2, 3\] and array 1 has shape \[3, 2\]/));
  assert.throws(() => mx.stack([mx.zeros([2])], 2), engineErr(/^\[stack\] axis 2 is out of bounds/));
  assert.throws(() => mx.split(mx.zeros([5, 2]), 2), engineErr(/^\[split\] an axis of size 5 cannot be split into 2 equal sections/));
  assert.throws(() => mx.split(mx.zeros([4]), 0), engineErr(/^\[split\] the number of sections must be positive/));
  assert.throws(() => mx.split(mx.zeros([4]), 2, 1), engineErr(/^\[split\] axis 1 is out of bounds/));
});

test("errors: pad / repeat / tile / triangles / diagonals", () => {
  const a = mx.zeros([2, 3]);
  assert.throws(() => mx.pad(a, -1), engineErr(/^\[pad\] pad widths must be non-negative/));
  assert.throws(() => mx.pad(a, [[1, 1], [1, 1], [1, 1]]), engineErr(/^\[pad\] pad widths need one \(before, after\) pair per axis: got 3/));
  assert.throws(() => mx.pad(a, 1, "reflect" as any), engineErr(/^\[pad\] mode must be 'constant' or 'edge', got 'reflect'/));
  assert.throws(() => mx.pad(mx.zeros([0, 3]), 1, "edge"), engineErr(/^\[pad\] cannot pad an empty axis \(0\) in edge mode/));
  assert.throws(() => mx.pad(a, 1, "constant", mx.ones([2])), engineErr(/^\[pad\] constantValues must be a single value/));
  assert.throws(() => mx.repeat(a, -1, 0), engineErr(/^\[repeat\] repeats must be non-negative/));
  assert.throws(() => mx.repeat(a, [1, 2], 1), engineErr(/^\[repeat\] repeats has 2 entries for an axis of size 3/));
  assert.throws(() => mx.tile(a, [-1]), engineErr(/^\[tile\] reps must be non-negative/));
  assert.throws(() => mx.triu(mx.zeros([3])), engineErr(/^\[triu\] expected an array with at least 2 dimensions, got 1/));
  assert.throws(() => mx.tril(mx.zeros([3])), engineErr(/^\[tril\] expected an array with at least 2 dimensions/));
  assert.throws(() => mx.diagonal(a, 0, 1, -1), engineErr(/^\[diagonal\] axis1 and axis2 must be different/));
  assert.throws(() => mx.diag(mx.zeros([2, 2, 2])), engineErr(/^\[diag\] expected a 1-D or 2-D array, got 3 dimensions/));
});

test("errors: vmap", () => {
  const f = (x: MxArray, y: MxArray) => mx.add(x, y);
  assert.throws(() => vmap(f)(mx.zeros([3]), mx.zeros([4])), engineErr(/^\[vmap\] inconsistent sizes for the mapped axes: 3 and 4/));
  assert.throws(() => vmap(f, null)(mx.zeros([3]), mx.zeros([3])), engineErr(/^\[vmap\] at least one input must be mapped/));
  assert.throws(() => vmap(f, [0])(mx.zeros([3]), mx.zeros([3])), engineErr(/^\[vmap\] inAxes has 1 entries for 2 argument/));
  assert.throws(() => vmap(f, 2)(mx.zeros([3]), mx.zeros([3])), engineErr(/^\[vmap\] axis 2 is out of bounds for argument 0 with 1 dimension/));
  assert.throws(() => vmap(f, 0, 3)(mx.zeros([3]), mx.zeros([3])), engineErr(/^\[vmap\] axis 3 is out of bounds for the output/));
  assert.throws(() => vmap(() => 3 as any)(mx.zeros([3])), engineErr(/^\[vmap\] fn must return arrays/));
});

test("random slices and slice updates agree with Python slicing (reference in JS)", () => {
  const r = rng(77);
  const ri = (lo: number, hi: number) => lo + Math.floor(r() * (hi - lo + 1));
  // Python's slice.indices(): the positions a[start:stop:step] visits on an axis of size n.
  const positions = (n: number, b: number, e: number, s: number) => {
    if (b < 0) b += n;
    if (e < 0) e += n;
    b = s > 0 ? Math.min(Math.max(b, 0), n) : Math.min(Math.max(b, -1), n - 1);
    e = s > 0 ? Math.min(Math.max(e, 0), n) : Math.min(Math.max(e, -1), n - 1);
    const out: number[] = [];
    for (let i = b; s > 0 ? i < e : i > e; i += s) out.push(i);
    return out;
  };
  for (let trial = 0; trial < 200; trial++) {
    const nd = ri(1, 3);
    const shape = Array.from({ length: nd }, () => ri(0, 6));
    const size = shape.reduce((x, y) => x * y, 1);
    const a = mx.reshape(mx.arange(0, size, 1, mx.int32), shape);
    const start = shape.map((n) => ri(-n - 2, n + 2)), stop = shape.map((n) => ri(-n - 2, n + 2));
    const steps = shape.map(() => { const s = ri(-3, 3); return s === 0 ? 1 : s; });
    const pos = shape.map((n, d) => positions(n, start[d], stop[d], steps[d]));
    const rowMajor = (idx: number[]) => idx.reduce((acc, v, d) => acc * shape[d] + v, 0);
    const expected: number[] = [];
    const walk = (d: number, idx: number[]) => {
      if (d === nd) { expected.push(rowMajor(idx)); return; }
      for (const p of pos[d]) walk(d + 1, [...idx, p]);
    };
    walk(0, []);
    const s = mx.slice(a, start, stop, steps);
    assert.deepEqual(s.shape, pos.map((p) => p.length), `shape for ${shape} ${start} ${stop} ${steps}`);
    assert.deepEqual(Array.from(s.toTypedArray() as Int32Array), expected, `values for ${shape} ${start} ${stop} ${steps}`);
    const u = mx.sliceUpdate(a, -1, start, stop, steps);
    const want = Array.from({ length: size }, (_, i) => i);
    for (const k of expected) want[k] = -1;
    assert.deepEqual(Array.from(u.toTypedArray() as Int32Array), want);
  }
});

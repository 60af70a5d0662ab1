// MLX affine quantization: packing against hand-computed words, quantize/dequantize bit for bit against a NumPy
// transcription of MLX's CPU algorithm, round-trip bounds, quantizedMatmul against matmul with the dequantized
// weight (every width, group size, layout, dtype and ISA level), gradients, errors, and the nn layers.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mx, nn, EngineError } from "../src/index.js";
import type { MxArray } from "../src/index.js";
import { native } from "../src/core/native.js";
import { runGradCases } from "./helpers/gradcheck.js";
import { randn } from "./helpers/random.js";

const BITS = [2, 3, 4, 5, 6, 8];
const GROUPS = [32, 64, 128];
const err = (re: RegExp) => (e: unknown) => e instanceof EngineError && re.test((e as Error).message);
const words = (a: MxArray) => Array.from(a.toTypedArray() as Uint32Array);
const f32 = (a: MxArray) => Array.from(a.astype(mx.float32).toFloat32Array());
const arr = (data: ArrayLike<number>, shape: number[], dt = mx.float32) => mx.array(Float32Array.from(data), mx.float32, shape).astype(dt);

// ---- packing, by hand ----
// One group of 32 values w = n - code (n = 2^bits - 1): min 0 and max n, so the max is the edge of larger
// magnitude, scale = -(n - 0) / n = -1, bias = n and code = (w - n) / -1 exactly. Codes pack as a little-endian
// bit stream: element i in bits [i·bits, (i+1)·bits) of the row's words (3/5/6-bit codes straddle words).
const HAND: Record<number, { codes: number[]; words: number[] }> = {
  2: { codes: Array.from({ length: 32 }, (_, i) => i % 4), words: [0xe4e4e4e4, 0xe4e4e4e4] },
  3: { codes: Array.from({ length: 32 }, (_, i) => i % 8), words: [0x88fac688, 0xc688fac6, 0xfac688fa] },
  4: { codes: Array.from({ length: 32 }, (_, i) => 15 - (i % 16)), words: [0x89abcdef, 0x01234567, 0x89abcdef, 0x01234567] },
  5: { codes: Array.from({ length: 32 }, (_, i) => i % 32), words: [0x8a418820, 0xc5a92839, 0xca307b9a, 0x38bdab49, 0xffbbcdeb] },
  6: {
    codes: [0, 63, ...Array.from({ length: 30 }, (_, i) => ((i + 2) * 7) % 64)],
    words: [0xdc54efc0, 0x6ff8c6a8, 0xa626d434, 0xcc17edf0, 0x6be885a4, 0x6522c4f7],
  },
  8: { codes: [...Array.from({ length: 31 }, (_, i) => i * 8), 255], words: [0x18100800, 0x38302820, 0x58504840, 0x78706860, 0x98908880, 0xb8b0a8a0, 0xd8d0c8c0, 0xfff0e8e0] },
};

for (const bits of BITS) {
  test(`packing: ${bits}-bit hand-computed words, scale sign and bias`, () => {
    const { codes, words: expected } = HAND[bits];
    const n = 2 ** bits - 1;
    // Max edge: negative scale, bias = max. Min edge (the mirror image): positive scale, bias = min. Same codes.
    for (const [w, scale, bias] of [[codes.map((c) => n - c), -1, n], [codes.map((c) => c - n), 1, -n]] as const) {
      const q = mx.quantize(arr(w, [1, 32]), { groupSize: 32, bits });
      assert.deepEqual(q.wq.shape, [1, bits]);
      assert.deepEqual(words(q.wq), expected, `${bits}-bit words`);
      assert.deepEqual(f32(q.scales), [scale]);
      assert.deepEqual(f32(q.biases), [bias]);
      assert.deepEqual(f32(mx.dequantize(q.wq, q.scales, q.biases, { groupSize: 32, bits })), Array.from(w));
    }
  });
}

test("packing: constant and zero groups (bias 0 when the edge rounds to code 0), tuple destructuring", () => {
  const w = arr([...Array(32).fill(0), ...Array(32).fill(1.5)], [1, 64]);
  const [wq, scales, biases] = mx.quantize(w, { groupSize: 32, bits: 4 });
  assert.deepEqual(words(wq), Array(8).fill(0));
  assert.deepEqual(f32(biases), [0, 1.5]);
  assert.equal(f32(scales)[0], Math.fround(-1e-7));
  assert.deepEqual(f32(mx.dequantize(wq, scales, biases, { groupSize: 32, bits: 4 })), f32(w));
});

// ---- bit for bit against MLX's algorithm (mlx/backend/cpu/quantized.cpp, transcribed to NumPy) ----
const QREF = String.raw`
import json, sys
import numpy as np
def to_dtype(x, dt):
    x = np.asarray(x, np.float32)
    if dt == "float16": return x.astype(np.float16).astype(np.float32)
    if dt == "bfloat16":
        u = x.view(np.uint32).astype(np.uint64)
        r = ((u + 0x7fff + ((u >> 16) & 1)) >> 16) << 16
        return r.astype(np.uint32).view(np.float32)
    return x
def quantize(w, gs, bits):
    rows, K = w.shape
    g = w.reshape(-1, gs)
    hi = g.max(1); lo = g.min(1)
    nb = np.float32(2 ** bits - 1)
    use_lo = np.abs(lo) > np.abs(hi)
    scale = np.maximum((hi - lo) / nb, np.float32(1e-7)).astype(np.float32)
    scale = np.where(use_lo, scale, -scale).astype(np.float32)
    edge = np.where(use_lo, lo, hi).astype(np.float32)
    q0 = np.rint(edge / scale)
    nz = q0 != 0
    scale = np.where(nz, edge / np.where(nz, q0, np.float32(1)), scale).astype(np.float32)
    bias = np.where(nz, edge, np.float32(0)).astype(np.float32)
    q = np.clip(np.rint((g - bias[:, None]) / scale[:, None]), 0, nb).astype(np.uint64).reshape(rows, K)
    words = np.zeros((rows, K * bits // 32), np.uint64)
    for i in range(K):
        pos = i * bits; wi = pos // 32; sh = pos % 32
        words[:, wi] |= (q[:, i] << np.uint64(sh)) & np.uint64(0xffffffff)
        if sh + bits > 32: words[:, wi + 1] |= q[:, i] >> np.uint64(32 - sh)
    return words.astype(np.uint32), scale, bias, q
out = []
for c in json.load(sys.stdin):
    w = np.array(c["w"], np.float32).reshape(c["shape"])
    wq, s, b, q = quantize(w, c["gs"], c["bits"])
    dt = c["dtype"]
    s_t, b_t = to_dtype(s, dt), to_dtype(b, dt)
    # mx.dequantize: scale * q rounded to the dtype, then + bias rounded (float32 arithmetic)
    deq = to_dtype(to_dtype(q.reshape(-1, c["gs"]) * s_t[:, None], dt) + b_t[:, None], dt)
    out.append({"wq": wq.ravel().tolist(), "scales": s_t.tolist(), "biases": b_t.tolist(), "deq": deq.ravel().tolist()})
json.dump(out, sys.stdout)
`;

interface QCase { w: number[]; shape: number[]; gs: number; bits: number; dtype: string }
function qref(cases: QCase[]): { wq: number[]; scales: number[]; biases: number[]; deq: number[] }[] {
  const r = spawnSync("python3", ["-c", QREF], { input: JSON.stringify(cases), maxBuffer: 1 << 30, encoding: "utf8" });
  if (r.status !== 0) throw new Error(`python reference failed: ${r.stderr}`);
  return JSON.parse(r.stdout);
}

// Rows with offsets and outliers so every sign case and clamping occurs; one row spans several groups.
function weights(rows: number, K: number, seed: number): Float64Array {
  const w = randn([rows, K], seed);
  for (let i = 0; i < w.length; i++) {
    const row = Math.floor(i / K);
    w[i] = w[i] * (1 + (row % 3)) + (row % 4 === 1 ? 3 : row % 4 === 2 ? -2.5 : 0);
    if (i % 97 === 13) w[i] *= 6;
  }
  return w;
}

{
  const cases: (QCase & { engine: MxArray })[] = [];
  let seed = 1;
  for (const dtype of ["float32", "bfloat16", "float16"])
    for (const bits of BITS)
      for (const gs of GROUPS) {
        const engine = arr(weights(6, 256, seed++), [6, 256], mx.toDtype(dtype));
        cases.push({ w: f32(engine), shape: [6, 256], gs, bits, dtype, engine });
      }
  const refs = qref(cases.map(({ engine: _, ...c }) => c));
  for (const dtype of ["float32", "bfloat16", "float16"])
    test(`quantize/dequantize of ${dtype} weights match MLX's algorithm bit for bit (all widths and groups)`, () => {
      cases.forEach((c, i) => {
        if (c.dtype !== dtype) return;
        const q = mx.quantize(c.engine, { groupSize: c.gs, bits: c.bits });
        const what = `${c.bits}-bit group ${c.gs} ${dtype}`;
        assert.equal(q.scales.dtype.name, dtype);
        assert.deepEqual(q.wq.shape, [6, (256 * c.bits) / 32]);
        assert.deepEqual(q.scales.shape, [6, 256 / c.gs]);
        assert.deepEqual(words(q.wq), refs[i].wq, `${what}: packed words`);
        assert.deepEqual(f32(q.scales), refs[i].scales.map(Math.fround), `${what}: scales`);
        assert.deepEqual(f32(q.biases), refs[i].biases.map(Math.fround), `${what}: biases`);
        const d = mx.dequantize(q.wq, q.scales, q.biases, { groupSize: c.gs, bits: c.bits });
        assert.equal(d.dtype.name, dtype);
        assert.deepEqual(f32(d), refs[i].deq.map(Math.fround), `${what}: dequantized values`);
      });
    });
}

test("round trip: |dequantize(quantize(w)) − w| ≤ |scale|/2 inside the grid, ≤ |scale| where MLX's exact-edge grid clamps", () => {
  for (const bits of BITS)
    for (const gs of GROUPS) {
      const w = arr(weights(8, 384, 100 + bits * 7 + gs), [8, 384]);
      const q = mx.quantize(w, { groupSize: gs, bits });
      const d = f32(mx.dequantize(q.wq, q.scales, q.biases, { groupSize: gs, bits })), x = f32(w);
      const s = f32(q.scales), b = f32(q.biases);
      const n = 2 ** bits - 1;
      let worstInside = 0, worstAll = 0;
      for (let i = 0; i < x.length; i++) {
        const g = Math.floor(i / gs), sc = Math.abs(s[g]);
        const lo = Math.min(b[g], b[g] + n * s[g]), hi = Math.max(b[g], b[g] + n * s[g]);
        const e = Math.abs(d[i] - x[i]) / sc;
        if (x[i] >= lo && x[i] <= hi) worstInside = Math.max(worstInside, e);
        worstAll = Math.max(worstAll, e);
      }
      assert.ok(worstInside <= 0.5 + 1e-3, `${bits}-bit g${gs}: ${worstInside} scales inside the grid`);
      assert.ok(worstAll <= 1 + 1e-3, `${bits}-bit g${gs}: ${worstAll} scales at a clamped end`);
      // The error per bit width: each extra bit halves the step (hi − lo) / (2^bits − 1).
      const range = Math.max(...x.slice(0, gs)) - Math.min(...x.slice(0, gs));
      assert.ok(Math.abs(d[0] - x[0]) <= range / n + 1e-6);
    }
});

// ---- quantizedMatmul ----

function maxRel(a: MxArray, b: MxArray): number {
  const x = f32(a), y = f32(b);
  let m = 0, r = 0;
  for (let i = 0; i < x.length; i++) m = Math.max(m, Math.abs(x[i] - y[i])), r = Math.max(r, Math.abs(y[i]));
  return m / Math.max(r, 1e-30);
}

// Half-precision results differ from "matmul with the dequantized weight" by that weight's own rounding to the
// half type (mx.dequantize rounds scale·q and + bias). The streaming kernels (M ≤ 8) use scale·q + bias
// unrounded, so against the exact product (float64) only the output's rounding remains; the prefill path
// multiplies the dequantized tiles, i.e. equals the dense reference.
const TOL: Record<string, { dense: number; exact: number }> = {
  float32: { dense: 1e-5, exact: 1e-5 }, bfloat16: { dense: 3e-2, exact: 5e-3 }, float16: { dense: 5e-3, exact: 1e-3 },
};

for (const bits of BITS)
  test(`quantizedMatmul ${bits}-bit equals matmul with the dequantized weight (M 1/3/33, groups 32/64/128, transpose, f32/bf16/f16)`, () => {
    for (const gs of GROUPS)
      for (const transpose of [true, false]) {
        const [rows, cols] = transpose ? [96, 256] : [256, 128];  // W as stored: [N, K] or [K, N]
        const w = arr(weights(rows, cols, bits * 31 + gs), [rows, cols]);
        for (const dtype of [mx.float32, mx.bfloat16, mx.float16]) {
          const q = mx.quantize(w.astype(dtype), { groupSize: gs, bits });
          const dense = mx.dequantize(q.wq, q.scales, q.biases, { groupSize: gs, bits });
          const exact = mx.dequantize(q.wq, q.scales.astype(mx.float64), q.biases.astype(mx.float64), { groupSize: gs, bits });
          const orient = (d: MxArray) => (transpose ? mx.transpose(d) : d);
          for (const M of [1, 3, 33]) {
            const x = arr(randn([M, 256], M + gs), [M, 256], dtype);
            const y = mx.quantizedMatmul(x, q.wq, q.scales, q.biases, { groupSize: gs, bits, transpose });
            const ref = mx.matmul(x, orient(dense));
            assert.equal(y.dtype, dtype);
            assert.deepEqual(y.shape, ref.shape);
            const what = `${bits}-bit g${gs} transpose=${transpose} ${dtype.name} M=${M}`;
            const e = maxRel(y, ref), ex = maxRel(y, mx.matmul(x.astype(mx.float64), orient(exact)));
            assert.ok(e <= TOL[dtype.name].dense, `${what}: relative error ${e} against matmul with the dequantized weight`);
            if (transpose && M <= 8) assert.ok(ex <= TOL[dtype.name].exact, `${what}: relative error ${ex} against the exact product`);
          }
        }
      }
  });

test("quantizedMatmul: batch dims of x, a batched W broadcast against x, non-contiguous x, float64 x, K = 0 rows", () => {
  const w = arr(weights(2 * 64, 128, 5), [2, 64, 128]);
  const q = mx.quantize(w, { groupSize: 64, bits: 4 });
  assert.deepEqual(q.wq.shape, [2, 64, 16]);
  const dense = mx.dequantize(q.wq, q.scales, q.biases, { groupSize: 64, bits: 4 });
  const x = arr(randn([3, 1, 5, 128], 9), [3, 1, 5, 128]);
  const y = mx.quantizedMatmul(x, q.wq, q.scales, q.biases, { groupSize: 64, bits: 4 });
  assert.deepEqual(y.shape, [3, 2, 5, 64]);
  assert.ok(maxRel(y, mx.matmul(x, mx.swapaxes(dense, -1, -2))) < 1e-5);
  // 2-D W: any leading dims of x; a transposed (strided) x; float64 x promotes the result.
  const q2 = mx.quantize(mx.reshape(mx.slice(w, [0, 0, 0], [1, 64, 128]), [64, 128]), { groupSize: 32, bits: 8 });
  const d2 = mx.dequantize(q2.wq, q2.scales, q2.biases, { groupSize: 32, bits: 8 });
  const xt = mx.swapaxes(arr(randn([2, 128, 7], 3), [2, 128, 7]), -1, -2);
  const y2 = mx.quantizedMatmul(xt, q2.wq, q2.scales, q2.biases, { groupSize: 32, bits: 8 });
  assert.deepEqual(y2.shape, [2, 7, 64]);
  assert.ok(maxRel(y2, mx.matmul(xt, mx.transpose(d2))) < 1e-5);
  const x64 = mx.astype(xt, mx.float64);
  const y64 = mx.quantizedMatmul(x64, q2.wq, q2.scales, q2.biases, { groupSize: 32, bits: 8 });
  assert.equal(y64.dtype, mx.float64);
  const d64 = mx.dequantize(q2.wq, q2.scales.astype(mx.float64), q2.biases.astype(mx.float64), { groupSize: 32, bits: 8 });
  assert.ok(maxRel(y64, mx.matmul(x64, mx.transpose(d64))) < 1e-12);
  const v = mx.quantizedMatmul(arr(randn([128], 4), [128]), q2.wq, q2.scales, q2.biases, { groupSize: 32, bits: 8 });
  assert.deepEqual(v.shape, [64]);
  const empty = mx.quantizedMatmul(mx.zeros([0, 128]), q2.wq, q2.scales, q2.biases, { groupSize: 32, bits: 8 });
  assert.deepEqual(empty.shape, [0, 64]);
});

// Every ISA level's decode kernels, each in a process whose HEARTH_ISA caps the dispatch.
for (const isa of ["generic", "avx2", "avx512"]) {
  test(`quantizedMatmul kernels under HEARTH_ISA=${isa} match matmul with the dequantized weight`, () => {
    const script = `
      import { mx } from ${JSON.stringify(new URL("../src/index.js", import.meta.url).href)};
      import { native } from ${JSON.stringify(new URL("../src/core/native.js", import.meta.url).href)};
      import { randn } from ${JSON.stringify(new URL("./helpers/random.js", import.meta.url).href)};
      const out = { kernel: native.quantizedKernelName(), worst: 0 };
      const arr = (d, s, dt) => mx.array(Float32Array.from(d), mx.float32, s).astype(dt);
      for (const dt of ["float32", "bfloat16", "float16"])
        for (const bits of [4, 8, 3, 2, 5, 6])
          for (const gs of [32, 64, 128])
            for (const M of [1, 2, 5, 9]) {
              const q = mx.quantize(arr(randn([40, 384], bits + gs), [40, 384], dt), { groupSize: gs, bits });
              const d = mx.dequantize(q.wq, q.scales, q.biases, { groupSize: gs, bits });
              const x = arr(randn([M, 384], M), [M, 384], dt);
              const a = mx.quantizedMatmul(x, q.wq, q.scales, q.biases, { groupSize: gs, bits }).astype("float32").toFloat32Array();
              const b = mx.matmul(x, mx.transpose(d)).astype("float32").toFloat32Array();
              let m = 0, r = 0;
              for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i])), r = Math.max(r, Math.abs(b[i]));
              const tol = dt === "bfloat16" ? 3e-2 : dt === "float16" ? 5e-3 : 1e-5;
              out.worst = Math.max(out.worst, m / r / tol);
            }
      console.log(JSON.stringify(out));`;
    const r = spawnSync(process.execPath, ["--input-type=module", "-e", script], { env: { ...process.env, HEARTH_ISA: isa }, encoding: "utf8" });
    assert.equal(r.status, 0, r.stderr);
    const res = JSON.parse(r.stdout.trim().split("\n").pop()!);
    if (isa === "generic") assert.match(res.kernel, /^q4-bf16:generic q4-f32:generic q8:generic$/);
    if (isa === "avx2") assert.doesNotMatch(res.kernel, /avx512/);
    assert.ok(res.worst <= 1, `kernels ${res.kernel}: worst error ${res.worst} tolerances`);
  });
}

// ---- gradients ----

const gq = (() => {
  const q = mx.quantize(arr(weights(32, 64, 77), [32, 64]), { groupSize: 32, bits: 4 });
  const qt = mx.quantize(arr(weights(64, 32, 78), [64, 32]), { groupSize: 32, bits: 3 });
  return { q, qt };
})();
runGradCases("quantized", [
  { name: "quantizedMatmul d/dx (transpose)", shapes: [[3, 64]],
    fn: (x) => mx.quantizedMatmul(x, gq.q.wq, gq.q.scales, gq.q.biases, { groupSize: 32, bits: 4 }) },
  { name: "quantizedMatmul d/dx, batch of 2 × 11 rows (the GEMM path)", shapes: [[2, 11, 64]],
    fn: (x) => mx.quantizedMatmul(x, gq.q.wq, gq.q.scales, gq.q.biases, { groupSize: 32, bits: 4 }) },
  { name: "quantizedMatmul d/dx (transpose false)", shapes: [[2, 64]],
    fn: (x) => mx.quantizedMatmul(x, gq.qt.wq, gq.qt.scales, gq.qt.biases, { groupSize: 32, bits: 3, transpose: false }) },
  { name: "quantizedMatmul d/dscales, d/dbiases", shapes: [[3, 64], [32, 2], [32, 2]], argnums: [1, 2],
    fn: (x, s, b) => mx.quantizedMatmul(x, gq.q.wq, s, b, { groupSize: 32, bits: 4 }) },
  { name: "quantizedMatmul d/dscales, d/dbiases (transpose false)", shapes: [[2, 64], [64, 1], [64, 1]], argnums: [0, 1, 2],
    fn: (x, s, b) => mx.quantizedMatmul(x, gq.qt.wq, s, b, { groupSize: 32, bits: 3, transpose: false }) },
  { name: "dequantize d/dscales, d/dbiases", shapes: [[32, 2], [32, 2]],
    fn: (s, b) => mx.dequantize(gq.q.wq, s, b, { groupSize: 32, bits: 4 }) },
]);

test("quantizedMatmul's vjp for x is quantizedMatmul of the cotangent with transpose flipped; none for the codes", () => {
  const { wq, scales, biases } = gq.q;
  const x = arr(randn([4, 64], 1), [4, 64]), cot = arr(randn([4, 32], 2), [4, 32]);
  const [, [dx]] = mx.vjp((a: MxArray) => mx.quantizedMatmul(a, wq, scales, biases, { groupSize: 32, bits: 4 }), [x], [cot]) as [MxArray[], MxArray[]];
  const want = mx.quantizedMatmul(cot, wq, scales, biases, { groupSize: 32, bits: 4, transpose: false });
  assert.deepEqual(f32(dx), f32(want));
  const u = mx.astype(wq, mx.float32);
  assert.throws(() => mx.grad((w: MxArray) => mx.sum(mx.quantizedMatmul(x, mx.astype(w, mx.uint32), scales, biases, { groupSize: 32, bits: 4 })))(u),
    (e: unknown) => e instanceof Error);
});

// ---- errors ----

test("errors: group sizes, bit widths, shapes, dtypes, modes", () => {
  const w = mx.zeros([4, 64]);
  assert.throws(() => mx.quantize(mx.zeros([4, 48]), { groupSize: 32 }), err(/^\[quantize\] the last dimension \(48\) must be divisible by the group size 32/));
  assert.throws(() => mx.quantize(w, { bits: 7 }), err(/^\[quantize\] 7 bits are not supported; use 2, 3, 4, 5, 6 or 8/));
  assert.throws(() => mx.quantize(w, { bits: 1 }), err(/^\[quantize\] 1 bits are not supported/));
  assert.throws(() => mx.quantize(w, { groupSize: 16 }), err(/^\[quantize\] group size 16 is not supported; use 32, 64 or 128/));
  assert.throws(() => mx.quantize(mx.zeros([64])), err(/^\[quantize\] the array to quantize must have at least 2 dimensions/));
  assert.throws(() => mx.quantize(mx.zeros([4, 64], mx.int32)), err(/^\[quantize\] only floating point arrays can be quantized, got int32/));
  assert.throws(() => mx.quantize(w, { mode: "nvfp4" }), err(/^\[quantize\] quantization mode 'nvfp4' is not supported/));
  const q = mx.quantize(w, { groupSize: 32, bits: 4 });
  assert.throws(() => mx.dequantize(q.wq, mx.zeros([4, 3]), mx.zeros([4, 3]), { groupSize: 32, bits: 4 }),
    err(/^\[dequantize\] scales\/biases of shape \[4, 3\] do not match a packed weight of shape \[4, 8\] with group_size=32 and bits=4 \(expected \[4, 2\]\)/));
  assert.throws(() => mx.dequantize(q.wq, q.scales, mx.zeros([4, 1]), { groupSize: 32, bits: 4 }), err(/^\[dequantize\] scales and biases must have the same shape/));
  assert.throws(() => mx.dequantize(mx.astype(q.wq, mx.int32), q.scales, q.biases, { groupSize: 32, bits: 4 }), err(/^\[dequantize\] the packed weight must be uint32/));
  assert.throws(() => mx.dequantize(q.wq, q.scales, q.biases, { groupSize: 32, bits: 7 }), err(/^\[dequantize\] 7 bits are not supported/));
  assert.throws(() => mx.dequantize(q.wq, q.scales, q.biases, { groupSize: 64, bits: 4 }), err(/^\[dequantize\] scales\/biases of shape \[4, 2\] do not match/));
  assert.throws(() => mx.quantizedMatmul(mx.zeros([2, 48]), q.wq, q.scales, q.biases, { groupSize: 32, bits: 4 }),
    err(/^\[quantizedMatmul\] the last dimension of x \(48\) does not match the quantized matrix \(4, 64\) unpacked from shape \[4, 8\] with group_size=32, bits=4 and transpose=true/));
  assert.throws(() => mx.quantizedMatmul(mx.zeros([2, 64]), q.wq, mx.zeros([4, 4]), mx.zeros([4, 4]), { groupSize: 32, bits: 4 }),
    err(/^\[quantizedMatmul\] scales\/biases of shape \[4, 4\] do not match/));
  assert.throws(() => mx.quantizedMatmul(mx.zeros([2, 64], mx.int32), q.wq, mx.zeros([4, 2], mx.int32), mx.zeros([4, 2], mx.int32), { groupSize: 32, bits: 4 }),
    err(/^\[quantizedMatmul\] scales and biases must be floating point/));
  assert.throws(() => mx.quantizedMatmul(mx.zeros([2, 64]), q.wq, q.scales, q.biases, { groupSize: 32, bits: 6 }),
    err(/^\[quantizedMatmul\] scales\/biases of shape \[4, 2\] do not match a packed weight of shape \[4, 8\] with group_size=32 and bits=6/));
  assert.throws(() => mx.quantizedMatmul(mx.zeros([2, 64]), q.wq, q.scales, null as never), err(/^\[quantizedMatmul\] biases are required/));
});

// ---- nn ----

test("nn.QuantizedLinear.fromLinear: forward = Linear with the dequantized weight, bias kept, parameters frozen", () => {
  const lin = new nn.Linear(64, 24);
  const ql = nn.QuantizedLinear.fromLinear(lin, 32, 8);
  assert.deepEqual(ql.weight.shape, [24, 16]);
  assert.equal(ql.weight.dtype, mx.uint32);
  assert.deepEqual(ql.scales.shape, [24, 2]);
  assert.equal(ql.bias, lin.bias);
  const x = arr(randn([5, 64], 1), [5, 64]);
  const dense = mx.add(mx.matmul(x, mx.transpose(ql.dequantizedWeight())), lin.bias!);
  assert.ok(maxRel(ql.forward(x), dense) < 1e-5);
  assert.ok(maxRel(ql.forward(x), lin.forward(x)) < 2e-2, "8-bit is close to the float layer");
  const fresh = new nn.QuantizedLinear(64, 32, true, 64, 4);
  assert.deepEqual(Object.keys(mx.utils.treeFlatten(fresh.trainableParameters())), []);
  assert.deepEqual(mx.utils.treeFlatten(fresh.parameters()).map(([k]) => k).sort(), ["bias", "biases", "scales", "weight"]);
  assert.match(String(fresh), /QuantizedLinear\(inputDims=64, outputDims=32, bias=true, groupSize=64, bits=4/);
  assert.throws(() => nn.QuantizedLinear.fromLinear(new nn.Linear(48, 8), 32, 4), err(/^\[quantize\] the last dimension \(48\)/));
});

test("nn.QuantizedEmbedding: forward dequantizes the rows taken; asLinear is the quantized tied head", () => {
  const emb = new nn.Embedding(50, 64);
  const qe = nn.QuantizedEmbedding.fromEmbedding(emb, 64, 4);
  const table = qe.dequantizedWeight();
  const ids = mx.array([[3, 0, 49], [7, 7, 1]], mx.int32);
  const rows = qe.forward(ids);
  assert.deepEqual(rows.shape, [2, 3, 64]);
  assert.deepEqual(f32(rows), f32(mx.take(table, ids, 0)));
  const h = arr(randn([2, 64], 3), [2, 64]);
  assert.ok(maxRel(qe.asLinear(h), mx.matmul(h, mx.transpose(table))) < 1e-5);
});

class Tiny extends nn.Module {
  embed = new nn.Embedding(16, 64);
  layers = [new nn.Linear(64, 64), new nn.Linear(64, 48)];
  odd = new nn.Linear(48, 32);  // 48 is not divisible by 32 or 64: left as is by default
  norm = new nn.RMSNorm(64);
  forward(ids: MxArray): MxArray {
    let h = this.embed.forward(ids);
    h = this.layers[0].forward(this.norm.forward(h));
    return this.odd.forward(this.layers[1].forward(h));
  }
}

test("nn.quantize: swaps dividing Linear/Embedding leaves in place; classPredicate false/true/{groupSize, bits}", () => {
  const m = new Tiny();
  const ids = mx.array([[1, 2, 3]], mx.int32);
  const before = m.forward(ids);
  nn.quantize(m, { groupSize: 32, bits: 8 });
  assert.ok(m.embed instanceof nn.QuantizedEmbedding);
  assert.ok(m.layers[0] instanceof nn.QuantizedLinear && m.layers[1] instanceof nn.QuantizedLinear);
  assert.ok(m.odd instanceof nn.Linear && !(m.odd instanceof nn.QuantizedLinear));
  assert.ok(m.norm instanceof nn.RMSNorm);
  assert.equal((m.layers[0] as unknown as nn.QuantizedLinear).bits, 8);
  assert.ok(maxRel(m.forward(ids), before) < 3e-2);

  const m2 = new Tiny();
  const seen: string[] = [];
  nn.quantize(m2, {
    classPredicate: (path, mod) => {
      seen.push(path);
      if (path === "embed") return false;
      if (path === "layers.1") return { groupSize: 32, bits: 3 };
      return mod instanceof nn.Linear && (mod.weight.shape[1] % 64 === 0);
    },
  });
  assert.ok(seen.includes("norm") && seen.includes("odd"));
  assert.ok(m2.embed instanceof nn.Embedding && !(m2.embed instanceof nn.QuantizedEmbedding));
  const l0 = m2.layers[0] as unknown as nn.QuantizedLinear, l1 = m2.layers[1] as unknown as nn.QuantizedLinear;
  assert.equal(l0.bits, 4), assert.equal(l0.groupSize, 64);
  assert.equal(l1.bits, 3), assert.equal(l1.groupSize, 32);
  assert.throws(() => nn.quantize(new Tiny(), { classPredicate: (p) => p === "norm" }), err(/^\[nn.quantize\] unable to quantize 'norm' of type RMSNorm/));
  assert.throws(() => nn.quantize(new Tiny(), { classPredicate: (p) => p === "odd" }), err(/^\[nn.quantize\] cannot quantize 'odd': \[quantize\] the last dimension \(48\)/));
});

test("QLoRA: gradients flow through a frozen QuantizedLinear to the trainable layer before it", () => {
  class Net extends nn.Module {
    a = new nn.Linear(32, 64, false);
    b = nn.QuantizedLinear.fromLinear(new nn.Linear(64, 16), 64, 4);
    forward(x: MxArray) { return this.b.forward(this.a.forward(x)); }
  }
  const net = new Net();
  const x = arr(randn([3, 32], 5), [3, 32]);
  const loss = (model: Net, inp: MxArray) => mx.sum(mx.square(model.forward(inp)));
  const [, grads] = nn.valueAndGrad(net, loss)(net, x) as [MxArray, any];
  const keys = mx.utils.treeFlatten(grads).map(([k]: [string, unknown]) => k);
  assert.ok(keys.includes("a.weight"), `gradients for ${keys.join(", ")}`);
  assert.ok(!keys.some((k: string) => k.startsWith("b.weight") || k.startsWith("b.scales")));
  // Against the same network with b dequantized into a plain Linear.
  const dense = new nn.Linear(64, 16);
  dense.weight = net.b.dequantizedWeight(), dense.bias = net.b.bias!;
  const ga = mx.grad((w: MxArray) => mx.sum(mx.square(dense.forward(mx.matmul(x, mx.transpose(w))))))(net.a.weight) as MxArray;
  assert.ok(maxRel(grads.a.weight, ga) < 1e-4);
});

test("MLX's positional forms: quantize(w, groupSize, bits), dequantize(..., groupSize, bits), quantizedMatmul(..., transpose, groupSize, bits)", () => {
  const w = arr(weights(8, 64, 3), [8, 64]);
  const a = mx.quantize(w, { groupSize: 32, bits: 6 }), [wq, s, b] = mx.quantize(w, 32, 6);
  assert.deepEqual(words(wq), words(a.wq));
  assert.deepEqual(f32(mx.dequantize(wq, s, b, 32, 6)), f32(mx.dequantize(a.wq, a.scales, a.biases, { groupSize: 32, bits: 6 })));
  const x = arr(randn([2, 64], 1), [2, 64]), xt = arr(randn([2, 8], 2), [2, 8]);
  assert.deepEqual(f32(mx.quantizedMatmul(x, wq, s, b, true, 32, 6)), f32(mx.quantizedMatmul(x, wq, s, b, { groupSize: 32, bits: 6 })));
  assert.deepEqual(f32(mx.quantizedMatmul(xt, wq, s, b, false, 32, 6)),
    f32(mx.quantizedMatmul(xt, wq, s, b, { transpose: false, groupSize: 32, bits: 6 })));
});

test("quantized kernel names are reported", () => {
  assert.match(native.quantizedKernelName(), /^q4-bf16:\S+ q4-f32:\S+ q8:\S+$/);
});

// mx.fast: each fused op against a NumPy implementation of its formula, the fused kernel against its
// plain-op fallback (the gradient's definition) on many shapes, gradients by finite differences, and errors.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mx, EngineError } from "../src/index.js";
import type { MxArray } from "../src/index.js";
import { native } from "../src/core/native.js";
import { track } from "../src/core/array.js";
import { inp, runOpCases, assertClose, type OpCase } from "./helpers/op-cases.js";
import { runGradCases } from "./helpers/gradcheck.js";
import { randn, randint } from "./helpers/random.js";

const F = mx.fast;

// ---- the fallbacks (plain-op graphs), reached through the binding's trailing `fallback` flag ----
const fallback = {
  rmsNorm: (x: MxArray, w: MxArray | null, eps: number) => track(native.fastRmsNorm(x, w, eps, true)),
  layerNorm: (x: MxArray, w: MxArray | null, b: MxArray | null, eps: number) => track(native.fastLayerNorm(x, w, b, eps, true)),
  rope: (x: MxArray, dims: number, o: { traditional?: boolean; base?: number | null; scale?: number; offset?: number | MxArray; freqs?: MxArray | null } = {}) =>
    track(native.fastRope(x, dims, o.traditional ?? false, o.freqs ? null : o.base ?? 10000, o.scale ?? 1, o.offset ?? 0, o.freqs ?? null, true)),
  sdpa: (q: MxArray, k: MxArray, v: MxArray, o: { scale?: number; mask?: "causal" | MxArray | null; slidingWindow?: number | null } = {}) =>
    track(native.fastScaledDotProductAttention(q, k, v, o.scale ?? null, o.mask ?? null, o.slidingWindow ?? null, true)),
};

// ---- NumPy references (expressions over a0, a1, …; computed in float64) ----
const py = (v: number | boolean) => (typeof v === "boolean" ? (v ? "True" : "False") : String(v));

/** Rotary embedding in NumPy: x1, x2 = halves (or even/odd features); angle = (offset + t) · scale · inv_i. */
function npRope(x: string, dims: number, o: { traditional?: boolean; base?: number; scale?: number; offset?: string; freqs?: string } = {}): string {
  const inv = o.freqs ? `(1.0 / np.asarray(${o.freqs}, np.float64))` : `(${o.base ?? 10000}.0 ** (-np.arange(0, ${dims}, 2) / ${dims}))`;
  return `(lambda x, dims, trad, inv, scale, off: (lambda th: (lambda c, s, x1, x2: np.concatenate([` +
    `(np.stack([x1 * c - x2 * s, x1 * s + x2 * c], -1).reshape(x.shape[:-1] + (dims,)) if trad else np.concatenate([x1 * c - x2 * s, x1 * s + x2 * c], -1)), ` +
    `x[..., dims:]], -1))(np.cos(th), np.sin(th), x[..., 0:dims:2] if trad else x[..., :dims // 2], x[..., 1:dims:2] if trad else x[..., dims // 2:dims]))` +
    `(((np.arange(x.shape[-2]) + np.reshape(np.asarray(off, np.float64), (-1,) + (1,) * (x.ndim - 2))) * scale)[..., None] * inv))` +
    `(${x}.astype(np.float64), ${dims}, ${py(o.traditional ?? false)}, ${inv}, ${o.scale ?? 1}, ${o.offset ?? "0"})`;
}

/** Attention in NumPy with k/v heads repeated per group, -inf where not kept, fully masked rows giving 0. */
function npSdpa(o: { scale: number; causal?: boolean; window?: number; boolMask?: string; addMask?: string }): string {
  const Lq = "a0.shape[2]", Lk = "a1.shape[2]";
  const conds: string[] = [];
  const qpos = `(np.arange(${Lq})[:, None] + (${Lk} - ${Lq}))`, kpos = `np.arange(${Lk})[None, :]`;
  if (o.causal || o.window) conds.push(`(${kpos} <= ${qpos})`);
  if (o.window) conds.push(`(${kpos} > ${qpos} - ${o.window})`);
  if (o.boolMask) conds.push(`(${o.boolMask}).astype(bool)`);
  const keep = conds.length ? conds.join(" & ") : "True";
  const add = o.addMask ? `np.asarray(${o.addMask}, np.float64)` : "0.0";
  return `(lambda q, k, v, scale, keep, add: (lambda s: (lambda e: (e @ np.repeat(v, q.shape[1] // k.shape[1], 1)) / ` +
    `(lambda l: np.where(l > 0, l, 1))(e.sum(-1, keepdims=True)))(np.exp(s - (lambda m: np.where(np.isfinite(m), m, 0))(s.max(-1, keepdims=True)))))` +
    `(np.where(keep, (q @ np.repeat(k, q.shape[1] // k.shape[1], 1).swapaxes(-1, -2)) * scale + add, -np.inf)))` +
    `(a0.astype(np.float64), a1.astype(np.float64), a2.astype(np.float64), ${o.scale}, ${keep}, ${add})`;
}

const sh = (...s: number[]) => s;
const X = inp(randn(sh(3, 4, 16), 1), sh(3, 4, 16));
const W16 = inp(randn(sh(16), 2), sh(16));
const B16 = inp(randn(sh(16), 3), sh(16));
const R = inp(randn(sh(2, 3, 5, 8), 4), sh(2, 3, 5, 8));
const qkv = (B: number, Hq: number, Hkv: number, Lq: number, Lk: number, D: number, Dv = D, seed = 10) => [
  inp(randn(sh(B, Hq, Lq, D), seed), sh(B, Hq, Lq, D)),
  inp(randn(sh(B, Hkv, Lk, D), seed + 1), sh(B, Hkv, Lk, D)),
  inp(randn(sh(B, Hkv, Lk, Dv), seed + 2), sh(B, Hkv, Lk, Dv)),
];
const att = { rtol: 1e-4, atol: 1e-5 };

const cases: OpCase[] = [
  { name: "rmsNorm with weight", inputs: [X, W16], mx: (x, w) => F.rmsNorm(x, w, 1e-5),
    np: "a0 / np.sqrt(np.mean(a0.astype(np.float64) ** 2, axis=-1, keepdims=True) + 1e-5) * a1", rtol: 1e-5, atol: 1e-5 },
  { name: "rmsNorm without weight, eps 1e-2", inputs: [inp(randn(sh(5, 7), 5), sh(5, 7))], mx: (x) => F.rmsNorm(x, null, 1e-2),
    np: "a0 / np.sqrt(np.mean(a0.astype(np.float64) ** 2, axis=-1, keepdims=True) + 1e-2)", rtol: 1e-5, atol: 1e-5 },
  { name: "layerNorm with weight and bias", inputs: [X, W16, B16], mx: (x, w, b) => F.layerNorm(x, w, b, 1e-5),
    np: "(a0 - a0.mean(-1, keepdims=True)) / np.sqrt(a0.var(-1, keepdims=True) + 1e-5) * a1 + a2", rtol: 1e-5, atol: 1e-5 },
  { name: "layerNorm plain / weight only / bias only", inputs: [X, W16, B16],
    mx: (x, w, b) => [F.layerNorm(x, null, null, 1e-6), F.layerNorm(x, w, null, 1e-6), F.layerNorm(x, null, b, 1e-6)],
    np: "[(lambda n: n, lambda n: n * a1, lambda n: n + a2)[i]((a0 - a0.mean(-1, keepdims=True)) / np.sqrt(a0.var(-1, keepdims=True) + 1e-6)) for i in range(3)]",
    rtol: 1e-5, atol: 1e-5 },
  { name: "rope default (halves), dims = D", inputs: [R], mx: (x) => F.rope(x, 8, { offset: 0 }), np: npRope("a0", 8), rtol: 1e-5, atol: 1e-5 },
  { name: "rope traditional, dims < D, offset 3, base 500", inputs: [R], mx: (x) => F.rope(x, 6, { traditional: true, base: 500, offset: 3 }),
    np: npRope("a0", 6, { traditional: true, base: 500, offset: "3" }), rtol: 1e-5, atol: 1e-5 },
  { name: "rope halves, dims 4 of 8, scale 0.25, offset 1000", inputs: [R], mx: (x) => F.rope(x, 4, { scale: 0.25, offset: 1000 }),
    np: npRope("a0", 4, { scale: 0.25, offset: "1000" }), rtol: 1e-5, atol: 1e-5 },
  { name: "rope with explicit freqs (angle = pos / freqs)", inputs: [R, inp([1, 3, 10, 70], sh(4))],
    mx: (x, f) => F.rope(x, 8, { freqs: f, offset: 2 }), np: npRope("a0", 8, { freqs: "a1", offset: "2" }), rtol: 1e-5, atol: 1e-5,
    variants: ["transposed"] },
  { name: "rope traditional with freqs", inputs: [R, inp([2, 5, 9], sh(3))],
    mx: (x, f) => F.rope(x, 6, { traditional: true, freqs: f }), np: npRope("a0", 6, { traditional: true, freqs: "a1" }), rtol: 1e-5, atol: 1e-5,
    variants: ["transposed"] },
  { name: "rope with an int scalar array offset", inputs: [R, inp([7], sh(), "int32")], mx: (x, o) => F.rope(x, 8, { offset: o }),
    np: npRope("a0", 8, { offset: "a1" }), rtol: 1e-5, atol: 1e-5 },
  { name: "rope with one offset per batch item", inputs: [R, inp([4, 11], sh(2), "int32")], mx: (x, o) => F.rope(x, 8, { offset: o, traditional: true }),
    np: npRope("a0", 8, { offset: "a1", traditional: true }), rtol: 1e-5, atol: 1e-5 },
  { name: "rope of a 2-D input", inputs: [inp(randn(sh(6, 4), 6), sh(6, 4))], mx: (x) => F.rope(x, 4, { offset: 5 }),
    np: npRope("a0", 4, { offset: "5" }), rtol: 1e-5, atol: 1e-5 },
  { name: "sdpa no mask, MHA", inputs: qkv(2, 2, 2, 3, 5, 8), mx: (q, k, v) => F.scaledDotProductAttention(q, k, v, { scale: 0.35 }),
    np: npSdpa({ scale: 0.35 }), ...att },
  { name: "sdpa GQA 8:2 decode Lq=1 Lk=37", inputs: qkv(1, 8, 2, 1, 37, 16), mx: (q, k, v) => F.scaledDotProductAttention(q, k, v, { scale: 0.25 }),
    np: npSdpa({ scale: 0.25 }), ...att },
  { name: "sdpa GQA 4:1 causal prefill Lq=Lk", inputs: qkv(2, 4, 1, 9, 9, 8), mx: (q, k, v) => F.scaledDotProductAttention(q, k, v, { scale: 0.3, mask: "causal" }),
    np: npSdpa({ scale: 0.3, causal: true }), ...att },
  { name: "sdpa causal Lq < Lk (aligned to the end)", inputs: qkv(1, 4, 2, 4, 11, 8), mx: (q, k, v) => F.scaledDotProductAttention(q, k, v, { scale: 0.3, mask: "causal" }),
    np: npSdpa({ scale: 0.3, causal: true }), ...att },
  { name: "sdpa default scale 1/sqrt(D), Dv != D", inputs: qkv(1, 2, 1, 3, 6, 16, 4), mx: (q, k, v) => F.scaledDotProductAttention(q, k, v),
    np: npSdpa({ scale: 0.25 }), ...att },
  { name: "sdpa boolean mask [B, 1, Lq, Lk]", inputs: [...qkv(2, 4, 2, 3, 7, 8), inp(randint(sh(2, 1, 3, 7), 0, 2, 7), sh(2, 1, 3, 7), "bool")],
    mx: (q, k, v, m) => F.scaledDotProductAttention(q, k, v, { scale: 0.3, mask: m }), np: npSdpa({ scale: 0.3, boolMask: "a3" }), ...att },
  { name: "sdpa additive mask [Lq, Lk]", inputs: [...qkv(1, 4, 1, 5, 6, 8), inp(randn(sh(5, 6), 8), sh(5, 6))],
    mx: (q, k, v, m) => F.scaledDotProductAttention(q, k, v, { scale: 0.3, mask: m }), np: npSdpa({ scale: 0.3, addMask: "a3" }), ...att },
  { name: "sdpa per-head boolean mask [1, Hq, Lq, Lk]", inputs: [...qkv(1, 4, 2, 2, 5, 8), inp(randint(sh(1, 4, 2, 5), 0, 2, 9), sh(1, 4, 2, 5), "bool")],
    mx: (q, k, v, m) => F.scaledDotProductAttention(q, k, v, { scale: 0.3, mask: m }), np: npSdpa({ scale: 0.3, boolMask: "a3" }), ...att },
  { name: "sdpa sliding window 8, Lk 20", inputs: qkv(1, 4, 2, 20, 20, 8), mx: (q, k, v) => F.scaledDotProductAttention(q, k, v, { scale: 0.3, mask: "causal", slidingWindow: 8 }),
    np: npSdpa({ scale: 0.3, causal: true, window: 8 }), ...att },
  { name: "sdpa sliding window 8 decode, Lk 20", inputs: qkv(1, 2, 1, 2, 20, 8), mx: (q, k, v) => F.scaledDotProductAttention(q, k, v, { scale: 0.3, slidingWindow: 8 }),
    np: npSdpa({ scale: 0.3, window: 8 }), ...att },
  { name: "sdpa fully masked rows give 0", inputs: [...qkv(1, 2, 1, 3, 4, 8), inp([1, 0, 1, 1, 0, 0, 0, 0, 0, 1, 1, 1], sh(3, 4), "bool")],
    mx: (q, k, v, m) => F.scaledDotProductAttention(q, k, v, { scale: 0.3, mask: m }), np: npSdpa({ scale: 0.3, boolMask: "a3" }), ...att },
  { name: "sdpa causal with Lq > Lk (first queries see nothing)", inputs: qkv(1, 2, 2, 6, 4, 8), mx: (q, k, v) => F.scaledDotProductAttention(q, k, v, { scale: 0.3, mask: "causal" }),
    np: npSdpa({ scale: 0.3, causal: true }), ...att },
];
runOpCases("fast", cases);

// ---- the fused kernels against their fallbacks ----
function rand(shape: number[], seed: number, dtype: string, scale = 1): MxArray {
  return mx.astype(mx.multiply(mx.array(randn(shape, seed), mx.float32, shape), scale), dtype);
}
function tolFor(dtype: string): [number, number] {
  return dtype === "bfloat16" ? [1.6e-2, 1.6e-2] : dtype === "float16" ? [2e-3, 2e-3] : dtype === "float64" ? [1e-12, 1e-12] : [1e-5, 2e-6];
}
function assertSame(a: MxArray, b: MxArray, dtype: string, label: string) {
  assert.deepEqual(a.shape, b.shape, `${label}: shape`);
  assert.equal(a.dtype.name, b.dtype.name, `${label}: dtype`);
  const [rtol, atol] = tolFor(dtype);
  const x = a.toFloat32Array(), y = b.toFloat32Array();
  for (let i = 0; i < x.length; i++) assert.ok(Number.isFinite(x[i]), `${label}[${i}] is ${x[i]}`);
  assertClose(x, y, rtol, atol, label);
}

interface SdpaConfig {
  name: string; B: number; Hq: number; Hkv: number; Lq: number; Lk: number; D: number; Dv?: number;
  mask?: "causal" | "bool" | "add" | "boolHead" | "add-inf"; window?: number;
  /** k/v (and q) laid out [B, L, H, D] and swapped to [B, H, L, D] (a KV cache's strided views). */
  strided?: boolean;
}
const sdpaConfigs: SdpaConfig[] = [
  { name: "GQA 8:2 decode Lq=1 Lk=37", B: 1, Hq: 8, Hkv: 2, Lq: 1, Lk: 37, D: 64 },
  { name: "GQA 4:1 decode causal, batch 2", B: 2, Hq: 4, Hkv: 1, Lq: 1, Lk: 37, D: 32, mask: "causal" },
  { name: "GQA 8:2 causal prefill Lq=Lk=24", B: 1, Hq: 8, Hkv: 2, Lq: 24, Lk: 24, D: 16, mask: "causal" },
  { name: "GQA 4:1 causal Lq<Lk", B: 2, Hq: 4, Hkv: 1, Lq: 5, Lk: 23, D: 16, mask: "causal" },
  { name: "boolean mask", B: 2, Hq: 4, Hkv: 2, Lq: 6, Lk: 13, D: 16, mask: "bool" },
  { name: "per-head boolean mask", B: 1, Hq: 4, Hkv: 1, Lq: 3, Lk: 9, D: 8, mask: "boolHead" },
  { name: "additive mask", B: 1, Hq: 6, Hkv: 3, Lq: 7, Lk: 19, D: 16, mask: "add" },
  { name: "additive mask with -inf rows", B: 1, Hq: 2, Hkv: 1, Lq: 4, Lk: 9, D: 8, mask: "add-inf" },
  { name: "sliding window 8, Lk 20", B: 1, Hq: 4, Hkv: 2, Lq: 20, Lk: 20, D: 16, mask: "causal", window: 8 },
  { name: "sliding window 8 with a boolean mask", B: 1, Hq: 2, Hkv: 1, Lq: 3, Lk: 20, D: 16, mask: "bool", window: 8 },
  { name: "Dv != D, strided KV cache views", B: 2, Hq: 4, Hkv: 2, Lq: 3, Lk: 30, D: 24, Dv: 12, mask: "causal", strided: true },
  { name: "long decode (keys split over threads)", B: 1, Hq: 4, Hkv: 1, Lq: 1, Lk: 1500, D: 64 },
  { name: "long decode with a window", B: 1, Hq: 2, Hkv: 1, Lq: 2, Lk: 1300, D: 32, window: 100, strided: true },
  { name: "long causal prefill (query tiles, key blocks)", B: 1, Hq: 2, Hkv: 1, Lq: 150, Lk: 300, D: 32, mask: "causal" },
  { name: "prefill with window 40 (blocks skipped)", B: 1, Hq: 4, Hkv: 2, Lq: 200, Lk: 200, D: 16, mask: "causal", window: 40 },
  { name: "no keys", B: 1, Hq: 2, Hkv: 1, Lq: 3, Lk: 0, D: 8 },
];

for (const c of sdpaConfigs)
  for (const dtype of ["float32", "bfloat16", "float16", "float64"]) {
    if (dtype === "float64" && c.Lk > 100) continue;
    test(`fast kernel vs fallback: sdpa ${c.name} [${dtype}]`, () => {
      const Dv = c.Dv ?? c.D;
      const mk = (H: number, L: number, d: number, seed: number) =>
        c.strided ? mx.swapaxes(rand([c.B, L, H, d], seed, dtype), 1, 2) : rand([c.B, H, L, d], seed, dtype);
      const q = mk(c.Hq, c.Lq, c.D, 1), k = mk(c.Hkv, c.Lk, c.D, 2), v = mk(c.Hkv, c.Lk, Dv, 3);
      let mask: "causal" | MxArray | null = null;
      if (c.mask === "causal") mask = "causal";
      else if (c.mask === "bool") mask = mx.array(randint([c.B, 1, c.Lq, c.Lk], 0, 2, 5), mx.bool, [c.B, 1, c.Lq, c.Lk]);
      else if (c.mask === "boolHead") mask = mx.array(randint([1, c.Hq, c.Lq, c.Lk], 0, 2, 6), mx.bool, [1, c.Hq, c.Lq, c.Lk]);
      else if (c.mask === "add") mask = rand([c.Lq, c.Lk], 7, dtype);
      else if (c.mask === "add-inf") {
        const m = randn([c.Lq, c.Lk], 8);
        for (let j = 0; j < c.Lk; j++) m[c.Lk + j] = -Infinity;  // query 1 sees nothing
        for (let j = 0; j < c.Lk; j += 2) m[j] = -Infinity;
        mask = mx.array(m, dtype, [c.Lq, c.Lk]);
      }
      const opts = { scale: 1 / Math.sqrt(c.D), mask, slidingWindow: c.window ?? null };
      const fast = F.scaledDotProductAttention(q, k, v, opts);
      const ref = fallback.sdpa(q, k, v, opts);
      assert.deepEqual(fast.shape, [c.B, c.Hq, c.Lq, Dv]);
      assertSame(fast, ref, dtype, `sdpa ${c.name}`);
    });
  }

test("sdpa: a query with every key masked gets exactly 0, also under grad", () => {
  const q = rand([1, 2, 3, 4], 1, "float32"), k = rand([1, 1, 5, 4], 2, "float32"), v = rand([1, 1, 5, 4], 3, "float32");
  const m = mx.array([[true, false, true, true, true], [false, false, false, false, false], [true, true, true, true, true]], mx.bool);
  const out = F.scaledDotProductAttention(q, k, v, { mask: m });
  const vals = out.toFloat32Array();
  for (const h of [0, 1]) for (let d = 0; d < 4; d++) assert.equal(vals[h * 12 + 4 + d], 0);
  for (const x of vals) assert.ok(Number.isFinite(x));
  const g = mx.grad((qq: MxArray, kk: MxArray, vv: MxArray) => mx.sum(F.scaledDotProductAttention(qq, kk, vv, { mask: m })), [0, 1, 2])(q, k, v) as MxArray[];
  for (const gi of g) for (const x of gi.toFloat32Array()) assert.ok(Number.isFinite(x), "gradient is finite");
});

test("sdpa: NaN in a query gives NaN in its row, as the fallback (short and key-split paths)", () => {
  for (const Lk of [7, 1200]) {
    const qd = randn([1, 2, 2, 8], 1);
    qd[3] = NaN;  // head 0, query 0
    const q = mx.array(qd, mx.float32, [1, 2, 2, 8]), k = rand([1, 1, Lk, 8], 2, "float32"), v = rand([1, 1, Lk, 8], 3, "float32");
    for (const out of [F.scaledDotProductAttention(q, k, v), fallback.sdpa(q, k, v)]) {
      const o = out.toFloat32Array();
      for (let i = 0; i < o.length; i++) assert.equal(Number.isNaN(o[i]), i < 8, `Lk ${Lk} [${i}] = ${o[i]}`);
    }
  }
});

test("sdpa: half inputs whose scores overflow float16 still give finite results (softmax in float32)", () => {
  // q·k = 16 · 60 · 80 = 76800 > 65504 (float16's max): only a float32 softmax keeps this finite.
  const q = mx.astype(mx.full([1, 1, 2, 16], 60), mx.float16), k = mx.astype(mx.full([1, 1, 3, 16], 80), mx.float16);
  const v = mx.astype(mx.array(Float32Array.from({ length: 48 }, (_, i) => i % 7), mx.float32, [1, 1, 3, 16]), mx.float16);
  const out = F.scaledDotProductAttention(q, k, v, { scale: 1 });
  const ref = mx.mean(mx.astype(v, mx.float32), 2, true);  // equal scores: the mean of v
  assertClose(out.toFloat32Array(), mx.broadcastTo(ref, [1, 1, 2, 16]).toFloat32Array(), 2e-3, 2e-3, "overflowing scores");
});

test("fast kernel vs fallback: norms over dtypes, strided inputs, large values in half", () => {
  for (const dtype of ["float32", "bfloat16", "float16", "float64"]) {
    const x = mx.swapaxes(rand([4, 33, 6], 1, dtype, dtype === "float16" ? 300 : 3), 1, 2);  // [4, 6, 33], non-contiguous rows
    const w = rand([33], 2, dtype), b = rand([33], 3, dtype);
    assertSame(F.rmsNorm(x, w, 1e-5), fallback.rmsNorm(x, w, 1e-5), dtype, `rmsNorm ${dtype}`);
    assertSame(F.rmsNorm(x, null, 1e-4), fallback.rmsNorm(x, null, 1e-4), dtype, `rmsNorm no weight ${dtype}`);
    assertSame(F.layerNorm(x, w, b, 1e-5), fallback.layerNorm(x, w, b, 1e-5), dtype, `layerNorm ${dtype}`);
    assertSame(F.layerNorm(x, null, b, 1e-5), fallback.layerNorm(x, null, b, 1e-5), dtype, `layerNorm bias only ${dtype}`);
  }
});

test("rmsNorm: half inputs are normalised in float32 (x² beyond float16's range) and keep their dtype", () => {
  const x = mx.astype(mx.array([[300, -400, 500, 200]], mx.float32), mx.float16);
  const y = F.rmsNorm(x, mx.ones([4], mx.float16), 1e-5);
  assert.equal(y.dtype.name, "float16");
  const rms = Math.sqrt((300 ** 2 + 400 ** 2 + 500 ** 2 + 200 ** 2) / 4);
  assertClose(y.toFloat32Array(), [300 / rms, -400 / rms, 500 / rms, 200 / rms], 2e-3, 2e-3, "rmsNorm f16");
  assert.equal(F.rmsNorm(mx.ones([2, 3], mx.bfloat16), mx.ones([3], mx.bfloat16)).dtype.name, "bfloat16");
  assert.equal(F.layerNorm(mx.ones([2, 3], mx.bfloat16), mx.ones([3], mx.float32)).dtype.name, "float32");
});

test("fast kernel vs fallback: rope over dtypes, modes, offsets, strided input", () => {
  for (const dtype of ["float32", "bfloat16", "float16", "float64"])
    for (const traditional of [false, true]) {
      const x = mx.swapaxes(rand([2, 7, 3, 16], 4, dtype), 1, 2);  // [B, H, L, D] from [B, L, H, D]
      for (const [dims, o] of [[16, {}], [10, { offset: 37, base: 1e6 }], [4, { scale: 0.5, offset: mx.array(5, mx.int32) }],
        [16, { offset: mx.array([3, 900], mx.int64) }], [8, { freqs: mx.array([1, 2.5, 40, 1000], mx.float32), offset: 12 }]] as const) {
        const opts = { traditional, ...(o as object) } as any;
        assertSame(F.rope(x, dims, opts), fallback.rope(x, dims, opts), dtype, `rope ${dtype} dims ${dims} trad ${traditional}`);
      }
    }
});

test("rope: an int array scalar offset equals the number offset; batch offsets equal per-item ropes", () => {
  const x = rand([2, 3, 4, 8], 9, "float32");
  assert.deepEqual(F.rope(x, 8, { offset: mx.array(6, mx.int32) }).tolist(), F.rope(x, 8, { offset: 6 }).tolist());
  const both = F.rope(x, 8, { offset: mx.array([2, 9], mx.int32) }).toFloat32Array();
  const x0 = F.rope(x, 8, { offset: 2 }).toFloat32Array().slice(0, 96);
  const x1 = F.rope(x, 8, { offset: 9 }).toFloat32Array().slice(96);
  assert.deepEqual(Array.from(both.slice(0, 96)), Array.from(x0));
  assert.deepEqual(Array.from(both.slice(96)), Array.from(x1));
});

// ---- gradients (the fused ops' vjp is the fallback's) ----
const boolMask = () => mx.array([[true, false, true, true, false], [false, false, false, false, false], [true, true, false, true, true]], mx.bool);
runGradCases("fast", [
  { name: "rmsNorm", shapes: [[3, 6], [6]], fn: (x, w) => F.rmsNorm(x, w, 1e-5) },
  { name: "rmsNorm without weight", shapes: [[2, 5]], fn: (x) => F.rmsNorm(x, null, 1e-3) },
  { name: "layerNorm", shapes: [[3, 6], [6], [6]], fn: (x, w, b) => F.layerNorm(x, w, b, 1e-5) },
  { name: "rope halves", shapes: [[1, 2, 3, 8]], fn: (x) => F.rope(x, 6, { offset: 4 }) },
  { name: "rope traditional, scale", shapes: [[2, 3, 6]], fn: (x) => F.rope(x, 6, { traditional: true, scale: 0.5, offset: 1 }) },
  { name: "rope freqs (d/dx and d/dfreqs)", shapes: [[1, 3, 4], [2]], fn: (x, f) => F.rope(x, 4, { freqs: f, offset: 1 }),
    init: (v, i) => (i === 1 ? 2 + Math.abs(v) : v) },
  { name: "sdpa GQA 4:2", shapes: [[1, 4, 3, 4], [1, 2, 5, 4], [1, 2, 5, 3]], fn: (q, k, v) => F.scaledDotProductAttention(q, k, v, { scale: 0.5 }) },
  { name: "sdpa causal Lq<Lk", shapes: [[1, 2, 3, 4], [1, 1, 5, 4], [1, 1, 5, 4]], fn: (q, k, v) => F.scaledDotProductAttention(q, k, v, { scale: 0.5, mask: "causal" }) },
  { name: "sdpa sliding window", shapes: [[1, 2, 5, 4], [1, 2, 5, 4], [1, 2, 5, 4]], fn: (q, k, v) => F.scaledDotProductAttention(q, k, v, { mask: "causal", slidingWindow: 2 }) },
  { name: "sdpa boolean mask with a fully masked row", shapes: [[1, 2, 3, 4], [1, 1, 5, 4], [1, 1, 5, 4]],
    fn: (q, k, v) => F.scaledDotProductAttention(q, k, v, { scale: 0.5, mask: boolMask() }) },
  { name: "sdpa additive mask (d/dmask too)", shapes: [[1, 2, 3, 4], [1, 2, 5, 4], [1, 2, 5, 4], [3, 5]],
    fn: (q, k, v, m) => F.scaledDotProductAttention(q, k, v, { scale: 0.5, mask: m }) },
]);

test("grad of grad through fused ops matches the fallback graph", () => {
  const x = mx.array(randn([2, 5], 3), mx.float64, [2, 5]), w = mx.array(randn([5], 4), mx.float64, [5]);
  const second = (norm: (a: MxArray) => MxArray) =>
    mx.grad((a: MxArray) => mx.sum(mx.square(mx.grad((b: MxArray) => mx.sum(mx.multiply(norm(b), norm(b))))(a))))(x);
  const viaFast = second((a) => F.rmsNorm(a, w, 1e-5)), viaFallback = second((a) => fallback.rmsNorm(a, w, 1e-5));
  assertClose(viaFast.toFloat32Array(), viaFallback.toFloat32Array(), 1e-6, 1e-8, "d²/dx² rmsNorm");
  const q = mx.array(randn([1, 2, 3, 4], 5), mx.float64, [1, 2, 3, 4]), kv = mx.array(randn([1, 1, 4, 4], 6), mx.float64, [1, 1, 4, 4]);
  const att = (f: typeof F.scaledDotProductAttention) =>
    mx.grad((a: MxArray) => mx.sum(mx.square(mx.grad((b: MxArray) => mx.sum(mx.square(f(b, kv, kv, { mask: "causal" }))))(a))))(q);
  assertClose(att(F.scaledDotProductAttention).toFloat32Array(), att(fallback.sdpa).toFloat32Array(), 1e-6, 1e-8, "d²/dq² sdpa");
});

// Every ISA's decode kernels (avx512 / avx2 / portable) against the fallback, each in a process whose
// HEARTH_ISA caps the dispatch; levels above what this machine has fall back and are skipped.
for (const isa of ["generic", "avx2", "avx512"]) {
  test(`sdpa decode kernels under HEARTH_ISA=${isa} match the fallback`, () => {
    const script = `
      import { mx } from ${JSON.stringify(new URL("../src/index.js", import.meta.url).href)};
      import { native } from ${JSON.stringify(new URL("../src/core/native.js", import.meta.url).href)};
      import { randn } from ${JSON.stringify(new URL("./helpers/random.js", import.meta.url).href)};
      const out = { kernel: native.fastAttentionKernel(), worst: 0 };
      for (const dt of ["float32", "bfloat16", "float16"])
        for (const [Hq, Hkv, Lq, Lk, D, Dv] of [[8, 2, 1, 37, 64, 64], [4, 1, 3, 300, 20, 13], [2, 2, 1, 700, 256, 256]]) {
          const r = (s, seed) => mx.astype(mx.array(randn(s, seed), mx.float32, s), dt);
          const q = r([1, Hq, Lq, D], 1), k = r([1, Hkv, Lk, D], 2), v = r([1, Hkv, Lk, Dv], 3);
          const a = mx.fast.scaledDotProductAttention(q, k, v, { mask: "causal" }).toFloat32Array();
          const b = native.fastScaledDotProductAttention(q, k, v, null, "causal", null, true).toFloat32Array();
          const tol = dt === "bfloat16" ? 1.6e-2 : dt === "float16" ? 2e-3 : 2e-5;
          for (let i = 0; i < a.length; i++) out.worst = Math.max(out.worst, Math.abs(a[i] - b[i]) / (tol * (1 + Math.abs(b[i]))));
        }
      console.log(JSON.stringify(out));`;
    const r = spawnSync(process.execPath, ["--input-type=module", "-e", script], { env: { ...process.env, HEARTH_ISA: isa }, encoding: "utf8" });
    assert.equal(r.status, 0, r.stderr);
    const res = JSON.parse(r.stdout.trim().split("\n").pop()!);
    if (isa === "generic") assert.equal(res.kernel, "generic");
    assert.ok(["generic", "avx2", "avx512", "simd128", "neon"].includes(res.kernel)); // simd128: wasm; neon: aarch64
    assert.ok(res.worst <= 1, `kernel ${res.kernel}: worst error ${res.worst} tolerances`);
  });
}

// ---- errors ----
const err = (re: RegExp) => (e: unknown) => e instanceof EngineError && re.test((e as Error).message);

test("sdpa errors: head counts, head dims, masks, ranks, dtypes, window", () => {
  const q = mx.zeros([1, 3, 2, 4]), k = mx.zeros([1, 2, 5, 4]), v = mx.zeros([1, 2, 5, 4]);
  assert.throws(() => F.scaledDotProductAttention(q, k, v), err(/^\[scaledDotProductAttention\] the number of query heads \(3\) must be a multiple/));
  const q4 = mx.zeros([1, 4, 2, 4]);
  assert.throws(() => F.scaledDotProductAttention(q4, mx.zeros([1, 2, 5, 8]), mx.zeros([1, 2, 5, 8])), err(/^\[scaledDotProductAttention\] q and k must have the same head dimension/));
  assert.throws(() => F.scaledDotProductAttention(q4, k, mx.zeros([1, 2, 6, 4])), err(/^\[scaledDotProductAttention\] k and v must have the same number of heads and keys/));
  assert.throws(() => F.scaledDotProductAttention(q4, k, v, { mask: mx.zeros([3, 5]) }), err(/^\[scaledDotProductAttention\] the mask of shape \[3, 5\] does not broadcast to \[B, Hq, Lq, Lk\] = \[1, 4, 2, 5\]/));
  assert.throws(() => F.scaledDotProductAttention(q4, k, v, { mask: mx.zeros([1, 2, 2, 5]) }), err(/does not broadcast/));
  assert.throws(() => F.scaledDotProductAttention(q4, k, v, { mask: mx.zeros([1, 1, 1, 2, 5]) }), err(/does not broadcast/));
  assert.throws(() => F.scaledDotProductAttention(q4, k, v, { mask: mx.zeros([2, 5], mx.int32) }), err(/^\[scaledDotProductAttention\] the mask must be boolean/));
  assert.throws(() => F.scaledDotProductAttention(q4, k, v, { mask: "upper" as any }), err(/only mask string is "causal"/));
  assert.throws(() => F.scaledDotProductAttention(mx.zeros([4, 2, 4]), k, v), err(/^\[scaledDotProductAttention\] q, k and v must be 4-D/));
  assert.throws(() => F.scaledDotProductAttention(q4, mx.zeros([2, 2, 5, 4]), mx.zeros([2, 2, 5, 4])), err(/same batch size/));
  assert.throws(() => F.scaledDotProductAttention(mx.zeros([1, 4, 2, 4], mx.int32), mx.zeros([1, 2, 5, 4], mx.int32), mx.zeros([1, 2, 5, 4], mx.int32)),
    err(/only floating point/));
  assert.throws(() => F.scaledDotProductAttention(q4, k, v, { slidingWindow: 0 }), err(/^\[scaledDotProductAttention\] slidingWindow must be a positive integer/));
});

test("rope errors: dims, freqs, base, offsets, rank", () => {
  const x = mx.zeros([1, 2, 3, 8]);
  assert.throws(() => F.rope(x, 10), err(/^\[rope\] dims must be even, positive and at most the last axis \(8\), got 10/));
  assert.throws(() => F.rope(x, 5), err(/^\[rope\] dims must be even/));
  assert.throws(() => F.rope(x, 0), err(/^\[rope\] dims must be even/));
  assert.throws(() => F.rope(x, 8, { freqs: mx.ones([3]) }), err(/^\[rope\] freqs must have shape \[dims \/ 2\] = \[4\]/));
  assert.throws(() => F.rope(x, 8, { freqs: mx.ones([4]), base: 10000 }), err(/^\[rope\] only one of base and freqs/));
  assert.throws(() => F.rope(x, 8, { base: null }), err(/^\[rope\] base is null/));
  assert.throws(() => F.rope(x, 8, { base: -2 }), err(/^\[rope\] base must be a positive number/));
  assert.throws(() => F.rope(x, 8, { offset: mx.array(1.5) }), err(/^\[rope\] an offset array must have an integer type/));
  assert.throws(() => F.rope(x, 8, { offset: mx.array([1, 2, 3], mx.int32) }), err(/^\[rope\] an offset array must be a scalar or have one entry per batch item \[1\]/));
  assert.throws(() => F.rope(x, 8, { offset: 1.5 }), err(/^\[rope\] offset must be an integer/));
  assert.throws(() => F.rope(mx.zeros([8]), 8), err(/^\[rope\] x must have at least 2 dimensions/));
  assert.throws(() => F.rope(mx.zeros([2, 8], mx.int32), 8), err(/^\[rope\] only floating point/));
});

test("norm errors: weight and bias shapes, dtypes, scalars", () => {
  const x = mx.zeros([2, 4]);
  assert.throws(() => F.rmsNorm(x, mx.ones([3])), err(/^\[rmsNorm\] weight must be 1-D with the size of x's last axis \(4\), got shape \[3\]/));
  assert.throws(() => F.rmsNorm(x, mx.ones([1, 4])), err(/^\[rmsNorm\] weight must be 1-D/));
  assert.throws(() => F.layerNorm(x, null, mx.ones([5])), err(/^\[layerNorm\] bias must be 1-D with the size of x's last axis \(4\)/));
  assert.throws(() => F.rmsNorm(mx.zeros([2, 4], mx.int32)), err(/^\[rmsNorm\] only floating point inputs are supported, got int32/));
  assert.throws(() => F.layerNorm(mx.array(2)), err(/^\[layerNorm\] x must have at least one dimension/));
});

test("empty inputs", () => {
  assert.deepEqual(F.rmsNorm(mx.zeros([0, 4]), mx.ones([4])).shape, [0, 4]);
  assert.deepEqual(F.layerNorm(mx.zeros([2, 0])).shape, [2, 0]);
  assert.deepEqual(F.rope(mx.zeros([1, 0, 8]), 8).shape, [1, 0, 8]);
  assert.deepEqual(F.scaledDotProductAttention(mx.zeros([1, 2, 0, 4]), mx.zeros([1, 1, 3, 4]), mx.zeros([1, 1, 3, 4])).shape, [1, 2, 0, 4]);
  assert.deepEqual(F.scaledDotProductAttention(mx.ones([1, 2, 2, 4]), mx.zeros([1, 1, 0, 4]), mx.zeros([1, 1, 0, 4])).tolist(),
    [[[[0, 0, 0, 0], [0, 0, 0, 0]], [[0, 0, 0, 0], [0, 0, 0, 0]]]]);
});

// nn.losses against NumPy, gradients against finite differences, and argument errors.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mx, nn, EngineError } from "../src/index.js";
import type { MxArray } from "../src/index.js";
import { inp, runOpCases, type OpCase } from "./helpers/op-cases.js";
import { runGradCases, type GradCase } from "./helpers/gradcheck.js";
import { randn, randint, uniform } from "./helpers/random.js";

const L = nn.losses;
const logits = inp(randn([6, 5], 101).map((v) => v * 2), [6, 5]);
const tIdx = inp(randint([6], 0, 5, 102), [6], "int32");
const probsRaw = randn([6, 5], 103);
const probs = inp(Array.from({ length: 6 }, (_, r) => {
  const row = Array.from(probsRaw.slice(r * 5, r * 5 + 5), Math.exp);
  const s = row.reduce((a, b) => a + b, 0);
  return row.map((v) => v / s);
}).flat(), [6, 5]);
const logits3 = inp(randn([2, 3, 5], 104), [2, 3, 5]);
const t3 = inp(randint([2, 3], 0, 5, 105), [2, 3], "int32");
const logitsT = inp(randn([5, 6], 106), [5, 6]);  // classes on axis 0
const w6 = inp(uniform([6], 0.2, 2, 107), [6]);
const mask6 = inp([1, 0, 1, 1, 0, 1], [6], "bool");
const tIgnore = inp([3, -100, 0, 4, -100, 1], [6], "int32");
const pred = inp(randn([4, 3], 108), [4, 3]);
const targ = inp(randn([4, 3], 109), [4, 3]);
const prob01 = inp(uniform([4, 3], 0.02, 0.98, 110), [4, 3]);
const bin01 = inp(randint([4, 3], 0, 2, 111), [4, 3]);
const pm1 = inp(randint([4, 3], 0, 2, 112).map((v) => 2 * v - 1), [4, 3]);
const logp = (seed: number) => {
  const r = randn([4, 5], seed);
  return inp(Array.from({ length: 4 }, (_, i) => {
    const row = Array.from(r.slice(i * 5, i * 5 + 5));
    const m = Math.log(row.reduce((a, b) => a + Math.exp(b), 0));
    return row.map((v) => v - m);
  }).flat(), [4, 5]);
};

const ce = "logsumexp(a0, axis=-1) - a0[np.arange(6), a1.astype(int)]";
const cases: OpCase[] = [
  { name: "crossEntropy class indices, reduction none (default)", inputs: [logits, tIdx], mx: (a, t) => L.crossEntropy(a, t), np: ce },
  { name: "crossEntropy reductions mean / sum", inputs: [logits, tIdx],
    mx: (a, t) => [L.crossEntropy(a, t, { reduction: "mean" }), L.crossEntropy(a, t, { reduction: "sum" })],
    np: `[np.mean(${ce}), np.sum(${ce})]` },
  { name: "crossEntropy probabilities", inputs: [logits, probs], mx: (a, p) => L.crossEntropy(a, p),
    np: "logsumexp(a0, axis=-1) - np.sum(a0 * a1, axis=-1)" },
  { name: "crossEntropy 3-d logits", inputs: [logits3, t3], mx: (a, t) => L.crossEntropy(a, t),
    np: "logsumexp(a0, axis=-1) - np.take_along_axis(a0, a1.astype(int)[..., None], -1)[..., 0]" },
  { name: "crossEntropy axis 0", inputs: [logitsT, tIdx], mx: (a, t) => L.crossEntropy(a, t, { axis: 0 }),
    np: "logsumexp(a0, axis=0) - a0[a1.astype(int), np.arange(6)]" },
  { name: "crossEntropy label smoothing", inputs: [logits, tIdx], mx: (a, t) => L.crossEntropy(a, t, { labelSmoothing: 0.1 }),
    np: "logsumexp(a0, axis=-1) - 0.9 * a0[np.arange(6), a1.astype(int)] - 0.1 * a0.mean(-1)" },
  { name: "crossEntropy weights", inputs: [logits, tIdx, w6], mx: (a, t, w) => L.crossEntropy(a, t, { weights: w, reduction: "sum" }),
    np: `np.sum((${ce}) * a2)` },
  { name: "crossEntropy mask: masked positions 0, mean over kept", inputs: [logits, tIdx, mask6],
    mx: (a, t, m) => [L.crossEntropy(a, t, { mask: m }), L.crossEntropy(a, t, { mask: m, reduction: "mean" }),
      L.crossEntropy(a, t, { mask: m, reduction: "sum" })],
    np: `[np.where(a2, ${ce}, 0), np.sum(np.where(a2, ${ce}, 0)) / np.sum(a2), np.sum(np.where(a2, ${ce}, 0))]` },
  { name: "crossEntropy ignoreIndex -100", inputs: [logits, tIgnore],
    mx: (a, t) => [L.crossEntropy(a, t, { ignoreIndex: -100 }), L.crossEntropy(a, t, { ignoreIndex: -100, reduction: "mean" })],
    np: "(lambda keep, t: [np.where(keep, logsumexp(a0, axis=-1) - a0[np.arange(6), t], 0), " +
      "np.sum(np.where(keep, logsumexp(a0, axis=-1) - a0[np.arange(6), t], 0)) / np.sum(keep)])(a1 != -100, np.where(a1 != -100, a1, 0).astype(int))" },
  { name: "binaryCrossEntropy with logits (default mean)", inputs: [pred, bin01], mx: (a, t) => L.binaryCrossEntropy(a, t),
    np: "np.mean(np.logaddexp(0, a0) - a0 * a1)" },
  { name: "binaryCrossEntropy probabilities, weights, none", inputs: [prob01, bin01, inp(uniform([4, 3], 0.5, 1.5, 113), [4, 3])],
    mx: (p, t, w) => L.binaryCrossEntropy(p, t, { withLogits: false, weights: w, reduction: "none" }),
    np: "-(a1 * np.log(a0) + (1 - a1) * np.log(1 - a0)) * a2" },
  { name: "binaryCrossEntropy probabilities clip log at -100", inputs: [inp([0, 1, 0.5], [3]), inp([1, 0, 1], [3])],
    mx: (p, t) => L.binaryCrossEntropy(p, t, { withLogits: false, reduction: "none" }), np: "np.array([100.0, 100.0, np.log(2)])", variants: [] },
  { name: "mse / l1 (mean default) and sum / none", inputs: [pred, targ],
    mx: (a, b) => [L.mseLoss(a, b), L.l1Loss(a, b), L.mse(a, b, { reduction: "sum" }), L.l1(a, b, { reduction: "none" })],
    np: "[np.mean((a0 - a1) ** 2), np.mean(np.abs(a0 - a1)), np.sum((a0 - a1) ** 2), np.abs(a0 - a1)]" },
  { name: "smoothL1 beta 1 and 0.5", inputs: [pred, targ],
    mx: (a, b) => [L.smoothL1Loss(a, b), L.smoothL1(a, b, { beta: 0.5, reduction: "none" })],
    np: "(lambda d: [np.mean(np.where(d < 1, 0.5 * d ** 2, d - 0.5)), np.where(d < 0.5, 0.5 * d ** 2 / 0.5, d - 0.25)])(np.abs(a0 - a1))" },
  { name: "huber / logCosh / hinge", inputs: [pred, targ, pm1],
    mx: (a, b, s) => [L.huberLoss(a, b, { delta: 0.7 }), L.logCoshLoss(a, b), L.hingeLoss(a, s, { reduction: "mean" })],
    np: "(lambda d: [np.where(d <= 0.7, 0.5 * d ** 2, 0.7 * (d - 0.35)), np.log(np.cosh(a0 - a1)), np.mean(np.maximum(0, 1 - a0 * a2))])(np.abs(a0 - a1))" },
  { name: "nllLoss", inputs: [logp(114), inp(randint([4], 0, 5, 115), [4], "int32")],
    mx: (a, t) => [L.nllLoss(a, t), L.nllLoss(a, t, { reduction: "mean" })],
    np: "[-a0[np.arange(4), a1.astype(int)], np.mean(-a0[np.arange(4), a1.astype(int)])]" },
  { name: "klDiv (log-probability inputs and targets)", inputs: [logp(116), logp(117)],
    mx: (a, b) => [L.klDivLoss(a, b), L.klDiv(a, b, { reduction: "sum" })],
    np: "[np.sum(np.exp(a1) * (a1 - a0), -1), np.sum(np.exp(a1) * (a1 - a0))]" },
  { name: "cosineSimilarity axis 1 (default) and -1", inputs: [inp(randn([3, 4, 2], 118), [3, 4, 2]), inp(randn([3, 4, 2], 119), [3, 4, 2])],
    mx: (a, b) => [L.cosineSimilarityLoss(a, b), L.cosineSimilarity(a, b, { axis: -1, reduction: "mean" })],
    np: "[np.sum(a0 * a1, 1) / (np.linalg.norm(a0, axis=1) * np.linalg.norm(a1, axis=1)), np.mean(np.sum(a0 * a1, -1) / (np.linalg.norm(a0, axis=-1) * np.linalg.norm(a1, axis=-1)))]" },
];
runOpCases("nn.losses", cases);

test("crossEntropy: large logits stay finite; int64 and uint8 targets", () => {
  const a = mx.array([[1000, 0, -1000], [0, 0, 0]], mx.float32);
  const l = L.crossEntropy(a, mx.array([1, 2], mx.int32)).tolist() as number[];
  assert.ok(Math.abs(l[0] - 1000) < 1e-3 && Math.abs(l[1] - Math.log(3)) < 1e-6, String(l));
  for (const dt of [mx.int64, mx.uint8])
    assert.ok(Math.abs((L.crossEntropy(a, mx.array([1, 2], dt)).tolist() as number[])[1] - Math.log(3)) < 1e-6);
});

test("loss argument errors name the function and the shapes", () => {
  const err = (re: RegExp) => (e: any) => e instanceof EngineError && re.test(e.message);
  const x = mx.zeros([4, 3]);
  assert.throws(() => L.crossEntropy(x, mx.zeros([4], mx.int32), { reduction: "avg" as any }), err(/^\[crossEntropy\] invalid reduction 'avg'/));
  assert.throws(() => L.crossEntropy(x, mx.zeros([3], mx.int32)),
    err(/^\[crossEntropy\] class-index targets must have shape \[4\] \(logits \[4, 3\] without axis -1\), got \[3\]/));
  assert.throws(() => L.crossEntropy(x, mx.zeros([4, 2])), err(/^\[crossEntropy\] targets of probabilities must have the logits' shape \[4, 3\], got \[4, 2\]/));
  assert.throws(() => L.crossEntropy(x, mx.zeros([4])), err(/^\[crossEntropy\] class-index targets must be integers, got float32/));
  assert.throws(() => L.crossEntropy(x, mx.zeros([4], mx.int32), { labelSmoothing: 1 }), err(/labelSmoothing must be in \[0, 1\)/));
  assert.throws(() => L.crossEntropy(x, mx.zeros([4], mx.int32), { axis: 2 }), err(/^\[crossEntropy\] axis 2 is out of bounds/));
  assert.throws(() => L.crossEntropy(x, mx.zeros([4], mx.int32), { weights: mx.ones([3]) }), err(/weights with shape \[3\] do not match the loss shape \[4\]/));
  assert.throws(() => L.crossEntropy(x, mx.zeros([4], mx.int32), { mask: mx.ones([2]) }), err(/mask with shape \[2\] does not match/));
  assert.throws(() => L.mseLoss(x, mx.zeros([3])), err(/^\[mseLoss\] predictions \[4, 3\] and targets \[3\] must have the same shape/));
  assert.throws(() => L.binaryCrossEntropy(x, mx.zeros([3])), err(/^\[binaryCrossEntropy\]/));
  assert.throws(() => L.nllLoss(x, mx.zeros([3], mx.int32)), err(/^\[nllLoss\] targets must have shape \[4\]/));
});

const idx = mx.array([1, 0, 4, 2, 3, 2], mx.int32);
const keep = mx.array([true, false, true, true, false, true]);
const pos = (v: number) => 1 / (1 + Math.exp(-v)) * 0.9 + 0.05;
const grads: GradCase[] = [
  { name: "crossEntropy class indices (mean)", shapes: [[6, 5]], fn: (a) => L.crossEntropy(a, idx, { reduction: "mean" }) },
  { name: "crossEntropy label smoothing + weights", shapes: [[6, 5], [6]],
    fn: (a, w) => L.crossEntropy(a, idx, { labelSmoothing: 0.2, weights: w }) },
  { name: "crossEntropy mask (mean over kept)", shapes: [[6, 5]], fn: (a) => L.crossEntropy(a, idx, { mask: keep, reduction: "mean" }) },
  { name: "crossEntropy probabilities (logits and targets)", shapes: [[6, 5], [6, 5]], fn: (a, p) => L.crossEntropy(a, mx.softmax(p, -1)) },
  { name: "crossEntropy axis 0", shapes: [[5, 6]], fn: (a) => L.crossEntropy(a, idx, { axis: 0 }) },
  { name: "binaryCrossEntropy with logits", shapes: [[4, 3], [4, 3]], fn: (a, t) => L.binaryCrossEntropy(a, mx.sigmoid(t)) },
  { name: "binaryCrossEntropy probabilities", shapes: [[4, 3]], fn: (p) => L.binaryCrossEntropy(p, mx.array([[1, 0, 1], [0, 0, 1], [1, 1, 0], [0, 1, 0]], mx.float64), { withLogits: false }), init: pos },
  { name: "mse", shapes: [[4, 3], [4, 3]], fn: (a, b) => L.mseLoss(a, b) },
  { name: "l1", shapes: [[4, 3], [4, 3]], fn: (a, b) => L.l1Loss(a, b) },
  { name: "smoothL1", shapes: [[4, 3], [4, 3]], fn: (a, b) => L.smoothL1Loss(a, b, { beta: 0.5 }) },
  { name: "huber", shapes: [[4, 3], [4, 3]], fn: (a, b) => L.huberLoss(a, b) },
  { name: "logCosh", shapes: [[4, 3], [4, 3]], fn: (a, b) => L.logCoshLoss(a, b) },
  { name: "nllLoss", shapes: [[6, 5]], fn: (a) => L.nllLoss(mx.logSoftmax(a, -1), idx) },
  { name: "klDiv", shapes: [[4, 5], [4, 5]], fn: (a, b) => L.klDivLoss(mx.logSoftmax(a, -1), mx.logSoftmax(b, -1)) },
  { name: "cosineSimilarity", shapes: [[3, 4], [3, 4]], fn: (a, b) => L.cosineSimilarityLoss(a, b) },
];
runGradCases("nn.losses", grads);

test("crossEntropy gradient is softmax - onehot (divided by N for mean)", () => {
  const a = mx.array([[1, 2, 3], [0, 0, 0]], mx.float32);
  const g = mx.grad((x: MxArray) => L.crossEntropy(x, mx.array([2, 0], mx.int32), { reduction: "mean" }))(a).tolist() as number[][];
  const s = [1, 2, 3].map(Math.exp), z = s.reduce((p, q) => p + q, 0);
  const want = [[s[0] / z / 2, s[1] / z / 2, (s[2] / z - 1) / 2], [(1 / 3 - 1) / 2, 1 / 6, 1 / 6]];
  want.flat().forEach((w, i) => assert.ok(Math.abs(g.flat()[i] - w) < 1e-6, `${g.flat()[i]} vs ${w}`));
});

import { test } from "node:test";
import assert from "node:assert/strict";
import { mx, EngineError } from "../src/index.js";
import type { MxArray } from "../src/index.js";
import { inp, runOpCases, type Input, type OpCase } from "./helpers/op-cases.js";
import { runGradCases } from "./helpers/gradcheck.js";
import { randn } from "./helpers/random.js";

let seed = 100;
const r = (shape: number[]): Input => inp(randn(shape, seed++), shape);
const tol = { rtol: 1e-5, atol: 1e-5 };
const py = (v: number | number[]) => JSON.stringify(v);

// ---- matmul ----
const cases: OpCase[] = [
  { name: "matmul 2-d", inputs: [inp(randn([5, 7], 31), [5, 7]), inp(randn([7, 3], 32), [7, 3])], mx: (a, b) => mx.matmul(a, b), np: "a0 @ a1", ...tol },
  { name: "matmul batched broadcast", inputs: [inp(randn([2, 1, 4, 6], 33), [2, 1, 4, 6]), inp(randn([3, 6, 5], 34), [3, 6, 5])],
    mx: (a, b) => mx.matmul(a, b), np: "a0 @ a1", ...tol },
  { name: "matmul vector cases", inputs: [inp(randn([6], 35), [6]), inp(randn([6, 4], 36), [6, 4])],
    mx: (a, b) => [mx.matmul(a, b), mx.matmul(mx.transpose(b), a), mx.matmul(a, a)], np: "[a0 @ a1, a1.T @ a0, a0 @ a0]", ...tol },
  { name: "matmul empty K", inputs: [inp([], [3, 0]), inp([], [0, 2])], mx: (a, b) => mx.matmul(a, b), np: "a0 @ a1", variants: [] },
  { name: "matmul empty M / N / batch", inputs: [inp([], [0, 3]), r([3, 4]), inp([], [2, 0, 3])],
    mx: (a, b, c) => [mx.matmul(a, b), mx.matmul(mx.transpose(b), mx.transpose(a)), mx.matmul(c, b)],
    np: "[a0 @ a1, a1.T @ a0.T, a2 @ a1]", variants: [] },
  { name: "matmul 1-d @ batched, batched @ 1-d", inputs: [r([6]), r([2, 6, 3]), r([2, 3, 6])],
    mx: (v, b, a) => [mx.matmul(v, b), mx.matmul(a, v)], np: "[a0 @ a1, a2 @ a0]", ...tol },
  { name: "matmul 2-d @ 4-d broadcast", inputs: [r([4, 6]), r([2, 3, 6, 5])], mx: (a, b) => mx.matmul(a, b), np: "a0 @ a1", ...tol },
  { name: "matmul batch of 1 broadcast", inputs: [r([1, 4, 6]), r([3, 6, 5])], mx: (a, b) => mx.matmul(a, b), np: "a0 @ a1", ...tol },
  // Neither row- nor column-major matrices (both strides > 1), and a[::2]-style row strides.
  { name: "matmul strided (neither layout)", inputs: [r([7, 5, 2]), r([3, 7, 2])],
    mx: (a, b) => mx.matmul(mx.transpose(a, [2, 1, 0]), mx.transpose(b, [2, 1, 0])),
    np: "a0.transpose(2, 1, 0) @ a1.transpose(2, 1, 0)", ...tol },
  { name: "matmul row-strided a[::2] views", inputs: [r([5, 2, 7]), r([7, 2, 3])],
    mx: (a, b) => mx.matmul(mx.transpose(a, [1, 0, 2]), mx.transpose(b, [1, 0, 2])),
    np: "a0.transpose(1, 0, 2) @ a1.transpose(1, 0, 2)", ...tol },
  { name: "matmul column-strided views", inputs: [r([5, 7, 2]), r([7, 3, 2])],
    mx: (a, b) => mx.matmul(mx.transpose(a, [2, 0, 1]), mx.transpose(b, [2, 0, 1])),
    np: "a0.transpose(2, 0, 1) @ a1.transpose(2, 0, 1)", ...tol },
  { name: "matmul broadcast row (stride 0)", inputs: [r([1, 6]), r([6, 4])],
    mx: (a, b) => mx.matmul(mx.broadcastTo(a, [5, 6]), b), np: "np.broadcast_to(a0, (5, 6)) @ a1", ...tol },
  { name: "matmul blocked sizes", inputs: [r([67, 129]), r([129, 70])], mx: (a, b) => mx.matmul(a, b), np: "a0 @ a1", rtol: 1e-4, atol: 1e-4 },
  { name: "matmul many small batches", inputs: [r([16, 5, 7]), r([16, 7, 3])], mx: (a, b) => mx.matmul(a, b), np: "a0 @ a1", ...tol },
  { name: "matmul skinny (M <= 4, N <= 4)", inputs: [r([3, 40]), r([40, 50]), r([50, 2])],
    mx: (a, b, c) => [mx.matmul(a, b), mx.matmul(b, c)], np: "[a0 @ a1, a1 @ a2]", rtol: 1e-4, atol: 1e-4 },
  { name: "matmul mixed bf16 @ f32 promotes to f32", inputs: [r([4, 5]), r([5, 3])],
    mx: (a, b) => mx.matmul(mx.astype(a, mx.bfloat16), b), np: "a0 @ a1", rtol: 2e-2, atol: 2e-2, dtype: "float32", variants: [] },
];

// ---- addmm / inner / tensordot ----
cases.push(
  { name: "addmm 2-d alpha beta", inputs: [r([5, 3]), r([5, 7]), r([7, 3])], mx: (c, a, b) => mx.addmm(c, a, b, 0.5, 2),
    np: "2 * a0 + 0.5 * (a1 @ a2)", ...tol },
  { name: "addmm defaults", inputs: [r([5, 3]), r([5, 7]), r([7, 3])], mx: (c, a, b) => mx.addmm(c, a, b), np: "a0 + a1 @ a2", ...tol },
  { name: "addmm c broadcast (row, column, scalar)", inputs: [r([3]), r([5, 1]), r([1]), r([5, 7]), r([7, 3])],
    mx: (c1, c2, c3, a, b) => [mx.addmm(c1, a, b, 1, -1), mx.addmm(c2, a, b, 2, 0.5), mx.addmm(c3, a, b)],
    np: "[-a0 + a3 @ a4, 0.5 * a1 + 2 * (a3 @ a4), a2 + a3 @ a4]", ...tol },
  { name: "addmm batched", inputs: [r([5, 3]), r([4, 5, 7]), r([7, 3])], mx: (c, a, b) => mx.addmm(c, a, b, 1.5, 0.25),
    np: "0.25 * a0 + 1.5 * (a1 @ a2)", ...tol },
  { name: "addmm 1-d operands", inputs: [r([3]), r([7]), r([7, 3]), r([5]), r([5, 7]), r([7]), r([2, 5]), r([2, 5, 7])],
    mx: (c, v, b, c2, a, w, c3, ab) => [mx.addmm(c, v, b, 1, 2), mx.addmm(c2, a, w, 1, 2), mx.addmm(mx.sum(c), v, w, 3, 1),
      mx.addmm(c3, ab, w)],
    np: "[2 * a0 + a1 @ a2, 2 * a3 + a4 @ a5, np.sum(a0) + 3 * (a1 @ a5), a6 + a7 @ a5]", ...tol },
  { name: "addmm empty K", inputs: [r([2, 3]), inp([], [2, 0]), inp([], [0, 3])], mx: (c, a, b) => mx.addmm(c, a, b, 1, 3),
    np: "3 * a0 + a1 @ a2", variants: [] },
  { name: "addmm blocked sizes", inputs: [r([70]), r([67, 129]), r([129, 70])], mx: (c, a, b) => mx.addmm(c, a, b, 0.5, 2),
    np: "2 * a0 + 0.5 * (a1 @ a2)", rtol: 1e-4, atol: 1e-4 },
  { name: "inner", inputs: [r([3, 4]), r([2, 5, 4]), r([4])], mx: (a, b, v) => [mx.inner(a, b), mx.inner(v, v), mx.inner(a, v)],
    np: "[np.inner(a0, a1), np.inner(a2, a2), np.inner(a0, a2)]", ...tol },
  { name: "inner with a 0-d operand", inputs: [r([3, 4])], mx: (a) => mx.inner(a, mx.array(2)), np: "a0 * 2", variants: [] },
  { name: "tensordot", inputs: [r([2, 3, 4]), r([3, 4, 5]), r([4, 2])],
    mx: (a, b, c) => [mx.tensordot(a, b), mx.tensordot(a, c, 1), mx.tensordot(c, c, 0), mx.tensordot(a, b, [[1, 2], [0, 1]]),
      mx.tensordot(a, c, [[0, -1], [1, 0]])],
    np: "[np.tensordot(a0, a1), np.tensordot(a0, a2, 1), np.tensordot(a2, a2, 0), np.tensordot(a0, a1, ([1, 2], [0, 1])), np.tensordot(a0, a2, ([0, 2], [1, 0]))]",
    ...tol },
);

// ---- einsum ----
const es = (spec: string, shapes: number[][], extra: Partial<OpCase> = {}): OpCase => ({
  name: `einsum ${spec}`, inputs: shapes.map((sh) => r(sh)), mx: (...xs) => mx.einsum(spec, ...xs),
  np: `np.einsum(${JSON.stringify(spec)}, ${shapes.map((_, i) => `a${i}`).join(", ")})`, ...tol, ...extra,
});
cases.push(
  es("ij,jk->ik", [[3, 4], [4, 5]]),
  es("ij,jk", [[3, 4], [4, 5]]),
  es("ji,jk->ki", [[4, 3], [4, 5]]),
  es("ii->i", [[4, 4]]),
  es("ii", [[4, 4]]),
  es("ij->ji", [[3, 4]]),
  es("ij->", [[3, 4]]),
  es("i,j->ij", [[3], [4]]),
  es("i,i", [[5], [5]]),
  es("bij,bjk->bik", [[2, 3, 4], [2, 4, 5]]),
  es("bij,bjk->bki", [[2, 3, 4], [2, 4, 5]]),
  es("...ij,...jk->...ik", [[2, 1, 3, 4], [5, 4, 2]]),
  es("...ij,...jk", [[2, 3, 4], [4, 2]]),
  es("i...->...", [[3, 2, 4]]),
  es("ijk,ikl,lm->jm", [[2, 3, 4], [2, 4, 5], [5, 3]]),
  es("ij,ij->ij", [[1, 3], [2, 3]]),
  es("iij,jk->ik", [[3, 3, 4], [4, 2]]),
  es("ab,cd,bd->ac", [[2, 3], [4, 5], [3, 5]]),
  { name: "einsum int32", inputs: [inp([1, 2, 3, 4, 5, 6], [2, 3], "int32"), inp([1, 0, -1, 2, 3, 1], [3, 2], "int32")],
    mx: (a, b) => mx.einsum("ij,jk->ik", a, b), np: "np.einsum('ij,jk->ik', a0, a1)", variants: [] },
);

// ---- convolutions ----
for (const s of [1, 2, 3]) for (const p of [0, 2]) for (const d of [1, 2]) for (const g of [1, 2]) {
  cases.push({ name: `conv1d stride ${s} padding ${p} dilation ${d} groups ${g}`, inputs: [r([2, 9, 4]), r([6, 3, 4 / g])],
    mx: (x, w) => mx.conv1d(x, w, s, p, d, g), np: `conv_nd(a0, a1, ${s}, ${p}, ${d}, ${g})`, ...tol });
}
for (const s of [1, [2, 1]]) for (const p of [0, [1, 2]]) for (const d of [1, [2, 1]]) for (const g of [1, 3]) {
  cases.push({ name: `conv2d stride ${py(s)} padding ${py(p)} dilation ${py(d)} groups ${g}`, inputs: [r([2, 7, 6, 6]), r([6, 3, 2, 6 / g])],
    mx: (x, w) => mx.conv2d(x, w, s, p, d, g), np: `conv_nd(a0, a1, ${py(s)}, ${py(p)}, ${py(d)}, ${g})`, ...tol });
}
cases.push(
  { name: "conv1d depthwise", inputs: [r([2, 10, 5]), r([5, 3, 1])], mx: (x, w) => mx.conv1d(x, w, 2, 1, 1, 5),
    np: "conv_nd(a0, a1, 2, 1, 1, 5)", ...tol },
  { name: "conv1d depthwise with channel multiplier", inputs: [r([2, 10, 5]), r([10, 3, 1])], mx: (x, w) => mx.conv1d(x, w, 1, 2, 2, 5),
    np: "conv_nd(a0, a1, 1, 2, 2, 5)", ...tol },
  { name: "conv2d depthwise", inputs: [r([1, 6, 7, 4]), r([8, 3, 3, 1])], mx: (x, w) => mx.conv2d(x, w, 1, 1, [1, 2], 4),
    np: "conv_nd(a0, a1, 1, 1, [1, 2], 4)", ...tol },
  { name: "conv2d patch embedding (kernel == stride)", inputs: [r([2, 8, 12, 3]), r([5, 4, 4, 3])], mx: (x, w) => mx.conv2d(x, w, 4),
    np: "conv_nd(a0, a1, 4)", ...tol },
  { name: "conv2d patch embedding, rectangular patches", inputs: [r([1, 6, 8, 2]), r([3, 3, 2, 2])], mx: (x, w) => mx.conv2d(x, w, [3, 2]),
    np: "conv_nd(a0, a1, [3, 2])", ...tol },
  { name: "conv1d patch embedding", inputs: [r([2, 12, 3]), r([4, 3, 3])], mx: (x, w) => mx.conv1d(x, w, 3), np: "conv_nd(a0, a1, 3)", ...tol },
  { name: "conv1d kernel == stride with a remainder", inputs: [r([1, 10, 3]), r([4, 3, 3])], mx: (x, w) => mx.conv1d(x, w, 3),
    np: "conv_nd(a0, a1, 3)", ...tol },
  { name: "conv2d 1x1", inputs: [r([2, 5, 5, 6]), r([7, 1, 1, 6])], mx: (x, w) => mx.conv2d(x, w), np: "conv_nd(a0, a1)", ...tol },
  { name: "conv2d 1x1 strided", inputs: [r([2, 5, 5, 6]), r([7, 1, 1, 6])], mx: (x, w) => mx.conv2d(x, w, 2), np: "conv_nd(a0, a1, 2)", ...tol },
  { name: "conv1d empty batch", inputs: [inp([], [0, 5, 3]), r([2, 3, 3])], mx: (x, w) => mx.conv1d(x, w), np: "conv_nd(a0, a1)", variants: [] },
  { name: "conv1d kernel as large as the padded input", inputs: [r([1, 3, 2]), r([2, 5, 2])], mx: (x, w) => mx.conv1d(x, w, 1, 1),
    np: "conv_nd(a0, a1, 1, 1)", ...tol },
  { name: "conv3d", inputs: [r([1, 4, 5, 4, 2]), r([3, 2, 3, 2, 2])], mx: (x, w) => mx.conv3d(x, w, [1, 2, 1], 1),
    np: "conv_nd(a0, a1, [1, 2, 1], 1)", ...tol },
  { name: "convGeneral input dilation, asymmetric padding, flip", inputs: [r([2, 5, 4, 3]), r([4, 2, 3, 3])],
    mx: (x, w) => mx.convGeneral(x, w, [1, 2], [[1, 0], [0, 2]], [1, 2], [2, 1], 1, true),
    np: "conv_nd(a0, a1, [1, 2], ([1, 0], [0, 2]), [1, 2], 1, [2, 1], True)", ...tol },
  { name: "convGeneral negative padding crops", inputs: [r([1, 9, 2]), r([3, 2, 2])], mx: (x, w) => mx.convGeneral(x, w, 2, [[-1], [-2]]),
    np: "conv_nd(a0, a1, 2, ([-1], [-2]))", ...tol },
  { name: "convTranspose1d", inputs: [r([2, 5, 4]), r([6, 3, 4])], mx: (x, w) => mx.convTranspose1d(x, w, 2, 1, 1, 1),
    np: "conv_transpose_nd(a0, a1, 2, 1, 1, 1)", ...tol },
  { name: "convTranspose1d dilation groups", inputs: [r([1, 5, 4]), r([6, 3, 2])], mx: (x, w) => mx.convTranspose1d(x, w, 1, 2, 2, 0, 2),
    np: "conv_transpose_nd(a0, a1, 1, 2, 2, 0, 2)", ...tol },
  { name: "convTranspose2d", inputs: [r([1, 4, 3, 4]), r([2, 3, 2, 2])], mx: (x, w) => mx.convTranspose2d(x, w, [2, 1], [1, 0], 1, [1, 0], 2),
    np: "conv_transpose_nd(a0, a1, [2, 1], [1, 0], 1, [1, 0], 2)", ...tol },
);
// Big enough that the im2col matrix is cut into several chunks (about 4M elements each), plain only.
const bigX = r([1, 32, 32, 512]), bigW = r([4, 3, 3, 512]), bigDy = r([1, 32, 32, 4]);
cases.push(
  { name: "conv2d in several im2col chunks", inputs: [bigX, bigW], mx: (x, w) => mx.conv2d(x, w, 1, 1), np: "conv_nd(a0, a1, 1, 1)",
    rtol: 1e-4, atol: 1e-4, variants: [] },
  { name: "conv2d vjp in several chunks (col2im, weight gradient)", inputs: [bigX, bigW, bigDy],
    mx: (x, w, dy) => mx.vjp((a: MxArray, b: MxArray) => mx.conv2d(a, b, 1, 1), [x, w], [dy])[1],
    np: "[conv_transpose_nd(a2, np.swapaxes(a1, 0, -1), 1, 1), " +
      "np.stack([np.stack([np.einsum('nhwo,nhwc->oc', a2, np.pad(a0, ((0, 0), (1, 1), (1, 1), (0, 0)))[:, i:i + 32, j:j + 32, :]) for j in range(3)], 1) for i in range(3)], 1)]",
    rtol: 1e-4, atol: 1e-3, variants: [] },
  { name: "conv1d vjp, several images per chunk", inputs: [r([3, 8, 6]), r([4, 3, 6]), r([3, 4, 4])],
    mx: (x, w, dy) => mx.vjp((a: MxArray, b: MxArray) => mx.conv1d(a, b, 2, 1), [x, w], [dy])[1],
    np: "[conv_transpose_nd(a2, np.swapaxes(a1, 0, -1), 2, 1, 1, 1), " +
      "np.stack([np.einsum('nlo,nlc->oc', a2, np.pad(a0, ((0, 0), (1, 1), (0, 0)))[:, k:k + 7:2, :]) for k in range(3)], 1)]",
    ...tol },
);
runOpCases("linalg", cases);

// ---- gradients (float64 finite differences) ----
const cot1 = () => mx.array(randn([1, 3, 4], 7), mx.float64, [1, 3, 4]);
runGradCases("linalg", [
  { name: "matmul", shapes: [[3, 4], [4, 5]], fn: (a, b) => mx.matmul(a, b) },
  { name: "matmul batched broadcast", shapes: [[2, 3, 4], [4, 2]], fn: (a, b) => mx.matmul(a, b) },
  { name: "matmul vector", shapes: [[4], [4, 3]], fn: (a, b) => mx.matmul(a, b) },
  { name: "addmm", shapes: [[3], [2, 4], [4, 3]], fn: (c, a, b) => mx.addmm(c, a, b, 0.5, 2) },
  { name: "addmm 1-d b, batched a", shapes: [[2, 1], [2, 2, 4], [4]], fn: (c, a, b) => mx.addmm(c, a, b, -1, 1.5) },
  { name: "inner", shapes: [[3, 4], [2, 4]], fn: (a, b) => mx.inner(a, b) },
  { name: "tensordot", shapes: [[2, 3, 4], [4, 3, 2]], fn: (a, b) => mx.tensordot(a, b, [[1, 2], [1, 0]]) },
  { name: "einsum three operands", shapes: [[2, 3, 4], [2, 4, 2], [2, 3]], fn: (a, b, c) => mx.einsum("ijk,ikl,lm->jm", a, b, c) },
  { name: "einsum diagonal and broadcast", shapes: [[3, 3, 2], [2, 1]], fn: (a, b) => mx.einsum("iij,jk->ik", a, b) },
  { name: "conv1d stride padding", shapes: [[2, 6, 3], [4, 3, 3]], fn: (x, w) => mx.conv1d(x, w, 2, 1) },
  { name: "conv1d dilation groups", shapes: [[1, 7, 6], [6, 2, 2]], fn: (x, w) => mx.conv1d(x, w, 1, 1, 2, 3) },
  { name: "conv1d depthwise multiplier", shapes: [[1, 7, 3], [6, 3, 1]], fn: (x, w) => mx.conv1d(x, w, 1, 2, 2, 3) },
  { name: "conv2d", shapes: [[1, 5, 4, 2], [3, 3, 2, 2]], fn: (x, w) => mx.conv2d(x, w, [2, 1], 1, [1, 2]) },
  { name: "conv2d groups", shapes: [[1, 4, 4, 4], [4, 3, 3, 2]], fn: (x, w) => mx.conv2d(x, w, 1, 1, 1, 2) },
  { name: "conv2d depthwise", shapes: [[2, 4, 3, 2], [2, 2, 2, 1]], fn: (x, w) => mx.conv2d(x, w, 1, [1, 0], 1, 2) },
  { name: "conv2d patch embedding", shapes: [[1, 4, 6, 2], [3, 2, 2, 2]], fn: (x, w) => mx.conv2d(x, w, 2) },
  { name: "convTranspose1d", shapes: [[1, 4, 2], [3, 3, 2]], fn: (x, w) => mx.convTranspose1d(x, w, 2, 1, 1, 1) },
  { name: "convGeneral input dilation flip", shapes: [[1, 4, 2], [2, 2, 2]], fn: (x, w) => mx.convGeneral(x, w, 1, [[1], [0]], 1, 2, 1, true) },
  // Second order: the adjoint nodes' own vjps (grad_input w.r.t. w, grad_weight w.r.t. x).
  { name: "conv1d input gradient as a function of w", shapes: [[1, 6, 2], [4, 3, 2]],
    fn: (x, w) => mx.vjp((a: MxArray, b: MxArray) => mx.conv1d(a, b, 2, 1), [x, w], [cot1()])[1][0], argnums: [1] },
  { name: "conv1d weight gradient as a function of x", shapes: [[1, 6, 2], [4, 3, 2]],
    fn: (x, w) => mx.vjp((a: MxArray, b: MxArray) => mx.conv1d(a, b, 2, 1), [x, w], [cot1()])[1][1], argnums: [0] },
  { name: "conv1d depthwise input gradient as a function of w", shapes: [[1, 6, 2], [4, 3, 1]],
    fn: (x, w) => mx.vjp((a: MxArray, b: MxArray) => mx.conv1d(a, b, 2, 1, 1, 2), [x, w], [cot1()])[1][0], argnums: [1] },
]);

// ---- error paths ----
const E = (re: RegExp) => (e: unknown) => e instanceof EngineError && re.test((e as Error).message);
const z = (...shape: number[]) => mx.zeros(shape);

test("linalg: matmul / addmm / inner / tensordot errors", () => {
  assert.throws(() => mx.matmul(z(2, 3), z(4, 5)), E(/^\[matmul\] last dimension of the first input \(3\)/));
  assert.throws(() => mx.matmul(z(2, 3, 4), z(3, 4, 5)), E(/^\[matmul\]/));
  assert.throws(() => mx.matmul(mx.array(2), z(2)), E(/^\[matmul\] got a 0-d array/));
  assert.throws(() => mx.matmul(mx.zeros([2, 2], mx.int32), mx.zeros([2, 2], mx.int32)), E(/^\[matmul\] only floating point/));
  assert.throws(() => mx.addmm(z(4), z(2, 3), z(3, 5)), E(/^\[addmm\]/));
  assert.throws(() => mx.addmm(z(3, 2, 5), z(2, 3), z(3, 5)), E(/^\[addmm\] c of shape \[3, 2, 5\] cannot be broadcast/));
  assert.throws(() => mx.addmm(z(2, 5), z(2, 3), z(4, 5)), E(/^\[addmm\] last dimension/));
  assert.throws(() => mx.inner(z(2, 3), z(2, 4)), E(/^\[inner\] last dimensions must match/));
  assert.throws(() => mx.tensordot(z(2, 3), z(4, 3)), E(/^\[tensordot\] contracted dims differ/));
  assert.throws(() => mx.tensordot(z(2, 3), z(3), 3), E(/^\[tensordot\] axes=3/));
  assert.throws(() => mx.tensordot(z(2, 3), z(3, 2), [[0, 0], [1, 0]]), E(/^\[tensordot\] repeated axis/));
  assert.throws(() => mx.tensordot(z(2, 3), z(3, 2), [[0], [0, 1]]), E(/^\[tensordot\] the two axis lists/));
  assert.throws(() => mx.einsum("ij,jk->ik", z(2, 3)), E(/^\[einsum\] the subscripts 'ij,jk->ik' name 2 operands but 1 were given/));
  assert.throws(() => mx.einsum("i1->i", z(2, 3)), E(/^\[einsum\] invalid character '1'/));
  assert.throws(() => mx.einsum("ij,jk->ik", z(2, 3), z(4, 5)), E(/^\[einsum\] label 'j' has size 3 in one place and 4/));
  assert.throws(() => mx.einsum("ij->k", z(2, 3)), E(/^\[einsum\] output label 'k' appears in no input/));
  assert.throws(() => mx.einsum("ij->ii", z(2, 3)), E(/^\[einsum\] output label 'i' repeated/));
  assert.throws(() => mx.einsum("ijk->i", z(2, 3)), E(/^\[einsum\] term 'ijk' has 3 labels but operand 0 has 2 dims/));
  assert.throws(() => mx.einsum("...i->i", z(2, 3)), E(/^\[einsum\] the inputs have '...' dims but the output/));
  assert.throws(() => mx.einsum("ii->i", z(2, 3)), E(/^\[einsum\]/));
});

test("linalg: convolution errors", () => {
  assert.throws(() => mx.conv1d(z(1, 5, 3), z(2, 3, 4)), E(/^\[conv1d\] channel mismatch: the input has 3 channels/));
  assert.throws(() => mx.conv2d(z(1, 5, 5, 4), z(2, 3, 3, 4), 1, 0, 1, 2), E(/^\[conv2d\] channel mismatch/));
  assert.throws(() => mx.conv1d(z(1, 5, 4), z(3, 3, 1), 1, 0, 1, 3), E(/^\[conv1d\] groups \(3\) must divide the input channels \(4\)/));
  assert.throws(() => mx.conv1d(z(1, 5, 4), z(3, 3, 2), 1, 0, 1, 2), E(/^\[conv1d\] groups \(2\) must divide the output channels \(3\)/));
  assert.throws(() => mx.conv1d(z(1, 3, 2), z(1, 5, 2)), E(/^\[conv1d\] the kernel \(size 5 with dilation\) is larger than the padded input \(size 3\)/));
  assert.throws(() => mx.conv1d(z(1, 5, 2), z(1, 3, 2), 1, 0, 3), E(/^\[conv1d\] the kernel \(size 7 with dilation\) is larger/));
  assert.throws(() => mx.conv2d(z(1, 6, 2, 2), z(1, 3, 3, 2)), E(/^\[conv2d\] .* larger than the padded input .* spatial dim 1/));
  assert.throws(() => mx.conv1d(z(1, 5, 5, 2), z(1, 3, 2)), E(/^\[conv1d\] expected an input of 3 dims \[N, L, C_in\]/));
  assert.throws(() => mx.conv2d(z(1, 5, 5, 2), z(1, 3, 2)), E(/^\[conv2d\] expected a weight of 4 dims/));
  assert.throws(() => mx.conv2d(z(5, 5, 2), z(1, 3, 3, 2)), E(/^\[conv2d\] expected an input of 4 dims \[N, H, W, C_in\]/));
  assert.throws(() => mx.convGeneral(z(5, 2), z(1, 2)), E(/^\[conv_general\] input must have at least 3 dims/));
  assert.throws(() => mx.conv1d(z(1, 5, 2), z(1, 3, 2), 0), E(/^\[conv1d\] stride must be positive/));
  assert.throws(() => mx.conv1d(z(1, 5, 2), z(1, 3, 2), 1, -1), E(/^\[conv1d\] padding must be non-negative/));
  assert.throws(() => mx.conv1d(z(1, 5, 2), z(1, 3, 2), 1, 0, 0), E(/^\[conv1d\] dilation must be positive/));
  assert.throws(() => mx.conv1d(z(1, 5, 2), z(1, 3, 2), 1, 0, 1, 0), E(/^\[conv1d\] groups must be positive/));
  assert.throws(() => mx.conv2d(z(1, 5, 5, 2), z(1, 3, 3, 2), [1, 2, 3]), E(/^\[conv2d\] stride must be an integer or a list of 2 integers/));
  assert.throws(() => mx.conv1d(z(1, 5, 2), z(1, 3, 2), 1.5), E(/^\[conv1d\] stride must be an integer/));
  assert.throws(() => mx.conv1d(mx.zeros([1, 5, 2], mx.int32), mx.zeros([1, 3, 2], mx.int32)), E(/^\[conv1d\] only floating point/));
  assert.throws(() => mx.convTranspose1d(z(1, 5, 2), z(1, 3, 2), 2, 0, 1, 2), E(/^\[conv_transpose1d\] output padding must be/));
  assert.throws(() => mx.convGeneral(z(1, 5, 2), z(1, 3, 2), 1, 0, 1, 0), E(/^\[conv_general\] input dilation must be positive/));
});

// Layers against NumPy (weights passed in as inputs through update), their gradients against finite differences,
// and the layers whose engine ops are still being merged (guarded with skip).
import { test } from "node:test";
import assert from "node:assert/strict";
import { mx, nn, EngineError } from "../src/index.js";
import type { MxArray } from "../src/index.js";
import { assertClose, inp, runOpCases, type OpCase } from "./helpers/op-cases.js";
import { runGradCases, type GradCase } from "./helpers/gradcheck.js";
import { numpyEval, type NpTensor } from "./helpers/numpy.js";
import { randn } from "./helpers/random.js";

const has = (name: string) => {
  let n: any = mx;
  for (const p of name.split(".")) n = n?.[p];
  return typeof n === "function";
};

// One instance per layer; each case writes its weights with update() and runs forward.
const lin = new nn.Linear(5, 4);
const linNoBias = new nn.Linear(5, 4, false);
const rms = new nn.RMSNorm(8);
const ln = new nn.LayerNorm(8);
const lnNoBias = new nn.LayerNorm(8, 1e-5, { bias: false });
const lnPlain = new nn.LayerNorm(8, 1e-5, { affine: false });
const gn = new nn.GroupNorm(4, 8);
const gnTorch = new nn.GroupNorm(4, 8, { pytorchCompatible: true });
const mha = new nn.MultiHeadAttention(8, 2);
const mhaBias = new nn.MultiHeadAttention(8, 2, { bias: true, keyInputDims: 6, valueDims: 4, valueOutputDims: 5 });
const seq = new nn.Sequential(new nn.Linear(5, 6), nn.relu, new nn.Linear(6, 3));

const linear = (x: MxArray, w: MxArray, b?: MxArray) =>
  b ? lin.update({ weight: w, bias: b }).forward(x) : linNoBias.update({ weight: w }).forward(x);
const mhaFwd = (q: MxArray, kv: MxArray, wq: MxArray, wk: MxArray, wv: MxArray, wo: MxArray, mask?: nn.AttentionMask) =>
  mha.update({ queryProj: { weight: wq }, keyProj: { weight: wk }, valueProj: { weight: wv }, outProj: { weight: wo } })
    .forward(q, kv, kv, mask);

const X = inp(randn([2, 3, 5], 51), [2, 3, 5]);
const W = inp(randn([4, 5], 52), [4, 5]);
const B = inp(randn([4], 53), [4]);
const N8 = inp(randn([2, 3, 8], 54).map((v, i) => v * 2 + (i % 3)), [2, 3, 8]);
const G8 = inp(randn([8], 55).map((v) => 1 + 0.3 * v), [8]);
const B8 = inp(randn([8], 56), [8]);
const Q = inp(randn([2, 5, 8], 57), [2, 5, 8]);
const KV = inp(randn([2, 6, 8], 58), [2, 6, 8]);
const W8 = (s: number) => inp(randn([8, 8], s).map((v) => v / Math.sqrt(8)), [8, 8]);

// NumPy multi-head attention: q/k/v projections, heads of 4, softmax(q kᵀ/2 + mask) v, output projection.
const npHeads = (x: string, w: string, l: number) => `(${x} @ ${w}.T).reshape(2, ${l}, 2, 4).transpose(0, 2, 1, 3)`;
const npMha = (lq: number, lk: number, mask = "0") =>
  `(lambda q, k, v: (softmax(q @ k.transpose(0, 1, 3, 2) / 2 + ${mask}, axis=-1) @ v).transpose(0, 2, 1, 3).reshape(2, ${lq}, 8))(` +
  `${npHeads("a0", "a2", lq)}, ${npHeads("a1", "a3", lk)}, ${npHeads("a1", "a4", lk)}) @ a5.T`;
const npCausal = "np.where(np.arange(5)[:, None] < np.arange(5)[None, :], -1e30, 0)";

const cases: OpCase[] = [
  { name: "Linear", inputs: [X, W, B], mx: (x, w, b) => linear(x, w, b), np: "a0 @ a1.T + a2", rtol: 1e-5, atol: 1e-5 },
  { name: "Linear without bias", inputs: [X, W], mx: (x, w) => linear(x, w), np: "a0 @ a1.T", rtol: 1e-5, atol: 1e-5 },
  { name: "RMSNorm", inputs: [N8, G8], mx: (x, w) => rms.update({ weight: w }).forward(x),
    np: "a0 / np.sqrt(np.mean(a0 ** 2, -1, keepdims=True) + 1e-5) * a1", rtol: 1e-4, atol: 1e-5 },
  { name: "LayerNorm", inputs: [N8, G8, B8], mx: (x, w, b) => ln.update({ weight: w, bias: b }).forward(x),
    np: "(a0 - a0.mean(-1, keepdims=True)) / np.sqrt(a0.var(-1, keepdims=True) + 1e-5) * a1 + a2", rtol: 1e-4, atol: 1e-5 },
  { name: "LayerNorm without bias", inputs: [N8, G8], mx: (x, w) => lnNoBias.update({ weight: w }).forward(x),
    np: "(a0 - a0.mean(-1, keepdims=True)) / np.sqrt(a0.var(-1, keepdims=True) + 1e-5) * a1", rtol: 1e-4, atol: 1e-5 },
  { name: "LayerNorm without affine", inputs: [N8], mx: (x) => lnPlain.forward(x),
    np: "(a0 - a0.mean(-1, keepdims=True)) / np.sqrt(a0.var(-1, keepdims=True) + 1e-5)", rtol: 1e-4, atol: 1e-5 },
  { name: "GroupNorm (MLX grouping: channel c in group c % 4)", inputs: [N8, G8, B8],
    mx: (x, w, b) => gn.update({ weight: w, bias: b }).forward(x),
    np: "(lambda t: ((t - t.mean(1, keepdims=True)) / np.sqrt(t.var(1, keepdims=True) + 1e-5)).reshape(a0.shape))(a0.reshape(2, -1, 4)) * a1 + a2",
    rtol: 1e-4, atol: 1e-5 },
  { name: "GroupNorm pytorchCompatible (consecutive channels)", inputs: [N8, G8, B8],
    mx: (x, w, b) => gnTorch.update({ weight: w, bias: b }).forward(x),
    np: "(lambda t: ((t - t.mean((1, 3), keepdims=True)) / np.sqrt(t.var((1, 3), keepdims=True) + 1e-5)).reshape(a0.shape))(a0.reshape(2, -1, 4, 2)) * a1 + a2",
    rtol: 1e-4, atol: 1e-5 },
  { name: "MultiHeadAttention (cross, no mask)", inputs: [Q, KV, W8(61), W8(62), W8(63), W8(64)],
    mx: (q, kv, a, b, c, d) => mhaFwd(q, kv, a, b, c, d), np: npMha(5, 6), rtol: 1e-4, atol: 1e-5 },
  { name: "MultiHeadAttention (self, additive causal mask)", inputs: [Q, W8(61), W8(62), W8(63), W8(64)],
    mx: (q, a, b, c, d) => mhaFwd(q, q, a, b, c, d, nn.MultiHeadAttention.createAdditiveCausalMask(5)),
    np: npMha(5, 5, npCausal).replaceAll("a1", "a0").replace(/a([2-5])/g, (_m, i) => `a${Number(i) - 1}`), rtol: 1e-4, atol: 1e-5 },
  { name: "MultiHeadAttention (boolean mask and 'causal')", inputs: [Q, W8(61), W8(62), W8(63), W8(64)],
    mx: (q, a, b, c, d) => {
      const keep = mx.greaterEqual(mx.reshape(mx.arange(5), [5, 1]), mx.reshape(mx.arange(5), [1, 5]));
      return [mhaFwd(q, q, a, b, c, d, keep), mhaFwd(q, q, a, b, c, d, "causal")];
    },
    np: `[${npMha(5, 5, npCausal)}] * 2`.replaceAll("a1", "a0").replace(/a([2-5])/g, (_m, i) => `a${Number(i) - 1}`),
    rtol: 1e-4, atol: 1e-5, variants: ["transposed"] },
  { name: "Sequential Linear-relu-Linear", inputs: [X, inp(randn([6, 5], 65), [6, 5]), inp(randn([6], 66), [6]),
      inp(randn([3, 6], 67), [3, 6]), inp(randn([3], 68), [3])],
    mx: (x, w1, b1, w2, b2) => seq.update({ layers: [{ weight: w1, bias: b1 }, {}, { weight: w2, bias: b2 }] }).forward(x),
    np: "np.maximum(a0 @ a1.T + a2, 0) @ a3.T + a4", rtol: 1e-5, atol: 1e-5 },
];
runOpCases("nn.layers", cases);

test("MultiHeadAttention with bias and other input/value dims: parameter shapes and output shape", () => {
  const p = mx.utils.treeFlatten(mhaBias.parameters()).map(([k, v]) => `${k}:${(v as MxArray).shape}`);
  assert.deepEqual(p, ["queryProj.weight:8,8", "queryProj.bias:8", "keyProj.weight:8,6", "keyProj.bias:8",
    "valueProj.weight:4,6", "valueProj.bias:4", "outProj.weight:5,4", "outProj.bias:5"]);
  assert.deepEqual(mhaBias.forward(mx.ones([3, 7, 8]), mx.ones([3, 4, 6]), mx.ones([3, 4, 6])).shape, [3, 7, 5]);
  assert.throws(() => new nn.MultiHeadAttention(10, 3), (e: any) => e instanceof EngineError && /^\[MultiHeadAttention\]/.test(e.message));
});

test("createAdditiveCausalMask: 0 on and below the diagonal, the dtype's min above", () => {
  const m = nn.MultiHeadAttention.createAdditiveCausalMask(3).tolist() as number[][];
  const lo = -3.4028234663852886e38;
  assert.deepEqual(m.map((r) => r.map((v) => (v === 0 ? 0 : v))), [[0, lo, lo], [0, 0, lo], [0, 0, 0]]);
  const h = nn.MultiHeadAttention.createAdditiveCausalMask(2, mx.float16);
  assert.equal(h.dtype, mx.float16);
  assert.equal((h.tolist() as number[][])[0][1], -65504);
});

test("layer defaults as MLX: Linear U(±1/sqrt(in)), norms ones/zeros, shapes", () => {
  const l = new nn.Linear(16, 3);
  const w = l.weight.toFloat32Array(), b = l.bias!.toFloat32Array();
  assert.deepEqual(l.weight.shape, [3, 16]);
  assert.ok([...w, ...b].every((v) => Math.abs(v) <= 0.25), "inside ±1/sqrt(16)");
  assert.ok(new Set(w).size > 40, "random, not constant");
  assert.deepEqual(new nn.RMSNorm(3).weight.tolist(), [1, 1, 1]);
  const n = new nn.LayerNorm(2);
  assert.deepEqual([n.weight!.tolist(), n.bias!.tolist()], [[1, 1], [0, 0]]);
  assert.deepEqual(mx.utils.treeFlatten(new nn.LayerNorm(2, 1e-5, { affine: false }).parameters()), []);
  assert.deepEqual(mx.utils.treeFlatten(new nn.GroupNorm(2, 4).parameters()).map(([k]) => k), ["weight", "bias"]);
  assert.deepEqual(mx.utils.treeFlatten(new nn.Conv2d(3, 8, [3, 5], 1, 1).parameters()).map(([k, v]) => `${k}:${(v as MxArray).shape}`),
    ["weight:8,3,5,3", "bias:8"], "stride/padding pairs are settings, not parameters");
  assert.deepEqual(new nn.Conv1d(4, 6, 3, 1, 0, 1, 2).weight.shape, [6, 3, 2]);
  assert.deepEqual(new nn.Embedding(10, 4).weight.shape, [10, 4]);
  assert.deepEqual(new nn.Identity().forward(mx.ones([2])).tolist(), [1, 1]);
});

test("RMSNorm / LayerNorm keep half dtypes and compute statistics in float32", () => {
  const x = mx.astype(mx.array([[100, 101, 102, 103]], mx.float32), mx.bfloat16);
  const y = new nn.RMSNorm(4).apply((a) => mx.astype(a, mx.bfloat16)).forward(x);
  assert.equal(y.dtype, mx.bfloat16);
  const z = new nn.LayerNorm(4).apply((a) => mx.astype(a, mx.bfloat16)).forward(x);
  assert.equal(z.dtype, mx.bfloat16);
  const zs = z.toFloat32Array();
  assert.ok(Math.abs(zs[0] + 1.3416) < 0.02 && Math.abs(zs[3] - 1.3416) < 0.02, `normalized ${zs}`);
});

test("layer input errors", () => {
  const err = (re: RegExp) => (e: any) => e instanceof EngineError && re.test(e.message);
  assert.throws(() => new nn.RMSNorm(4).forward(mx.ones([2, 3])), err(/^\[RMSNorm\] expected the last axis of the input to be 4, got shape \[2, 3\]/));
  assert.throws(() => new nn.LayerNorm(4).forward(mx.ones([4, 2])), err(/^\[LayerNorm\]/));
  assert.throws(() => new nn.GroupNorm(3, 8), err(/^\[GroupNorm\] dims \(8\) must be divisible by numGroups \(3\)/));
  assert.throws(() => new nn.Conv1d(3, 4, 3, 1, 0, 1, 2), err(/^\[Conv1d\] inChannels \(3\) and outChannels \(4\) must be divisible by groups \(2\)/));
  assert.throws(() => new nn.Dropout(1), err(/^\[Dropout\] the probability must be in \[0, 1\)/));
});

test("Dropout is the identity in eval mode and with p = 0", () => {
  const x = mx.array([[1, 2], [3, 4]], mx.float32);
  const d = new nn.Dropout(0.5);
  d.eval();
  assert.equal(d.forward(x), x);
  assert.equal(new nn.Dropout(0).forward(x), x);
  assert.equal(d.p, 0.5);
});

test("Dropout in training mode: zeros with probability p, survivors scaled by 1/(1-p)",
  { skip: !has("random.bernoulli") && "needs mx.random.bernoulli (merging)" }, () => {
    const d = new nn.Dropout(0.25);
    const y = d.forward(mx.ones([20000])).toFloat32Array();
    const zeros = y.filter((v) => v === 0).length;
    assert.ok(y.every((v) => v === 0 || Math.abs(v - 1 / 0.75) < 1e-6));
    assert.ok(Math.abs(zeros / y.length - 0.25) < 0.02, `dropped fraction ${zeros / y.length}`);
    assert.equal(d.forward(mx.ones([4], mx.bfloat16)).dtype, mx.bfloat16);
  });

function npCheck(expr: string, inputs: Record<string, MxArray>, got: MxArray, rtol = 1e-5, atol = 1e-5): void {
  const tensors: Record<string, NpTensor> = {};
  for (const [k, v] of Object.entries(inputs))
    tensors[k] = { data: Array.from(v.toFloat32Array()), shape: v.shape, dtype: v.dtype.kind === "float" ? "float32" : "int64" };
  const [ref] = numpyEval([{ expr, inputs: tensors }]);
  if ("error" in ref) throw new Error(ref.error);
  assert.deepEqual(got.shape, (ref as NpTensor).shape);
  assertClose(got.toFloat32Array(), (ref as NpTensor).data, rtol, atol, expr);
}

test("Embedding: rows of the table for integer ids; asLinear is x·Wᵀ; gradient scatters into the rows",
  { skip: !has("take") && "needs mx.take (merging)" }, () => {
    const e = new nn.Embedding(7, 3);
    const ids = mx.array([[0, 6, 2], [2, 2, 5]], mx.int32);
    npCheck("a0[a1]", { a0: e.weight, a1: ids }, e.forward(ids), 0, 0);
    const h = mx.array(Float64Array.from(randn([2, 3], 71)), mx.float32, [2, 3]);
    npCheck("a1 @ a0.T", { a0: e.weight, a1: h }, e.asLinear(h));
    const g = mx.grad((w: MxArray) => mx.sum(e.update({ weight: w }).forward(ids)))(e.weight).tolist() as number[][];
    assert.deepEqual(g.map((r) => r[0]), [1, 0, 3, 0, 0, 1, 1]);
  });

test("Embedding.asLinear works without mx.take (tied output head)", () => {
  const e = new nn.Embedding(5, 2);
  e.update({ weight: mx.array([[1, 0], [0, 1], [1, 1], [2, 0], [0, 0]], mx.float32) });
  assert.deepEqual(e.asLinear(mx.array([[3, 4]], mx.float32)).tolist(), [[3, 4, 7, 6, 0]]);
});

const convInputs = () => ({
  x1: mx.array(Float64Array.from(randn([2, 9, 4], 81)), mx.float32, [2, 9, 4]),
  x2: mx.array(Float64Array.from(randn([2, 7, 6, 4], 82)), mx.float32, [2, 7, 6, 4]),
});

test("Conv1d against NumPy (stride, padding, dilation, groups)", { skip: !has("conv1d") && "needs mx.conv1d (merging)" }, () => {
  const { x1 } = convInputs();
  for (const [stride, pad, dil, groups] of [[1, 0, 1, 1], [2, 1, 1, 1], [1, 2, 2, 1], [1, 1, 1, 2]]) {
    const c = new nn.Conv1d(4, 6, 3, stride, pad, dil, groups);
    c.update({ bias: mx.array(Float64Array.from(randn([6], 83)), mx.float32, [6]) });
    const cin = 4 / groups, cout = 6 / groups;
    const perGroup = Array.from({ length: groups }, (_, g) =>
      `np.einsum("nlkc,okc->nlo", np.lib.stride_tricks.sliding_window_view(np.pad(a0, ((0, 0), (${pad}, ${pad}), (0, 0)))[..., ${g * cin}:${(g + 1) * cin}], ${(3 - 1) * dil + 1}, axis=1)[..., ::${dil}].transpose(0, 1, 3, 2)[:, ::${stride}], a1[${g * cout}:${(g + 1) * cout}])`);
    npCheck(`np.concatenate([${perGroup.join(", ")}], -1) + a2`, { a0: x1, a1: c.weight, a2: c.bias! }, c.forward(x1), 1e-4, 1e-5);
  }
});

test("Conv2d against NumPy (stride, padding)", { skip: !has("conv2d") && "needs mx.conv2d (merging)" }, () => {
  const { x2 } = convInputs();
  for (const [stride, pad] of [[1, 0], [2, 1], [[1, 2], [2, 0]]] as const) {
    const c = new nn.Conv2d(4, 5, [3, 2], stride as any, pad as any);
    const [sh, sw] = typeof stride === "number" ? [stride, stride] : stride;
    const [ph, pw] = typeof pad === "number" ? [pad, pad] : pad;
    const expr = `np.einsum("nhwcij,oijc->nhwo", np.lib.stride_tricks.sliding_window_view(np.pad(a0, ((0, 0), (${ph}, ${ph}), (${pw}, ${pw}), (0, 0))), (3, 2), axis=(1, 2))[:, ::${sh}, ::${sw}], a1) + a2`;
    npCheck(expr, { a0: x2, a1: c.weight, a2: c.bias! }, c.forward(x2), 1e-4, 1e-5);
  }
});

// NumPy RoPE: rotate the two halves (or adjacent pairs when traditional) of the first `dims` features.
function npRope(dims: number, traditional: boolean, base: number, scale: number, offset: number): string {
  const h = dims / 2;
  const theta = `((${offset} + np.arange(a0.shape[-2]))[:, None] * ${scale}) * (${base} ** (-np.arange(${h}) * 2 / ${dims}))[None, :]`;
  const [x1, x2] = traditional ? [`a0[..., 0:${dims}:2]`, `a0[..., 1:${dims}:2]`] : [`a0[..., :${h}]`, `a0[..., ${h}:${dims}]`];
  const rot = `(lambda c, s: [${x1} * c - ${x2} * s, ${x1} * s + ${x2} * c])(np.cos(${theta}), np.sin(${theta}))`;
  const merged = traditional ? `np.stack(r, -1).reshape(*a0.shape[:-1], ${dims})` : `np.concatenate(r, -1)`;
  return `(lambda r: np.concatenate([${merged}, a0[..., ${dims}:]], -1))(${rot})`;
}

test("RoPE against NumPy (halves and traditional pairs, partial dims, offset, scale)", { skip: !has("fast.rope") && "needs mx.fast.rope (merging)" }, () => {
  const x = mx.array(Float64Array.from(randn([2, 3, 5, 8], 91)), mx.float32, [2, 3, 5, 8]);
  for (const [dims, trad, base, scale, offset] of [[8, false, 10000, 1, 0], [8, true, 10000, 1, 3], [4, false, 500, 0.5, 7]] as const) {
    const r = new nn.RoPE(dims, trad, base, scale);
    npCheck(npRope(dims, trad, base, scale, offset), { a0: x }, r.forward(x, offset), 1e-4, 1e-5);
  }
});

test("layers that need merging ops say which op they need", () => {
  const missing = (name: string) => !has(name);
  if (missing("take")) assert.throws(() => new nn.Embedding(3, 2).forward(mx.array([1])), /^EngineError: \[Embedding\] needs mx\.take/);
  if (missing("conv1d")) assert.throws(() => new nn.Conv1d(1, 1, 1).forward(mx.ones([1, 2, 1])), /\[Conv1d\] needs mx\.conv1d/);
  if (missing("fast.rope")) assert.throws(() => new nn.RoPE(4).forward(mx.ones([1, 2, 4])), /\[RoPE\] needs mx\.fast\.rope/);
});

const grads: GradCase[] = [
  { name: "Linear", shapes: [[2, 3, 5], [4, 5], [4]], fn: (x, w, b) => linear(x, w, b) },
  { name: "RMSNorm", shapes: [[2, 3, 8], [8]], fn: (x, w) => rms.update({ weight: w }).forward(x) },
  { name: "LayerNorm", shapes: [[2, 3, 8], [8], [8]], fn: (x, w, b) => ln.update({ weight: w, bias: b }).forward(x) },
  { name: "GroupNorm", shapes: [[2, 3, 8], [8], [8]], fn: (x, w, b) => gn.update({ weight: w, bias: b }).forward(x) },
  { name: "GroupNorm pytorchCompatible", shapes: [[2, 3, 8], [8], [8]], fn: (x, w, b) => gnTorch.update({ weight: w, bias: b }).forward(x) },
  { name: "MultiHeadAttention (causal)", shapes: [[1, 4, 8], [8, 8], [8, 8], [8, 8], [8, 8]],
    fn: (q, a, b, c, d) => mhaFwd(q, q, a, b, c, d, nn.MultiHeadAttention.createAdditiveCausalMask(4, mx.float64)),
    init: (v, i) => (i === 0 ? v : v / Math.sqrt(8)) },
  { name: "Sequential", shapes: [[3, 5], [6, 5], [6], [3, 6], [3]],
    fn: (x, w1, b1, w2, b2) => seq.update({ layers: [{ weight: w1, bias: b1 }, {}, { weight: w2, bias: b2 }] }).forward(x) },
  { name: "Embedding.asLinear", shapes: [[2, 3], [5, 3]], fn: (h, w) => new nn.Embedding(5, 3).update({ weight: w }).asLinear(h) },
];
runGradCases("nn.layers", grads);

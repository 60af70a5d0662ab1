// Activation functions and classes against NumPy formulas, and their gradients against finite differences.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mx, nn, EngineError } from "../src/index.js";
import type { MxArray } from "../src/index.js";
import { inp, runOpCases, type OpCase } from "./helpers/op-cases.js";
import { runGradCases, type GradCase } from "./helpers/gradcheck.js";
import { randn } from "./helpers/random.js";

const X = inp(randn([3, 4], 41).map((v) => v * 3), [3, 4]);  // spread enough to cross 0, ±3 and 6
const Wide = inp(randn([2, 3, 5], 42).map((v) => v * 5), [2, 3, 5]);

const table: [string, (x: MxArray) => MxArray, string][] = [
  ["relu", nn.relu, "np.maximum(a0, 0)"],
  ["relu6", nn.relu6, "np.minimum(np.maximum(a0, 0), 6)"],
  ["relu2", nn.relu2, "np.maximum(a0, 0) ** 2"],
  ["leakyRelu", (x) => nn.leakyRelu(x), "np.where(a0 > 0, a0, 0.01 * a0)"],
  ["leakyRelu 0.2", (x) => nn.leakyRelu(x, 0.2), "np.where(a0 > 0, a0, 0.2 * a0)"],
  ["elu", (x) => nn.elu(x), "np.where(a0 > 0, a0, np.expm1(a0))"],
  ["elu alpha 0.5", (x) => nn.elu(x, 0.5), "np.where(a0 > 0, a0, 0.5 * np.expm1(a0))"],
  ["celu", (x) => nn.celu(x, 1.5), "np.maximum(a0, 0) + 1.5 * np.expm1(np.minimum(a0, 0) / 1.5)"],
  ["selu", nn.selu, "1.0507 * np.where(a0 > 0, a0, 1.67326 * np.expm1(a0))"],
  ["gelu", nn.gelu, "a0 * 0.5 * (1 + erf(a0 / np.sqrt(2)))"],
  ["geluApprox", nn.geluApprox, "0.5 * a0 * (1 + np.tanh(np.sqrt(2 / np.pi) * (a0 + 0.044715 * a0 ** 3)))"],
  ["geluFastApprox", nn.geluFastApprox, "a0 * sigmoid(1.702 * a0)"],
  ["silu", nn.silu, "a0 * sigmoid(a0)"],
  ["sigmoid", nn.sigmoid, "sigmoid(a0)"],
  ["tanh", nn.tanh, "np.tanh(a0)"],
  ["softplus", nn.softplus, "np.logaddexp(a0, 0)"],
  ["softsign", nn.softsign, "a0 / (1 + np.abs(a0))"],
  ["mish", nn.mish, "a0 * np.tanh(np.logaddexp(a0, 0))"],
  ["logSigmoid", nn.logSigmoid, "-np.logaddexp(-a0, 0)"],
  ["hardSwish", nn.hardSwish, "a0 * np.clip(a0 + 3, 0, 6) / 6"],
  ["hardTanh", (x) => nn.hardTanh(x, -2, 1.5), "np.clip(a0, -2, 1.5)"],
  ["step", (x) => nn.step(x, 0.5), "(a0 > 0.5).astype(a0.dtype)"],
  ["softmax", (x) => nn.softmax(x), "softmax(a0, axis=-1)"],
  ["softmin", (x) => nn.softmin(x, 0), "softmax(-a0, axis=0)"],
  ["logSoftmax", (x) => nn.logSoftmax(x), "np.log(softmax(a0, axis=-1))"],
];

const cases: OpCase[] = table.map(([name, f, np]) => ({ name, inputs: [X], mx: (a) => f(a), np, rtol: 2e-5, atol: 2e-5 }));
cases.push(
  { name: "prelu per-channel", inputs: [X, inp([0.1, 0.2, 0.3, -0.5], [4])], mx: (a, w) => nn.prelu(a, w),
    np: "np.maximum(a0, 0) + a1 * np.minimum(a0, 0)" },
  { name: "gelu on a 3-d input", inputs: [Wide], mx: (a) => nn.gelu(a), np: "a0 * 0.5 * (1 + erf(a0 / np.sqrt(2)))", rtol: 2e-5, atol: 2e-5 },
  { name: "softplus large inputs stay finite", inputs: [inp([-100, -20, 0, 20, 100], [5])], mx: (a) => nn.softplus(a),
    np: "np.logaddexp(a0, 0)", variants: [] },
);
runOpCases("nn.activations", cases);

// Classes give the same values as their functions.
const classTable: [string, nn.Module & { forward(x: MxArray): MxArray }, (x: MxArray) => MxArray][] = [
  ["ReLU", new nn.ReLU(), nn.relu], ["ReLU6", new nn.ReLU6(), nn.relu6], ["ReLU2", new nn.ReLU2(), nn.relu2],
  ["LeakyReLU", new nn.LeakyReLU(0.3), (x) => nn.leakyRelu(x, 0.3)], ["ELU", new nn.ELU(0.7), (x) => nn.elu(x, 0.7)],
  ["CELU", new nn.CELU(2), (x) => nn.celu(x, 2)], ["SELU", new nn.SELU(), nn.selu], ["SiLU", new nn.SiLU(), nn.silu],
  ["Sigmoid", new nn.Sigmoid(), nn.sigmoid], ["Tanh", new nn.Tanh(), nn.tanh], ["Softplus", new nn.Softplus(), nn.softplus],
  ["Softsign", new nn.Softsign(), nn.softsign], ["Mish", new nn.Mish(), nn.mish], ["LogSigmoid", new nn.LogSigmoid(), nn.logSigmoid],
  ["Hardswish", new nn.Hardswish(), nn.hardSwish], ["HardTanh", new nn.HardTanh(-0.5, 0.5), (x) => nn.hardTanh(x, -0.5, 0.5)],
  ["Step", new nn.Step(0.1), (x) => nn.step(x, 0.1)], ["Softmax", new nn.Softmax(0), (x) => nn.softmax(x, 0)],
  ["Softmin", new nn.Softmin(), (x) => nn.softmin(x)], ["LogSoftmax", new nn.LogSoftmax(), (x) => nn.logSoftmax(x)],
  ["GELU", new nn.GELU(), nn.gelu], ["GELU precise", new nn.GELU("precise"), nn.geluApprox],
  ["GELU tanh", new nn.GELU("tanh"), nn.geluApprox], ["GELU fast", new nn.GELU("fast"), nn.geluFastApprox],
];
test("activation classes match their functions and have no parameters", () => {
  const x = mx.array(Float64Array.from(randn([3, 4], 43)), mx.float32, [3, 4]);
  for (const [name, m, f] of classTable) {
    assert.deepEqual(m.forward(x).tolist(), f(x).tolist(), name);
    assert.deepEqual(mx.utils.treeFlatten(m.parameters()), [], `${name} has no parameters`);
  }
  assert.throws(() => new nn.GELU("exact" as any), (e: any) => e instanceof EngineError && /^\[GELU\] approx must be/.test(e.message));
});

test("PReLU: a learned slope parameter (MLX init 0.25)", () => {
  const p = new nn.PReLU();
  assert.deepEqual(mx.utils.treeFlatten(p.parameters()).map(([k]) => k), ["weight"]);
  assert.deepEqual(p.forward(mx.array([-4, 2], mx.float32)).tolist(), [-1, 2]);
  const q = new nn.PReLU(2, 0.5);
  assert.deepEqual(q.forward(mx.array([[-2, -4]], mx.float32)).tolist(), [[-1, -2]]);
});

const hasSplit = typeof (mx as any).split === "function";
test("glu: a · sigmoid(b) over the two halves", { skip: !hasSplit && "needs mx.split (merging)" }, () => {
  const x = mx.array([[1, 2, -1, 3], [0.5, -2, 2, 0]], mx.float32);
  const y = nn.glu(x).tolist() as number[][];
  const sig = (v: number) => 1 / (1 + Math.exp(-v));
  const want = [[1 * sig(-1), 2 * sig(3)], [0.5 * sig(2), -2 * sig(0)]];
  want.flat().forEach((w, i) => assert.ok(Math.abs(y.flat()[i] - w) < 1e-6));
  assert.deepEqual(new nn.GLU(0).forward(x).shape, [1, 4]);
  const g = mx.grad((a: MxArray) => mx.sum(nn.glu(a)))(x).tolist() as number[][];
  assert.ok(Math.abs(g[0][0] - sig(-1)) < 1e-6);
});

test("glu: odd axis size is an error", () => {
  assert.throws(() => nn.glu(mx.ones([2, 3])), (e: any) => e instanceof EngineError && /^\[glu\] the size of axis -1 must be even/.test(e.message));
});

const grads: GradCase[] = [
  ...table.filter(([n]) => n !== "step").map(([name, f]): GradCase => ({
    name, shapes: [[3, 4]], fn: (a) => f(a),
    // Keep inputs away from the kinks of the piecewise functions (0, ±3, 6 and the clip bounds).
    init: (v) => { const x = v * 2.5; const kinks = [0, 3, -3, 6, -2, 1.5]; return kinks.some((k) => Math.abs(x - k) < 0.05) ? x + 0.1 : x; },
  })),
  { name: "prelu (input and slope)", shapes: [[3, 4], [4]], fn: (a, w) => nn.prelu(a, w) },
];
runGradCases("nn.activations", grads);

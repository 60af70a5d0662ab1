import { test } from "node:test";
import assert from "node:assert/strict";
import { mx } from "../src/index.js";
import { inp, runOpCases, type OpCase } from "./helpers/op-cases.js";
import { runGradCases } from "./helpers/gradcheck.js";
import { randn, randint } from "./helpers/random.js";

const X = inp(randn([2, 3, 4], 21), [2, 3, 4]);
const M = inp(randn([5, 6], 22), [5, 6]);
const I = inp(randint([3, 4], -5, 6, 23), [3, 4], "int32");
const Bo = inp(randint([3, 4], 0, 2, 24), [3, 4], "bool");

const cases: OpCase[] = [];
for (const [name, np] of [["sum", "np.sum"], ["prod", "np.prod"], ["max", "np.max"], ["min", "np.min"], ["mean", "np.mean"]] as const) {
  const f = (mx as any)[name];
  cases.push(
    { name: `${name} all`, inputs: [X], mx: (a) => f(a), np: `${np}(a0)`, rtol: 1e-5 },
    { name: `${name} axis 0`, inputs: [X], mx: (a) => f(a, 0), np: `${np}(a0, axis=0)` },
    { name: `${name} axis -1 keepdims`, inputs: [X], mx: (a) => f(a, -1, true), np: `${np}(a0, axis=-1, keepdims=True)` },
    { name: `${name} axes [0, 2]`, inputs: [X], mx: (a) => f(a, [0, 2]), np: `${np}(a0, axis=(0, 2))` },
    { name: `${name} axis 1 of matrix`, inputs: [M], mx: (a) => f(a, 1), np: `${np}(a0, axis=1)` },
  );
}
cases.push(
  { name: "sum int32 stays int32", inputs: [I], mx: (a) => mx.sum(a, 1), np: "np.sum(a0, axis=1)", dtype: "int32" },
  { name: "sum bool gives int32", inputs: [Bo], mx: (a) => mx.sum(a, 0), np: "np.sum(a0, axis=0)", dtype: "int32" },
  { name: "all / any", inputs: [Bo], mx: (a) => [mx.all(a, 1), mx.any(a, 0), mx.all(a), mx.any(a)],
    np: "[np.all(a0, axis=1), np.any(a0, axis=0), np.all(a0), np.any(a0)]" },
  { name: "argmax / argmin", inputs: [M], mx: (a) => [mx.argmax(a, 1), mx.argmin(a, 0), mx.argmax(a)],
    np: "[np.argmax(a0, axis=1), np.argmin(a0, axis=0), np.argmax(a0)]", variants: ["transposed"] },
  { name: "var / std", inputs: [X], mx: (a) => [mx.var(a, 1), mx.std(a, [0, 2], true), mx.var(a, undefined, false, 1)],
    np: "[np.var(a0, axis=1), np.std(a0, axis=(0, 2), keepdims=True), np.var(a0, ddof=1)]", rtol: 1e-5 },
  { name: "logsumexp", inputs: [X], mx: (a) => [mx.logsumexp(a, -1), mx.logsumexp(a)], np: "[logsumexp(a0, axis=-1), logsumexp(a0)]" },
  { name: "softmax / logSoftmax", inputs: [M], mx: (a) => [mx.softmax(a, -1), mx.logSoftmax(a, 0)],
    np: "[softmax(a0, axis=-1), np.log(softmax(a0, axis=0))]", rtol: 1e-5, atol: 1e-6 },
  { name: "sum of empty", inputs: [inp([], [0, 3])], mx: (a) => [mx.sum(a, 0), mx.sum(a, 1)], np: "[np.sum(a0, axis=0), np.sum(a0, axis=1)]", variants: [] },
  { name: "reshape", inputs: [X], mx: (a) => mx.reshape(a, [4, -1]), np: "a0.reshape(4, -1)" },
  { name: "transpose", inputs: [X], mx: (a) => [mx.transpose(a), mx.transpose(a, [1, 0, 2]), a.T], np: "[a0.T, a0.transpose(1, 0, 2), a0.T]" },
  { name: "swapaxes / moveaxis", inputs: [X], mx: (a) => [mx.swapaxes(a, 0, -1), mx.moveaxis(a, 0, 2)], np: "[np.swapaxes(a0, 0, -1), np.moveaxis(a0, 0, 2)]" },
  { name: "expandDims / squeeze", inputs: [M], mx: (a) => [mx.expandDims(a, [0, -1]), mx.squeeze(mx.expandDims(a, 1))], np: "[a0[None, :, :, None], a0]" },
  { name: "broadcastTo", inputs: [inp(randn([3, 1], 25), [3, 1])], mx: (a) => mx.broadcastTo(a, [2, 3, 4]), np: "np.broadcast_to(a0, (2, 3, 4))" },
  { name: "flatten", inputs: [X], mx: (a) => [mx.flatten(a), mx.flatten(a, 1)], np: "[a0.reshape(-1), a0.reshape(2, -1)]" },
  { name: "reshape of transposed copies correctly", inputs: [M], mx: (a) => mx.reshape(mx.transpose(a), [-1]), np: "a0.T.reshape(-1)" },
  { name: "arange / linspace / eye", inputs: [], mx: () => [mx.arange(2, 11, 3), mx.arange(0, 1, 0.25), mx.linspace(0, 1, 5), mx.eye(3, 4, 1)],
    np: "[np.arange(2, 11, 3), np.arange(0, 1, 0.25), np.linspace(0, 1, 5), np.eye(3, 4, 1)]", variants: [] },
);
runOpCases("reduce/layout", cases);

runGradCases("reduce/layout", [
  { name: "sum axis", shapes: [[3, 4]], fn: (a) => mx.sum(a, 1) },
  { name: "mean axes", shapes: [[2, 3, 4]], fn: (a) => mx.mean(a, [0, 2]) },
  { name: "prod", shapes: [[3, 4]], fn: (a) => mx.prod(a, 0) },
  { name: "prod with a zero", shapes: [[3]], fn: (a) => mx.prod(mx.multiply(a, mx.array([1, 0, 1], mx.float64))) },
  { name: "max", shapes: [[3, 4]], fn: (a) => mx.max(a, 1) },
  { name: "min keepdims", shapes: [[3, 4]], fn: (a) => mx.min(a, 0, true) },
  { name: "logsumexp", shapes: [[3, 4]], fn: (a) => mx.logsumexp(a, 1) },
  { name: "softmax", shapes: [[3, 4]], fn: (a) => mx.softmax(a, -1) },
  { name: "logSoftmax", shapes: [[3, 4]], fn: (a) => mx.logSoftmax(a, -1) },
  { name: "var", shapes: [[3, 4]], fn: (a) => mx.var(a, 1) },
  { name: "reshape+transpose", shapes: [[2, 6]], fn: (a) => mx.transpose(mx.reshape(a, [3, 4])) },
  { name: "broadcastTo", shapes: [[3, 1]], fn: (a) => mx.broadcastTo(a, [2, 3, 4]) },
  { name: "expandDims/squeeze", shapes: [[3]], fn: (a) => mx.squeeze(mx.expandDims(a, 0)) },
]);

test("a sum of 2^20 float32 ones is exact enough (partial accumulators)", () => {
  assert.equal(mx.sum(mx.ones([1 << 20])).item(), 1 << 20);
});

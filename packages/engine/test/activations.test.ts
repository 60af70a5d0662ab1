// Fused activations: geluApprox(x[, mul]) against NumPy, its gradient, broadcasting, errors and special values.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mx, EngineError } from "../src/index.js";
import { geluApprox } from "../src/core/ops-activations.js";
import { inp, runOpCases, type OpCase } from "./helpers/op-cases.js";
import { runGradCases } from "./helpers/gradcheck.js";
import { randn } from "./helpers/random.js";

const GELU = "(0.5 * a0 * (1 + np.tanh(np.sqrt(2 / np.pi) * (a0 + 0.044715 * a0 ** 3))))";
const x = (shape: number[], seed: number, scale = 3) => inp(randn(shape, seed).map((v) => v * scale), shape);
// 37 elements: a vector body plus a tail; 3×4100 spans several threads' chunks.
const cases: OpCase[] = [
  { name: "geluApprox", inputs: [x([37], 1)], mx: (a) => geluApprox(a), np: GELU, rtol: 1e-5, atol: 1e-6 },
  { name: "geluApprox 2-D", inputs: [x([5, 7], 2)], mx: (a) => geluApprox(a), np: GELU, rtol: 1e-5, atol: 1e-6 },
  { name: "geluApprox times mul", inputs: [x([6, 37], 3), x([6, 37], 4, 1)], mx: (a, b) => geluApprox(a, b), np: `${GELU} * a1`, rtol: 1e-5, atol: 1e-6 },
  { name: "geluApprox mul broadcast", inputs: [x([4, 9], 5), x([9], 6, 1)], mx: (a, b) => geluApprox(a, b), np: `${GELU} * a1`, rtol: 1e-5, atol: 1e-6 },
  { name: "geluApprox large (threaded)", inputs: [x([3, 4100], 7)], mx: (a) => geluApprox(a), np: GELU, rtol: 1e-5, atol: 1e-6 },
  { name: "geluApprox fallback", inputs: [x([5, 7], 8), x([5, 7], 9, 1)], mx: (a, b) => geluApprox(a, b, { fallback: true }), np: `${GELU} * a1`, rtol: 1e-5, atol: 1e-6 },
];
runOpCases("activations", cases);

runGradCases("activations", [
  { name: "geluApprox", shapes: [[3, 5]], fn: (a) => geluApprox(a) },
  { name: "geluApprox times mul", shapes: [[3, 5], [3, 5]], fn: (a, b) => geluApprox(a, b) },
  { name: "geluApprox mul broadcast", shapes: [[2, 4], [4]], fn: (a, b) => geluApprox(a, b) },
]);

test("activations: geluApprox dtypes, special values and errors", () => {
  assert.equal(geluApprox(mx.ones([3], mx.bfloat16)).dtype, mx.bfloat16);
  assert.equal(geluApprox(mx.ones([3], mx.bfloat16), mx.ones([3], mx.float32)).dtype, mx.float32);
  assert.equal(geluApprox(mx.ones([2], mx.float64)).dtype, mx.float64);
  const s = geluApprox(mx.array([NaN, Infinity, -Infinity, 0, 50, -50])).tolist() as number[];
  assert.ok(Number.isNaN(s[0]));
  assert.deepEqual(s.slice(1, 5), [Infinity, 0, 0, 50]);
  assert.ok(Math.abs(s[5]) < 1e-30);
  assert.deepEqual(geluApprox(mx.zeros([0, 3])).shape, [0, 3]);
  assert.throws(() => geluApprox(mx.ones([3], mx.int32)), (e: unknown) => e instanceof EngineError && /^\[geluApprox\] x must be floating/.test(e.message));
  assert.throws(() => geluApprox(mx.ones([3]), mx.ones([4])), (e: unknown) => e instanceof EngineError && /^\[geluApprox\]/.test(e.message));
});

import { mx } from "../src/index.js";
import { inp, runOpCases, type OpCase } from "./helpers/op-cases.js";
import { runGradCases, type GradCase } from "./helpers/gradcheck.js";
import { randn, uniform, randint } from "./helpers/random.js";

const A = inp(randn([3, 4], 1), [3, 4]);
const B = inp(randn([3, 4], 2), [3, 4]);
const Brow = inp(randn([4], 3), [4]);
const Bcol = inp(randn([3, 1], 4), [3, 1]);
const P = inp(uniform([3, 4], 0.1, 3, 5), [3, 4]);  // positive
const U = inp(uniform([3, 4], -0.9, 0.9, 6), [3, 4]);  // inside (-1, 1)
const I = inp(randint([3, 4], -9, 10, 7), [3, 4], "int32");
const J = inp(randint([3, 4], 1, 5, 8).map((v, i) => (i % 2 ? -v : v)), [3, 4], "int32");  // nonzero
const E = inp([], [0, 4]);

const unary: [string, string, typeof A, object?][] = [
  ["abs", "np.abs(a0)", A], ["negative", "np.negative(a0)", A], ["sign", "np.sign(a0)", A], ["exp", "np.exp(a0)", A],
  ["expm1", "np.expm1(a0)", A], ["log", "np.log(a0)", P], ["log1p", "np.log1p(a0)", P], ["log2", "np.log2(a0)", P],
  ["log10", "np.log10(a0)", P], ["sqrt", "np.sqrt(a0)", P], ["rsqrt", "1/np.sqrt(a0)", P], ["square", "np.square(a0)", A],
  ["reciprocal", "1/a0", P], ["sin", "np.sin(a0)", A], ["cos", "np.cos(a0)", A], ["tan", "np.tan(a0)", U],
  ["arcsin", "np.arcsin(a0)", U], ["arccos", "np.arccos(a0)", U], ["arctan", "np.arctan(a0)", A],
  ["sinh", "np.sinh(a0)", A], ["cosh", "np.cosh(a0)", A], ["tanh", "np.tanh(a0)", A], ["sigmoid", "sigmoid(a0)", A],
  ["erf", "erf(a0)", A], ["erfinv", "erfinv(a0)", U], ["floor", "np.floor(a0)", A], ["ceil", "np.ceil(a0)", A],
  ["round", "np.round(a0)", A], ["isnan", "np.isnan(a0)", A], ["isinf", "np.isinf(a0)", A],
];

const cases: OpCase[] = [];
for (const [name, np, x] of unary) {
  const f = (mx as unknown as Record<string, (a: unknown) => ReturnType<typeof mx.exp>>)[name];
  cases.push({ name, inputs: [x], mx: (a) => f(a), np, rtol: 2e-5, atol: 1e-5 });
}
const binary: [string, string][] = [
  ["add", "a0 + a1"], ["subtract", "a0 - a1"], ["multiply", "a0 * a1"], ["divide", "a0 / a1"],
  ["maximum", "np.maximum(a0, a1)"], ["minimum", "np.minimum(a0, a1)"], ["equal", "a0 == a1"],
  ["notEqual", "a0 != a1"], ["less", "a0 < a1"], ["lessEqual", "a0 <= a1"], ["greater", "a0 > a1"],
  ["greaterEqual", "a0 >= a1"], ["arctan2", "np.arctan2(a0, a1)"], ["logaddexp", "np.logaddexp(a0, a1)"],
];
for (const [name, np] of binary) {
  const f = (mx as unknown as Record<string, (a: unknown, b: unknown) => ReturnType<typeof mx.add>>)[name];
  cases.push({ name, inputs: [A, B], mx: (a, b) => f(a, b), np });
  cases.push({ name: `${name} broadcast row`, inputs: [A, Brow], mx: (a, b) => f(a, b), np, variants: ["transposed"] });
  cases.push({ name: `${name} broadcast col`, inputs: [Bcol, A], mx: (a, b) => f(a, b), np, variants: ["transposed"] });
}
cases.push(
  { name: "power", inputs: [P, B], mx: (a, b) => mx.power(a, b), np: "np.power(a0, a1)", rtol: 1e-5 },
  { name: "floorDivide float", inputs: [A, P], mx: (a, b) => mx.floorDivide(a, b), np: "np.floor_divide(a0, a1)" },
  { name: "remainder float", inputs: [A, P], mx: (a, b) => mx.remainder(a, b), np: "np.remainder(a0, a1)", atol: 1e-5 },
  { name: "floorDivide int", inputs: [I, J], mx: (a, b) => mx.floorDivide(a, b), np: "np.floor_divide(a0, a1)", dtype: "int32" },
  { name: "remainder int", inputs: [I, J], mx: (a, b) => mx.remainder(a, b), np: "np.remainder(a0, a1)", dtype: "int32" },
  { name: "divide int gives float32", inputs: [I, J], mx: (a, b) => mx.divide(a, b), np: "(a0 / a1).astype(np.float32)", dtype: "float32" },
  { name: "add int + float promotes", inputs: [I, A], mx: (a, b) => mx.add(a, b), np: "a0 + a1", dtype: "float32" },
  { name: "power int", inputs: [I, inp(randint([3, 4], 0, 4, 9), [3, 4], "int32")], mx: (a, b) => mx.power(a, b), np: "np.power(a0, a1)", dtype: "int32" },
  { name: "where", inputs: [inp(randint([3, 4], 0, 2, 10), [3, 4], "bool"), A, Brow], mx: (c, a, b) => mx.where(c, a, b), np: "np.where(a0, a1, a2)" },
  { name: "clip", inputs: [A], mx: (a) => mx.clip(a, -0.5, 0.5), np: "np.clip(a0, -0.5, 0.5)" },
  { name: "logicalAnd/Or/Not", inputs: [inp(randint([5], 0, 2, 11), [5], "bool"), inp(randint([5], 0, 2, 12), [5], "bool")],
    mx: (a, b) => [mx.logicalAnd(a, b), mx.logicalOr(a, b), mx.logicalNot(a)], np: "[a0 & a1, a0 | a1, ~a0]" },
  { name: "scalar weak typing keeps float16", inputs: [A], mx: (a) => mx.add(a.astype(mx.float16), 2).astype(mx.float32),
    np: "(a0.astype(np.float16) + 2).astype(np.float32)", variants: [], rtol: 1e-3 },
  { name: "scalar float with int array gives float32", inputs: [I], mx: (a) => mx.multiply(a, 0.5), np: "a0 * 0.5", dtype: "float32", variants: [] },
  { name: "empty add", inputs: [E, E], mx: (a, b) => mx.add(a, b), np: "a0 + a1", variants: [] },
  { name: "empty broadcast", inputs: [E, Brow], mx: (a, b) => mx.multiply(a, b), np: "a0 * a1", variants: [] },
  { name: "3-d broadcast", inputs: [inp(randn([2, 1, 4], 13), [2, 1, 4]), inp(randn([3, 1], 14), [3, 1])],
    mx: (a, b) => mx.subtract(a, b), np: "a0 - a1" },
  { name: "astype float->int truncates", inputs: [A], mx: (a) => mx.multiply(a, 3).astype(mx.int32), np: "(a0 * 3).astype(np.int32)", variants: [] },
  { name: "astype float->bool", inputs: [A], mx: (a) => mx.floor(a).astype(mx.bool), np: "np.floor(a0).astype(bool)", variants: [] },
  { name: "nan propagation in maximum", inputs: [inp([NaN, 1, 2], [3]), inp([0, NaN, 1], [3])], mx: (a, b) => mx.maximum(a, b), np: "np.maximum(a0, a1)", variants: [] },
);
runOpCases("elementwise", cases);

const pos = (x: number) => Math.abs(x) + 0.2;
const inside = (x: number) => Math.tanh(x) * 0.8;
const grads: GradCase[] = [
  ...["abs", "negative", "exp", "expm1", "sin", "cos", "arctan", "sinh", "cosh", "tanh", "sigmoid", "erf", "square"].map(
    (n): GradCase => ({ name: n, shapes: [[3, 4]], fn: (a) => (mx as any)[n](a) })),
  ...["log", "log1p", "log2", "log10", "sqrt", "rsqrt", "reciprocal"].map(
    (n): GradCase => ({ name: n, shapes: [[3, 4]], fn: (a) => (mx as any)[n](a), init: pos })),
  ...["tan", "arcsin", "arccos", "erfinv"].map((n): GradCase => ({ name: n, shapes: [[3, 4]], fn: (a) => (mx as any)[n](a), init: inside })),
  ...["add", "subtract", "multiply", "maximum", "minimum", "arctan2", "logaddexp"].map(
    (n): GradCase => ({ name: `${n} (broadcast)`, shapes: [[3, 4], [4]], fn: (a, b) => (mx as any)[n](a, b) })),
  { name: "divide (broadcast)", shapes: [[3, 4], [3, 1]], fn: (a, b) => mx.divide(a, b), init: (x, i) => (i === 1 ? pos(x) : x) },
  { name: "power", shapes: [[3, 4], [3, 4]], fn: (a, b) => mx.power(a, b), init: (x, i) => (i === 0 ? pos(x) : x) },
  { name: "remainder", shapes: [[3, 4], [3, 4]], fn: (a, b) => mx.remainder(a, b), init: (x, i) => (i === 1 ? pos(x) + 1 : x * 0.7) },
  { name: "where", shapes: [[3, 4], [3, 4]], fn: (a, b) => mx.where(mx.greater(a, 0), a, b) },
  { name: "clip", shapes: [[3, 4]], fn: (a) => mx.clip(a, -0.5, 0.5) },
  { name: "astype f32 round trip", shapes: [[3]], fn: (a) => mx.astype(mx.astype(a, mx.float32), mx.float64), rtol: 0.1 },
];
runGradCases("elementwise", grads);

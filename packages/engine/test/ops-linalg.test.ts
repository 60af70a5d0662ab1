import { mx } from "../src/index.js";
import { inp, runOpCases, type OpCase } from "./helpers/op-cases.js";
import { runGradCases } from "./helpers/gradcheck.js";
import { randn } from "./helpers/random.js";

const cases: OpCase[] = [
  { name: "matmul 2-d", inputs: [inp(randn([5, 7], 31), [5, 7]), inp(randn([7, 3], 32), [7, 3])], mx: (a, b) => mx.matmul(a, b), np: "a0 @ a1", rtol: 1e-5, atol: 1e-5 },
  { name: "matmul batched broadcast", inputs: [inp(randn([2, 1, 4, 6], 33), [2, 1, 4, 6]), inp(randn([3, 6, 5], 34), [3, 6, 5])],
    mx: (a, b) => mx.matmul(a, b), np: "a0 @ a1", rtol: 1e-5, atol: 1e-5 },
  { name: "matmul vector cases", inputs: [inp(randn([6], 35), [6]), inp(randn([6, 4], 36), [6, 4])],
    mx: (a, b) => [mx.matmul(a, b), mx.matmul(mx.transpose(b), a), mx.matmul(a, a)], np: "[a0 @ a1, a1.T @ a0, a0 @ a0]", rtol: 1e-5, atol: 1e-5 },
  { name: "matmul empty K", inputs: [inp([], [3, 0]), inp([], [0, 2])], mx: (a, b) => mx.matmul(a, b), np: "a0 @ a1", variants: [] },
];
runOpCases("linalg", cases);

runGradCases("linalg", [
  { name: "matmul", shapes: [[3, 4], [4, 5]], fn: (a, b) => mx.matmul(a, b) },
  { name: "matmul batched broadcast", shapes: [[2, 3, 4], [4, 2]], fn: (a, b) => mx.matmul(a, b) },
  { name: "matmul vector", shapes: [[4], [4, 3]], fn: (a, b) => mx.matmul(a, b) },
]);

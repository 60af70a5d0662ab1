// The quick-start demo: the engine end to end on the CPU — lazy arrays, autograd, a compiled training step,
// and asynchronous evaluation — fitting a small softmax classifier to synthetic data.
import { mx } from "../src/index.js";
import type { MxArray } from "../src/index.js";

const info = mx.cpuInfo();
console.log(`Hearth engine on ${mx.numThreads()} threads, kernels: ${info.isa}`);

// Three Gaussian blobs in 2-D.
const n = 600, classes = 3;
const key = (i: number) => Math.sin(i * 12.9898) * 43758.5453 % 1;
const xs = new Float32Array(n * 2), ys = new Int32Array(n);
for (let i = 0; i < n; i++) {
  const c = i % classes, angle = (2 * Math.PI * c) / classes;
  xs[2 * i] = 2 * Math.cos(angle) + key(i) * 0.8;
  xs[2 * i + 1] = 2 * Math.sin(angle) + key(i + 7919) * 0.8;
  ys[i] = c;
}
const x = mx.array(xs, mx.float32, [n, 2]);
const y = mx.array(ys, mx.int32);
const onehot = mx.equal(mx.expandDims(y, 1), mx.arange(classes)).astype(mx.float32);

let params = { w: mx.zeros([2, classes]), b: mx.zeros([classes]) };
const loss = (p: typeof params) => {
  const logits = mx.add(mx.matmul(x, p.w), p.b);
  return mx.negative(mx.mean(mx.sum(mx.multiply(mx.logSoftmax(logits, -1), onehot), -1)));
};
const step = mx.compile((p: typeof params) => {
  const [l, g] = mx.valueAndGrad(loss)(p);
  return { l, p: { w: mx.subtract(p.w, mx.multiply(g.w, 0.5)), b: mx.subtract(p.b, mx.multiply(g.b, 0.5)) } };
});
for (let i = 0; i <= 50; i++) {
  const r = step(params) as { l: MxArray; p: typeof params };
  params = r.p;
  await mx.asyncEval(r.l, params);
  if (i % 10 === 0) console.log(`step ${String(i).padStart(2)}  loss ${(r.l.item() as number).toFixed(4)}`);
}
const pred = mx.argmax(mx.add(mx.matmul(x, params.w), params.b), -1);
const acc = mx.mean(mx.equal(pred, y)).item() as number;
console.log(`training accuracy: ${(acc * 100).toFixed(1)}%`);

import { test } from "node:test";
import assert from "node:assert/strict";
import { mx, EngineError } from "../src/index.js";

test("grad with argnums and trees", () => {
  const f = (p: { w: ReturnType<typeof mx.array>; b: ReturnType<typeof mx.array> }, x: ReturnType<typeof mx.array>) =>
    mx.sum(mx.square(mx.add(mx.multiply(p.w, x), p.b)));
  const p = { w: mx.array([1, 2], mx.float32), b: mx.array([0.5, -1], mx.float32) };
  const x = mx.array([3, 4], mx.float32);
  const g = mx.grad(f)(p, x) as any;
  // d/dw = 2 (wx+b) x, d/db = 2 (wx+b)
  assert.deepEqual(g.w.tolist(), [2 * 3.5 * 3, 2 * 7 * 4]);
  assert.deepEqual(g.b.tolist(), [7, 14]);
  const [v, gs] = mx.valueAndGrad(f, [0, 1])(p, x);
  assert.equal(v.item(), 3.5 ** 2 + 7 ** 2);
  assert.deepEqual(gs[1].tolist(), [2 * 3.5 * 1, 2 * 7 * 2]);
});

test("grad of grad (second derivative)", () => {
  const f = (x: any) => mx.sum(mx.multiply(mx.multiply(x, x), x));
  const d2 = mx.grad((x: any) => mx.sum(mx.grad(f)(x)))(mx.array([2, -1], mx.float32));
  assert.deepEqual(d2.tolist(), [12, -6]);
});

test("vjp and jvp", () => {
  const f = (x: any, y: any) => [mx.multiply(mx.sin(x), y)];
  const x = mx.array([0.5, 1], mx.float32), y = mx.array([2, 3], mx.float32);
  const [outs, vjps] = mx.vjp(f, [x, y], [mx.ones([2])]);
  assert.equal(outs.length, 1);
  assert.ok(Math.abs((vjps[0].tolist() as number[])[0] - Math.cos(0.5) * 2) < 1e-6);
  const [, jvps] = mx.jvp(f, [x, y], [mx.ones([2]), mx.zeros([2])]);
  assert.ok(Math.abs((jvps[0].tolist() as number[])[1] - Math.cos(1) * 3) < 1e-6);
});

test("stopGradient blocks gradients", () => {
  const g = mx.grad((x: any) => mx.sum(mx.multiply(mx.stopGradient(x), x)))(mx.array([3], mx.float32));
  assert.deepEqual(g.tolist(), [3]);
});

test("grad errors: non-scalar output, non-array leaf, bad argnum", () => {
  assert.throws(() => mx.grad((x: any) => x)(mx.ones([2])), (e: any) => e instanceof EngineError && /scalar/.test(e.message));
  assert.throws(() => mx.grad((p: any) => mx.sum(p.a))({ a: mx.ones([2]), n: 3 }),
    (e: any) => e instanceof EngineError && /found number at 'n'/.test(e.message));
  assert.throws(() => mx.grad((x: any) => mx.sum(x), 2)(mx.ones([2])), /argnum 2 is out of range/);
});

test("eval of trees ignores non-arrays; use after dispose is an EngineError", () => {
  const a = mx.add(mx.ones([2]), 1);
  mx.eval({ a, n: 3, s: "x", list: [a] });
  assert.deepEqual(a.tolist(), [2, 2]);
  a.dispose();
  assert.equal(a.disposed, true);
  assert.throws(() => a.tolist(), (e: any) => e instanceof EngineError && e.code === "EDISPOSED" && /dispose/.test(e.message));
  assert.throws(() => mx.add(a, 1), (e: any) => e instanceof EngineError && /dispose/.test(e.message));
});

test("tidy disposes intermediates and keeps results", () => {
  let inner: any;
  const out = mx.tidy(() => {
    inner = mx.add(mx.ones([4]), 1);
    return { r: mx.multiply(inner, 2) };
  });
  assert.equal(inner.disposed, true);
  assert.deepEqual(out.r.tolist(), [4, 4, 4, 4]);
});

test("errors are EngineErrors tagged with the op, and the process survives", () => {
  const cases: [() => unknown, RegExp][] = [
    [() => mx.reshape(mx.ones([2, 3]), [4, 2]), /^\[reshape\] cannot reshape/],
    [() => mx.sum(mx.ones([2, 3]), 2), /^\[sum\] axis 2 is out of bounds/],
    [() => mx.transpose(mx.ones([2, 3]), [0, 0]), /^\[transpose\] repeated axis/],
    [() => mx.broadcastTo(mx.ones([3]), [2, 4]), /^\[broadcast_to\]/],
    [() => mx.squeeze(mx.ones([2, 3]), 0), /^\[squeeze\] cannot squeeze axis 0/],
    [() => mx.max(mx.ones([0, 3]), 0), /^\[max\] cannot reduce over axis 0 of size 0/],
    [() => mx.arange(0, 5, 0), /^\[arange\] step must not be 0/],
    [() => mx.array([[1, 2], [3]]), /^\[array\] nested lists must be rectangular/],
    [() => mx.astype(mx.ones([2]), "float8"), /unknown dtype/],
    [() => mx.ones([2, 3]).item(), /^\[item\] only arrays with one element/],
    [() => mx.negative(mx.array([true, false])), /^\[negative\] not defined for bool/],
    [() => mx.add(mx.ones([2]), "x" as any), /^\[add\] expected an array or a number/],
  ];
  for (const [fn, re] of cases) assert.throws(fn, (e: any) => (e instanceof EngineError || e instanceof TypeError) && re.test(e.message), String(re));
});

test("memory limit: an allocation past it throws ENOMEM and the process survives", () => {
  mx.eval(mx.ones([1]));
  const prev = mx.setMemoryLimit(mx.getActiveMemory() + (1 << 20));
  try {
    assert.throws(() => mx.eval(mx.add(mx.ones([64 << 20]), 1)), (e: any) => e instanceof EngineError && e.code === "ENOMEM" && /memory limit/.test(e.message));
  } finally {
    mx.setMemoryLimit(prev);
  }
  const ok = mx.add(mx.ones([4]), 1);
  assert.deepEqual(ok.tolist(), [2, 2, 2, 2]);
  assert.ok(mx.getPeakMemory() >= mx.getActiveMemory());
});

test("asyncEval does not block the event loop", async () => {
  let ticks = 0;
  const timer = setInterval(() => ticks++, 1);
  // A long elementwise chain over a large array keeps the engine busy for a while.
  let x = mx.ones([1 << 22]);
  for (let i = 0; i < 40; i++) x = mx.sin(mx.add(x, 1));
  const t0 = Date.now();
  await mx.asyncEval(x);
  const ms = Date.now() - t0;
  clearInterval(timer);
  assert.ok(ms > 20, `the work should take a while (took ${ms} ms)`);
  assert.ok(ticks >= 2, `timers kept firing during evaluation (${ticks} ticks in ${ms} ms)`);
});

test("devices: cpu is the default; gpu is a clear error", () => {
  assert.equal(mx.defaultDevice(), mx.cpu);
  assert.throws(() => mx.setDefaultDevice(mx.gpu), (e: any) => e instanceof EngineError && /GPU backend/.test(e.message));
});

test("compile: same results as the plain function, fused, reused across calls, re-traced for new shapes", () => {
  let calls = 0;
  const gelu = (x: any) => {
    calls++;
    return mx.multiply(mx.multiply(x, 0.5), mx.add(1, mx.erf(mx.divide(x, Math.SQRT2))));
  };
  const cg = mx.compile(gelu);
  const x = mx.array(Float32Array.from({ length: 3000 }, (_, i) => Math.sin(i) * 3), mx.float32);
  const ref = gelu(x).toFloat32Array();
  calls = 0;
  const a = cg(x).toFloat32Array();
  const b = cg(mx.multiply(x, 1)).toFloat32Array();
  assert.equal(calls, 1, "traced once for one input signature");
  for (let i = 0; i < ref.length; i++) {
    assert.ok(Math.abs(a[i] - ref[i]) <= 1e-6 * (1 + Math.abs(ref[i])));
    assert.equal(a[i], b[i]);
  }
  cg(mx.ones([2, 2]));
  assert.equal(calls, 2, "a new shape traces again");
  const half = cg(x.astype(mx.bfloat16)).toFloat32Array();
  for (let i = 0; i < ref.length; i += 97) assert.ok(Math.abs(half[i] - ref[i]) <= 3e-2 * (1 + Math.abs(ref[i])));
});

test("compile: gradients through a compiled function and compiled gradient functions", () => {
  const f = (x: any) => mx.sum(mx.multiply(mx.exp(mx.multiply(x, 2)), mx.sin(x)));
  const x = mx.array([0.1, -0.4, 0.7], mx.float32);
  const g = mx.grad(f)(x).toFloat32Array();
  const g1 = mx.grad(mx.compile(f))(x).toFloat32Array();
  const g2 = (mx.compile(mx.grad(f)) as any)(x).toFloat32Array();
  for (let i = 0; i < 3; i++) {
    assert.ok(Math.abs(g1[i] - g[i]) < 1e-5, `grad of compiled: ${g1[i]} vs ${g[i]}`);
    assert.ok(Math.abs(g2[i] - g[i]) < 1e-5, `compiled grad: ${g2[i]} vs ${g[i]}`);
  }
});

test("compile: captured constants and non-array arguments", () => {
  const w = mx.array([2, 3], mx.float32);
  const f = mx.compile((x: any, opts: { scale: number }) => mx.multiply(mx.add(x, w), opts.scale));
  assert.deepEqual(f(mx.array([1, 1], mx.float32), { scale: 2 }).tolist(), [6, 8]);
  assert.deepEqual(f(mx.array([0, 0], mx.float32), { scale: 10 }).tolist(), [20, 30]);
});

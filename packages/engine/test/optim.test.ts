// optim: every optimizer against its update rule implemented in NumPy (3 steps), AdamW with bias correction
// against PyTorch's AdamW algorithm, state save/restore, clipGradNorm and schedules.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { mx, nn, optim, EngineError } from "../src/index.js";
import type { MxArray } from "../src/index.js";
import { numpyEval, type NpTensor } from "./helpers/numpy.js";
import { randn } from "./helpers/random.js";
import { assertClose } from "./helpers/op-cases.js";

const SHAPES = [[3, 4], [4]];
const P0 = SHAPES.map((s, i) => randn(s, 201 + i));
// Three steps of gradients per parameter, of mixed magnitudes.
const G = [0, 1, 2].map((k) => SHAPES.map((s, i) => randn(s, 211 + 10 * k + i).map((v, j) => v * (j % 3 === 0 ? 0.1 : 1))));

const f32 = (d: Float64Array, s: number[]) => mx.array(d, mx.float32, s);
/** The parameters as a nested tree (a list of objects, like a model's layers). */
const tree = (w: MxArray, b: MxArray) => ({ layers: [{ w }, { b }] });

function runEngine(opt: optim.Optimizer, steps = 3): Float32Array[] {
  let params: any = tree(f32(P0[0], SHAPES[0]), f32(P0[1], SHAPES[1]));
  for (let k = 0; k < steps; k++) {
    params = opt.applyGradients(tree(f32(G[k][0], SHAPES[0]), f32(G[k][1], SHAPES[1])), params);
    mx.eval(params, opt.state);
  }
  return [params.layers[0].w.toFloat32Array(), params.layers[1].b.toFloat32Array()];
}

function npInputs(): Record<string, NpTensor> {
  const all = [P0, ...G].flat();
  return Object.fromEntries(all.map((d, i) => [`a${i}`, { data: Array.from(Float32Array.from(d)), shape: SHAPES[i % 2], dtype: "float32" }]));
}
const GRADS_EXPR = "[[a2, a3], [a4, a5], [a6, a7]]";

interface Case { name: string; make: () => optim.Optimizer; expr: string }
const cases: Case[] = [
  { name: "SGD", make: () => new optim.SGD({ learningRate: 0.1 }), expr: `optim_ref("sgd", [a0, a1], ${GRADS_EXPR}, lr=0.1)` },
  { name: "SGD momentum + weight decay", make: () => new optim.SGD({ learningRate: 0.1, momentum: 0.9, weightDecay: 0.01 }),
    expr: `optim_ref("sgd", [a0, a1], ${GRADS_EXPR}, lr=0.1, momentum=0.9, wd=0.01)` },
  { name: "SGD dampening", make: () => new optim.SGD({ learningRate: 0.05, momentum: 0.8, dampening: 0.3 }),
    expr: `optim_ref("sgd", [a0, a1], ${GRADS_EXPR}, lr=0.05, momentum=0.8, dampening=0.3)` },
  { name: "SGD nesterov", make: () => new optim.SGD({ learningRate: 0.05, momentum: 0.9, nesterov: true }),
    expr: `optim_ref("sgd", [a0, a1], ${GRADS_EXPR}, lr=0.05, momentum=0.9, nesterov=True)` },
  { name: "RMSprop", make: () => new optim.RMSprop({ learningRate: 0.01 }),
    expr: `optim_ref("rmsprop", [a0, a1], ${GRADS_EXPR}, lr=0.01, alpha=0.99, eps=1e-8)` },
  { name: "Adagrad", make: () => new optim.Adagrad({ learningRate: 0.1 }),
    expr: `optim_ref("adagrad", [a0, a1], ${GRADS_EXPR}, lr=0.1, eps=1e-8)` },
  { name: "AdaDelta", make: () => new optim.AdaDelta({ learningRate: 1.0 }),
    expr: `optim_ref("adadelta", [a0, a1], ${GRADS_EXPR}, lr=1.0, rho=0.9, eps=1e-6)` },
  { name: "Adam (MLX default: no bias correction)", make: () => new optim.Adam({ learningRate: 0.01 }),
    expr: `optim_ref("adam", [a0, a1], ${GRADS_EXPR}, lr=0.01, betas=(0.9, 0.999), eps=1e-8)` },
  { name: "Adam biasCorrection", make: () => new optim.Adam({ learningRate: 0.01, betas: [0.8, 0.99], biasCorrection: true }),
    expr: `optim_ref("adam", [a0, a1], ${GRADS_EXPR}, lr=0.01, betas=(0.8, 0.99), eps=1e-8, bias_correction=True)` },
  { name: "AdamW (MLX default)", make: () => new optim.AdamW({ learningRate: 0.01 }),
    expr: `optim_ref("adamw", [a0, a1], ${GRADS_EXPR}, lr=0.01, betas=(0.9, 0.999), eps=1e-8, wd=0.01)` },
  { name: "Adamax", make: () => new optim.Adamax({ learningRate: 0.02 }),
    expr: `optim_ref("adamax", [a0, a1], ${GRADS_EXPR}, lr=0.02, betas=(0.9, 0.999), eps=1e-8)` },
  { name: "Lion with weight decay", make: () => new optim.Lion({ learningRate: 0.01, weightDecay: 0.1 }),
    expr: `optim_ref("lion", [a0, a1], ${GRADS_EXPR}, lr=0.01, betas=(0.9, 0.99), wd=0.1)` },
  { name: "Adafactor (relative step; factored matrix, plain vector)", make: () => new optim.Adafactor(),
    expr: `optim_ref("adafactor", [a0, a1], ${GRADS_EXPR})` },
  { name: "Adam with a cosineDecay learning rate", make: () => new optim.Adam({ learningRate: optim.cosineDecay(0.1, 4, 0.01) }),
    expr: `optim_ref("adam", [a0, a1], ${GRADS_EXPR}, lr=lambda s: 0.01 + 0.5 * (1 + np.cos(np.pi * min(s, 4) / 4)) * 0.09, betas=(0.9, 0.999), eps=1e-8)` },
  { name: "SGD with a joined warmup + exponential schedule", make: () => new optim.SGD({ learningRate:
      optim.joinSchedules([optim.linearSchedule(0.01, 0.1, 2), optim.exponentialDecay(0.1, 0.5)], [2]) }),
    expr: `optim_ref("sgd", [a0, a1], ${GRADS_EXPR}, lr=lambda s: 0.01 + s * 0.045 if s < 2 else 0.1 * 0.5 ** (s - 2))` },
];

const refs = numpyEval([
  ...cases.map((c) => ({ expr: c.expr, inputs: npInputs() })),
  { expr: `torch_adamw([a0, a1], ${GRADS_EXPR}, lr=1e-2, betas=(0.9, 0.999), eps=1e-8, wd=0.01)`, inputs: npInputs() },
]);

cases.forEach((c, k) => {
  test(`${c.name}: 3 steps match the NumPy update rule`, () => {
    const ref = refs[k];
    if (!Array.isArray(ref)) throw new Error(`numpy failed: ${"error" in ref ? ref.error : "?"}`);
    const got = runEngine(c.make());
    got.forEach((g, i) => assertClose(g, ref[i].data, 1e-5, 1e-6, `${c.name} param ${i}`));
  });
});

test("AdamW with biasCorrection: true is torch.optim.AdamW step for step (3 steps, 1e-5 relative, float32)", () => {
  const ref = refs[cases.length];
  if (!Array.isArray(ref)) throw new Error(`numpy failed: ${"error" in ref ? ref.error : "?"}`);
  const got = runEngine(new optim.AdamW({ learningRate: 1e-2, weightDecay: 0.01, biasCorrection: true }));
  got.forEach((g, i) => assertClose(g, ref[i].data, 1e-5, 1e-7, `param ${i}`));
  // Not the same as MLX's default (no bias correction): the option matters.
  const plain = runEngine(new optim.AdamW({ learningRate: 1e-2, weightDecay: 0.01 }));
  assert.ok(Math.abs(plain[0][0] - ref[0].data[0]) > 1e-4);
});

test("state: a tree of arrays (step uint64, learningRate, per-parameter moments), flattenable and restorable", () => {
  const a = new optim.Adam({ learningRate: 0.01 });
  runEngine(a, 2);
  assert.deepEqual(mx.utils.treeFlatten(a.state).map(([k]) => k),
    ["step", "learningRate", "layers.0.w.m", "layers.0.w.v", "layers.1.b.m", "layers.1.b.v"]);
  assert.equal(a.step.dtype, mx.uint64);
  assert.equal(a.step.item(), 2);
  assert.ok(Math.abs((a.learningRate.item() as number) - 0.01) < 1e-9);
  // Restore into a fresh optimizer (copies, as if read back from a file) and take the third step with both.
  const saved = mx.utils.treeFlatten(a.state).map(([k, v]) => [k, mx.array(v as MxArray)] as [string, MxArray]);
  const b = new optim.Adam({ learningRate: 0.01 });
  b.state = mx.utils.treeUnflatten(saved);
  const params = tree(f32(P0[0], SHAPES[0]), f32(P0[1], SHAPES[1]));
  const grads = tree(f32(G[2][0], SHAPES[0]), f32(G[2][1], SHAPES[1]));
  const pa: any = a.applyGradients(grads, params), pb: any = b.applyGradients(grads, params);
  assert.deepEqual(pb.layers[0].w.tolist(), pa.layers[0].w.tolist());
  assert.equal(b.step.item(), 3);
  assert.throws(() => { b.state = [] as any; }, (e: any) => e instanceof EngineError && /^\[Optimizer\.state\]/.test(e.message));
});

const hasFileIo = typeof (mx as any).load === "function" && typeof (mx as any).saveSafetensors === "function";
test("optimizer state round trip through a .safetensors file", { skip: !hasFileIo && "needs mx.load / mx.saveSafetensors (merging)" }, () => {
  const dir = mkdtempSync(join(tmpdir(), "hearth-optim-"));
  try {
    const a = new optim.AdamW({ learningRate: 0.01 });
    runEngine(a, 2);
    const file = join(dir, "opt.safetensors");
    (mx as any).saveSafetensors(file, Object.fromEntries(mx.utils.treeFlatten(a.state)));
    const loaded = (mx as any).load(file);
    const b = new optim.AdamW({ learningRate: 0.01 });
    b.state = mx.utils.treeUnflatten(loaded instanceof Map ? [...loaded.entries()] : Object.entries(loaded));
    assert.equal(b.step.item(), 2);
    assert.deepEqual(b.state.layers[0].w.m.tolist(), a.state.layers[0].w.m.tolist());
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("opt.update(model, grads): frozen parameters untouched; init() before the first update; learningRate setter", () => {
  const model = new nn.Sequential(new nn.Linear(3, 2), nn.relu, new nn.Linear(2, 1));
  (model.layers[0] as nn.Linear).freeze({ keys: "weight" });
  const frozen = (model.layers[0] as nn.Linear).weight;
  const loss = (m: nn.Sequential, x: MxArray) => mx.sum(mx.square(m.forward(x)));
  const [, grads] = nn.valueAndGrad(model, loss)(model, mx.ones([4, 3]));
  const opt = new optim.SGD({ learningRate: 0.1 });
  opt.init(model.trainableParameters());
  assert.deepEqual(mx.utils.treeFlatten(opt.state).map(([k]) => k), ["step", "learningRate", "layers.0.bias.v", "layers.2.weight.v", "layers.2.bias.v"]);
  const oldBias = (model.layers[2] as nn.Linear).bias!;
  opt.update(model, grads);
  mx.eval(model.parameters(), opt.state);
  assert.equal((model.layers[0] as nn.Linear).weight, frozen);
  const expect = oldBias.toFloat32Array()[0] - 0.1 * grads.layers[2].bias.toFloat32Array()[0];
  assert.ok(Math.abs((model.layers[2] as nn.Linear).bias!.toFloat32Array()[0] - expect) < 1e-6);
  opt.learningRate = 0.5;
  assert.equal(opt.learningRate.item(), 0.5);
  assert.throws(() => new optim.SGD({ learningRate: 0.1, nesterov: true }), /^EngineError: \[SGD\] Nesterov momentum requires a momentum and zero dampening/);
  assert.throws(() => new optim.Adafactor({ relativeStep: false }), /\[Adafactor\] a learningRate is needed/);
});

test("half-precision parameters stay half through Adam and SGD", () => {
  for (const opt of [new optim.Adam({ learningRate: 0.01, biasCorrection: true }), new optim.SGD({ learningRate: 0.1, momentum: 0.9 })]) {
    const p = { w: mx.astype(mx.ones([4]), mx.bfloat16) };
    const out: any = opt.applyGradients({ w: mx.astype(mx.full([4], 0.5, mx.float32), mx.bfloat16) }, p);
    assert.equal(out.w.dtype, mx.bfloat16);
    assert.ok((out.w.toFloat32Array()[0] as number) < 1);
  }
});

test("clipGradNorm: global L2 norm over the tree; clipped only when above maxNorm", () => {
  const grads = { a: mx.array([3, 0], mx.float32), b: [mx.array([[4]], mx.float32)] };
  const [clipped, norm] = optim.clipGradNorm(grads, 1);
  assert.ok(Math.abs((norm.item() as number) - 5) < 1e-6);
  const s = 1 / (5 + 1e-6);
  assert.ok(Math.abs((clipped.a.tolist() as number[])[0] - 3 * s) < 1e-6);
  assert.ok(Math.abs((clipped.b[0].tolist() as number[][])[0][0] - 4 * s) < 1e-6);
  const [same] = optim.clipGradNorm(grads, 10);
  assert.deepEqual(same.a.tolist(), [3, 0]);
  const [half] = optim.clipGradNorm({ g: mx.astype(mx.ones([2]), mx.bfloat16) }, 0.1);
  assert.equal(half.g.dtype, mx.bfloat16);
});

test("schedules: values as mlx.optimizers gives them", () => {
  const v = (f: optim.ScheduleFn, s: number | MxArray) => f(s).item() as number;
  const close = (a: number, b: number, msg: string) => assert.ok(Math.abs(a - b) < 1e-6 * Math.max(1, Math.abs(b)), `${msg}: ${a} vs ${b}`);
  const ed = optim.exponentialDecay(0.1, 0.9);
  close(v(ed, 0), 0.1, "exp 0");
  close(v(ed, 5), 0.1 * 0.9 ** 5, "exp 5");
  close(v(ed, mx.array(5, mx.uint64)), 0.1 * 0.9 ** 5, "exp uint64 step");
  const sd = optim.stepDecay(0.1, 0.5, 10);
  close(v(sd, 9), 0.1, "step 9");
  close(v(sd, 25), 0.025, "step 25");
  close(v(sd, mx.array(25, mx.uint64)), 0.025, "step uint64");
  const cd = optim.cosineDecay(0.1, 100, 0.01);
  close(v(cd, 0), 0.1, "cos 0");
  close(v(cd, 50), 0.055, "cos 50");
  close(v(cd, 100), 0.01, "cos 100");
  close(v(cd, 150), 0.01, "cos past the end");
  close(v(optim.cosineDecay(1, 10), 5), 0.5, "cos default end 0");
  const ls = optim.linearSchedule(0, 0.1, 10);
  close(v(ls, 0), 0, "lin 0");
  close(v(ls, 5), 0.05, "lin 5");
  close(v(ls, 20), 0.1, "lin past the end");
  const js = optim.joinSchedules([optim.linearSchedule(0, 0.1, 10), optim.cosineDecay(0.1, 100)], [10]);
  close(v(js, 5), 0.05, "join warmup");
  close(v(js, 10), 0.1, "join boundary");
  close(v(js, 60), 0.05, "join cosine");
  close(v(js, mx.array(3, mx.uint64)), 0.03, "join uint64 step before the boundary");
  assert.throws(() => optim.joinSchedules([], []), /at least 1 schedule/);
  assert.throws(() => optim.joinSchedules([ls, ls], []), /received 0 boundaries but expected 1/);
  assert.throws(() => optim.linearSchedule(0, 1, 0), /^EngineError: \[linearSchedule\] steps must be greater than 0/);
});

test("a scheduled learning rate is evaluated at the step before the update, and is part of the state", () => {
  const opt = new optim.SGD({ learningRate: optim.linearSchedule(0, 1, 10) });
  let p: any = { w: mx.zeros([1]) };
  const lrs: number[] = [];
  for (let k = 0; k < 3; k++) {
    p = opt.applyGradients({ w: mx.ones([1]) }, p);
    lrs.push(opt.learningRate.item() as number);
  }
  lrs.forEach((lr, i) => assert.ok(Math.abs(lr - [0, 0.1, 0.2][i]) < 1e-7, String(lrs)));
  assert.ok(Math.abs((p.w.tolist() as number[])[0] + 0.3) < 1e-6);
});

// nn.Module: parameter/child discovery and paths (as mlx.nn would give them), update, freeze, train/eval,
// loadWeights, and nn.valueAndGrad.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { mx, nn, EngineError } from "../src/index.js";
import type { MxArray } from "../src/index.js";

class Block extends nn.Module {
  norm = new nn.RMSNorm(4);
  proj = new nn.Linear(4, 4, false);
  scale = mx.ones([4]);
  forward(x: MxArray): MxArray {
    return mx.multiply(this.proj.forward(this.norm.forward(x)), this.scale);
  }
}

class Net extends nn.Module {
  embedScale = mx.array(2.0);
  layers = [new Block(), new nn.ReLU(), new Block()];
  heads = { a: new nn.Linear(4, 2), b: new nn.Linear(4, 3, false) };
  extra: unknown[] = [mx.zeros([2]), { w: mx.ones([3]) }];
  _private = mx.ones([5]);
  config = { hidden: 4, sizes: [1, 2] };
  kernel = [3, 3];
  label = "net";
  forward(x: MxArray): MxArray {
    let h = mx.multiply(x, this.embedScale);
    for (const l of this.layers) h = l.forward(h);
    return this.heads.a.forward(h);
  }
}

const paths = (tree: unknown) => mx.utils.treeFlatten(tree).map(([k]) => k);

// What mlx.utils.tree_flatten(model.parameters()) gives for the same model in MLX (written out by hand).
const MLX_PARAM_PATHS = [
  "embedScale",
  "layers.0.norm.weight", "layers.0.proj.weight", "layers.0.scale",
  "layers.2.norm.weight", "layers.2.proj.weight", "layers.2.scale",
  "heads.a.weight", "heads.a.bias", "heads.b.weight",
  "extra.0", "extra.1.w",
];

test("parameters(): paths as mlx.utils.tree_flatten gives them; private, settings and strings left out", () => {
  const net = new Net();
  assert.deepEqual(paths(net.parameters()), MLX_PARAM_PATHS);
  const p = net.parameters();
  assert.deepEqual(p.layers[1], {}, "a parameterless module keeps its list slot as {}");
  assert.equal(p._private, undefined);
  assert.equal(p.config, undefined);
  assert.equal(p.kernel, undefined);
  assert.equal(p.layers[0].proj.weight, (net.layers[0] as Block).proj.weight, "leaves are the module's own arrays");
  assert.deepEqual(p.heads.a.weight.shape, [2, 4]);
  assert.deepEqual(net.trainableParameters(), p);
  mx.eval(net.parameters());
});

test("children(), leafModules(), namedModules() and modules() as MLX", () => {
  const net = new Net();
  const kids = net.children();
  assert.deepEqual(mx.utils.treeFlatten(kids, "", nn.Module.isModule).map(([k]) => k),
    ["layers.0", "layers.1", "layers.2", "heads.a", "heads.b"]);
  assert.equal(kids.layers[0], net.layers[0]);
  assert.deepEqual(mx.utils.treeFlatten(net.leafModules(), "", nn.Module.isModule).map(([k]) => k),
    ["layers.0.norm", "layers.0.proj", "layers.1", "layers.2.norm", "layers.2.proj", "heads.a", "heads.b"]);
  // MLX's apply_to_modules order: a stack, so the last child is visited first.
  assert.deepEqual(net.namedModules().map(([k]) => k), [
    "", "heads.b", "heads.a", "layers.2", "layers.2.proj", "layers.2.norm", "layers.1", "layers.0", "layers.0.proj", "layers.0.norm",
  ]);
  const named = new Map(net.namedModules());
  assert.equal(named.get("layers.2.norm"), (net.layers[2] as Block).norm);
  assert.equal(named.get(""), net);
  assert.equal(net.modules().length, 10);
});

test("Sequential: layers under layers.<i>, functions allowed", () => {
  const seq = new nn.Sequential(new nn.Linear(3, 4), nn.relu, new nn.Linear(4, 2), new nn.Tanh());
  assert.deepEqual(paths(seq.parameters()), ["layers.0.weight", "layers.0.bias", "layers.2.weight", "layers.2.bias"]);
  assert.deepEqual(seq.forward(mx.ones([5, 3])).shape, [5, 2]);
  assert.throws(() => new nn.Sequential(3 as any), (e: any) => e instanceof EngineError && /^\[Sequential\] layer 0/.test(e.message));
});

test("freeze / unfreeze: keys, recurse, strict", () => {
  const net = new Net();
  (net.layers[0] as Block).freeze();
  assert.deepEqual(paths(net.trainableParameters()), MLX_PARAM_PATHS.filter((p) => !p.startsWith("layers.0.")));
  net.freeze({ keys: "embedScale", recurse: false });
  assert.ok(!paths(net.trainableParameters()).includes("embedScale"));
  assert.ok(paths(net.trainableParameters()).includes("heads.a.bias"), "recurse: false leaves children alone");
  net.freeze({ keys: ["bias"] });  // every module's local 'bias'
  assert.deepEqual(paths(net.trainableParameters()),
    ["layers.2.norm.weight", "layers.2.proj.weight", "layers.2.scale", "heads.a.weight", "heads.b.weight", "extra.0", "extra.1.w"]);
  assert.deepEqual(paths(net.parameters()), MLX_PARAM_PATHS, "frozen parameters are still parameters");
  net.unfreeze({ keys: "bias" });
  assert.ok(paths(net.trainableParameters()).includes("heads.a.bias"));
  net.unfreeze();
  assert.deepEqual(paths(net.trainableParameters()), MLX_PARAM_PATHS);
  net.freeze();
  assert.deepEqual(paths(net.trainableParameters()), []);
  net.unfreeze({ recurse: false });
  assert.deepEqual(paths(net.trainableParameters()), ["embedScale", "extra.0", "extra.1.w"]);
  assert.throws(() => net.freeze({ keys: "nothere", strict: true }),
    (e: any) => e instanceof EngineError && /^\[Module\.freeze\] Net has no member\(s\) 'nothere'/.test(e.message));
  // A frozen Linear's weight leaves; its bias stays trainable when only weight is frozen.
  const lin = new nn.Linear(2, 2);
  lin.freeze({ keys: "weight" });
  assert.deepEqual(paths(lin.trainableParameters()), ["bias"]);
});

test("update(): replaces arrays at the tree's paths; unknown paths are errors naming them, nothing changes", () => {
  const net = new Net();
  const w = mx.full([4], 7, mx.float32);
  net.update({ layers: [{}, {}, { norm: { weight: w } }], embedScale: mx.array(3.0) });
  assert.equal((net.layers[2] as Block).norm.weight, w);
  assert.equal((net.embedScale as MxArray).item(), 3);
  const before = (net.layers[0] as Block).scale;
  assert.throws(() => net.update({ layers: [{ scale: mx.zeros([4]), norm: { wieght: w } }], nope: w, heads: { c: { weight: w } } }),
    (e: any) => e instanceof EngineError && /^\[Module\.update\]/.test(e.message) &&
      /'layers\.0\.norm\.wieght'/.test(e.message) && /'nope'/.test(e.message) && /'heads\.c'/.test(e.message));
  assert.equal((net.layers[0] as Block).scale, before, "a failed update changes nothing");
  assert.throws(() => net.update({ embedScale: 3 as any }), /'embedScale' \(got number, expected an array\)/);
  assert.throws(() => net.update({ label: w }), /'label' \(not a parameter/);
  assert.throws(() => net.update({ _private: w }), /'_private' \(no such parameter\)/);
  assert.throws(() => new nn.Linear(2, 2, false).update({ bias: w }), /'bias' \(no such parameter\)/);
  net.update({ nope: w }, false);  // non-strict ignores unknown paths
  // The tree from treeUnflatten of flat pairs (list gaps become {}) is accepted.
  const flat = mx.utils.treeFlatten(net.parameters()).filter(([k]) => k.startsWith("layers.2"));
  net.update(mx.utils.treeUnflatten(flat));
});

test("treeUnflatten fills list gaps with {} as mlx.utils does; flatten/unflatten round trip", () => {
  const a = mx.ones([1]), b = mx.zeros([1]);
  const t = mx.utils.treeUnflatten([["layers.0.w", a], ["layers.2.w", b], ["x", a]]);
  assert.equal(t.layers.length, 3);
  assert.deepEqual(t.layers[1], {});
  assert.equal(t.layers[2].w, b);
  const net = new Net();
  const round = mx.utils.treeUnflatten(mx.utils.treeFlatten(net.parameters()));
  assert.deepEqual(paths(round), MLX_PARAM_PATHS);
  assert.deepEqual(Object.keys(round), ["embedScale", "layers", "heads", "extra"]);
});

test("mx.utils trees as mlx.utils: list roots, numeric parts as list indices, treeMap over several trees", () => {
  const a = mx.array([1, 2], mx.float32), b = mx.array([3], mx.float32), c = mx.array([4], mx.float32);
  // tree_flatten([a, {"b": b, "c": [c]}]) == [("0", a), ("1.b", b), ("1.c.0", c)]
  const flat = mx.utils.treeFlatten([a, { b, c: [c] }]);
  assert.deepEqual(flat.map(([k]) => k), ["0", "1.b", "1.c.0"]);
  assert.equal(flat[2][1], c);
  assert.deepEqual(mx.utils.treeFlatten({ w: a }, "model").map(([k]) => k), ["model.w"]);
  const back = mx.utils.treeUnflatten(flat);
  assert.ok(Array.isArray(back) && back[0] === a && back[1].c[0] === c);
  const net = new Net();
  const p = net.parameters();
  const doubled = mx.utils.treeMap((x: MxArray, y: MxArray) => mx.add(x, y), p, p);
  assert.deepEqual(paths(doubled), MLX_PARAM_PATHS);
  assert.deepEqual(doubled.heads.a.bias.tolist(), mx.multiply(p.heads.a.bias, 2).tolist());
  assert.deepEqual(doubled.layers[1], {});
});

test("updateModules(), apply(), train()/eval()", () => {
  const net = new Net();
  const swap = new nn.GELU();
  net.updateModules({ layers: [{}, swap] });
  assert.equal(net.layers[1], swap);
  assert.throws(() => net.updateModules({ other: new nn.ReLU() }),
    (e: any) => e instanceof EngineError && /^\[Module\.updateModules\].*'other' \(no such sub-module\)/.test(e.message));
  net.apply((a) => mx.astype(a, mx.float16));
  assert.ok(mx.utils.treeFlatten(net.parameters()).every(([, a]) => (a as MxArray).dtype === mx.float16));
  // apply with a filter: only parameters named 'bias'
  const lin = new nn.Linear(2, 3);
  lin.apply((a) => mx.zerosLike(a), (_m, k) => k === "bias");
  assert.deepEqual(lin.bias!.tolist(), [0, 0, 0]);
  assert.notDeepEqual(lin.weight.tolist(), [[0, 0], [0, 0], [0, 0]]);
  assert.equal(net.training, true);
  net.eval();
  assert.ok(net.modules().every((m) => m.training === false));
  net.train();
  assert.ok(net.modules().every((m) => m.training === true));
  (net.layers[0] as Block).train(false);
  assert.equal((net.layers[0] as Block).norm.training, false);
  assert.equal(net.training, true);
});

test("loadWeights from [name, array] pairs: strict errors name the parameter and the shapes", () => {
  const net = new nn.Sequential(new nn.Linear(3, 4), nn.relu, new nn.Linear(4, 2));
  const weights: [string, MxArray][] = [
    ["layers.0.weight", mx.full([4, 3], 0.5, mx.float32)], ["layers.0.bias", mx.zeros([4])],
    ["layers.2.weight", mx.full([2, 4], -1, mx.float32)], ["layers.2.bias", mx.ones([2])],
  ];
  net.loadWeights(weights);
  assert.equal(net.parameters().layers[2].weight, weights[2][1]);
  assert.deepEqual(net.forward(mx.ones([1, 3])).tolist(), [[-5, -5]]);
  assert.throws(() => net.loadWeights([...weights, ["layers.1.weight", mx.ones([1])]]),
    (e: any) => e instanceof EngineError && /^\[Module\.loadWeights\] received 1 parameter\(s\) not in the model: layers\.1\.weight/.test(e.message));
  assert.throws(() => net.loadWeights(weights.slice(1)),
    (e: any) => e instanceof EngineError && /missing 1 parameter\(s\): layers\.0\.weight/.test(e.message));
  const bad = weights.map(([k, v]): [string, MxArray] => [k, k === "layers.2.bias" ? mx.ones([3]) : v]);
  assert.throws(() => net.loadWeights(bad),
    (e: any) => e instanceof EngineError && /parameter 'layers\.2\.bias' has shape \[3\] but the model expects \[2\]/.test(e.message));
  // Non-strict: a partial list, extra names ignored.
  const fresh = mx.full([2], 9, mx.float32);
  net.loadWeights([["layers.2.bias", fresh], ["unknown.w", mx.ones([1])]], { strict: false });
  assert.equal(net.parameters().layers[2].bias, fresh);
});

const hasFileIo = typeof (mx as any).load === "function" && typeof (mx as any).saveSafetensors === "function";
test("saveWeights / loadWeights through a .safetensors file", { skip: !hasFileIo && "needs mx.load / mx.saveSafetensors (merging)" }, () => {
  const dir = mkdtempSync(join(tmpdir(), "hearth-nn-"));
  try {
    const a = new nn.Sequential(new nn.Linear(3, 4), nn.relu, new nn.Linear(4, 2));
    const file = join(dir, "w.safetensors");
    a.saveWeights(file);
    const b = new nn.Sequential(new nn.Linear(3, 4), nn.relu, new nn.Linear(4, 2));
    b.loadWeights(file);
    for (const [[ka, va], [kb, vb]] of mx.utils.treeFlatten(a.parameters()).map((x, i) => [x, mx.utils.treeFlatten(b.parameters())[i]]))
      { assert.equal(ka, kb); assert.deepEqual((vb as MxArray).tolist(), (va as MxArray).tolist()); }
    const c = new nn.Sequential(new nn.Linear(3, 5), nn.relu, new nn.Linear(5, 2));
    assert.throws(() => c.loadWeights(file), /parameter 'layers\.0\.weight' has shape \[4, 3\] but the model expects \[5, 3\]/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("saveWeights rejects other extensions", () => {
  assert.throws(() => new nn.Linear(2, 2).saveWeights("/tmp/x.npz"), (e: any) => e instanceof EngineError && /^\[Module\.saveWeights\] unsupported file extension/.test(e.message));
});

test("nn.valueAndGrad: grads shaped like trainableParameters, equal to mx.grad, originals restored", () => {
  const model = new nn.Sequential(new nn.Linear(3, 5), nn.tanh, new nn.Linear(5, 2));
  const x = mx.array([[0.5, -1, 2], [1, 0.25, -0.5]], mx.float32);
  const y = mx.array([1, 0], mx.int32);
  const loss = (m: nn.Sequential, xx: MxArray, yy: MxArray) => nn.losses.crossEntropy(m.forward(xx), yy, { reduction: "mean" });
  const before = mx.utils.treeFlatten(model.parameters());
  const [value, grads] = nn.valueAndGrad(model, loss)(model, x, y);
  assert.deepEqual(paths(grads), paths(model.trainableParameters()));
  const after = mx.utils.treeFlatten(model.parameters());
  after.forEach(([k, v], i) => assert.equal(v, before[i][1], `${k} restored to the same array`));
  // Reference: mx.grad of an explicit function of the parameter tree.
  const ref = mx.valueAndGrad((p: any) => {
    const h = mx.tanh(mx.add(mx.matmul(x, mx.transpose(p.layers[0].weight)), p.layers[0].bias));
    const z = mx.add(mx.matmul(h, mx.transpose(p.layers[2].weight)), p.layers[2].bias);
    return mx.mean(mx.subtract(mx.logsumexp(z, -1), mx.sum(mx.multiply(z, mx.array([[0, 1], [1, 0]], mx.float32)), -1)));
  })(model.parameters());
  assert.ok(Math.abs((value.item() as number) - (ref[0].item() as number)) < 1e-6);
  for (const [[k, g], [, r]] of mx.utils.treeFlatten(grads).map((e, i) => [e, mx.utils.treeFlatten(ref[1])[i]])) {
    const a = (g as MxArray).toFloat32Array(), b = (r as MxArray).toFloat32Array();
    a.forEach((v, i) => assert.ok(Math.abs(v - b[i]) < 1e-6, `${k}[${i}] ${v} vs ${b[i]}`));
  }
  // Frozen parameters get no gradient and stay out of the tree.
  (model.layers[0] as nn.Linear).freeze();
  const [, g2] = nn.valueAndGrad(model, loss)(model, x, y);
  assert.deepEqual(paths(g2), ["layers.2.weight", "layers.2.bias"]);
});

test("nn.valueAndGrad restores the model when the function throws", () => {
  const model = new nn.Linear(2, 2);
  const w = model.weight;
  assert.throws(() => nn.valueAndGrad(model, (_m: unknown) => { throw new Error("boom"); })(model), /boom/);
  assert.equal(model.weight, w);
});

test("toString lists the module tree", () => {
  const s = String(new nn.Sequential(new nn.Linear(3, 4), new nn.ReLU()));
  assert.match(s, /^Sequential\(\)\n {2}\(layers\.0\): Linear\(inputDims=3, outputDims=4, bias=true\)\n {2}\(layers\.1\): ReLU\(\)$/);
});

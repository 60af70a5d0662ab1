// LoRA / DoRA layers against peft (lora-tiny-a fixture: loss, every LoRA gradient, 3 torch-AdamW steps), DoRA
// against finite differences, gradient checkpointing, adapter files (mlx-lm and PEFT layouts), fuse.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { mx, nn, optim, lm } from "../src/index.js";
import type { MxArray } from "../src/index.js";
import { load } from "../src/lm/load.js";
import { findFixture } from "./helpers/fixtures.js";

const fixture = findFixture("lora-tiny-a");
const modelDir = findFixture("gemma3-tiny-a");
const ref = mx.load(join(fixture, "reference.safetensors")) as Record<string, MxArray>;
const info = JSON.parse(readFileSync(join(fixture, "reference.json"), "utf8"));

function relErr(a: MxArray, b: MxArray): number {
  const x = a.astype(mx.float32).toFloat32Array(), y = b.astype(mx.float32).toFloat32Array();
  assert.equal(x.length, y.length);
  let num = 0, den = 0;
  for (let i = 0; i < x.length; i++) {
    num += (x[i] - y[i]) ** 2;
    den += y[i] ** 2;
  }
  return Math.sqrt(num / Math.max(den, 1e-30));
}

/** Our parameter path of a peft tensor name: model.layers.2.self_attn.q_proj.lora_A.weight → …q_proj.lora_a. */
function oursOf(peftName: string): string {
  return peftName.replace(/\.lora_A\.weight$/, ".lora_a").replace(/\.lora_B\.weight$/, ".lora_b");
}

/** tiny-a with LoRA on layers 2-3 initialised from the fixture's init.* (peft layout transposed into ours). */
async function loraModel() {
  const { model } = await load(modelDir);
  model.freeze();
  lm.linearToLoraLayers(model, info.layers.length, { rank: info.rank, scale: info.scale, dropout: 0 });
  const init = Object.entries(ref).filter(([k]) => k.startsWith("init."))
    .map(([k, v]) => [oursOf(k.slice(5)), mx.transpose(v)] as [string, MxArray]);
  model.loadWeights(init, { strict: false });
  return model;
}

function fixtureLoss(model: any): [MxArray, MxArray] {
  const ids = ref.input_ids;
  const [B, T] = ids.shape;
  const logits = model.forward(mx.slice(ids, [0, 0], [B, T - 1]));
  const targets = mx.slice(ids, [0, 1], [B, T]);
  const mask = ref.loss_mask;
  const ce = nn.losses.crossEntropy(logits, targets, { mask, reduction: "mean" });
  return [ce, mx.sum(mask)];
}

test("lora-tiny-a: parameter paths and shapes follow mlx-lm (lora_a [in, rank], lora_b [rank, out])", async () => {
  const model = await loraModel();
  const names = mx.utils.treeFlatten(model.trainableParameters()).map(([k, v]) => [k, (v as MxArray).shape] as const);
  assert.equal(names.length, 28);
  const byName = new Map(names.map(([k, s]) => [k, s]));
  assert.deepEqual(byName.get("model.layers.3.self_attn.q_proj.lora_a"), [64, 4]);
  assert.deepEqual(byName.get("model.layers.3.self_attn.q_proj.lora_b"), [4, 64]);
  assert.deepEqual(byName.get("model.layers.2.mlp.down_proj.lora_a"), [160, 4]);
  assert.ok(!names.some(([k]) => k.includes("layers.1.")), "only the last 2 layers are adapted");
  assert.ok((model.layers[3] as any).self_attn.q_proj instanceof lm.LoRALinear);
});

test("lora-tiny-a: loss and every LoRA gradient match peft within 1e-4", async () => {
  const model = await loraModel();
  const [[loss], grads] = nn.valueAndGrad(model, fixtureLoss)(model);
  const el = relErr(loss, ref.loss0);
  assert.ok(el < 1e-4, `loss ${loss.item()} vs ${ref.loss0.item()}`);
  const flat = new Map(mx.utils.treeFlatten(grads) as [string, MxArray][]);
  let n = 0;
  for (const [k, v] of Object.entries(ref)) {
    if (!k.startsWith("grad.")) continue;
    const g = flat.get(oursOf(k.slice(5)));
    assert.ok(g, `gradient for ${k}`);
    const e = relErr(mx.transpose(g!), v);
    assert.ok(e < 1e-4, `${k}: relative error ${e}`);
    n++;
  }
  assert.equal(n, 28);
});

test("lora-tiny-a: 3 AdamW steps (torch semantics) land on peft's weights within 1e-4", async () => {
  const model = await loraModel();
  const opt = new optim.AdamW({ learningRate: 1e-2, weightDecay: 0.01, biasCorrection: true, betas: [0.9, 0.999], eps: 1e-8 });
  const vg = nn.valueAndGrad(model, fixtureLoss);
  const losses: number[] = [];
  for (let i = 0; i < 3; i++) {
    const [[loss], grads] = vg(model);
    opt.update(model, grads);
    mx.eval(model.trainableParameters(), opt.state, loss);
    losses.push(loss.item() as number);
  }
  info.losses_steps_1_to_3_before_update.forEach((l: number, i: number) =>
    assert.ok(Math.abs(losses[i] - l) / l < 1e-4, `loss before step ${i + 1}: ${losses[i]} vs ${l}`));
  const params = new Map(mx.utils.treeFlatten(model.trainableParameters()) as [string, MxArray][]);
  for (const [k, v] of Object.entries(ref)) {
    if (!k.startsWith("after3.")) continue;
    const e = relErr(mx.transpose(params.get(oursOf(k.slice(7)))!), v);
    assert.ok(e < 1e-4, `${k}: relative error ${e}`);
  }
});

// ---- DoRA ----

function randArray(shape: number[], seed: number, dtype = mx.float64): MxArray {
  return mx.random.normal(shape, dtype, 0, 1, mx.random.key(seed));
}

test("DoRALinear: forward as mlx-lm's formula, fuse equals forward, m starts at the base row norms", () => {
  const base = new nn.Linear(6, 5, true);
  const d = lm.DoRALinear.fromBase(base, { rank: 3, scale: 1.5 });
  const w = base.weight;
  const norms = mx.sqrt(mx.sum(mx.square(w), 1));
  assert.ok(relErr(d.m, norms) < 1e-6);
  d.lora_b = mx.multiply(randArray([3, 5], 3, mx.float32), 0.3);
  d.m = mx.add(d.m, 0.2);
  const x = randArray([2, 4, 6], 4, mx.float32);
  const adapted = mx.add(w, mx.transpose(mx.matmul(mx.multiply(d.lora_a, 1.5), d.lora_b)));
  const expected = mx.add(mx.matmul(x, mx.transpose(mx.multiply(mx.expandDims(mx.divide(d.m, mx.sqrt(mx.sum(mx.square(adapted), 1))), 1), adapted))), base.bias!);
  assert.ok(relErr(d.forward(x), expected) < 1e-5);
  const fused = d.fuse() as nn.Linear;
  assert.ok(relErr(fused.forward(x), d.forward(x)) < 1e-5);
});

test("DoRALinear: gradients of lora_a, lora_b, m and x match finite differences (row norm held constant)", () => {
  const base = new nn.Linear(6, 5, false);
  base.weight = randArray([5, 6], 10);
  const d = lm.DoRALinear.fromBase(base, { rank: 3, scale: 2 });
  d.lora_a = randArray([6, 3], 11);
  d.lora_b = randArray([3, 5], 12);
  d.m = mx.add(d.m, randArray([5], 13));
  const x0 = randArray([2, 3, 6], 14);
  const wOut = randArray([2, 3, 5], 15);
  // The reference function: the same map with the denominator frozen at the base point (DoRA's stop_gradient).
  const denom = mx.sqrt(mx.sum(mx.square(mx.add(base.weight, mx.transpose(mx.matmul(mx.multiply(d.lora_a, 2), d.lora_b)))), 1));
  const refFn = (a: MxArray, b: MxArray, m: MxArray, x: MxArray) => {
    const y = mx.add(mx.matmul(x, mx.transpose(base.weight)), mx.multiply(mx.matmul(mx.matmul(x, a), b), 2));
    return mx.sum(mx.multiply(mx.multiply(mx.divide(m, denom), y), wOut));
  };
  const layerFn = (a: MxArray, b: MxArray, m: MxArray, x: MxArray) => {
    d.lora_a = a; d.lora_b = b; d.m = m;
    return mx.sum(mx.multiply(d.forward(x), wOut));
  };
  const p0 = [d.lora_a, d.lora_b, d.m, x0];
  assert.ok(Math.abs((layerFn(...p0 as [MxArray, MxArray, MxArray, MxArray]).item() as number) - (refFn(...p0 as [MxArray, MxArray, MxArray, MxArray]).item() as number)) < 1e-9);
  const grads = mx.grad(layerFn, [0, 1, 2, 3])(...p0) as MxArray[];
  const eps = 1e-6;
  p0.forEach((p, gi) => {
    const flat = Float64Array.from(p.toTypedArray() as Float64Array);
    const g = grads[gi].toTypedArray() as Float64Array;
    for (let i = 0; i < flat.length; i++) {
      const at = (delta: number) => {
        const v = Float64Array.from(flat);
        v[i] += delta;
        const args = p0.slice();
        args[gi] = mx.array(v, mx.float64, p.shape);
        return refFn(...args as [MxArray, MxArray, MxArray, MxArray]).item() as number;
      };
      const fd = (at(eps) - at(-eps)) / (2 * eps);
      assert.ok(Math.abs(g[i] - fd) <= 1e-6 + 1e-5 * Math.abs(fd), `input ${gi}[${i}]: analytic ${g[i]} vs finite difference ${fd}`);
    }
  });
});

// ---- gradient checkpointing ----

function gradsClose(a: nn.ParamTree, b: nn.ParamTree, tol: number, what: string): void {
  const fa = mx.utils.treeFlatten(a) as [string, MxArray][];
  const fb = new Map(mx.utils.treeFlatten(b) as [string, MxArray][]);
  assert.equal(fa.length, fb.size, `${what}: same number of gradients`);
  for (const [k, v] of fa) {
    const e = relErr(v, fb.get(k)!);
    assert.ok(e < tol, `${what}: ${k} relative error ${e}`);
  }
}

test("gradient checkpointing: same loss and gradients as plain valueAndGrad (LoRA, full, trainable embedding)", async () => {
  for (const variant of ["lora", "full", "embedding"] as const) {
    const model = await loraModel();
    if (variant === "full") {
      model.freeze();
      for (const l of model.layers.slice(1)) l.unfreeze();
    } else if (variant === "embedding") {
      (model as any).model.embed_tokens.unfreeze();
      (model as any).model.norm.unfreeze();
    }
    // Non-zero lora_b so every path carries gradient.
    for (const [, l] of lm.adapterLayers(model)) l.lora_b = mx.multiply(mx.random.normal(l.lora_b.shape, mx.float32, 0, 1, mx.random.key(5)), 0.05);
    const [[l1], g1] = nn.valueAndGrad(model, fixtureLoss)(model);
    const [[l2], g2] = lm.checkpointedValueAndGrad(model, fixtureLoss)(model);
    assert.ok(Math.abs((l1.item() as number) - (l2.item() as number)) < 1e-4, `${variant}: loss`);
    gradsClose(g2, g1, 1e-4, variant);
    assert.ok(!Object.getOwnPropertyNames(model.layers[0]).includes("forward"), "block forwards are restored");
  }
});

test("gradient checkpointing with dropout: the recomputation drops the same units (exact gradients)", async () => {
  const { model } = await load(modelDir);
  model.freeze();
  mx.random.seed(7);
  lm.linearToLoraLayers(model, 2, { rank: 4, scale: 2, dropout: 0.5 });
  model.train();
  for (const [, l] of lm.adapterLayers(model)) l.lora_b = mx.multiply(mx.random.normal(l.lora_b.shape, mx.float32, 0, 1, mx.random.key(5)), 0.05);
  // The plain path with each block's dropout drawn from the key the checkpoint draws for it (same global sequence).
  for (const b of model.layers) {
    const f = (b as any).forward.bind(b);
    Object.defineProperty(b, "forward", {
      configurable: true, writable: true, enumerable: false,
      value: (x: MxArray, ...r: unknown[]) => lm.withDropoutKey(mx.random.bits([2], 4), () => f(x, ...r)),
    });
  }
  mx.random.seed(11);
  const [[l1], g1] = nn.valueAndGrad(model, fixtureLoss)(model);
  for (const b of model.layers) delete (b as any).forward;
  mx.random.seed(11);
  const [[l2], g2] = lm.checkpointedValueAndGrad(model, fixtureLoss)(model);
  assert.ok(Math.abs((l1.item() as number) - (l2.item() as number)) < 1e-4);
  gradsClose(g2, g1, 1e-4, "dropout 0.5");
  // And the masks really drop something: without dropout the loss differs.
  model.eval();
  const [l3] = fixtureLoss(model);
  assert.ok(Math.abs((l3.item() as number) - (l1.item() as number)) > 1e-3);
});

// ---- adapter files ----

function tmp(prefix: string): string {
  return mkdtempSync(join(tmpdir(), `hearth-${prefix}-`));
}

/** The fixture's init.* as a PEFT adapter folder (peft's own file layout). */
function peftFolderFromFixture(): string {
  const dir = tmp("peft");
  const tensors: Record<string, MxArray> = {};
  for (const [k, v] of Object.entries(ref)) if (k.startsWith("init.")) tensors[`base_model.model.${k.slice(5)}`] = v;
  mx.saveSafetensors(join(dir, "adapter_model.safetensors"), tensors);
  writeFileSync(join(dir, "adapter_config.json"), JSON.stringify({
    peft_type: "LORA", r: info.rank, lora_alpha: info.lora_alpha, target_modules: info.targets, layers_to_transform: info.layers,
    lora_dropout: 0.0, bias: "none", task_type: "CAUSAL_LM",
  }));
  return dir;
}

test("PEFT adapter import: peft's layout (lora_A (rank, in), lora_B (out, rank), scale = alpha / r) gives peft's loss", async () => {
  const { model } = await load(modelDir);
  lm.loadAdapters(model, peftFolderFromFixture());
  const q = (model.layers[2] as any).self_attn.q_proj as InstanceType<typeof lm.LoRALinear>;
  assert.ok(q instanceof lm.LoRALinear);
  assert.equal(q.scale, 2);
  assert.deepEqual(q.lora_a.shape, [64, 4]);
  const [loss] = fixtureLoss(model);
  assert.ok(relErr(loss, ref.loss0) < 1e-4, `loss ${loss.item()} vs ${ref.loss0.item()}`);
  assert.ok(!((model.layers[1] as any).self_attn.q_proj instanceof lm.LoRALinear), "layers 0-1 untouched");
});

test("lm.load({ adapterPath }) applies a PEFT or an mlx-lm adapter; both layouts round-trip", async () => {
  const peft = peftFolderFromFixture();
  const { model } = await load(modelDir, { adapterPath: peft });
  const [loss] = fixtureLoss(model);
  assert.ok(relErr(loss, ref.loss0) < 1e-4);
  // Give the adapter non-zero B so the round trips are checked on a real delta.
  for (const [, l] of lm.adapterLayers(model)) l.lora_b = mx.multiply(mx.random.normal(l.lora_b.shape, mx.float32, 0, 1, mx.random.key(3)), 0.05);
  const logits = model.forward(ref.input_ids);
  // mlx-lm layout: adapters.safetensors holds the lora_a / lora_b of the adapted layers, config says where.
  const mlxDir = tmp("mlx");
  model.freeze();
  for (const [, l] of lm.adapterLayers(model)) l.unfreeze({ keys: ["lora_a", "lora_b"], recurse: false });
  lm.saveAdapterWeights(model, join(mlxDir, "adapters.safetensors"));
  lm.writeAdapterConfig(mlxDir, { fine_tune_type: "lora", num_layers: 2, lora_parameters: { rank: 4, scale: 2, dropout: 0 } });
  const names = Object.keys(mx.load(join(mlxDir, "adapters.safetensors")));
  assert.ok(names.includes("model.layers.3.self_attn.q_proj.lora_a"));
  assert.equal(names.length, 28);
  const viaMlx = (await load(modelDir, { adapterPath: mlxDir })).model;
  assert.ok(relErr(viaMlx.forward(ref.input_ids), logits) < 1e-6);
  // PEFT export → import.
  const out = tmp("peft-out");
  lm.exportPeftAdapter(model, out, { baseModel: "gemma3-tiny-a" });
  const cfg = JSON.parse(readFileSync(join(out, "adapter_config.json"), "utf8"));
  assert.equal(cfg.r, 4);
  assert.equal(cfg.lora_alpha, 8);
  assert.deepEqual(cfg.target_modules, ["down_proj", "gate_proj", "k_proj", "o_proj", "q_proj", "up_proj", "v_proj"]);
  const peftTensors = mx.load(join(out, "adapter_model.safetensors"));
  assert.deepEqual(peftTensors["base_model.model.model.layers.2.mlp.down_proj.lora_A.weight"].shape, [4, 160]);
  assert.deepEqual(peftTensors["base_model.model.model.layers.2.mlp.down_proj.lora_B.weight"].shape, [64, 4]);
  const viaPeft = (await load(modelDir, { adapterPath: out })).model;
  assert.ok(relErr(viaPeft.forward(ref.input_ids), logits) < 1e-6);
});

test("fuse folds LoRA and DoRA into the base weights (same logits, plain Linear layers, original parameter names)", async () => {
  for (const useDora of [false, true]) {
    const { model } = await load(modelDir);
    lm.linearToLoraLayers(model, 2, { rank: 4, scale: 2, dropout: 0 }, { useDora });
    for (const [, l] of lm.adapterLayers(model)) l.lora_b = mx.multiply(mx.random.normal(l.lora_b.shape, mx.float32, 0, 1, mx.random.key(3)), 0.05);
    model.eval();
    const before = model.forward(ref.input_ids);
    lm.fuse(model);
    assert.equal(lm.adapterLayers(model).length, 0);
    assert.ok((model.layers[3] as any).self_attn.q_proj instanceof nn.Linear);
    const names = mx.utils.treeFlatten(model.parameters()).map(([k]) => k).sort();
    assert.deepEqual(names, Object.keys(mx.load(join(modelDir, "model.safetensors"))).sort());
    assert.ok(relErr(model.forward(ref.input_ids), before) < 1e-5, useDora ? "DoRA" : "LoRA");
  }
});

test("adapters that don't fit the model are clear errors naming the tensor and both shapes", async () => {
  const dir = tmp("bad");
  mx.saveSafetensors(join(dir, "adapters.safetensors"), {
    "model.layers.3.self_attn.q_proj.lora_a": mx.zeros([32, 4]),
    "model.layers.3.self_attn.q_proj.lora_b": mx.zeros([4, 64]),
    "model.layers.3.self_attn.nope.lora_a": mx.zeros([64, 4]),
  });
  lm.writeAdapterConfig(dir, { fine_tune_type: "lora", num_layers: 2, lora_parameters: { rank: 4, scale: 2, dropout: 0 } });
  await assert.rejects(load(modelDir, { adapterPath: dir }),
    (e: Error) => /q_proj\.lora_a: adapter shape \(32, 4\) does not match model parameter shape \(64, 4\)/.test(e.message) &&
      /self_attn\.nope\.lora_a: not an adapter parameter/.test(e.message));
  // A rank that differs from the config, through the PEFT layout.
  const peft = peftFolderFromFixture();
  writeFileSync(join(peft, "adapter_config.json"), JSON.stringify({ peft_type: "LORA", r: 8, lora_alpha: 16, target_modules: ["q_proj"] }));
  const { model } = await load(modelDir);
  assert.throws(() => lm.loadAdapters(model, "/nonexistent/adapter"), /the adapter path does not exist/);
  assert.throws(() => lm.loadAdapters(model, peft), /rank 4 differs from the config's r = 8/);
  // The PEFT adapter of another model: layer shapes differ.
  const other = tmp("peft-b");
  mx.saveSafetensors(join(other, "adapter_model.safetensors"), {
    "base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight": mx.zeros([4, 96]),
    "base_model.model.model.layers.0.self_attn.q_proj.lora_B.weight": mx.zeros([64, 4]),
  });
  writeFileSync(join(other, "adapter_config.json"), JSON.stringify({ peft_type: "LORA", r: 4, lora_alpha: 8, target_modules: ["q_proj"] }));
  assert.throws(() => lm.loadAdapters(model, other), /lora_A \(4, 96\) \/ lora_B \(64, 4\) do not fit a \(64 out, 64 in\) layer/);
  const empty = tmp("empty");
  assert.throws(() => lm.loadAdapters(model, empty), /holds no adapter: expected adapter_config\.json/);
});

// ---- QLoRA (needs nn.QuantizedLinear from the quantization branch) ----

const Q = (nn as any).QuantizedLinear;
test("QLoRA: LoRA over nn.QuantizedLinear keeps the base quantized and frozen; fuse re-quantizes or dequantizes",
  { skip: !Q && "needs nn.QuantizedLinear" }, () => {
    const lin = new nn.Linear(64, 32, false);
    const q = Q.fromLinear(lin, 32, 4);
    q.freeze();
    const l = lm.LoRALinear.fromBase(q, { rank: 4, scale: 2 });
    assert.deepEqual(l.lora_a.shape, [64, 4]);
    assert.deepEqual(l.lora_b.shape, [4, 32]);
    const trainable = mx.utils.treeFlatten(l.trainableParameters()).map(([k]) => k).sort();
    assert.deepEqual(trainable, ["lora_a", "lora_b"]);
    l.lora_b = mx.multiply(mx.random.normal([4, 32], mx.float32, 0, 1, mx.random.key(2)), 0.1);
    const x = mx.random.normal([3, 64], mx.float32, 0, 1, mx.random.key(4));
    const y = l.forward(x);
    const deq = mx.add(q.forward(x), mx.multiply(mx.matmul(mx.matmul(x, l.lora_a), l.lora_b), 2));
    assert.ok(relErr(y, deq) < 1e-5);
    const g = mx.grad((a: MxArray) => { l.lora_a = a; return mx.sum(l.forward(x)); })(l.lora_a);
    assert.deepEqual(g.shape, [64, 4]);
    const f = l.fuse({ dequantize: true }) as nn.Linear;
    assert.ok(f instanceof nn.Linear);
    assert.ok(relErr(f.forward(x), y) < 1e-5);
    const fq = l.fuse();
    assert.ok(lm.isQuantizedLinear(fq));
  });

test("QLoRA: DoRA over nn.QuantizedLinear (magnitude from the dequantized weight)", { skip: !Q && "needs nn.QuantizedLinear" }, () => {
  const lin = new nn.Linear(64, 32, false);
  const q = Q.fromLinear(lin, 32, 4);
  const d = lm.DoRALinear.fromBase(q, { rank: 4, scale: 2 });
  const w = mx.dequantize(q.weight, q.scales, q.biases, { groupSize: q.groupSize, bits: q.bits });
  assert.ok(relErr(d.m, mx.sqrt(mx.sum(mx.square(w), 1))) < 1e-5);
  const x = mx.random.normal([3, 64], mx.float32, 0, 1, mx.random.key(4));
  assert.ok(relErr(d.forward(x), mx.matmul(x, mx.transpose(w))) < 1e-4);
});

test("compiled training step: same loss and gradients as the plain one; dropout masks change between steps", async () => {
  const model = await loraModel();
  for (const [, l] of lm.adapterLayers(model)) l.lora_b = mx.multiply(mx.random.normal(l.lora_b.shape, mx.float32, 0, 1, mx.random.key(5)), 0.05);
  const b = lm.makeBatch([{ tokens: Array.from(ref.input_ids.tolist() as number[][])[0], offset: 5, source: "a" },
    { tokens: (ref.input_ids.tolist() as number[][])[1].slice(0, 13), offset: 3, source: "b" }], 64);
  const [[l1], g1] = nn.valueAndGrad(model, lm.defaultLoss)(model, b.batch, b.lengths);
  const step = lm.compiledValueAndGrad(model, lm.defaultLoss);
  for (let i = 0; i < 2; i++) {
    const [[l2], g2] = step(model, b.batch, b.lengths);
    assert.ok(Math.abs((l1.item() as number) - (l2.item() as number)) < 1e-5);
    gradsClose(g2, g1, 1e-5, `compiled call ${i}`);
  }
  for (const [, l] of lm.adapterLayers(model)) l.dropout = new nn.Dropout(0.5);
  model.train();
  const drop = lm.compiledValueAndGrad(model, lm.defaultLoss);
  const [[d1]] = drop(model, b.batch, b.lengths);
  const [[d2]] = drop(model, b.batch, b.lengths);
  assert.notEqual(d1.item(), d2.item(), "a replay draws new dropout masks");
});

test("gradient checkpointing with the head in row chunks: same loss and gradients (uneven chunks, trainable norm)", async () => {
  const model = await loraModel();
  (model as any).model.norm.unfreeze();
  for (const [, l] of lm.adapterLayers(model)) l.lora_b = mx.multiply(mx.random.normal(l.lora_b.shape, mx.float32, 0, 1, mx.random.key(5)), 0.05);
  const rows = ref.input_ids.tolist() as number[][];
  const b = lm.makeBatch([{ tokens: rows[0], offset: 5, source: "a" }, { tokens: rows[1].slice(0, 13), offset: 3, source: "b" },
    { tokens: rows[1].slice(2, 9), offset: 0, source: "c" }], 64);
  const [[l1, n1], g1] = nn.valueAndGrad(model, lm.defaultLoss)(model, b.batch, b.lengths);
  for (const headChunks of [2, 3]) {
    const [[l2, n2], g2] = lm.checkpointedValueAndGrad(model, lm.defaultLoss, { headChunks })(model, b.batch, b.lengths);
    assert.equal(n2.item(), n1.item());
    assert.ok(Math.abs((l1.item() as number) - (l2.item() as number)) < 1e-4 * (l1.item() as number), `${headChunks} chunks: loss`);
    gradsClose(g2, g1, 1e-4, `${headChunks} chunks`);
  }
});

test("adapters saved from a multimodal checkpoint (language_model.* names, mlx-lm and PEFT) load into the text model", async () => {
  const init = Object.entries(ref).filter(([k]) => k.startsWith("init."));
  const mlxDir = tmp("mm-mlx");
  mx.saveSafetensors(join(mlxDir, "adapters.safetensors"),
    Object.fromEntries(init.map(([k, v]) => [`language_model.${oursOf(k.slice(5))}`, mx.transpose(v)])));
  lm.writeAdapterConfig(mlxDir, { fine_tune_type: "lora", num_layers: 2, lora_parameters: { rank: 4, scale: 2, dropout: 0 } });
  const peftDir = tmp("mm-peft");
  mx.saveSafetensors(join(peftDir, "adapter_model.safetensors"),
    Object.fromEntries(init.map(([k, v]) => [`base_model.model.${k.slice(5).replace(/^model\./, "model.language_model.")}`, v])));
  writeFileSync(join(peftDir, "adapter_config.json"), JSON.stringify({ peft_type: "LORA", r: 4, lora_alpha: 8, target_modules: info.targets }));
  for (const dir of [mlxDir, peftDir]) {
    const { model } = await load(modelDir, { adapterPath: dir });
    const [loss] = fixtureLoss(model);
    assert.ok(relErr(loss, ref.loss0) < 1e-4, dir);
  }
});

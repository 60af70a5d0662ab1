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

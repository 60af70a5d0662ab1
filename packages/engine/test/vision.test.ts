// Gemma 3 multimodal (SigLIP tower, projector, merged embeddings, image-block attention) against transformers,
// the processor's image-token expansion, and describeImage's cached decoding.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, cpSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { mx } from "../src/index.js";
import type { MxArray } from "../src/index.js";
import { load, loadTokenizer } from "../src/lm/load.js";
import { Gemma3Processor, loadProcessor } from "../src/lm/processor.js";
import { describeImage } from "../src/lm/describe.js";
import type { Model as Gemma3Model } from "../src/lm/models/gemma3.js";
import { findFixture, legacyConfigCopy } from "./helpers/fixtures.js";
import { tinyVlmWithTokenizer } from "./helpers/tiny-tokenizer.js";

function relErr(a: MxArray, b: MxArray): number {
  const x = a.astype(mx.float32).toFloat32Array(), y = b.astype(mx.float32).toFloat32Array();
  assert.equal(x.length, y.length);
  let num = 0, den = 0;
  for (let i = 0; i < x.length; i++) {
    num += (x[i] - y[i]) ** 2;
    den += y[i] ** 2;
  }
  return Math.sqrt(num / den);
}

const folder = findFixture("gemma3-vlm-tiny");
const ref = mx.load(join(folder, "reference.safetensors")) as Record<string, MxArray>;
const IMAGE = join(findFixture("image-preprocess"), "input.png");

for (const dialect of ["config.json", "config.legacy.json"]) {
  test(`gemma3-vlm-tiny (${dialect}): vision hidden state, projected features and logits match transformers`, async () => {
    const path = dialect === "config.json" ? folder : legacyConfigCopy(folder);
    const { model } = await load(path);
    assert.equal(model.modelType, "gemma3");
    const vlm = model as unknown as Gemma3Model;
    const v = vlm.vision_tower.forward(ref.pixel_values);
    assert.deepEqual(v.shape, [1, 16, 32]);
    const ev = relErr(v, ref.vision_last_hidden_state);
    assert.ok(ev < 1e-4, `vision last hidden state relative error ${ev}`);
    const f = vlm.getImageFeatures(ref.pixel_values);
    assert.deepEqual(f.shape, [1, 4, 64]);
    const ef = relErr(f, ref.image_features_pooler_output);
    assert.ok(ef < 1e-4, `projected image features relative error ${ef}`);
    const logits = model.forward(ref.input_ids, { pixelValues: ref.pixel_values });
    assert.deepEqual(logits.shape, ref.logits_f32.shape);
    const el = relErr(logits, ref.logits_f32);
    assert.ok(el < 1e-4, `logits relative error ${el}`);
  });
}

test("gemma3-vlm-tiny in bfloat16: logits and projected features within 2e-2 of the float32 reference", async () => {
  const { model } = await load(folder, { dtype: "bfloat16" });
  const logits = model.forward(ref.input_ids, { pixelValues: ref.pixel_values });
  assert.equal(logits.dtype, mx.bfloat16);
  const el = relErr(logits, ref.logits_f32);
  assert.ok(el < 2e-2, `bf16 logits relative error ${el}`);
  const ef = relErr((model as unknown as Gemma3Model).getImageFeatures(ref.pixel_values), ref.image_features_pooler_output);
  assert.ok(ef < 2e-2, `bf16 features relative error ${ef}`);
});

test("gemma3: an image's tokens attend to each other both ways; text stays causal", async () => {
  const { model } = await load(folder);
  const vlm = model as unknown as Gemma3Model;
  const ids = (ref.input_ids.tolist() as number[][])[0];
  const first = ids.indexOf(299), last = ids.lastIndexOf(299);
  const features = vlm.getImageFeatures(ref.pixel_values);
  const base = vlm.forwardWithImages(ref.input_ids, features);
  assert.ok(relErr(base, ref.logits_f32) < 1e-4);
  // Change only the last image token's feature: the first image token sees it (bidirectional), the text before
  // the image does not (causal).
  const [n, T, D] = features.shape;
  const bump = mx.concatenate([mx.slice(features, [0, 0, 0], [n, T - 1, D]), mx.add(mx.slice(features, [0, T - 1, 0], [n, T, D]), 1)], 1);
  const moved = vlm.forwardWithImages(ref.input_ids, bump);
  const at = (a: MxArray, t: number) => mx.slice(a, [0, t, 0], [1, t + 1, a.shape[2]]);
  assert.ok(relErr(at(moved, first), at(base, first)) > 1e-3, "the first image token attends to the last one");
  assert.ok(relErr(at(moved, first - 1), at(base, first - 1)) < 1e-7, "the text before the image does not");
  assert.ok(last - first === 3);
  // Without pixel values the model is the text model.
  const pre = (a: MxArray) => mx.slice(a, [0, 0, 0], [1, first, a.shape[2]]);
  assert.ok(relErr(pre(base), pre(model.forward(ref.input_ids))) < 1e-6);
});

test("gemma3: prefill in chunks split at image-block boundaries equals one forward pass (caches, rotating window)", async () => {
  const { model } = await load(folder);
  const vlm = model as unknown as Gemma3Model;
  const ids = (ref.input_ids.tolist() as number[][])[0];
  const full = model.forward(ref.input_ids, { pixelValues: ref.pixel_values }).toFloat32Array();
  const V = 300;
  const features = vlm.getImageFeatures(ref.pixel_values);
  // [0, 5): text; [5, 14): text + the whole image block (longer than the window of 6); [14, 18): text, one by one.
  const cache = model.makeCache();
  const check = (logits: MxArray, from: number) => {
    const got = logits.toFloat32Array();
    for (let i = 0; i < got.length; i++) {
      const want = full[from * V + i];
      assert.ok(Math.abs(got[i] - want) <= 1e-4 * (1 + Math.abs(want)), `position ${from + Math.floor(i / V)}: ${got[i]} vs ${want}`);
    }
  };
  check(model.forward(mx.array([ids.slice(0, 5)], mx.int32), { cache }), 0);
  check(vlm.forwardWithImages(mx.array([ids.slice(5, 14)], mx.int32), features, { cache }), 5);
  for (let t = 14; t < ids.length; t++) check(model.forward(mx.array([[ids[t]]], mx.int32), { cache }), t);
});

test("gemma3: every checkpoint naming (hub, transformers 5 runtime, MLX-layout patch kernel) loads the same model", async () => {
  const weights = mx.load(join(folder, "model.safetensors")) as Record<string, MxArray>;
  const variants: Record<string, (k: string, v: MxArray) => [string, MxArray]> = {
    hub: (k, v) => [k.replace(/^vision_tower\./, "vision_tower.vision_model."), v],
    runtime: (k, v) => [k.replace(/^language_model\.model\./, "model.language_model.").replace(/^(vision_tower|multi_modal_projector)\./, "model.$1."), v],
    mlx: (k, v) => [k.replace(/^vision_tower\./, "vision_tower.vision_model."), k.endsWith("patch_embedding.weight") ? mx.transpose(v, [0, 2, 3, 1]) : v],
  };
  const want = (await load(folder)).model.forward(ref.input_ids, { pixelValues: ref.pixel_values });
  for (const [name, rename] of Object.entries(variants)) {
    const dir = mkdtempSync(join(tmpdir(), `hearth-vlm-${name}-`));
    cpSync(join(folder, "config.json"), join(dir, "config.json"));
    const renamed = Object.fromEntries(Object.entries(weights).map(([k, v]) => rename(k, v)));
    if (name === "runtime") renamed["lm_head.weight"] = weights["language_model.model.embed_tokens.weight"];  // tied: dropped
    mx.saveSafetensors(join(dir, "model.safetensors"), renamed);
    const { model } = await load(dir);
    const got = model.forward(ref.input_ids, { pixelValues: ref.pixel_values });
    assert.ok(relErr(got, want) < 1e-6, `${name} naming`);
  }
  const { model } = await load(folder);
  const names = mx.utils.treeFlatten(model.parameters()).map(([k]) => k);
  assert.ok(names.includes("vision_tower.vision_model.embeddings.patch_embedding.weight"));
  assert.ok(names.includes("language_model.model.layers.0.self_attn.q_proj.weight"));
  assert.ok(names.includes("multi_modal_projector.mm_input_projection_weight"));
  assert.deepEqual((model as unknown as Gemma3Model).vision_tower.vision_model.embeddings.patch_embedding.weight.shape, [32, 14, 14, 3]);
});

test("gemma3: text-only input runs the text model; bad image inputs give clear errors", async () => {
  const { model } = await load(folder);
  const textOnly = mx.array([[2, 125, 182, 12, 92]], mx.int32);
  assert.deepEqual(model.forward(textOnly).shape, [1, 5, 300]);
  assert.throws(() => model.forward(textOnly, { pixelValues: ref.pixel_values }), /Image features and image tokens do not match: 0 image tokens/);
  assert.throws(() => model.forward(ref.input_ids, { pixelValues: mx.zeros([1, 3, 28, 28]) }), /takes 56×56 images/);
  assert.throws(() => model.forward(ref.input_ids, { pixelValues: mx.zeros([1, 28, 28, 3]) }), /NCHW/);
  const two = mx.concatenate([ref.pixel_values, ref.pixel_values], 0);
  assert.throws(() => model.forward(ref.input_ids, { pixelValues: two }), /4 image tokens in the input, 2 image\(s\) × 4 features/);
});

test("Gemma3Processor: <start_of_image> expands as Gemma3Processor does (real Gemma 3 tokenizer, 256 tokens)", async () => {
  const tok = await loadTokenizer(findFixture("tokenizer-gemma3"));
  const p = new Gemma3Processor(tok);
  assert.equal(p.imageTokenId, 262144);
  assert.equal(p.fullImageSequence, "\n\n<start_of_image>" + "<image_soft_token>".repeat(256) + "<end_of_image>\n\n");
  const { prompt } = p.renderMessages([{ role: "user", content: [{ type: "image", image: "x.png" }, { type: "text", text: "What is this?" }] }]);
  assert.equal(prompt, "<bos><start_of_turn>user\n<start_of_image>What is this?<end_of_turn>\n<start_of_turn>model\n");
  const expanded = p.expandImageTokens(prompt, [0]);
  const ids = tok.encode(expanded, { addSpecialTokens: false });
  assert.equal(ids.filter((i) => i === 262144).length, 256);
  assert.equal(ids.filter((i) => i === 255999).length, 1);
  assert.equal(ids.filter((i) => i === 256000).length, 1);
  const start = ids.indexOf(255999);
  assert.equal(ids[start + 1], 262144);
  assert.equal(ids[start + 257], 256000);
  assert.equal(ids[0], 2, "a single <bos>");
  assert.equal(ids.filter((i) => i === 2).length, 1);
  // Pan-and-scan rewrite, then expansion of every placeholder.
  const pas = p.expandImageTokens("A <start_of_image> B", [2]);
  assert.ok(pas.startsWith("A Here is the original image \n\n<start_of_image>"));
  assert.equal(pas.split("<start_of_image>").length - 1, 3);
  assert.ok(pas.includes("and here are some crops to help you see better \n\n<start_of_image>"));
  assert.throws(() => p.expandImageTokens("no placeholder", [0]), /0 <start_of_image> placeholder\(s\) for 1 image/);
});

test("loadProcessor + process: chat messages with an image give ids and pixel values for the tiny model", async () => {
  const dir = tinyVlmWithTokenizer();
  const processor = await loadProcessor(dir);
  assert.equal(processor.imageOptions.size, 56, "without preprocessor_config.json the tower's image_size is used");
  assert.equal(processor.mmTokensPerImage, 4);
  const inputs = await processor.process({ messages: [{ role: "user", content: [{ type: "image", image: IMAGE }, { type: "text", text: "hi" }] }] });
  assert.deepEqual(inputs.pixelValues!.shape, [1, 3, 56, 56]);
  const ids = (inputs.inputIds.tolist() as number[][])[0];
  assert.equal(ids.filter((i) => i === 299).length, 4);
  assert.equal(ids[0], 2);
  const { model } = await load(dir);
  assert.deepEqual(model.forward(inputs.inputIds, { pixelValues: inputs.pixelValues }).shape, [1, ids.length, 300]);
  // HF-style placeholders: {type: "image"} parts take the images given beside the messages, in order.
  const hf = await processor.process({ messages: [{ role: "user", content: [{ type: "image" }, { type: "text", text: "hi" }] }], images: [IMAGE] });
  assert.deepEqual(hf.inputIds.tolist(), inputs.inputIds.tolist());
  await assert.rejects(processor.process({ messages: [{ role: "user", content: [{ type: "image" }] }] }), /has no image/);
  await assert.rejects(processor.process({ messages: [{ role: "user", content: "hi" }], images: [IMAGE] }), /1 image\(s\) given beyond/);
  // Pan-and-scan: the 640×480 image gets 2 crops, 3 views of 4 tokens.
  const pas = await loadProcessor(dir, { panAndScan: true });
  const r = await pas.process({ text: "<start_of_image>", images: [IMAGE] });
  assert.deepEqual(r.numCrops, [2]);
  assert.deepEqual(r.pixelValues!.shape, [3, 3, 56, 56]);
  assert.equal((r.inputIds.tolist() as number[][])[0].filter((i) => i === 299).length, 12);
  assert.deepEqual(model.forward(r.inputIds, { pixelValues: r.pixelValues }).shape[2], 300);
});

test("describeImage: greedy decoding through the caches equals full recomputation without caches", async () => {
  const dir = tinyVlmWithTokenizer("config.legacy.json");
  const { model } = await load(dir);
  const processor = await loadProcessor(dir);
  const pieces: string[] = [];
  const r = await describeImage(model, processor, { image: IMAGE, prompt: "Describe it.", maxTokens: 12, onText: (t) => pieces.push(t) });
  assert.equal(r.text, pieces.join(""));
  assert.ok(r.tokens.length > 0);
  // Reference: recompute the whole sequence each step, no cache.
  const inputs = await processor.process({ messages: [{ role: "user", content: [{ type: "image", image: IMAGE }, { type: "text", text: "Describe it." }] }] });
  const seq = (inputs.inputIds.tolist() as number[][])[0];
  const want: number[] = [];
  for (let i = 0; i < r.tokens.length; i++) {
    const logits = model.forward(mx.array([[...seq, ...want]], mx.int32), { pixelValues: inputs.pixelValues });
    const L = logits.shape[1];
    want.push(mx.argmax(mx.slice(logits, [0, L - 1, 0], [1, L, 300])).item() as number);
  }
  assert.deepEqual(r.tokens, want);
  assert.equal(r.promptTokens, seq.length);
  // Two images, sampled with a seed: reproducible.
  const a = await describeImage(model, processor, { image: [IMAGE, IMAGE], maxTokens: 6, temp: 0.8, seed: 3 });
  const b = await describeImage(model, processor, { image: [IMAGE, IMAGE], maxTokens: 6, temp: 0.8, seed: 3 });
  assert.deepEqual(a.tokens, b.tokens);
  assert.equal(a.promptTokens, r.promptTokens - "Describe it.".length + "Describe this image.".length + 10);  // + "\n\n<boi>" 4×image "<eoi>\n\n"
});

test("describeImage: clear errors for a text-only model, missing images and bad options", async () => {
  const dir = tinyVlmWithTokenizer();
  const { model } = await load(dir);
  const processor = await loadProcessor(dir);
  const text = (await load(findFixture("gemma3-tiny-a"))).model;
  await assert.rejects(describeImage(text, processor, { image: IMAGE }), /needs a vision-language model/);
  await assert.rejects(describeImage(model, processor, { image: [] }), /at least one image/);
  await assert.rejects(describeImage(model, processor, { image: "/no/such/image.png" }), /Image file not found/);
  await assert.rejects(describeImage(model, processor, { image: IMAGE, maxTokens: -1 }), /maxTokens/);
  const bad = mkdtempSync(join(tmpdir(), "hearth-vlm-bad-"));
  cpSync(dir, bad, { recursive: true });
  writeFileSync(join(bad, "config.json"), JSON.stringify({ model_type: "gemma3", image_token_index: 5 }));
  await assert.rejects(loadProcessor(bad), /config.json says image_token_index 5/);
});

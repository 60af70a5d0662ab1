// EmbeddingGemma (sentence-transformers layout) against sentence-transformers: hidden states, pooling, Dense
// layers and normalisation; padding, batching, task prompts, Matryoshka truncation; the embed CLI.
import { test } from "node:test";
import assert from "node:assert/strict";
import { cpSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { mx } from "../src/index.js";
import type { MxArray } from "../src/index.js";
import { loadEmbedder, EMBEDDING_GEMMA_PROMPTS, parsePoolingConfig } from "../src/lm/models/embedding-gemma.js";
import { findFixture, legacyConfigCopy } from "./helpers/fixtures.js";
import { tinyEmbedderWithTokenizer } from "./helpers/tiny-tokenizer.js";

function relErr(a: MxArray | Float32Array, b: MxArray | Float32Array): number {
  const x = a instanceof Float32Array ? a : a.astype(mx.float32).toFloat32Array();
  const y = b instanceof Float32Array ? b : b.astype(mx.float32).toFloat32Array();
  assert.equal(x.length, y.length);
  let num = 0, den = 0;
  for (let i = 0; i < x.length; i++) {
    num += (x[i] - y[i]) ** 2;
    den += y[i] ** 2;
  }
  return Math.sqrt(num / den);
}

const folder = findFixture("embeddinggemma-tiny");
const ref = mx.load(join(folder, "reference.safetensors")) as Record<string, MxArray>;
const mask = ref.attention_mask.tolist() as number[][];

/** Relative error of [B, L, D] states over the positions the mask marks real. */
function maskedRelErr(a: MxArray, b: MxArray): number {
  const [B, L, D] = a.shape;
  const x = a.toFloat32Array(), y = b.toFloat32Array();
  let num = 0, den = 0;
  for (let i = 0; i < B; i++)
    for (let t = 0; t < L; t++) {
      if (!mask[i][t]) continue;
      for (let d = 0; d < D; d++) {
        const k = (i * L + t) * D + d;
        num += (x[k] - y[k]) ** 2;
        den += y[k] ** 2;
      }
    }
  return Math.sqrt(num / den);
}

function legacyPoolingCopy(src: string): string {
  const out = mkdtempSync(join(tmpdir(), "hearth-emb-legacy-"));
  cpSync(src, out, { recursive: true });
  cpSync(join(src, "config.legacy.json"), join(out, "config.json"));
  writeFileSync(join(out, "1_Pooling", "config.json"), JSON.stringify({
    word_embedding_dimension: 64, pooling_mode_cls_token: false, pooling_mode_mean_tokens: true, pooling_mode_max_tokens: false,
    pooling_mode_mean_sqrt_len_tokens: false, pooling_mode_weightedmean_tokens: false, pooling_mode_lasttoken: false, include_prompt: true,
  }));
  return out;
}

for (const [name, path] of [["config.json, new pooling config", folder], ["config.legacy.json, old pooling config", legacyPoolingCopy(folder)]]) {
  test(`embeddinggemma-tiny (${name}): last hidden state, pooled and embeddings match sentence-transformers`, async () => {
    const e = await loadEmbedder(path);
    assert.equal(e.pooling.mode, "mean");
    assert.equal(e.dimension, 64);
    const r = e.embedTokens(ref.input_ids, ref.attention_mask);
    assert.deepEqual(r.lastHiddenState.shape, [3, 24, 64]);
    const eh = maskedRelErr(r.lastHiddenState, ref.last_hidden_state);
    assert.ok(eh < 1e-4, `last hidden state relative error ${eh}`);
    const ep = relErr(r.pooled, ref.pooled);
    assert.ok(ep < 1e-4, `pooled relative error ${ep}`);
    const ee = relErr(r.embeddings, ref.embeddings);
    assert.ok(ee < 1e-4, `embeddings relative error ${ee}`);
  });
}

test("embeddinggemma-tiny: attention is bidirectional (an early position sees a later token)", async () => {
  // The sliding layers' reach (|i − j| ≤ window / 2, transformers' rewrite of sliding_window for bidirectional
  // models) is pinned by the reference comparison above: the plain window (|i − j| < 6) misses it by 10%.
  const e = await loadEmbedder(folder);
  const ids = (ref.input_ids.tolist() as number[][])[0];
  const alt = [...ids];
  alt[20] = (alt[20] + 1) % 512;
  const a = e.embedTokens(mx.array([ids], mx.int32)).lastHiddenState;
  const b = e.embedTokens(mx.array([alt], mx.int32)).lastHiddenState;
  const at = (x: MxArray, t: number) => mx.slice(x, [0, t, 0], [1, t + 1, 64]);
  assert.ok(relErr(at(b, 2), at(a, 2)) > 1e-4, "position 2 sees a change at position 20");
});

test("padded rows equal the same texts embedded alone", async () => {
  const e = await loadEmbedder(folder);
  const batch = e.embedTokens(ref.input_ids, ref.attention_mask);
  const ids = ref.input_ids.tolist() as number[][];
  for (let b = 0; b < 3; b++) {
    const n = mask[b].reduce((s, v) => s + v, 0);
    const alone = e.embedTokens(mx.array([ids[b].slice(0, n)], mx.int32));
    const row = (x: MxArray) => mx.slice(x, [b, 0], [b + 1, x.shape[1]]);
    assert.ok(relErr(alone.pooled, row(batch.pooled)) < 1e-5, `row ${b} pooled`);
    assert.ok(relErr(alone.embeddings, row(batch.embeddings)) < 1e-5, `row ${b} embeddings`);
  }
});

test("embed(): task prompts, batching sorted by length, Matryoshka truncation with re-normalisation", async () => {
  const e = await loadEmbedder(tinyEmbedderWithTokenizer());
  const texts = ["a short one", "a much longer sentence about cats and dogs", "mid length text", "x"];
  const single = await Promise.all(texts.map(async (t) => (await e.embed([t], { task: "query" }))[0]));
  const batched = await e.embed(texts, { task: "query", batchSize: 3 });
  assert.equal(batched.length, 4);
  batched.forEach((v, i) => {
    assert.ok(v instanceof Float32Array);
    assert.equal(v.length, 64);
    assert.ok(relErr(v, single[i]) < 1e-5, `text ${i}: batched equals alone`);
    assert.ok(Math.abs(Math.hypot(...v) - 1) < 1e-5, "unit norm");
  });
  // The task prompt is the literal prefix.
  const literal = await e.embed(["task: search result | query: a short one"], { task: "none" });
  assert.ok(relErr(literal[0], batched[0]) < 1e-6);
  const doc = await e.embed(["a short one"], { task: "document", title: "Pets" });
  assert.ok(relErr(doc[0], (await e.embed(["title: Pets | text: a short one"]))[0]) < 1e-6);
  const noTask = (await e.embed("a short one"))[0];
  assert.ok(relErr(noTask, batched[0]) > 1e-3, "prompts change the embedding");
  // Matryoshka: the first 32 values re-normalised.
  const small = await e.embed(texts, { task: "query", dimensions: 32 });
  small.forEach((v, i) => {
    assert.equal(v.length, 32);
    const head = batched[i].slice(0, 32);
    const n = Math.hypot(...head);
    assert.ok(relErr(v, head.map((x) => x / n)) < 1e-5);
  });
  for (const task of ["query", "document", "classification", "clustering", "similarity", "code retrieval", "question answering", "fact checking", "qa", "code", "STS", "Retrieval-document"])
    assert.equal((await e.embed(["hi"], { task })).length, 1);
  assert.equal(e.promptFor({ task: "similarity" }), "task: sentence similarity | query: ");
  assert.equal(e.promptFor({ task: "fact checking" }), "task: fact checking | query: ");
  assert.equal(EMBEDDING_GEMMA_PROMPTS["code retrieval"], "task: code retrieval | query: ");
  assert.deepEqual(await e.embed([]), []);
  await assert.rejects(e.embed(["x"], { task: "poetry" }), /Unknown task 'poetry'/);
  await assert.rejects(e.embed(["x"], { dimensions: 100 }), /dimensions must be an integer in \[1, 64\]/);
  await assert.rejects(e.embed(["x"], { batchSize: 0 }), /batchSize/);
  const noTok = await loadEmbedder(folder);
  await assert.rejects(noTok.embed(["x"]), /no tokenizer/);
});

test("pooling configs in both dialects; bad configs give clear errors", () => {
  assert.deepEqual(parsePoolingConfig({ embedding_dimension: 64, pooling_mode: "mean", include_prompt: true }, 64), { mode: "mean", dimension: 64, includePrompt: true });
  assert.deepEqual(parsePoolingConfig({ word_embedding_dimension: 64, pooling_mode_mean_tokens: true }, 64), { mode: "mean", dimension: 64, includePrompt: true });
  assert.equal(parsePoolingConfig({ pooling_mode_cls_token: true }, 8).mode, "cls");
  assert.equal(parsePoolingConfig({ pooling_mode: "lasttoken" }, 8).mode, "lasttoken");
  assert.throws(() => parsePoolingConfig({ pooling_mode: "weightedmean" }, 8), /unsupported pooling mode/);
  assert.throws(() => parsePoolingConfig({ embedding_dimension: 32, pooling_mode: "mean" }, 64), /differs from the transformer's hidden size/);
});

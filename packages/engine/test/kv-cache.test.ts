// KV caches: where each key sits (keyPositions, which lines padding masks up with rotated buffers), snapshots,
// trimming, and the quantized cache (needs mx.quantize / mx.dequantize).
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { mx, lm } from "../src/index.js";
import type { MxArray } from "../src/index.js";
import { findFixture } from "./helpers/fixtures.js";

/** Keys [1, 1, L, 1] whose values are their positions. */
const posKeys = (from: number, L: number) => mx.reshape(mx.arange(from, from + L, 1, mx.float32), [1, 1, L, 1]);
const values = (a: MxArray) => Array.from(a.toFloat32Array());

function drive(c: lm.Cache, sizes: number[]): void {
  for (const L of sizes) {
    const expect = c.keyPositions(L);
    assert.equal(expect.length, c.keyCountAfter(L), `keyCountAfter(${L}) at offset ${c.offset}`);
    const k = posKeys(c.offset, L);
    const [keys, vals] = c.updateAndFetch(k, k);
    assert.deepEqual(values(keys), expect, `keys after adding ${L} at offset ${c.offset - L}`);
    assert.deepEqual(values(vals), expect);
    // The saved state is the held tokens in temporal order.
    const st = values(c.state[0]);
    assert.deepEqual(st, [...st].sort((a, b) => a - b));
  }
}

const SIZES = [5, ...Array(12).fill(1), 7, ...Array(20).fill(1), 3, 1, 1, 12, ...Array(9).fill(1)];

test("keyPositions says where every key is, for KVCache and RotatingKVCache (rotated, with keep)", () => {
  drive(new lm.KVCache(), SIZES);
  drive(new lm.RotatingKVCache(8), SIZES);
  drive(new lm.RotatingKVCache(10, 4), SIZES);
  drive(new lm.RotatingKVCache(300), [1, 1, 1, 4, 1, 1]);  // grows in steps, never wraps
  const r = new lm.RotatingKVCache(8);
  drive(r, [3, 1, 1]);
  assert.ok(r.isTrimmable());
  assert.equal(r.trim(2), 2);
  drive(r, [1, 1, 4, 1, 1, 1, 1, 1, 1, 1]);
  assert.ok(!r.isTrimmable());
});

test("RotatingKVCache snapshots roll back to an earlier state", () => {
  const r = new lm.RotatingKVCache(8, 2);
  drive(r, [6, 1, 1, 1, 1]);
  const snap = r.snapshot();
  const before = values(r.state[0]);
  drive(r, [1, 1, 1, 5, 1]);
  r.restoreSnapshot(snap);
  assert.equal(r.offset, 10);
  assert.deepEqual(values(r.state[0]), before);
  drive(r, [1, 1, 3, 1]);
  r.restoreSnapshot(snap);  // still usable after the cache moved on again
  assert.deepEqual(values(r.state[0]), before);
});

test("a padded batch decodes past a sliding window like each row alone", async () => {
  const { model } = await lm.load(findFixture("gemma3-tiny-a"));
  // Row 0 has 3 pad tokens; decoding 12 tokens wraps the sliding layers' window (8) with padding still inside.
  const rows = [[0, 0, 0, 2, 100, 200], [2, 7, 9, 11, 13, 15]];
  const mask = [[0, 0, 0, 1, 1, 1], [1, 1, 1, 1, 1, 1]];
  const steps = [44, 45, 46, 47, 48, 49, 50, 51, 52, 53, 54, 55];
  const batched: Float32Array[] = [];
  const cache = model.makeCache();
  let m = mx.array(mask, mx.int32);
  batched.push(model.forward(mx.array(rows, mx.int32), { cache, attentionMask: m }).toFloat32Array());
  for (const t of steps) {
    m = mx.concatenate([m, mx.ones([2, 1], mx.int32)], 1);
    batched.push(model.forward(mx.array([[t], [t]], mx.int32), { cache, attentionMask: m }).toFloat32Array());
  }
  const V = 512;
  for (const b of [0, 1]) {
    const ids = rows[b].filter((_, i) => mask[b][i]);
    const c = model.makeCache();
    const first = model.forward(mx.array([ids], mx.int32), { cache: c }).toFloat32Array();
    const want: Float32Array[] = [first.slice((ids.length - 1) * V, ids.length * V)];
    for (const t of steps) want.push(model.forward(mx.array([[t]], mx.int32), { cache: c }).toFloat32Array());
    want.forEach((w, s) => {
      const L = s === 0 ? rows[0].length : 1;
      const got = batched[s].slice((b * L + L - 1) * V, (b * L + L) * V);
      for (let v = 0; v < V; v += 7) assert.ok(Math.abs(got[v] - w[v]) < 1e-3 * (1 + Math.abs(w[v])), `row ${b} step ${s} token ${v}: ${got[v]} vs ${w[v]}`);
    });
  }
});

const noQuant = typeof (mx as any).quantize !== "function" && "needs mx.quantize";

function relErr(a: Float32Array, b: Float32Array): number {
  let num = 0, den = 0;
  for (let i = 0; i < a.length; i++) {
    num += (a[i] - b[i]) ** 2;
    den += b[i] ** 2;
  }
  return Math.sqrt(num / den);
}

// The tiny model's head dimension is 16, below the smallest group size (32): groups span its two KV heads.
for (const [bits, groupSize] of [[8, 32], [4, 32]]) {
  test(`kvBits ${bits}, kvGroupSize ${groupSize}: logits through quantized caches (global and rotating layers) stay close`, { skip: noQuant }, async () => {
    const folder = findFixture("gemma3-tiny-a");
    const { model } = await lm.load(folder);
    const ref = mx.load(join(folder, "reference.safetensors")) as Record<string, MxArray>;
    const ids = (ref.input_ids.tolist() as number[][])[0];
    const run = (pc: lm.PromptCache) => {
      const out = [model.forward(mx.array([ids.slice(0, 12)], mx.int32), { cache: pc.layers }).toFloat32Array()];
      for (const t of ids.slice(12, 30)) out.push(model.forward(mx.array([[t]], mx.int32), { cache: pc.layers }).toFloat32Array());
      return out;
    };
    const plain = run(lm.makePromptCache(model));
    const qpc = lm.makePromptCache(model, { kvBits: bits, kvGroupSize: groupSize });
    assert.ok(qpc.layers.every((c) => c.kind === "QuantizedKVCache"));
    const quant = run(qpc);
    const e = relErr(Float32Array.from(quant.flatMap((x) => [...x])), Float32Array.from(plain.flatMap((x) => [...x])));
    assert.ok(e < (bits === 8 ? 5e-2 : 2e-1), `relative error ${e}`);
  });
}

test("quantized prompt cache: generation, save / load round trip", { skip: noQuant }, async () => {
  const folder = findFixture("gemma3-tiny-a");
  const { model } = await lm.load(folder);
  const pc = lm.makePromptCache(model, { kvBits: 8, kvGroupSize: 32 });
  const prompt = [2, 10, 20, 30, 40, 50, 60, 70, 80, 90, 100];
  const toks: number[] = [];
  for await (const s of lm.generateStep(model, prompt, { maxTokens: 6, promptCache: pc })) toks.push(s.token);
  const file = join(mkdtempSync(join(tmpdir(), "hearth-qpc-")), "q.safetensors");
  lm.savePromptCache(file, pc);
  const [back] = lm.loadPromptCache(file);
  assert.deepEqual(back.layers.map((c) => c.metaState), pc.layers.map((c) => c.metaState));
  assert.deepEqual(back.tokens, pc.tokens);
  const a: number[] = [], b: number[] = [];
  for await (const s of lm.generateStep(model, [...pc.tokens!, 5], { maxTokens: 5, promptCache: pc })) a.push(s.token);
  for await (const s of lm.generateStep(model, [...back.tokens!, 5], { maxTokens: 5, promptCache: back })) b.push(s.token);
  assert.deepEqual(b, a);
  // Generation through kvBits without an explicit cache.
  const c: number[] = [];
  for await (const s of lm.generateStep(model, prompt, { maxTokens: 6, kvBits: 8, kvGroupSize: 32 })) c.push(s.token);
  assert.equal(c.length, 6);
});

test("QuantizedKVCache validates its options and names its needs", () => {
  assert.throws(() => new lm.QuantizedKVCache({ bits: 7 }), /bits/);
  const meta = new lm.QuantizedKVCache({ bits: 4, groupSize: 32, maxSize: 16, keep: 4 }).metaState;
  assert.deepEqual(meta, ["32", "4", "RotatingKVCache", "4", "16", "0"]);
  const back = lm.cacheFromKind("QuantizedKVCache", meta);
  assert.deepEqual(back.metaState, meta);
  assert.throws(() => lm.cacheFromKind("Nope", []), /Unknown cache kind/);
});

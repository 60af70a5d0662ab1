// Gemma 3 text against transformers (fixtures from ../shared/fixtures, copied into test/fixtures).
import { test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { mx } from "../src/index.js";
import type { MxArray } from "../src/index.js";
import { load } from "../src/lm/load.js";
import { findFixture, legacyConfigCopy } from "./helpers/fixtures.js";

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

for (const name of ["gemma3-tiny-a", "gemma3-tiny-b"]) {
  const folder = findFixture(name);
  const ref = mx.load(join(folder, "reference.safetensors")) as Record<string, MxArray>;
  for (const dialect of ["config.json", "config.legacy.json"]) {
    const path = dialect === "config.json" ? folder : legacyConfigCopy(folder);
    test(`${name} (${dialect}): float32 logits and every hidden state match transformers`, async () => {
      const loaded = await load(path);
      assert.throws(() => loaded.tokenizer, /has no tokenizer \(tokenizer\.json\).*noTokenizer: true/, "a folder without tokenizer files says so when its tokenizer is read");
      assert.equal((await load(path, { noTokenizer: true })).tokenizer, undefined);
      const { model } = loaded;
      const hidden: MxArray[] = [];
      const logits = model.forward(ref.input_ids, { hiddenStates: hidden });
      assert.deepEqual(logits.shape, ref.logits_f32.shape);
      const e = relErr(logits, ref.logits_f32);
      assert.ok(e < 1e-4, `logits relative error ${e}`);
      const nh = Object.keys(ref).filter((k) => k.startsWith("hidden_")).length;
      assert.equal(hidden.length, nh);
      for (let i = 0; i < nh; i++) {
        const eh = relErr(hidden[i], ref[`hidden_${i}`]);
        assert.ok(eh < 1e-4, `hidden_${i} relative error ${eh}`);
      }
    });
  }

  test(`${name}: bfloat16 logits within 2e-2`, async () => {
    const { model } = await load(folder, { dtype: "bfloat16" });
    const e = relErr(model.forward(ref.input_ids), ref.logits_bf16);
    assert.ok(e < 2e-2, `bf16 logits relative error ${e}`);
  });

  test(`${name}: parameter paths are the checkpoint's names`, async () => {
    const { model } = await load(folder);
    const names = mx.utils.treeFlatten(model.parameters()).map(([k]) => k).sort();
    const ckpt = Object.keys(mx.load(join(folder, "model.safetensors"))).sort();
    assert.deepEqual(names, ckpt);
    assert.ok(names.includes("model.layers.0.self_attn.q_proj.weight"));
  });

  test(`${name}: greedy continuation through the KV caches equals transformers' generate`, async () => {
    const { model } = await load(folder);
    const expected = ref.greedy_prompt12_new20.tolist() as number[][];
    const prompt = expected[0].slice(0, 12);
    const cache = model.makeCache();
    let logits = model.forward(mx.array([prompt], mx.int32), { cache });
    const out = [...prompt];
    for (let i = 0; i < 20; i++) {
      const next = mx.argmax(mx.slice(logits, [0, logits.shape[1] - 1, 0], [1, logits.shape[1], logits.shape[2]]), -1);
      const tok = (next.tolist() as number[][])[0][0];
      out.push(tok);
      logits = model.forward(mx.array([[tok]], mx.int32), { cache });
    }
    assert.deepEqual(out, expected[0]);
  });

  test(`${name}: token-by-token decoding through caches equals one full forward pass, past the window`, async () => {
    const { model } = await load(folder);
    const ids = (ref.input_ids.tolist() as number[][])[0];  // longer than the windows (8 / 6)
    const full = model.forward(ref.input_ids).toFloat32Array();
    const vocab = model.forward(mx.array([[ids[0]]], mx.int32)).shape[2];
    // A prompt chunk of 5, then single tokens, then a chunk of 7 (the rotating cache's concat path again).
    const cache = model.makeCache();
    const steps = [5, ...Array(20).fill(1), 7];
    while (steps.reduce((a, b) => a + b, 0) < ids.length) steps.push(1);
    let pos = 0;
    for (const n of steps) {
      const lg = model.forward(mx.array([ids.slice(pos, pos + n)], mx.int32), { cache }).toFloat32Array();
      for (let t = 0; t < n; t++)
        for (let v = 0; v < vocab; v += 37) {
          const a = lg[t * vocab + v], b = full[(pos + t) * vocab + v];
          assert.ok(Math.abs(a - b) <= 1e-3 * (1 + Math.abs(b)), `position ${pos + t} token ${v}: ${a} vs ${b}`);
        }
      pos += n;
    }
    assert.equal(pos, ids.length);
  });

  test(`${name}: left-padded batch matches at the unpadded positions`, async () => {
    const { model } = await load(folder);
    const logits = model.forward(ref.batch_input_ids, { attentionMask: ref.batch_attention_mask });
    const mask = (ref.batch_attention_mask.tolist() as number[][]);
    const got = logits.toFloat32Array(), want = ref.batch_logits_f32.toFloat32Array();
    const [B, L, V] = logits.shape;
    let num = 0, den = 0;
    for (let b = 0; b < B; b++)
      for (let t = 0; t < L; t++) {
        if (!mask[b][t]) continue;
        for (let v = 0; v < V; v++) {
          const i = (b * L + t) * V + v;
          num += (got[i] - want[i]) ** 2;
          den += want[i] ** 2;
        }
      }
    const e = Math.sqrt(num / den);
    assert.ok(e < 1e-4, `batch logits relative error at unpadded positions ${e}`);
  });
}

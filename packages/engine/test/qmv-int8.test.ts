// quantizedMatmulInt8: the int8-activation decode product against a JS model of its arithmetic (x rounded per
// group to int8 with scale max|x|/127, codes centred) and against the exact mx.quantizedMatmul; fallbacks; the
// compiled Gemma 3 decode step on a 4-bit model whose dims take the int8 path.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import { join } from "node:path";
import { mx, nn, lm, EngineError } from "../src/index.js";
import { quantizedMatmulInt8, quantizedMatmulInt8Supported } from "../src/core/ops-qmv-int8.js";
import type { MxArray } from "../src/index.js";
import { gemma3WeightShapes, writeRandomSafetensors } from "../src/lm/random-weights.js";
import { randn } from "./helpers/random.js";

const tmp = fs.realpathSync(fs.mkdtempSync(join(os.tmpdir(), "hearth-qmv-test-")));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));
const vnni = quantizedMatmulInt8Supported(128, 64, 4);

/** What the kernel computes, in float64: Σ_g s_g·sx_g·Σ(q−z)·qx + (b_g + z·s_g)·Σx_g. */
function model(x: number[][], q: number[][], s: number[][], b: number[][], gs: number, bits: number): number[][] {
  const z = bits === 4 ? 8 : 128, K = x[0].length, G = K / gs;
  return x.map((row) => {
    const qx: number[] = [], sx: number[] = [], sum: number[] = [];
    for (let g = 0; g < G; g++) {
      let amax = 0, t = 0;
      for (let k = g * gs; k < (g + 1) * gs; k++) amax = Math.max(amax, Math.abs(row[k])), t += row[k];
      const d = Math.fround(amax / 127), id = d ? Math.fround(1 / d) : 0;
      sx.push(d); sum.push(t);
      for (let k = g * gs; k < (g + 1) * gs; k++) qx[k] = Math.round(Math.fround(row[k] * id));
    }
    return q.map((qr, n) => {
      let y = 0;
      for (let g = 0; g < G; g++) {
        let d = 0;
        for (let k = g * gs; k < (g + 1) * gs; k++) d += (qr[k] - z) * qx[k];
        y += s[n][g] * sx[g] * d + (b[n][g] + z * s[n][g]) * sum[g];
      }
      return y;
    });
  });
}

for (const [gs, bits] of [[32, 4], [64, 4], [128, 4], [32, 8], [64, 8], [128, 8]]) {
  test(`quantizedMatmulInt8 gs=${gs} bits=${bits}: the int8 arithmetic, close to the exact product`, { skip: !vnni && "no AVX512-VNNI" }, () => {
    const N = 37, K = 256;  // 37 columns: uneven thread splits
    const W = mx.array(randn([N, K], 3).map((v) => v * 0.05), mx.float32, [N, K]);
    const x = mx.array(randn([3, K], 4), mx.float32, [3, K]);
    const { wq, scales, biases } = mx.quantize(W, { groupSize: gs, bits });
    // The codes as integers: dequantize with scale 1 and bias 0.
    const codes = mx.dequantize(wq, mx.onesLike(scales), mx.zerosLike(biases), { groupSize: gs, bits }).tolist() as number[][];
    const want = model(x.tolist() as number[][], codes, scales.tolist() as number[][], biases.tolist() as number[][], gs, bits);
    const got = quantizedMatmulInt8(x, wq, scales, biases, gs, bits).tolist() as number[][];
    const exact = mx.quantizedMatmul(x, wq, scales, biases, { transpose: true, groupSize: gs, bits }).tolist() as number[][];
    let scale = 0;
    for (const r of exact) for (const v of r) scale = Math.max(scale, Math.abs(v));
    for (let m = 0; m < 3; m++)
      for (let n = 0; n < N; n++) {
        assert.ok(Math.abs(got[m][n] - want[m][n]) <= 1e-5 * scale, `[${m},${n}] ${got[m][n]} vs model ${want[m][n]}`);
        assert.ok(Math.abs(got[m][n] - exact[m][n]) <= 0.02 * scale, `[${m},${n}] ${got[m][n]} vs exact ${exact[m][n]}`);
      }
  });
}

test("quantizedMatmulInt8: bf16 inputs and outputs, batch dims, fallbacks to the exact product, errors", () => {
  const W = mx.array(randn([16, 128], 5).map((v) => v * 0.05), mx.float32, [16, 128]);
  const { wq, scales, biases } = mx.quantize(W.astype(mx.bfloat16), { groupSize: 64, bits: 4 });
  const x = mx.array(randn([2, 1, 128], 6), mx.bfloat16, [2, 1, 128]);
  const y = quantizedMatmulInt8(x, wq, scales, biases, 64, 4);
  assert.equal(y.dtype, mx.bfloat16);
  assert.deepEqual(y.shape, [2, 1, 16]);
  const exact = mx.quantizedMatmul(x, wq, scales, biases, { transpose: true, groupSize: 64, bits: 4 });
  const scale = mx.max(mx.abs(exact.astype(mx.float32))).item() as number;
  assert.ok((mx.max(mx.abs(mx.subtract(y.astype(mx.float32), exact.astype(mx.float32)))).item() as number) <= 0.03 * scale);
  // K not a multiple of 128, or 3-bit codes: exactly quantizedMatmul.
  const W96 = mx.quantize(mx.array(randn([8, 96], 7), mx.float32, [8, 96]), { groupSize: 32, bits: 4 });
  const x96 = mx.array(randn([1, 96], 8), mx.float32, [1, 96]);
  assert.deepEqual(quantizedMatmulInt8(x96, W96.wq, W96.scales, W96.biases, 32, 4).tolist(),
    mx.quantizedMatmul(x96, W96.wq, W96.scales, W96.biases, { transpose: true, groupSize: 32, bits: 4 }).tolist());
  assert.equal(quantizedMatmulInt8Supported(96, 32, 4), false);
  assert.equal(quantizedMatmulInt8Supported(128, 64, 3), false);
  assert.throws(() => quantizedMatmulInt8(mx.ones([1, 64]), wq, scales, biases, 64, 4),
    (e: unknown) => e instanceof EngineError && /^\[quantizedMatmul\]/.test(e.message));
});

test("decode step on a 4-bit model with int8 activations tracks the exact forward", { skip: !vnni && "no AVX512-VNNI" }, async () => {
  const cfg = {
    model_type: "gemma3_text", hidden_size: 128, num_hidden_layers: 2, intermediate_size: 256, num_attention_heads: 2,
    num_key_value_heads: 1, head_dim: 64, vocab_size: 384, sliding_window: 8, sliding_window_pattern: 2,
    query_pre_attn_scalar: 64, rope_theta: 1e6, rope_local_base_freq: 1e4, max_position_embeddings: 512,
  };
  const dir = join(tmp, "tiny128");
  fs.mkdirSync(dir);
  fs.writeFileSync(join(dir, "config.json"), JSON.stringify(cfg));
  writeRandomSafetensors(join(dir, "model.safetensors"), gemma3WeightShapes(cfg), 5, 0.05);
  const { model } = await lm.load(dir, { noTokenizer: true });
  nn.quantize(model, { groupSize: 64, bits: 4 });
  const prompt = [2, 50, 60, 70, 80, 90, 100];
  const plain = model.makeCache(), fast = model.makeCache();
  const lastTokenLogits = (_m: unknown, ids: MxArray, cache: lm.Cache[]) => {
    const l = model.forward(ids, { cache });
    const [B, L, V] = l.shape;
    return mx.reshape(mx.slice(l, [0, L - 1, 0], [B, L, V]), [B, V]);
  };
  lastTokenLogits(model, mx.array([prompt], mx.int32), plain);
  lastTokenLogits(model, mx.array([prompt], mx.int32), fast);
  const decode = (model as unknown as { makeDecodeStep(): lm.DecodeStep }).makeDecodeStep();
  const step = (t: MxArray) => decode(t, [fast]);
  for (let i = 0; i < 12; i++) {
    const t = mx.array([[(i * 29 + 11) % 384]], mx.int32);
    const a = lastTokenLogits(model, t, plain).astype(mx.float32), b = step(t).astype(mx.float32);
    const scale = mx.max(mx.abs(a)).item() as number;
    const d = mx.max(mx.abs(mx.subtract(a, b))).item() as number;
    assert.ok(d <= 0.05 * scale, `step ${i}: ${d} of ${scale}`);
  }
});

// packedQuantizedMatmul (weights repacked at load, x rounded to int8 per group) against a float64 JS model of
// its arithmetic and against the exact mx.quantizedMatmul; batches of rows, several matrices packed together,
// errors. The same file runs again under HEARTH_ISA=generic and =avx2 (child processes: the ISA is read once per
// process), so every kernel this CPU has is checked against the same model.
import { test, after } from "node:test";
import fs from "node:fs";
import os from "node:os";
import { join } from "node:path";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { mx, nn, lm, EngineError } from "../src/index.js";
import { gemma3WeightShapes, writeRandomSafetensors } from "../src/lm/random-weights.js";
import type { MxArray } from "../src/index.js";
import type { Dtype } from "../src/core/dtype.js";
import {
  packedQuantizedKernelName, packedQuantizedMatmul, packedQuantizedMatmulSplit, quantizedRepack, quantizedRepackSupported,
} from "../src/core/ops-qmv-packed.js";
import { randn } from "./helpers/random.js";
import { quantizedMatmulInt8Supported } from "../src/core/ops-qmv-int8.js";

const isa = process.env.HEARTH_ISA ?? "native";

/** What the kernels compute, in float64: Σ_g s_g·sx_g·Σ(q−z)·qx + (b_g + z·s_g)·Σx_g with x rounded per group. */
function model(x: number[][], q: number[][], s: number[][], b: number[][], gs: number, bits: number): number[][] {
  const z = bits === 4 ? 8 : 128, K = x[0].length, G = K / gs;
  return x.map((row) => {
    const qx: number[] = [], sx: number[] = [], sum: number[] = [];
    for (let g = 0; g < G; g++) {
      let amax = 0, t = 0;
      for (let k = g * gs; k < (g + 1) * gs; k++) amax = Math.max(amax, Math.abs(Math.fround(row[k]))), t += row[k];
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

const maxAbs = (rows: number[][]) => Math.max(...rows.map((r) => Math.max(...r.map(Math.abs))));

function check(N: number, K: number, M: number, gs: number, bits: number, dt: Dtype, seed: number) {
  const W = mx.array(randn([N, K], seed).map((v) => v * 0.05), mx.float32, [N, K]).astype(dt);
  const xin = mx.array(randn([M, K], seed + 1), mx.float32, [M, K]).astype(dt);
  const q = mx.quantize(W, { groupSize: gs, bits });
  const codes = mx.dequantize(q.wq, mx.onesLike(q.scales), mx.zerosLike(q.biases), { groupSize: gs, bits }).tolist() as number[][];
  const f = (a: MxArray) => a.astype(mx.float32).tolist() as number[][];
  const want = model(f(xin), codes, f(q.scales), f(q.biases), gs, bits);
  const p = quantizedRepack(q, { groupSize: gs, bits });
  const y = packedQuantizedMatmul(xin, p);
  assert.equal(y.dtype, dt);
  assert.deepEqual(y.shape, [M, N]);
  const got = f(y);
  const exact = f(mx.quantizedMatmul(xin, q.wq, q.scales, q.biases, { transpose: true, groupSize: gs, bits }));
  const scale = maxAbs(exact);
  // float32 output: the kernel's float steps differ from the model's float64 only by rounding (1e-5 of the
  // output's scale); 16-bit outputs add their own rounding.
  const tol = dt === mx.float32 ? 1e-5 : dt === mx.bfloat16 ? 8e-3 : 1e-3;
  for (let m = 0; m < M; m++)
    for (let n = 0; n < N; n++) {
      assert.ok(Math.abs(got[m][n] - want[m][n]) <= tol * scale, `[${m},${n}] ${got[m][n]} vs model ${want[m][n]} (${isa})`);
      assert.ok(Math.abs(got[m][n] - exact[m][n]) <= 0.02 * scale, `[${m},${n}] ${got[m][n]} vs exact ${exact[m][n]} (${isa})`);
    }
}

for (const [gs, bits] of [[32, 4], [64, 4], [128, 4], [32, 8], [64, 8], [128, 8]]) {
  test(`packedQuantizedMatmul gs=${gs} bits=${bits} (${isa}): the int8 arithmetic for batches of 1..16 rows`, () => {
    // 48 columns = 3 blocks (uneven thread splits); 13 rows = row blocks of 4, 4, 5 in the vector kernels.
    // Row counts that reach each row-block size of the vector kernels (1-8 rows per block, one or two chains).
    for (const M of [1, 2, 5, 8, 13, 16]) check(48, 256, M, gs, bits, mx.float32, 10 * gs + bits + M);
  });
}

test(`packedQuantizedMatmul (${isa}): bfloat16 and float16 scales and activations, batch dims`, () => {
  check(32, 128, 3, 64, 4, mx.bfloat16, 7);
  check(32, 256, 6, 32, 8, mx.float16, 8);
  const W = mx.quantize(mx.array(randn([16, 128], 9), mx.float32, [16, 128]), { groupSize: 64, bits: 4 });
  const p = quantizedRepack(W);
  const x = mx.array(randn([2, 3, 128], 10), mx.float32, [2, 3, 128]);
  const y = packedQuantizedMatmul(x, p);
  assert.deepEqual(y.shape, [2, 3, 16]);
  assert.deepEqual(y.reshape([6, 16]).tolist(), packedQuantizedMatmul(x.reshape([6, 128]), p).tolist());
});

test(`packedQuantizedMatmul (${isa}): q/k/v packed together equal the separate products`, () => {
  const ws = [64, 16, 16].map((N, i) => mx.quantize(mx.array(randn([N, 256], 20 + i), mx.float32, [N, 256]), { groupSize: 64, bits: 4 }));
  const fused = quantizedRepack(ws);
  assert.deepEqual(fused.splits, [64, 16, 16]);
  assert.deepEqual(fused.packed.shape[0], 6);
  const x = mx.array(randn([5, 256], 30), mx.float32, [5, 256]);
  const parts = packedQuantizedMatmulSplit(x, fused);
  assert.equal(parts.length, 3);
  // The same x rounding and the same per-column sums: bit-identical to one product per matrix.
  ws.forEach((w, i) => assert.deepEqual(parts[i].tolist(), packedQuantizedMatmul(x, quantizedRepack(w)).tolist()));
});

test("quantizedRepack / packedQuantizedMatmul: bad input is a clear [op] error", () => {
  const tagged = (op: string) => (e: unknown) => e instanceof EngineError && e.message.startsWith(`[${op}]`);
  const w20 = mx.quantize(mx.ones([20, 64]), { groupSize: 64, bits: 4 });
  assert.throws(() => quantizedRepack(w20), tagged("quantizedRepack"));
  assert.equal(quantizedRepackSupported(20, 64), false);
  assert.equal(quantizedRepackSupported(32, 64), true);
  const w3 = mx.quantize(mx.ones([16, 64]), { groupSize: 64, bits: 3 });
  assert.throws(() => quantizedRepack(w3, { bits: 3 }), tagged("quantizedRepack"));
  const w = mx.quantize(mx.ones([16, 128]), { groupSize: 64, bits: 4 });
  const wb = mx.quantize(mx.ones([16, 128], mx.bfloat16), { groupSize: 64, bits: 4 });
  assert.throws(() => quantizedRepack([w, wb]), tagged("quantizedRepack"));
  assert.throws(() => quantizedRepack([w, mx.quantize(mx.ones([16, 64]), { groupSize: 64, bits: 4 })]), tagged("quantizedRepack"));
  const p = quantizedRepack(w);
  assert.throws(() => packedQuantizedMatmul(mx.ones([1, 64]), p), tagged("packedQuantizedMatmul"));
  assert.throws(() => packedQuantizedMatmul(mx.ones([1, 128], mx.int32), p), tagged("packedQuantizedMatmul"));
  assert.throws(() => packedQuantizedMatmul(mx.ones([1, 128]), { ...p, packed: mx.ones([1, 128]) }), tagged("packedQuantizedMatmul"));
  assert.throws(() => packedQuantizedMatmul(mx.ones([1, 128]), { ...p, bits: 8 }), tagged("packedQuantizedMatmul"));
  // Nothing is lost: the packed weight still works after the errors.
  assert.deepEqual(packedQuantizedMatmul(mx.ones([1, 128]), p).shape, [1, 16]);
});

/** A 2-layer Gemma 3 text model (window 8) with random weights (`seed`), quantized to 4 bits, group 64. */
async function quantizedTinyGemma3(prefix: string, seed: number) {
  const tmp = fs.realpathSync(fs.mkdtempSync(join(os.tmpdir(), prefix)));
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));
  const cfg = {
    model_type: "gemma3_text", hidden_size: 128, num_hidden_layers: 2, intermediate_size: 256, num_attention_heads: 2,
    num_key_value_heads: 1, head_dim: 64, vocab_size: 384, sliding_window: 8, sliding_window_pattern: 2,
    query_pre_attn_scalar: 64, rope_theta: 1e6, rope_local_base_freq: 1e4, max_position_embeddings: 512,
  };
  fs.writeFileSync(join(tmp, "config.json"), JSON.stringify(cfg));
  writeRandomSafetensors(join(tmp, "model.safetensors"), gemma3WeightShapes(cfg), seed, 0.05);
  const { model } = await lm.load(tmp, { noTokenizer: true });
  nn.quantize(model, { groupSize: 64, bits: 4 });
  return model;
}

test(`Gemma 3 decode step (${isa}): packed weights give the int8 step's logits, batched rows as alone`, async (t) => {
  if (packedQuantizedKernelName() === "generic") return t.skip("no vector kernel: the step keeps the unpacked path");
  const model = await quantizedTinyGemma3("hearth-packed-test-", 11);
  const m = model as unknown as { makeDecodeStep(o: { packedWeights?: boolean }): lm.DecodeStep };
  const prompts = [[2, 50, 60, 70], [2, 90, 91, 92, 93, 94, 95, 96, 97, 98]];  // the second passes the window
  // Row r of `rows` is prompt first + r (its tokens depend on that, so a row run alone gets the same tokens).
  const run = (packed: boolean, rows: number[][], first = 0) => {
    const step = m.makeDecodeStep({ packedWeights: packed });
    const caches = rows.map((p) => {
      const c = model.makeCache();
      mx.eval(model.forward(mx.array([p], mx.int32), { cache: c }));
      return c;
    });
    const out: number[][][] = [];
    for (let i = 0; i < 6; i++) {
      const toks = mx.array(rows.map((_, b) => [(i * 37 + 11 * (first + b) + 5) % 384]), mx.int32);
      out.push(step(toks, caches).astype(mx.float32).tolist() as number[][]);
    }
    return out;
  };
  const unpacked = run(false, prompts), packed = run(true, prompts);
  const alone = run(true, [prompts[1]], 1);
  for (let i = 0; i < 6; i++) {
    const scale = maxAbs(unpacked[i]);
    // With AVX512-VNNI both paths do the same int8 arithmetic; only float summation order (and bf16 rounding)
    // differ. Without it the unpacked step uses the exact product, and the int8 rounding of x (~0.5% per
    // product) adds up over the layers, as in qmv-int8.test.ts.
    const tol = quantizedMatmulInt8Supported(128, 64, 4) ? 2e-2 : 5e-2;
    for (let b = 0; b < 2; b++)
      for (let v = 0; v < 384; v++)
        assert.ok(Math.abs(packed[i][b][v] - unpacked[i][b][v]) <= tol * scale, `step ${i} row ${b} id ${v}`);
    // A row of a batch gets exactly what it gets alone: each weight is read once for all rows, and every row's
    // sums are formed the same way whatever the batch (the kernels' row blocks keep per-row accumulators).
    assert.deepEqual(packed[i][1], alone[i][0]);
  }
});

test(`Gemma 3 packed prefill (${isa}): prompt chunks through the packed products track the exact forward`, async (t) => {
  if (packedQuantizedKernelName() === "generic") return t.skip("no vector kernel: no packed prefill");
  const model = await quantizedTinyGemma3("hearth-packed-prefill-", 12);
  const prompt = [2, ...Array.from({ length: 17 }, (_, i) => (i * 53 + 7) % 384)];
  const before = model.forward(mx.array([prompt], mx.int32)).tolist();
  const m = model as unknown as { makeDecodeStep(o: { packedWeights?: boolean; packedPrefill?: boolean }): lm.DecodeStep };
  assert.equal(m.makeDecodeStep({ packedPrefill: false }).prefill, undefined);
  const step = m.makeDecodeStep({ packedPrefill: true });
  assert.deepEqual(step.info, { int8Activations: true, packedWeights: true, packedPrefill: true, packedKernel: packedQuantizedKernelName() });
  // 13 tokens (row blocks of 6, 6 and 1), then a second chunk of 5 that attends to the first through the caches.
  const chunks = [prompt.slice(0, 13), prompt.slice(13)];
  const fast = model.makeCache(), exact = model.makeCache();
  for (const c of chunks) {
    const ids = mx.array([c], mx.int32);
    const got = step.prefill!(ids, fast).astype(mx.float32).tolist() as number[][][];
    const want = model.forward(ids, { cache: exact }).astype(mx.float32).tolist() as number[][][];
    const scale = maxAbs(want[0]);
    // The int8 rounding of x (~0.5% per product) adds up over the layers (as in the decode step's tests).
    for (let l = 0; l < c.length; l++)
      for (let v = 0; v < 384; v++)
        assert.ok(Math.abs(got[0][l][v] - want[0][l][v]) <= 5e-2 * scale, `token ${l} id ${v}: ${got[0][l][v]} vs ${want[0][l][v]}`);
  }
  // The caches hold what the exact forward put there, to the same tolerance (what decoding reads afterwards).
  for (let i = 0; i < fast.length; i++) {
    const [kf] = fast[i].state as MxArray[], [ke] = exact[i].state as MxArray[];
    const a = kf.astype(mx.float32).toFloat32Array(), b = ke.astype(mx.float32).toFloat32Array();
    assert.equal(a.length, b.length);
    let s = 0;
    for (const v of b) s = Math.max(s, Math.abs(v));
    for (let j = 0; j < a.length; j++) assert.ok(Math.abs(a[j] - b[j]) <= 5e-2 * s, `layer ${i} key ${j}`);
  }
  // The model's own forward (training, fixtures) stays the exact one: bit-identical to before the step existed.
  assert.deepEqual(model.forward(mx.array([prompt], mx.int32)).tolist(), before);
});

// Every ISA level of this CPU: this file again in child processes with HEARTH_ISA capped.
// avx2 exists only on x86-64 (on aarch64 the cap would name a level the CPU cannot have).
if (!process.env.HEARTH_ISA) {
  for (const level of process.arch === "x64" ? ["generic", "avx2"] : ["generic"]) {
    test(`packedQuantizedMatmul under HEARTH_ISA=${level}`, () => {
      // Without NODE_TEST_CONTEXT the child reports in plain TAP instead of to this runner.
      const env: NodeJS.ProcessEnv = { ...process.env, HEARTH_ISA: level };
      delete env.NODE_TEST_CONTEXT;
      const r = spawnSync(process.execPath, ["--test", fileURLToPath(import.meta.url)], { env, encoding: "utf8", timeout: 120_000 });
      assert.equal(r.status, 0, `${r.stdout}\n${r.stderr}`);
      assert.match(r.stdout, /# fail 0/);
      assert.match(r.stdout, /# pass [1-9]/);
    });
  }
  test("packedQuantizedKernelName names the kernel in use", () => {
    assert.match(packedQuantizedKernelName(), /^(avx512-vnni|avx2|generic)$/);
  });
} else {
  test(`mx.kernelInfo reports the capped ISA (${isa})`, () => {
    const k = mx.kernelInfo();
    assert.equal(k.isa, isa);
    assert.equal(k.amx, false);
    assert.equal(k.packed, isa === "generic" ? "generic" : "avx2");
    if (isa === "generic") assert.match(k.gemm, /generic/);
  });
}

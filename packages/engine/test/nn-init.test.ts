// nn.init: shapes, dtypes and the distributions' parameters (sample statistics on large arrays).
import { test } from "node:test";
import assert from "node:assert/strict";
import { mx, nn, EngineError } from "../src/index.js";
import type { MxArray } from "../src/index.js";

function stats(a: MxArray): { mean: number; std: number; min: number; max: number } {
  const v = a.toFloat32Array();
  let s = 0, s2 = 0, min = Infinity, max = -Infinity;
  for (const x of v) { s += x; s2 += x * x; min = Math.min(min, x); max = Math.max(max, x); }
  const mean = s / v.length;
  return { mean, std: Math.sqrt(s2 / v.length - mean * mean), min, max };
}

const big = mx.zeros([300, 200]);  // fan_in 200, fan_out 300

test("constant and identity", () => {
  assert.deepEqual(nn.init.constant(0.5)(mx.zeros([2, 2])).tolist(), [[0.5, 0.5], [0.5, 0.5]]);
  assert.equal(nn.init.constant(1, mx.bfloat16)(mx.zeros([3])).dtype, mx.bfloat16);
  assert.deepEqual(nn.init.identity()(mx.zeros([2, 2])).tolist(), [[1, 0], [0, 1]]);
  assert.throws(() => nn.init.identity()(mx.zeros([2, 3])), (e: any) => e instanceof EngineError && /^\[init\.identity\]/.test(e.message));
});

test("normal(mean, std) and uniform(low, high)", () => {
  const n = nn.init.normal(1.5, 0.5)(big);
  assert.deepEqual(n.shape, [300, 200]);
  assert.equal(n.dtype, mx.float32);
  const s = stats(n);
  assert.ok(Math.abs(s.mean - 1.5) < 0.01 && Math.abs(s.std - 0.5) < 0.01, JSON.stringify(s));
  const u = stats(nn.init.uniform(-2, 3)(big));
  assert.ok(u.min >= -2 && u.max < 3 && Math.abs(u.mean - 0.5) < 0.03 && Math.abs(u.std - 5 / Math.sqrt(12)) < 0.02, JSON.stringify(u));
  assert.equal(nn.init.normal(0, 1, mx.float16)(mx.zeros([4])).dtype, mx.float16);
});

test("glorot and he initializers use MLX's fan in / fan out", () => {
  const gu = stats(nn.init.glorotUniform()(big));
  const limit = Math.sqrt(6 / 500);
  assert.ok(gu.max <= limit && gu.min >= -limit && Math.abs(gu.std - limit / Math.sqrt(3)) < 0.003, JSON.stringify(gu));
  const gn = stats(nn.init.glorotNormal()(big, 2.0));
  assert.ok(Math.abs(gn.std - 2 * Math.sqrt(2 / 500)) < 0.003, JSON.stringify(gn));
  const hn = stats(nn.init.heNormal()(big));
  assert.ok(Math.abs(hn.std - 1 / Math.sqrt(200)) < 0.002, JSON.stringify(hn));
  const hnOut = stats(nn.init.heNormal()(big, "fan_out"));
  assert.ok(Math.abs(hnOut.std - 1 / Math.sqrt(300)) < 0.002, JSON.stringify(hnOut));
  const hu = stats(nn.init.heUniform()(big, "fan_in", 2));
  const hl = 2 * Math.sqrt(3 / 200);
  assert.ok(hu.max <= hl && hu.min >= -hl && Math.abs(hu.std - hl / Math.sqrt(3)) < 0.003, JSON.stringify(hu));
  // Conv-shaped weights: the receptive field multiplies both fans.
  assert.deepEqual(nn.init.fanInFanOut(mx.zeros([8, 3, 3, 4])), [36, 72]);
  assert.throws(() => nn.init.glorotUniform()(mx.zeros([5])), (e: any) => e instanceof EngineError && /^\[init\.glorotUniform\] needs an array with at least 2 dimensions/.test(e.message));
  assert.throws(() => nn.init.heNormal()(big, "fan_mid" as any), /mode must be "fan_in" or "fan_out"/);
});

test("module.apply(init) re-initializes every parameter", () => {
  const model = new nn.Sequential(new nn.Linear(4, 3), nn.relu, new nn.Linear(3, 2));
  model.apply(nn.init.constant(0.25));
  for (const [, a] of mx.utils.treeFlatten(model.parameters()))
    assert.ok((a as MxArray).toFloat32Array().every((v) => v === 0.25));
  // As in MLX the filter sees every key on the way down (here "layers", then "layers.0", then "weight").
  model.apply(nn.init.glorotUniform(), (_m, k, v) => !mx.isArray(v) || k === "weight");
  assert.ok((model.layers[0] as nn.Linear).weight.toFloat32Array().some((v) => v !== 0.25));
  assert.ok((model.layers[0] as nn.Linear).bias!.toFloat32Array().every((v) => v === 0.25));
});

// Quantized matmul benchmark (not a test): `node dist/bench/quantized.js [--n 4096] [--k 4096] [--rounds 30] [--best]`.
//
// Decode (M = 1): GB/s of weight bytes read (packed codes + scales + biases) by mx.quantizedMatmul for 4-bit and
// 8-bit W [N, K] with float32 and bfloat16 activations, next to a dense bfloat16 matvec (mx.matmul) of the same
// matrix. Prefill-sized M: GFLOP/s of the dequantize-tile + GEMM path against the dense bfloat16 GEMM.
// Medians of `rounds` evaluations; run on a quiet machine (the reference read bandwidth is ~75 GB/s with 2
// threads).
import { mx } from "../src/index.js";
import type { MxArray } from "../src/index.js";
import { native } from "../src/core/native.js";

const argv = process.argv.slice(2);
const flag = (name: string, def: string) => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 && argv[i + 1] ? argv[i + 1] : def;
};
const N = Number(flag("n", "4096")), K = Number(flag("k", "4096")), ROUNDS = Number(flag("rounds", "30"));
const MS = flag("m", "1,2,4,8,16,64,256").split(",").map(Number);

const now = () => performance.now() / 1e3;
function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}
// The median of `rounds` timings, or the best with --best (on a busy shared machine the minimum is the
// closest to the kernel's own speed).
const BEST = argv.includes("--best");
function time(fn: () => MxArray, rounds = ROUNDS): number {
  mx.eval(fn());  // warm up
  const ts: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const t0 = now();
    const y = fn();
    mx.eval(y);
    ts.push(now() - t0);
    y.dispose();
  }
  return BEST ? Math.min(...ts) : median(ts);
}

console.log(`quantized matmul, W [${N}, ${K}], kernels: ${native.quantizedKernelName()}, gemm: ${native.gemmKernelName()}`);
const w = mx.random.normal([N, K], mx.float32, 0, 0.02, mx.random.key(1));
const wb = w.astype(mx.bfloat16);
mx.eval(w, wb);
for (const [bits, gs] of [[4, 64], [8, 64], [4, 32], [4, 128]]) {
  for (const dt of [mx.bfloat16, mx.float32]) {
    // Weights of the activations' dtype (scales and biases in it), as a model has them.
    const q = mx.quantize(dt === mx.float32 ? w : wb, { groupSize: gs, bits });
    mx.eval(q.wq, q.scales, q.biases);
    const bytes = q.wq.nbytes + q.scales.nbytes + q.biases.nbytes;
    const x = mx.random.normal([1, K], dt, 0, 1, mx.random.key(2));
    const t = time(() => mx.quantizedMatmul(x, q.wq, q.scales, q.biases, { groupSize: gs, bits }));
    console.log(`  M=1 ${bits}-bit g${gs} x ${dt.name.padEnd(8)}: ${(t * 1e3).toFixed(3)} ms, ${(bytes / t / 1e9).toFixed(1)} GB/s of weights`);
  }
}
{
  const x = mx.random.normal([1, K], mx.bfloat16, 0, 1, mx.random.key(2));
  const wt = mx.transpose(wb);
  const t = time(() => mx.matmul(x, wt));
  console.log(`  M=1 dense bf16 matmul: ${(t * 1e3).toFixed(3)} ms, ${(wb.nbytes / t / 1e9).toFixed(1)} GB/s of weights`);
}
for (const bits of [4, 8]) {
  const q = mx.quantize(wb, { groupSize: 64, bits });
  mx.eval(q.wq, q.scales, q.biases);
  for (const M of MS) {
    const x = mx.random.normal([M, K], mx.bfloat16, 0, 1, mx.random.key(3));
    const rounds = Math.max(3, Math.min(ROUNDS, Math.round(64 / M)));
    const t = time(() => mx.quantizedMatmul(x, q.wq, q.scales, q.biases, { groupSize: 64, bits }), rounds);
    const td = time(() => mx.matmul(x, mx.transpose(wb)), rounds);
    const gf = (s: number) => (2 * M * N * K / s / 1e9).toFixed(1);
    console.log(`  M=${String(M).padEnd(4)} ${bits}-bit bf16: ${(t * 1e3).toFixed(3)} ms (${gf(t)} GFLOP/s); dense bf16 ${(td * 1e3).toFixed(3)} ms (${gf(td)} GFLOP/s)`);
  }
}

// Batched quantized products (not a test): `node dist/bench/batched-qmv.js [--bits 4] [--m 1,2,4,8,16,32]
// [--layers 4] [--rounds 7] [--head] [--paths int8,float] [--threads 2] [--cpu]`.
//
// The seven products of a Gemma 3 1B decoder layer (q 1024, k 256, v 256 × 1152; o 1152 × 1024; gate, up 6912 ×
// 1152; down 1152 × 6912) at `bits` (group 64, bf16 scales, bf16 activations) for a batch of M rows, as the
// server's continuous batching runs them: one x [M, K] per product, every weight read once per step. `--layers`
// distinct layers (4 × 15 MB at 4-bit is past the last-level cache) are evaluated in one graph per round; the
// figure is M / (26 × the time per layer), i.e. tokens/s of the 1B's layer products alone (`--head` adds the
// tied 262144 × 1152 head to each round, which then overstates the head's share by 26 / layers). Paths: int8 = quantizedMatmulInt8 (the decode
// step's kernel), packed = packedQuantizedMatmul on weights repacked at load, float = mx.quantizedMatmul. Medians of `rounds`; "× M=1" is the aggregate rate against M = 1.
// `--cpu` times the process's CPU time instead of the wall clock (with `--threads 1` that is the kernels' own
// work, which a machine shared with other jobs does not inflate the way it inflates wall time).
import os from "node:os";
import { mx } from "../src/index.js";
import type { MxArray } from "../src/index.js";
import { native } from "../src/core/native.js";
import { quantizedMatmulInt8 } from "../src/core/ops-qmv-int8.js";
import { packedQuantizedKernelName, packedQuantizedMatmul, quantizedRepack, type PackedQuantized } from "../src/core/ops-qmv-packed.js";

const argv = process.argv.slice(2);
const flag = (name: string, def: string) => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 && argv[i + 1] ? argv[i + 1] : def;
};
const BITS = Number(flag("bits", "4")), LAYERS = Number(flag("layers", "4")), ROUNDS = Number(flag("rounds", "7"));
const MS = flag("m", "1,2,4,8,16,32").split(",").map(Number);
const PATHS = flag("paths", "packed,int8,float").split(",");
const HEAD = argv.includes("--head"), CPU = argv.includes("--cpu");
mx.setNumThreads(Number(flag("threads", "2")));
const GS = 64;

const SHAPES: [string, number, number][] = [
  ["q", 1024, 1152], ["k", 256, 1152], ["v", 256, 1152], ["o", 1152, 1024],
  ["gate", 6912, 1152], ["up", 6912, 1152], ["down", 1152, 6912],
];

interface QW { wq: MxArray; scales: MxArray; biases: MxArray; N: number; K: number; packed?: PackedQuantized }
// Random codes and N(0, 0.02)-like scales: the kernels' speed does not depend on the values.
function qweight(N: number, K: number, seed: number): QW {
  const [k1, k2, k3] = [0, 1, 2].map((i) => mx.random.key(3 * seed + i));
  const wq = mx.random.bits([N, (K * BITS) / 32], 4, k1);
  const G = K / GS;
  const scales = mx.random.uniform(0.001, 0.005, [N, G], mx.bfloat16, k2);
  const biases = mx.random.uniform(-0.04, -0.02, [N, G], mx.bfloat16, k3);
  mx.eval(wq, scales, biases);
  const w: QW = { wq, scales, biases, N, K };
  if (PATHS.includes("packed")) {
    w.packed = quantizedRepack(w, { groupSize: GS, bits: BITS });
    mx.eval(w.packed.packed);
  }
  return w;
}

const layers: QW[][] = [];
for (let l = 0; l < LAYERS; l++) layers.push(SHAPES.map(([, N, K], j) => qweight(N, K, 100 * l + j)));
const head = HEAD ? qweight(262144, 1152, 7) : undefined;
const now = () => {
  if (!CPU) return performance.now() / 1e3;
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
};
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

function product(path: string, x: MxArray, w: QW): MxArray {
  if (path === "packed") return packedQuantizedMatmul(x, w.packed!);
  return path === "int8"
    ? quantizedMatmulInt8(x, w.wq, w.scales, w.biases, GS, BITS)
    : mx.quantizedMatmul(x, w.wq, w.scales, w.biases, { transpose: true, groupSize: GS, bits: BITS });
}

console.log(`batched quantized products, 1B layer shapes, ${BITS}-bit g${GS}, ${LAYERS} layers, ` +
  `${flag("threads", "2")} threads, ${CPU ? "CPU time" : "wall time"}`);
console.log(`kernels: ${native.quantizedKernelName()} packed:${packedQuantizedKernelName()}; load average ${os.loadavg().map((v) => v.toFixed(2)).join(" ")}`);
for (const path of PATHS) {
  let base = 0;
  for (const M of MS) {
    const xs = new Map<number, MxArray>();
    for (const K of [1152, 1024, 6912]) xs.set(K, mx.random.normal([M, K], mx.bfloat16, 0, 1, mx.random.key(K + M)));
    mx.eval(...xs.values());
    const round = () => {
      const outs: MxArray[] = [];
      for (const L of layers) for (const w of L) outs.push(product(path, xs.get(w.K)!, w));
      if (head) outs.push(product(path, xs.get(1152)!, head));
      const t0 = now();
      mx.eval(...outs);
      const t = now() - t0;
      for (const o of outs) o.dispose();
      return t;
    };
    round();
    const ts: number[] = [];
    for (let r = 0; r < ROUNDS; r++) ts.push(round());
    const t = median(ts);
    // Per token of the 1B: 26 layers' products (the head counted once per LAYERS layers with --head).
    const tokps = M / ((t * 26) / LAYERS);
    if (M === MS[0]) base = tokps / M;
    console.log(`  ${path.padEnd(5)} M=${String(M).padEnd(3)} round ${(t * 1e3).toFixed(2)} ms  ${tokps.toFixed(1)} tok/s` +
      `  ×M=1 ${(tokps / base).toFixed(2)}`);
    for (const x of xs.values()) x.dispose();
  }
}

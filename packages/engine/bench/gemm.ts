// GEMM, elementwise bandwidth and dispatch-overhead benchmark (not a test): `node dist/bench/gemm.js`.
//
// - mx.matmul float32 and bfloat16 GFLOP/s on square sizes against numpy.matmul float32, measured in the
//   same run by one python3 process, alternating ours / numpy round by round, reporting medians.
//   OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE are removed from numpy's environment: set, they slow it ~2x.
// - mx.add / mx.multiply GB/s on 2^24-element float32 arrays (2 reads + 1 write per element) against the
//   machine's copy bandwidth from numpy's np.copyto of a large array (1 read + 1 write; single-threaded).
// - Per-op dispatch overhead: building and evaluating a chain of 10,000 adds of [16] arrays, per op.
// Flags: --sizes 512,1024,2048  --rounds 7  --threads n (both sides: mx.setNumThreads and OPENBLAS/OMP/MKL_NUM_THREADS
// for numpy; default: each side's own default)
import { spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { mx } from "../src/index.js";
import type { MxArray } from "../src/index.js";
import { native } from "../src/core/native.js";

const argv = process.argv.slice(2);
const flag = (name: string, def: string) => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 && argv[i + 1] ? argv[i + 1] : def;
};
const SIZES = flag("sizes", "512,1024,2048").split(",").map(Number);
const ROUNDS = Number(flag("rounds", "7"));
const THREADS = flag("threads", "");
if (THREADS) mx.setNumThreads(Number(THREADS));

const PY = String.raw`
import sys, time, json, numpy as np
rng = np.random.default_rng(0)
mats, bufs = {}, {}
def best_of(fn, reps):
    ts = []
    for _ in range(reps):
        t = time.perf_counter(); fn(); ts.append(time.perf_counter() - t)
    return min(ts)
for line in sys.stdin:
    cmd, *a = line.split()
    if cmd == "info":
        try:
            import numpy.__config__ as c
            blas = c.CONFIG["Build Dependencies"]["blas"]["name"]
        except Exception:
            blas = "?"
        out = {"numpy": np.__version__, "blas": blas}
    elif cmd == "matmul":
        n, reps = int(a[0]), int(a[1])
        if n not in mats:
            mats[n] = (rng.standard_normal((n, n), dtype=np.float32), rng.standard_normal((n, n), dtype=np.float32), np.empty((n, n), np.float32))
            np.matmul(mats[n][0], mats[n][1], out=mats[n][2])
        x, y, z = mats[n]
        out = {"t": best_of(lambda: np.matmul(x, y, out=z), reps)}
    elif cmd == "copy":
        n, reps = int(a[0]), int(a[1])
        if n not in bufs:
            bufs[n] = (np.ones(n, np.float32), np.zeros(n, np.float32))
            np.copyto(bufs[n][1], bufs[n][0])
        s, d = bufs[n]
        out = {"t": best_of(lambda: np.copyto(d, s), reps)}
    elif cmd == "add":
        n, reps = int(a[0]), int(a[1])
        if ("add", n) not in bufs:
            bufs[("add", n)] = (np.ones(n, np.float32), np.ones(n, np.float32), np.empty(n, np.float32))
        s, t2, d = bufs[("add", n)]
        out = {"t": best_of(lambda: np.add(s, t2, out=d), reps)}
    else:
        out = {"error": "unknown command " + cmd}
    sys.stdout.write(json.dumps(out) + "\n"); sys.stdout.flush()
`;

/** A python3 process answering one JSON line per command line. */
class NumpyPeer {
  private child;
  private lines: AsyncIterableIterator<string>;
  constructor() {
    const env = { ...process.env };
    delete env.OPENBLAS_CORETYPE;
    delete env.OPENBLAS_L2_SIZE;
    if (THREADS) for (const k of ["OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"]) env[k] = THREADS;
    this.child = spawn("python3", ["-c", PY], { env, stdio: ["pipe", "pipe", "inherit"] });
    this.lines = createInterface({ input: this.child.stdout })[Symbol.asyncIterator]();
  }
  async ask(cmd: string): Promise<any> {
    this.child.stdin.write(cmd + "\n");
    const r = await this.lines.next();
    if (r.done) throw new Error("python3/numpy exited");
    const v = JSON.parse(r.value);
    if (v.error) throw new Error(v.error);
    return v;
  }
  close() { this.child.stdin.end(); }
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const now = () => performance.now() / 1e3;

/** Best of `reps` wall times (s) of building and evaluating fn(); results are freed as we go. */
function bestOf(fn: () => MxArray, reps: number): number {
  let best = Infinity;
  for (let i = 0; i < reps; i++) {
    const t = now();
    const y = fn();
    mx.eval(y);
    best = Math.min(best, now() - t);
    y.dispose();
  }
  return best;
}

function randomMatrix(n: number, dtype: string): MxArray {
  const d = new Float32Array(n * n);
  for (let i = 0; i < d.length; i++) d[i] = Math.random() * 2 - 1;
  const a = mx.array(d, mx.float32, [n, n]).astype(dtype);
  mx.eval(a);
  return a;
}

const pad = (s: string | number, w: number) => String(s).padStart(w);
const row = (cells: (string | number)[], widths: number[]) => cells.map((c, i) => (i === 0 ? String(c).padEnd(widths[0]) : pad(c, widths[i]))).join("  ");

async function main() {
  const py = new NumpyPeer();
  const info = await py.ask("info");
  const kernels = typeof native.gemmKernelName === "function" ? native.gemmKernelName() : "?";
  console.log(`hearth GEMM/elementwise benchmark — ${mx.numThreads()} threads, kernels: ${kernels}; numpy ${info.numpy} (${info.blas}), ` +
    `OPENBLAS_CORETYPE/OPENBLAS_L2_SIZE unset for numpy`);
  console.log(`medians of ${ROUNDS} alternating rounds (each round: best of a few reps). Shared machine: expect noise.\n`);

  // ---- GEMM ----
  const widths = [6, 12, 12, 12, 10, 10];
  console.log(row(["n", "f32 GFLOP/s", "bf16 GFLOP/s", "numpy f32", "f32/np", "bf16/np"], widths));
  for (const n of SIZES) {
    const flop = 2 * n ** 3;
    const reps = n <= 512 ? 5 : n <= 1024 ? 3 : 2;
    const a32 = randomMatrix(n, "float32"), b32 = randomMatrix(n, "float32");
    const a16 = randomMatrix(n, "bfloat16"), b16 = randomMatrix(n, "bfloat16");
    bestOf(() => mx.matmul(a32, b32), 1); // warm-up (packing buffers, thread pool)
    bestOf(() => mx.matmul(a16, b16), 1);
    await py.ask(`matmul ${n} 1`);
    const f32: number[] = [], bf16: number[] = [], np: number[] = [];
    for (let r = 0; r < ROUNDS; r++) {
      f32.push(flop / bestOf(() => mx.matmul(a32, b32), reps) / 1e9);
      np.push(flop / (await py.ask(`matmul ${n} ${reps}`)).t / 1e9);
      bf16.push(flop / bestOf(() => mx.matmul(a16, b16), reps) / 1e9);
    }
    const [m32, m16, mnp] = [median(f32), median(bf16), median(np)];
    console.log(row([n, m32.toFixed(1), m16.toFixed(1), mnp.toFixed(1), (m32 / mnp).toFixed(2), (m16 / mnp).toFixed(2)], widths));
    [a32, b32, a16, b16].forEach((x) => x.dispose());
  }

  // ---- elementwise bandwidth ----
  const N = 1 << 24;
  const x = mx.add(mx.zeros([N]), 1), y = mx.add(mx.zeros([N]), 2);
  mx.eval(x, y);
  const bytes3 = 3 * 4 * N;
  const copyN = 1 << 26; // 256 MB: well past the caches
  await py.ask(`copy ${copyN} 1`);
  const add: number[] = [], mul: number[] = [], copy: number[] = [], npadd: number[] = [];
  bestOf(() => mx.add(x, y), 2);
  for (let r = 0; r < ROUNDS; r++) {
    add.push(bytes3 / bestOf(() => mx.add(x, y), 3) / 1e9);
    copy.push((2 * 4 * copyN) / (await py.ask(`copy ${copyN} 3`)).t / 1e9);
    mul.push(bytes3 / bestOf(() => mx.multiply(x, y), 3) / 1e9);
    npadd.push(bytes3 / (await py.ask(`add ${N} 3`)).t / 1e9);
  }
  const copyBw = median(copy);
  console.log(`\nelementwise, float32, 2^24 elements (${(bytes3 / 1e6).toFixed(0)} MB moved: 2 reads + 1 write)`);
  const w2 = [36, 8, 10];
  console.log(row(["", "GB/s", "of copy"], w2));
  console.log(row(["mx.add", median(add).toFixed(1), (median(add) / copyBw).toFixed(2)], w2));
  console.log(row(["mx.multiply", median(mul).toFixed(1), (median(mul) / copyBw).toFixed(2)], w2));
  console.log(row(["numpy np.add (1 thread, reference)", median(npadd).toFixed(1), (median(npadd) / copyBw).toFixed(2)], w2));
  console.log(row([`numpy np.copyto, 2^26 f32 (copy bw)`, copyBw.toFixed(1), "1.00"], w2));
  x.dispose();
  y.dispose();

  // ---- dispatch overhead ----
  const OPS = 10_000;
  const one = mx.ones([16]);
  const chain = () => {
    const t0 = now();
    let z = mx.ones([16]);
    for (let i = 0; i < OPS; i++) z = mx.add(z, one);
    const t1 = now();
    mx.eval(z);
    const t2 = now();
    const ok = Math.abs((mx.sum(z).item() as number) - 16 * (OPS + 1)) < 1e-3;
    return { build: t1 - t0, eval: t2 - t1, ok };
  };
  chain();
  const builds: number[] = [], evals: number[] = [], totals: number[] = [];
  let ok = true;
  for (let r = 0; r < ROUNDS; r++) {
    const c = mx.tidy(() => chain());
    builds.push(c.build), evals.push(c.eval), totals.push(c.build + c.eval), ok &&= c.ok;
  }
  const us = (s: number) => ((s / OPS) * 1e6).toFixed(2);
  console.log(`\ndispatch: chain of ${OPS} adds of [16] float32 arrays (result ${ok ? "checked" : "WRONG"})`);
  console.log(`  build ${us(median(builds))} µs/op + eval ${us(median(evals))} µs/op = ${us(median(totals))} µs/op`);
  py.close();
}

await main();

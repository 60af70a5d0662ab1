// `hearth bench` pieces that need no model: per-process peak RSS (the figure issue 15 found shared between the
// engines), --batch parsing, and the kernels line.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { join, dirname } from "node:path";
import { parseBenchArgs, kernelLines } from "../src/bench.js";

const here = dirname(fileURLToPath(import.meta.url));

test("peakRssMB is the child's own peak, not its parent's carried across fork + exec", () => {
  const big = Buffer.alloc(400 * 2 ** 20, 1);  // this process now holds > 400 MB resident
  const child = `import("${join(here, "..", "src", "bench-child.js")}").then((m) => console.log(JSON.stringify({ own: m.peakRssMB(), maxRSS: process.resourceUsage().maxRSS / 1024 })))`;
  const r = spawnSync(process.execPath, ["-e", child], { encoding: "utf8" });
  assert.equal(r.status, 0, r.stderr);
  const { own, maxRSS } = JSON.parse(r.stdout);
  assert.ok(big[12345] === 1);
  assert.ok(own > 10 && own < 300, `child's own peak ${own} MB`);
  // What the bench used to report (on Linux): the parent's peak.
  if (process.platform === "linux") assert.ok(maxRSS > 400, `maxRSS ${maxRSS} MB`);
});

test("--batch: default 1, a positive integer", () => {
  assert.equal(parseBenchArgs([]).batch, 1);
  assert.equal(parseBenchArgs(["--batch", "16"]).batch, 16);
  assert.throws(() => parseBenchArgs(["--batch", "0"]), /--batch must be >= 1/);
  assert.throws(() => parseBenchArgs(["--batch", "x"]), /--batch/);
});

test("kernel line names the ISA, the kernels and the packed paths", () => {
  const kernels = {
    isa: "avx2", amx: false, gemm: "f32:avx2-6x16", quantized: "q4-bf16:avx2", packed: "avx2", hearthIsa: "avx2",
    decodeStep: { int8Activations: true, packedWeights: true, packedPrefill: false, packedKernel: "avx2" },
  };
  const rows = [{ model: "1b", format: { ours: "4-bit g64" }, ours: [{ info: { kernels } }], llama: [] }];
  assert.deepEqual(kernelLines(rows as never), [
    "kernels 1b 4-bit g64: isa avx2 (HEARTH_ISA=avx2), AMX no, gemm f32:avx2-6x16, quantized q4-bf16:avx2, packed avx2; " +
      "compiled step: int8 activations on, packed decode on, packed prefill off",
  ]);
});

// The shared op-test runner: one line per case, checked against NumPy, with automatic variants
// (non-contiguous inputs, bfloat16 and float16 inputs) so every op sees strided and half data.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mx } from "../../src/index.js";
import type { MxArray } from "../../src/index.js";
import { numpyEval, type NpCase, type NpTensor } from "./numpy.js";

export interface Input {
  data: ArrayLike<number>;
  shape: number[];
  /** NumPy dtype name of the input (default float32). */
  dtype?: string;
}
export type Variant = "transposed" | "bf16" | "f16";
export interface OpCase {
  name: string;
  inputs: Input[];
  /** Builds the result with the engine from inputs a0, a1, … */
  mx: (...xs: MxArray[]) => MxArray | MxArray[];
  /** NumPy expression over a0, a1, … (helpers: erf, erfinv, logsumexp, softmax, sigmoid). */
  np: string;
  rtol?: number;
  atol?: number;
  /** The engine's result dtype, when it should be checked (MLX's promotion differs from NumPy's). */
  dtype?: string;
  /** Variants to run besides the plain one; default: all that apply (half variants only for float inputs). */
  variants?: Variant[];
  /** Also compare integer/bool results exactly (default true for non-float results). */
}

export function inp(data: ArrayLike<number>, shape: number[], dtype = "float32"): Input {
  return { data, shape, dtype };
}

function roundTo(dtype: "bfloat16" | "float16", data: ArrayLike<number>): number[] {
  const a = mx.array(Float32Array.from(data), mx.float32).astype(dtype);
  return Array.from(a.toFloat32Array());
}

function toMx(x: Input, variant: Variant | "plain"): MxArray {
  const dt = x.dtype ?? "float32";
  const isFloat = dt.startsWith("float");
  let data: ArrayLike<number> = x.data;
  let engineDtype = dt === "bool" ? "bool" : dt;
  if (isFloat && (variant === "bf16" || variant === "f16")) engineDtype = variant === "bf16" ? "bfloat16" : "float16";
  if (variant === "transposed" && x.shape.length >= 2) {
    // Build the transposed data, then transpose back: same values, non-contiguous strides.
    const [m, n] = x.shape.slice(-2);
    const batch = x.shape.slice(0, -2).reduce((a, b) => a * b, 1);
    const t = new Float64Array(x.data.length);
    for (let b = 0; b < batch; b++)
      for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) t[b * m * n + j * m + i] = x.data[b * m * n + i * n + j];
    const shapeT = [...x.shape.slice(0, -2), n, m];
    const base = mx.array(Float64Array.from(t), engineDtype, shapeT);
    return mx.swapaxes(base, -1, -2);
  }
  return mx.array(Float64Array.from(data), engineDtype, x.shape);
}

function npInput(x: Input, variant: Variant | "plain"): NpTensor {
  const dt = x.dtype ?? "float32";
  const isFloat = dt.startsWith("float");
  if (isFloat && (variant === "bf16" || variant === "f16"))
    return { data: roundTo(variant === "bf16" ? "bfloat16" : "float16", x.data), shape: x.shape, dtype: "float32" };
  return { data: Array.from(x.data), shape: x.shape, dtype: dt };
}

function variantsFor(c: OpCase): (Variant | "plain")[] {
  const floatInputs = c.inputs.some((x) => (x.dtype ?? "float32").startsWith("float"));
  const all: Variant[] = c.variants ?? ["transposed", ...(floatInputs ? (["bf16", "f16"] as Variant[]) : [])];
  return ["plain", ...all.filter((v) => v !== "transposed" || c.inputs.some((x) => x.shape.length >= 2))];
}

export function assertClose(actual: ArrayLike<number>, expected: ArrayLike<number>, rtol: number, atol: number, label: string) {
  assert.equal(actual.length, expected.length, `${label}: length ${actual.length} != ${expected.length}`);
  for (let i = 0; i < actual.length; i++) {
    const a = actual[i], e = expected[i];
    if (Number.isNaN(e)) { assert.ok(Number.isNaN(a), `${label}[${i}]: expected NaN, got ${a}`); continue; }
    if (!Number.isFinite(e)) { assert.equal(a, e, `${label}[${i}]`); continue; }
    assert.ok(Math.abs(a - e) <= atol + rtol * Math.abs(e), `${label}[${i}]: got ${a}, expected ${e} (rtol ${rtol}, atol ${atol})`);
  }
}

/** Registers one node:test per case and variant; NumPy runs once for the whole table. */
export function runOpCases(suite: string, cases: OpCase[]): void {
  const jobs: { c: OpCase; v: Variant | "plain" }[] = [];
  for (const c of cases) for (const v of variantsFor(c)) jobs.push({ c, v });
  const npCases: NpCase[] = jobs.map(({ c, v }) => ({
    expr: c.np,
    inputs: Object.fromEntries(c.inputs.map((x, i) => [`a${i}`, npInput(x, v)])),
  }));
  const results = numpyEval(npCases);
  jobs.forEach(({ c, v }, k) => {
    test(`${suite}: ${c.name} [${v}]`, () => {
      const ref = results[k];
      if (!Array.isArray(ref) && "error" in ref) throw new Error(`numpy failed for '${c.np}': ${ref.error}`);
      const out = c.mx(...c.inputs.map((x) => toMx(x, v)));
      const outs = Array.isArray(out) ? out : [out];
      const refs = Array.isArray(ref) ? ref : [ref];
      assert.equal(outs.length, refs.length, "number of outputs");
      outs.forEach((o, i) => {
        const r = refs[i];
        assert.deepEqual(o.shape, r.shape, `${c.name} output ${i} shape`);
        if (c.dtype && v === "plain") assert.equal(o.dtype.name, c.dtype, `${c.name} output ${i} dtype`);
        const half = v === "bf16" || v === "f16";
        const isFloat = o.dtype.kind === "float";
        const rtol = half ? Math.max(c.rtol ?? 0, v === "bf16" ? 2e-2 : 4e-3) : c.rtol ?? (isFloat ? 1e-5 : 0);
        const atol = half ? Math.max(c.atol ?? 0, v === "bf16" ? 2e-2 : 4e-3) : c.atol ?? (isFloat ? 1e-6 : 0);
        assertClose(o.toFloat32Array(), r.data, rtol, atol, `${c.name}[${v}] output ${i}`);
      });
    });
  });
}

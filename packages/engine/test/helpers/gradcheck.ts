// Gradients against central finite differences, in float64: one table of cases, one line per op.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mx } from "../../src/index.js";
import type { MxArray } from "../../src/index.js";
import { randn } from "./random.js";

export interface GradCase {
  name: string;
  /** Input shapes; values are drawn from N(0,1) (or `init`). */
  shapes: number[][];
  fn: (...xs: MxArray[]) => MxArray;
  /** Maps raw N(0,1) draws to the op's domain (e.g. positive for log). */
  init?: (x: number, inputIndex: number) => number;
  rtol?: number;
  atol?: number;
  /** Which inputs to differentiate (default all). */
  argnums?: number[];
}

/** Checks d/dx sum(w * fn(x)) for a fixed random w, so any output shape gives a scalar loss. */
export function runGradCases(suite: string, cases: GradCase[]): void {
  for (const c of cases) {
    test(`${suite}: grad ${c.name}`, () => {
      const xs = c.shapes.map((s, i) => {
        const d = randn(s, 11 + i);
        return c.init ? d.map((v) => c.init!(v, i)) : d;
      });
      const arrays = xs.map((d, i) => mx.array(d, mx.float64, c.shapes[i]));
      const out0 = c.fn(...arrays);
      const w = mx.array(randn(out0.shape, 99), mx.float64, out0.shape);
      const loss = (...a: MxArray[]) => mx.sum(mx.multiply(mx.astype(c.fn(...a), mx.float64), w));
      const argnums = c.argnums ?? xs.map((_, i) => i);
      const grads = mx.grad(loss, argnums)(...arrays) as MxArray[];
      argnums.forEach((arg, gi) => {
        const g = grads[gi];
        assert.deepEqual(g.shape, c.shapes[arg], `${c.name}: gradient shape of input ${arg}`);
        const analytic = g.toFloat32Array();
        const eps = 1e-6;
        const numeric = new Float64Array(xs[arg].length);
        for (let i = 0; i < xs[arg].length; i++) {
          const at = (delta: number) => {
            const d = Float64Array.from(xs[arg]);
            d[i] += delta;
            const args = arrays.slice();
            args[arg] = mx.array(d, mx.float64, c.shapes[arg]);
            return loss(...args).item() as number;
          };
          numeric[i] = (at(eps) - at(-eps)) / (2 * eps);
        }
        const rtol = c.rtol ?? 1e-4, atol = c.atol ?? 1e-5;
        for (let i = 0; i < numeric.length; i++)
          assert.ok(Math.abs(analytic[i] - numeric[i]) <= atol + rtol * Math.abs(numeric[i]),
            `${c.name}: d/d(input ${arg})[${i}] analytic ${analytic[i]} vs finite difference ${numeric[i]}`);
      });
    });
  }
}

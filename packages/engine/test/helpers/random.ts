// Deterministic test data (mulberry32 + Box-Muller), independent of the engine's own random module.
import { mulberry32 } from "../../src/core/mulberry32.js";
export const rng = mulberry32;

export function randn(shape: number[], seed = 1): Float64Array {
  const r = rng(seed);
  const n = shape.reduce((a, b) => a * b, 1);
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const u = Math.max(r(), 1e-12), v = r();
    out[i] = Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  }
  return out;
}

export function uniform(shape: number[], lo: number, hi: number, seed = 1): Float64Array {
  const r = rng(seed);
  const n = shape.reduce((a, b) => a * b, 1);
  return Float64Array.from({ length: n }, () => lo + (hi - lo) * r());
}

export function randint(shape: number[], lo: number, hi: number, seed = 1): Float64Array {
  const r = rng(seed);
  const n = shape.reduce((a, b) => a * b, 1);
  return Float64Array.from({ length: n }, () => lo + Math.floor((hi - lo) * r()));
}

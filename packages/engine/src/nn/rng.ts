import { mulberry32 } from "../core/mulberry32.js";
// A small deterministic generator (mulberry32 + Box-Muller) used for parameter initialization only while the
// engine has no mx.random: models can be built and trained before that family is merged.
class FallbackRng {
  private next = mulberry32(0x2545f491);

  /** Restarts the sequence (tests use it for reproducible initializations). */
  seed(seed: number): void {
    this.next = mulberry32(seed);
  }

  uniforms(n: number): Float64Array {
    const out = new Float64Array(n);
    for (let i = 0; i < n; i++) out[i] = this.next();
    return out;
  }

  normals(n: number): Float64Array {
    const out = new Float64Array(n);
    for (let i = 0; i < n; i += 2) {
      const u = Math.max(this.next(), 1e-12), v = this.next();
      const r = Math.sqrt(-2 * Math.log(u));
      out[i] = r * Math.cos(2 * Math.PI * v);
      if (i + 1 < n) out[i + 1] = r * Math.sin(2 * Math.PI * v);
    }
    return out;
  }
}

export const rng = new FallbackRng();

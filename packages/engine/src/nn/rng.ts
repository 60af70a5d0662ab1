// A small deterministic generator (mulberry32 + Box-Muller) used for parameter initialization only while the
// engine has no mx.random: models can be built and trained before that family is merged.
class FallbackRng {
  private s = 0x2545f491;

  /** Restarts the sequence (tests use it for reproducible initializations). */
  seed(seed: number): void {
    this.s = seed >>> 0;
  }

  private next(): number {
    this.s = (this.s + 0x6d2b79f5) >>> 0;
    let t = this.s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
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

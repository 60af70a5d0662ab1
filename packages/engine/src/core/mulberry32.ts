// mulberry32: a tiny seeded generator of uniforms in [0, 1), for orders and test data that must be reproducible
// from a seed without the engine (batch order, the demo corpus, fallback initialisation).
export function mulberry32(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

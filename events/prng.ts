/**
 * mulberry32: a tiny seeded PRNG (32-bit state) for reproducible synthetic data, shuffles and property tests.
 * Not for secrets. The traffic generator uses the better-distributed sfc32 (`Rng` in traffic.ts); this one is for
 * places that only need a seeded `() => number` in [0, 1) and want to replay a failing seed.
 */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

/** Small seeded helpers for property tests over random trees. */

/** Mulberry32: a tiny seeded PRNG so that failing cases replay. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Parents of a random tree of n nodes in topological order. */
export function randomParents(n: number, random: () => number): Int32Array {
  const parents = new Int32Array(n);
  parents[0] = -1;
  for (let i = 1; i < n; i++) {
    // Lean towards recent nodes so that trees get deep as well as wide.
    parents[i] = random() < 0.5 ? i - 1 : Math.floor(random() * i);
  }
  return parents;
}

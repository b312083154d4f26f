/**
 * Open-addressing hash table from a pair of symbol ids to a merge rank, in
 * typed arrays: the BPE inner loop looks a pair up for every neighbour, and a
 * `Map` keyed by `left * V + right` would hash non-Smi doubles for V ≈ 50k.
 */
export interface PairTable {
  /** Rank of the merge (left, right), or -1. */
  get(left: number, right: number): number;
}

function hashPair(left: number, right: number): number {
  return (Math.imul(left, 0x9e3779b1) ^ Math.imul(right + 0x7f4a7c15, 0x85ebca77)) >>> 0;
}

/** `lefts[r]`, `rights[r]` is the merge of rank r; a repeated pair keeps its first (lowest) rank. */
export function createPairTable(lefts: Int32Array, rights: Int32Array): PairTable {
  let capacity = 16;
  while (capacity < lefts.length * 2) capacity *= 2;
  const mask = capacity - 1;
  const keyLeft = new Int32Array(capacity).fill(-1);
  const keyRight = new Int32Array(capacity);
  const ranks = new Int32Array(capacity);

  for (let rank = 0; rank < lefts.length; rank++) {
    const l = lefts[rank];
    const r = rights[rank];
    let slot = hashPair(l, r) & mask;
    while (keyLeft[slot] !== -1 && !(keyLeft[slot] === l && keyRight[slot] === r)) slot = (slot + 1) & mask;
    if (keyLeft[slot] !== -1) continue;
    keyLeft[slot] = l;
    keyRight[slot] = r;
    ranks[slot] = rank;
  }

  return {
    get(left: number, right: number): number {
      let slot = hashPair(left, right) & mask;
      for (;;) {
        const k = keyLeft[slot];
        if (k === -1) return -1;
        if (k === left && keyRight[slot] === right) return ranks[slot];
        slot = (slot + 1) & mask;
      }
    },
  };
}

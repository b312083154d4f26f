/**
 * Top-k selection with the sampler's tie rule: the k largest values, a lower
 * id first among equal values. A binary heap of the k best so far keeps the
 * worst at its root; since ids arrive in ascending order, a later id only
 * enters on a strictly larger value. O(V) comparisons in the common case.
 */

/** Writes the ids of the k largest `values` into `out[0..k)` in ascending id order; returns k. */
export function selectTopK(values: Float64Array | Float32Array, k: number, out: Int32Array): number {
  const n = values.length;
  if (k >= n) {
    for (let i = 0; i < n; i++) out[i] = i;
    return n;
  }
  if (k <= 0) return 0;
  // "a is worse than b": smaller value, or equal value and larger id.
  const worse = (a: number, b: number): boolean =>
    values[a] < values[b] || (values[a] === values[b] && a > b);
  const siftDown = (start: number): void => {
    let i = start;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= k) return;
      const r = l + 1;
      const c = r < k && worse(out[r], out[l]) ? r : l;
      if (!worse(out[c], out[i])) return;
      const tmp = out[i];
      out[i] = out[c];
      out[c] = tmp;
      i = c;
    }
  };
  for (let i = 0; i < k; i++) out[i] = i;
  for (let i = (k >> 1) - 1; i >= 0; i--) siftDown(i);
  for (let i = k; i < n; i++) {
    if (values[i] > values[out[0]]) {
      out[0] = i;
      siftDown(0);
    }
  }
  out.subarray(0, k).sort();
  return k;
}

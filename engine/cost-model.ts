/**
 * Measured cost of one verify pass as a function of its node count, learned
 * online per model (one instance shared by all requests of a model).
 *
 * Sizes are grouped into classes (SIZE_CLASSES: a pass of n nodes falls in the
 * smallest class ≥ n); each keeps an exponentially weighted mean of the wall
 * time of the passes that fell in it. The classes are the budgets the policy
 * chooses between, so each of its candidates is measured on its own: on a CPU
 * the curve is not smooth (onnxruntime's float32 GEMM runs 12 rows for about
 * what 8 cost, and 16 cost a fifth more than 12; docs/benchmarks.md), and
 * power-of-two buckets averaged that away. Unmeasured sizes are interpolated
 * linearly between measured neighbours and, beyond the largest measured size,
 * extrapolated with a pessimistic slope so the policy explores upward in small
 * steps instead of jumping to huge trees.
 */

const ALPHA = 0.1;
/** Assumed relative cost growth per extra node when nothing above is measured (2%). */
const PESSIMISTIC_SLOPE = 0.02;
/** Upper bounds of the size classes: the policy's budgets, then on at the same ~1.5× spacing. */
export const SIZE_CLASSES = [1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64, 96, 128, 192, 256] as const;

export interface CostModel {
  /** Records one verify pass over `nodes` nodes that took `ms` milliseconds. */
  record(nodes: number, ms: number): void;
  /** Estimated milliseconds of a pass over `nodes` nodes; NaN before any measurement. */
  estimate(nodes: number): number;
  /** Number of passes measured in the size class of `nodes`. */
  samples(nodes: number): number;
  snapshot(): { nodes: number; ms: number; samples: number }[];
}

/** The class of a pass over `nodes` nodes (the last class takes anything larger). */
function bucketOf(nodes: number): number {
  let b = 0;
  while (b < SIZE_CLASSES.length - 1 && SIZE_CLASSES[b] < nodes) b++;
  return b;
}

/** A cost model for passes of up to `maxNodes` nodes (≤ 256). */
export function createCostModel(maxNodes = 256): CostModel {
  const buckets = bucketOf(maxNodes) + 1;
  const mean = new Float64Array(buckets).fill(Number.NaN);
  const count = new Uint32Array(buckets);
  // The node count each bucket's mean describes: its own running mean of sizes.
  const size = new Float64Array(buckets);

  // Buckets with at least one pass, in size order: what estimates interpolate between.
  const known: number[] = [];
  const classOf = (nodes: number) => Math.min(bucketOf(nodes), buckets - 1);

  return {
    record(nodes, ms) {
      if (!(ms >= 0) || nodes < 1) return;
      const b = classOf(nodes);
      if (count[b] === 0) {
        known.push(b);
        known.sort((x, y) => x - y);
      }
      // Warm up with a plain average, then forget slowly (load and context length drift).
      const a = count[b] < 1 / ALPHA ? 1 / (count[b] + 1) : ALPHA;
      mean[b] = count[b] === 0 ? ms : mean[b] + a * (ms - mean[b]);
      size[b] = count[b] === 0 ? nodes : size[b] + a * (nodes - size[b]);
      count[b]++;
    },
    estimate(nodes) {
      if (known.length === 0) return Number.NaN;
      const first = known[0];
      if (nodes <= size[first]) return mean[first];
      for (let i = 1; i < known.length; i++) {
        const lo = known[i - 1];
        const hi = known[i];
        if (nodes <= size[hi]) {
          const t = (nodes - size[lo]) / Math.max(1e-9, size[hi] - size[lo]);
          return mean[lo] + t * (mean[hi] - mean[lo]);
        }
      }
      const last = known[known.length - 1];
      const slope =
        known.length >= 2
          ? Math.max(
              (mean[last] - mean[known[known.length - 2]]) /
                Math.max(1e-9, size[last] - size[known[known.length - 2]]),
              PESSIMISTIC_SLOPE * mean[first],
            )
          : PESSIMISTIC_SLOPE * mean[last];
      return mean[last] + slope * (nodes - size[last]);
    },
    samples(nodes) {
      return count[classOf(nodes)];
    },
    snapshot() {
      return known.map((b) => ({ nodes: Math.round(size[b]), ms: mean[b], samples: count[b] }));
    },
  };
}

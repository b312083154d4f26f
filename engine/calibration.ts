/**
 * Per-drafter score calibration, learned online from what the target accepted.
 *
 * A drafter's score is its own estimate that the target accepts a node given
 * that its parent was accepted. Heuristic drafters (n-gram counts, recycling
 * ranks) are not probabilities, and even probabilistic ones are over- or
 * under-confident. Fusion compares scores across drafters, so each drafter's
 * scores are mapped through a histogram of observed acceptance: scores fall in
 * one of BINS bins; a bin's calibrated value is the Beta-smoothed share of
 * *tested* nodes (parent accepted) in that bin that were accepted.
 */

const BINS = 10;
/** Prior weight, in pseudo-observations, of the drafter's own score. */
const PRIOR = 4;
/** Keeps the histogram adaptive: counts are halved once a bin passes this many tests. */
const HALF_LIFE = 2000;

export interface Calibration {
  /** Calibrated acceptance probability for a raw score of drafter `source`. */
  map(source: number, raw: number): number;
  /** One tested node: `raw` was its score, `accepted` whether the target took it. */
  record(source: number, raw: number, accepted: boolean): void;
  /** Tested and accepted counts per drafter (for metrics). */
  totals(source: number): { tested: number; accepted: number };
}

function binOf(raw: number): number {
  const b = Math.floor(raw * BINS);
  return b < 0 ? 0 : b >= BINS ? BINS - 1 : b;
}

export function createCalibration(maxSources = 32): Calibration {
  const tested = new Float64Array(maxSources * BINS);
  const accepted = new Float64Array(maxSources * BINS);
  const totalTested = new Float64Array(maxSources);
  const totalAccepted = new Float64Array(maxSources);
  return {
    map(source, raw) {
      const i = source * BINS + binOf(raw);
      return (accepted[i] + PRIOR * raw) / (tested[i] + PRIOR);
    },
    record(source, raw, ok) {
      const i = source * BINS + binOf(raw);
      if (tested[i] >= HALF_LIFE) {
        tested[i] /= 2;
        accepted[i] /= 2;
      }
      tested[i] += 1;
      totalTested[source] += 1;
      if (ok) {
        accepted[i] += 1;
        totalAccepted[source] += 1;
      }
    },
    totals(source) {
      return { tested: totalTested[source], accepted: totalAccepted[source] };
    },
  };
}

/**
 * The second stage: calibration of *fused* nodes, keyed by the set of drafters
 * that proposed the node (their bitmask) and binned by the combined score.
 *
 * Per-drafter calibration says how often a drafter's node is accepted over all
 * it proposes. A fused node also carries evidence of absence: a token only the
 * retrieval drafter proposes is one that n-gram and recycling, looking at the
 * same context, did not — and such nodes are accepted far less often than
 * retrieval's nodes overall (measured on SmolLM2, 48 Spec-Bench prompts:
 * 3 % against a combined score of 10 %), which noisy-OR cannot know. This
 * stage learns the acceptance of each source set from the fused trees the
 * engine built, so the path scores that rank nodes and size trees are
 * probabilities again.
 *
 * Source sets get slots as they appear, up to `maxSets`; a set beyond that is
 * passed through uncalibrated.
 */
export interface SetCalibration {
  /** Calibrated acceptance probability of a fused node: drafters `sources` (bitmask), combined score `raw`. */
  map(sources: number, raw: number): number;
  record(sources: number, raw: number, accepted: boolean): void;
}

export function createSetCalibration(maxSets = 64): SetCalibration {
  const slots = new Map<number, number>();
  const inner = createCalibration(maxSets);
  const slotOf = (sources: number, create: boolean): number => {
    let slot = slots.get(sources);
    if (slot === undefined && create && slots.size < maxSets) {
      slot = slots.size;
      slots.set(sources, slot);
    }
    return slot ?? -1;
  };
  return {
    map(sources, raw) {
      const slot = slotOf(sources, false);
      return slot < 0 ? raw : inner.map(slot, raw);
    },
    record(sources, raw, accepted) {
      const slot = slotOf(sources, true);
      if (slot >= 0) inner.record(slot, raw, accepted);
    },
  };
}

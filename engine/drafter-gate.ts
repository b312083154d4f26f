/**
 * Which drafters are worth their drafting time: a drafter proposes on a step
 * only while what it alone adds pays for what it costs.
 *
 * Fusion makes drafters cheap to combine in τ but not in time: a drafter that
 * runs a network (eagle, layer-skip) can cost a quarter of a step on a CPU,
 * and on text the others already cover it adds almost nothing. For each
 * drafter the gate keeps, per model, moving averages of
 *
 *   cost  — its propose time per step (ms), and
 *   gain  — the accepted tokens that would have been lost without it: the
 *           accepted path from the first node that only this drafter proposed
 *           (in the fused trie every descendant of such a node is also its own).
 *
 * Removing a drafter changes the rate from T/S to (T - gain)/(S - cost), where
 * T and S are the tokens and milliseconds of a step. That is a loss exactly
 * when gain / cost > T / S, so a drafter runs while its tokens per drafting
 * millisecond beat the engine's tokens per step millisecond. Drafters cheaper
 * than a hundredth of a step always run; a gated-off drafter still proposes
 * every EXPLORE_EVERY-th step so that the gate sees when it starts paying
 * (open-ended text after a copied passage, say). With one drafter the gate
 * still applies: a drafter that does not pay for itself is plain decoding's loss.
 */

const ALPHA = 0.1;
/** Steps a drafter must run before the gate trusts its averages. */
const MIN_SAMPLES = 8;
/** A gated-off drafter proposes on every EXPLORE_EVERY-th step. */
const EXPLORE_EVERY = 8;
/** Drafters whose cost is below this share of a step are never gated. */
const FREE_SHARE = 0.01;

export interface DrafterGate {
  /** Whether drafter `source` proposes on the current step (call once per drafter per step). */
  shouldRun(source: number): boolean;
  /** One step a drafter ran: its propose time and the accepted tokens only it made possible. */
  recordDrafter(source: number, ms: number, gain: number): void;
  /** One step of the engine: its wall time and the tokens it emitted. */
  recordStep(ms: number, tokens: number): void;
  snapshot(): { source: number; costMs: number; gain: number; samples: number; running: boolean }[];
}

/** A gate over drafter bits 0..maxDrafters-1; with `enabled` false every drafter always runs. */
export function createDrafterGate(maxDrafters: number, enabled = true): DrafterGate {
  const cost = new Float64Array(maxDrafters);
  const gain = new Float64Array(maxDrafters);
  const samples = new Uint32Array(maxDrafters);
  const skipped = new Uint32Array(maxDrafters);
  let stepMs = 0;
  let stepTokens = 0;
  let steps = 0;

  const ewma = (mean: number, x: number, n: number) => mean + (x - mean) / Math.min(n, 1 / ALPHA);
  const pays = (s: number): boolean => {
    if (!enabled || samples[s] < MIN_SAMPLES || steps < MIN_SAMPLES) return true;
    if (cost[s] <= FREE_SHARE * stepMs) return true;
    return gain[s] / cost[s] >= stepTokens / stepMs;
  };

  return {
    shouldRun(s) {
      if (pays(s)) {
        skipped[s] = 0;
        return true;
      }
      skipped[s]++;
      if (skipped[s] >= EXPLORE_EVERY) {
        skipped[s] = 0;
        return true;
      }
      return false;
    },
    recordDrafter(s, ms, g) {
      samples[s]++;
      cost[s] = ewma(cost[s], ms, samples[s]);
      gain[s] = ewma(gain[s], g, samples[s]);
    },
    recordStep(ms, tokens) {
      steps++;
      stepMs = ewma(stepMs, ms, steps);
      stepTokens = ewma(stepTokens, tokens, steps);
    },
    snapshot() {
      const out = [];
      for (let s = 0; s < maxDrafters; s++) {
        if (samples[s] === 0) continue;
        out.push({ source: s, costMs: cost[s], gain: gain[s], samples: samples[s], running: pays(s) });
      }
      return out;
    },
  };
}

/**
 * The accepted tokens that depend on drafter bit `source`: the accepted path
 * (node indices, root first) from its first node whose provenance is that
 * drafter alone. Zero when every accepted node was also proposed by another.
 */
export function exclusiveGain(sources: Uint32Array, accepted: Int32Array, source: number): number {
  const only = 1 << source;
  for (let k = 1; k < accepted.length; k++) {
    if (sources[accepted[k]] === only) return accepted.length - k;
  }
  return 0;
}

/**
 * Which drafters are worth their drafting time: a drafter proposes on a step
 * only while what it alone adds pays for what it costs.
 *
 * Fusion makes drafters cheap to combine in τ but not in time: a drafter that
 * runs a network (eagle, layer-skip) can cost a quarter of a step on a CPU,
 * and on text the others already cover it adds almost nothing. For each
 * drafter the gate keeps, per model, moving averages of
 *
 *   cost  — its propose time per step plus the verify time its own nodes
 *           added to the pass (ms), and
 *   gain  — the accepted tokens that would have been lost without it: the
 *           accepted path from the first node that only this drafter proposed
 *           (in the fused trie every descendant of such a node is also its own).
 *
 * Removing a drafter changes the rate from T/S to (T - gain)/(S - cost), where
 * T and S are the tokens and milliseconds of a step. That is a loss exactly
 * when gain / cost > T / S, so a drafter runs while its tokens per drafting
 * millisecond beat the engine's tokens per step millisecond. The verify time
 * matters most for a drafter alone: without it every pass is a one-node pass,
 * and a two-node pass costs about a tenth more on a CPU (docs/benchmarks.md),
 * which a drafter at break-even on drafting time alone never earns back.
 * Drafters whose *drafting* costs under a hundredth of a step always run (the
 * budget policy already weighs their nodes against the verify time they
 * add); a gated-off drafter still proposes
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
  /**
   * One step a drafter ran: its propose time, the accepted tokens only it made
   * possible, and the verify time the nodes only it proposed added to the pass.
   */
  recordDrafter(source: number, ms: number, gain: number, verifyMs?: number): void;
  /** One step of the engine: its wall time and the tokens it emitted. */
  recordStep(ms: number, tokens: number): void;
  snapshot(): {
    source: number;
    costMs: number;
    draftMs: number;
    gain: number;
    samples: number;
    running: boolean;
  }[];
}

/** A gate over drafter bits 0..maxDrafters-1; with `enabled` false every drafter always runs. */
export function createDrafterGate(maxDrafters: number, enabled = true): DrafterGate {
  // Moving averages per drafter; its cost is draft + verify.
  const draft = new Float64Array(maxDrafters);
  const verify = new Float64Array(maxDrafters);
  const gain = new Float64Array(maxDrafters);
  const samples = new Uint32Array(maxDrafters);
  const skipped = new Uint32Array(maxDrafters);
  let stepMs = 0;
  let stepTokens = 0;
  let steps = 0;

  const ewma = (mean: number, x: number, n: number) => mean + (x - mean) / Math.min(n, 1 / ALPHA);
  const pays = (s: number): boolean => {
    if (!enabled || samples[s] < MIN_SAMPLES || steps < MIN_SAMPLES) return true;
    if (draft[s] <= FREE_SHARE * stepMs) return true;
    return gain[s] / (draft[s] + verify[s]) >= stepTokens / stepMs;
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
    recordDrafter(s, ms, g, verifyMs = 0) {
      samples[s]++;
      draft[s] = ewma(draft[s], ms, samples[s]);
      verify[s] = ewma(verify[s], Number.isFinite(verifyMs) ? Math.max(verifyMs, 0) : 0, samples[s]);
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
        out.push({
          source: s,
          costMs: draft[s] + verify[s],
          draftMs: draft[s],
          gain: gain[s],
          samples: samples[s],
          running: pays(s),
        });
      }
      return out;
    },
  };
}

/**
 * The verify time the nodes only drafter bit `source` proposed added to a pass
 * over `sources.length` nodes: the cost model's estimate for the whole tree
 * less its estimate without those nodes (0 when it has none or cannot tell).
 */
export function exclusiveVerifyMs(
  sources: Uint32Array,
  source: number,
  estimate: (nodes: number) => number,
): number {
  const only = 1 << source;
  let own = 0;
  for (let i = 1; i < sources.length; i++) if (sources[i] === only) own++;
  if (own === 0) return 0;
  const ms = estimate(sources.length) - estimate(sources.length - own);
  return Number.isFinite(ms) ? Math.max(ms, 0) : 0;
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

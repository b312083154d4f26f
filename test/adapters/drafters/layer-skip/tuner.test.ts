/**
 * The tuner on a synthetic model whose truth is known: each block has a
 * damage weight (agreement of a set = exp(−Σ damage of its blocks)), a pass
 * costs a fixed share plus a share per block run, and the rest of a step
 * (the verify pass) a fixed time. Drafted chains are accepted token by token
 * with the set's agreement, as greedy verification would.
 */
import { describe, expect, it } from 'vitest';
import { layerSkipDrafter } from '../../../../adapters/drafters/index.js';
import { chainRate } from '../../../../adapters/drafters/layer-skip/economics.js';
import { priorSet, searchSpace } from '../../../../adapters/drafters/layer-skip/search.js';
import { LayerSkipTuner } from '../../../../adapters/drafters/layer-skip/tuner.js';
import { mulberry32 } from '../../../kernels/random.js';

const LAYERS = 24;
const REST_MS = 12;
const DEPTH = 3;

interface Truth {
  readonly damage: (layer: number) => number;
  readonly passMs: (blocks: number) => number;
}

const agreement = (truth: Truth, skip: readonly number[]) =>
  Math.exp(-skip.reduce((sum, l) => sum + truth.damage(l), 0));

/** Tokens per ms of drafting with `skip` under the truth (chains up to DEPTH). */
const trueRate = (truth: Truth, skip: readonly number[]) =>
  chainRate(agreement(truth, skip), truth.passMs(LAYERS - skip.length), REST_MS, DEPTH).rate;

function tuner(raw: unknown = {}): LayerSkipTuner {
  return new LayerSkipTuner(LAYERS, layerSkipDrafter.parseOptions({ maxDepth: DEPTH, ...(raw as object) }));
}

/** Runs `steps` steps; returns wall time, tokens, and how many steps drafted. */
function simulate(t: LayerSkipTuner, truth: Truth, steps: number, seed: number) {
  const random = mulberry32(seed);
  let ms = 0;
  let tokens = 0;
  let drafted = 0;
  for (let s = 0; s < steps; s++) {
    const plan = t.plan();
    if (!plan) {
      ms += REST_MS;
      tokens += 1;
      t.recordPlain(REST_MS, 1);
      continue;
    }
    drafted++;
    const alpha = agreement(truth, plan.skip);
    let hits = 0;
    let accepted = 0;
    let chain = true;
    for (let d = 0; d < DEPTH; d++) {
      const agreed = random() < alpha;
      if (agreed) hits++;
      chain &&= agreed;
      if (chain) accepted++;
    }
    const blocks = LAYERS - plan.skip.length;
    for (let d = 0; d < DEPTH; d++) t.passCost.record(blocks, truth.passMs(blocks));
    const draftMs = DEPTH * truth.passMs(blocks);
    ms += draftMs + REST_MS;
    tokens += 1 + accepted;
    t.recordDrafted(plan, { draftMs, restMs: REST_MS, emitted: 1 + accepted, nodes: DEPTH, hits });
  }
  return { ms, tokens, drafted };
}

const passMs = (blocks: number) => 1 + 0.4 * blocks;
/** Blocks 12..20 are nearly redundant; the rest matter. */
const BANDED: Truth = { damage: (l) => (l >= 12 && l <= 20 ? 0.02 : 0.3), passMs };

describe('layer-skip tuner', () => {
  it('starts from every other block in the middle half, keeping the first and last', () => {
    const space = searchSpace(30, [0.15, 0.6]);
    expect(space.eligible[0]).toBe(1);
    expect(space.eligible.at(-1)).toBe(28);
    const prior = priorSet(space);
    expect(prior).toEqual([7, 9, 11, 13, 15, 17, 19, 21]);
  });

  it('finds a skip set that pays where the prior does not', () => {
    const base = 1 / REST_MS;
    const prior = priorSet(searchSpace(LAYERS, [0.15, 0.6]));
    expect(trueRate(BANDED, prior)).toBeLessThan(base);
    const t = tuner();
    simulate(t, BANDED, 10_000, 1);
    const found = t.report().skipLayers;
    expect(trueRate(BANDED, found)).toBeGreaterThan(base * 1.05);
    expect(trueRate(BANDED, found)).toBeGreaterThan(trueRate(BANDED, prior) * 1.2);
    // Settled: it now drafts and decodes faster than plain decoding would.
    const late = simulate(t, BANDED, 1000, 2);
    expect(late.tokens / late.ms).toBeGreaterThan(base * 1.02);
    expect(t.report().drafting).toBe(true);
  });

  it('loses at most its regret allowance where no skip set pays', () => {
    const hopeless: Truth = { damage: () => 0.3, passMs };
    const t = tuner({ maxRegret: 0.02 });
    const run = simulate(t, hopeless, 4000, 3);
    const plainMs = run.tokens * REST_MS;
    const lost = run.ms - plainMs;
    // 2% of the time seen, plus the warm-up allowance of a few drafted steps.
    expect(lost).toBeLessThan(0.02 * run.ms + 8 * REST_MS + DEPTH * passMs(LAYERS) * 2);
    expect(run.drafted / 4000).toBeLessThan(0.1);
    expect(t.report().drafting).toBe(false);
  });

  it('drafts nearly every step where skipping pays, keeping a few plain steps as the baseline', () => {
    const easy: Truth = { damage: () => 0.01, passMs };
    const t = tuner();
    const run = simulate(t, easy, 2000, 4);
    expect(run.drafted / 2000).toBeGreaterThan(0.9);
    expect(run.drafted / 2000).toBeLessThan(0.99);
    expect(run.tokens / run.ms).toBeGreaterThan(1 / REST_MS);
  });

  it("does not credit drafting with the other drafters' progress (fusion)", () => {
    // The fusion without layer-skip emits more tokens per step as its drafters learn;
    // layer-skip's drafts add nothing to it but cost their passes.
    const t = tuner();
    const random = mulberry32(8);
    let lostMs = 0;
    let seenMs = 0;
    for (let s = 0; s < 3000; s++) {
      const fusionTokens = 1 + Math.min(1.5, s / 400) + (random() < 0.3 ? 3 : 0);
      const plan = t.plan();
      if (!plan) {
        t.recordPlain(REST_MS, fusionTokens);
        seenMs += REST_MS;
        continue;
      }
      const draftMs = 2 * passMs(LAYERS - plan.skip.length);
      t.recordDrafted(plan, { draftMs, restMs: REST_MS, emitted: fusionTokens, nodes: 2, hits: 1 });
      lostMs += draftMs;
      seenMs += draftMs + REST_MS;
    }
    expect(t.report().drafting).toBe(false);
    expect(lostMs).toBeLessThan(0.02 * seenMs + 8 * REST_MS + 4 * passMs(LAYERS));
  });

  it('keeps a fixed skip set and never searches', () => {
    const t = tuner({ skipLayers: [3, 5], gate: 'always' });
    simulate(t, BANDED, 300, 5);
    const report = t.report();
    expect(report.skipLayers).toEqual([3, 5]);
    expect(report.rounds).toBe(0);
    expect(report.sets.map((s) => s.skipLayers)).toEqual([[3, 5]]);
  });

  it('stops searching after its round budget', () => {
    const t = tuner({ gate: 'always', search: { candidates: 3, nodesPerCandidate: 6 } });
    simulate(t, BANDED, 200, 6);
    expect(t.report().rounds).toBe(3);
    expect(t.report().searching).toBe(false);
  });
});

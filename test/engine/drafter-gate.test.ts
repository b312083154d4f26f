/**
 * The drafter gate: a drafter proposes while what only it adds pays for its
 * drafting time and the verify time of its own nodes; a gated-off drafter still explores now and then; the output
 * never changes.
 */
import { describe, expect, it } from 'vitest';
import type { DrafterDefinition } from '../../adapters/drafter.js';
import { createDrafterGate, exclusiveGain, exclusiveVerifyMs } from '../../engine/drafter-gate.js';
import { GREEDY } from '../../kernels/sampling-params.js';
import { scriptedDrafter, TINY_PROMPTS, useTinyEngines } from './tiny-engine.js';

describe('exclusiveGain', () => {
  // Provenance bits: ngram = 1 (bit 0), eagle = 2 (bit 1), both = 3.
  const sources = Uint32Array.of(0, 3, 2, 2, 1);
  it('counts the accepted path from the first node only that drafter proposed', () => {
    expect(exclusiveGain(sources, Int32Array.of(0, 1, 2, 3), 1)).toBe(2);
    expect(exclusiveGain(sources, Int32Array.of(0, 1, 2, 3), 0)).toBe(0);
    expect(exclusiveGain(sources, Int32Array.of(0, 1, 4), 0)).toBe(1);
    expect(exclusiveGain(sources, Int32Array.of(0), 1)).toBe(0);
  });
});

describe('exclusiveVerifyMs', () => {
  // A pass costs 30 ms plus 3 ms per node beyond the first.
  const estimate = (nodes: number) => 30 + 3 * (nodes - 1);
  const sources = Uint32Array.of(3, 3, 2, 2, 1);
  it('charges a drafter the verify time of the nodes only it proposed', () => {
    expect(exclusiveVerifyMs(sources, 1, estimate)).toBe(6);
    expect(exclusiveVerifyMs(sources, 0, estimate)).toBe(3);
    expect(exclusiveVerifyMs(sources, 2, estimate)).toBe(0);
  });

  it('charges nothing when the cost model cannot tell', () => {
    expect(exclusiveVerifyMs(sources, 1, () => Number.NaN)).toBe(0);
    expect(exclusiveVerifyMs(sources, 1, (n) => 40 - n)).toBe(0);
  });
});

/**
 * Runs `steps` steps in which drafter 0 costs `cost` ms to draft, adds `gain`
 * tokens and `verifyMs` of verify time; returns how often it ran.
 */
function drive(
  gate = createDrafterGate(4),
  steps: number,
  cost: number,
  gain: number,
  stepMs = 40,
  verifyMs = 0,
): number {
  let runs = 0;
  for (let i = 0; i < steps; i++) {
    const run = gate.shouldRun(0);
    if (run) {
      runs++;
      gate.recordDrafter(0, cost, gain, verifyMs);
    }
    gate.recordStep(stepMs + (run ? cost + verifyMs : 0), 1 + (run ? gain : 0));
  }
  return runs;
}

describe('createDrafterGate', () => {
  it('keeps a drafter whose tokens per drafting millisecond beat the step rate', () => {
    // 10 ms for 0.5 token = 0.05 token/ms > 1.5 tokens / 50 ms = 0.03.
    expect(drive(undefined, 200, 10, 0.5)).toBe(200);
  });

  it('gates off a drafter that does not pay, but lets it explore every 8th step', () => {
    const gate = createDrafterGate(4);
    // 10 ms for 0.1 token = 0.01 token/ms < ~1.1 / 50 ms.
    const runs = drive(gate, 208, 10, 0.1);
    expect(runs).toBeGreaterThanOrEqual(8 + 200 / 8 - 1);
    expect(runs).toBeLessThanOrEqual(8 + 200 / 8 + 1);
    expect(gate.snapshot()[0]).toMatchObject({ source: 0, running: false });
  });

  it('comes back when the drafter starts paying', () => {
    const gate = createDrafterGate(4);
    drive(gate, 100, 10, 0.1);
    const later = drive(gate, 200, 10, 1.5);
    expect(later).toBeGreaterThan(180);
  });

  it('never gates a drafter whose drafting costs under a hundredth of a step', () => {
    expect(drive(undefined, 200, 0.2, 0)).toBe(200);
    // Its nodes' verify time is the budget policy's to weigh, not the gate's.
    expect(drive(undefined, 200, 0.2, 0, 40, 10)).toBe(200);
  });

  it('counts the verify time of its own nodes: break-even on drafting time alone is a loss', () => {
    // 8 ms for 0.25 token = 0.031 token/ms beats 1.25 / 48 ms = 0.026 on drafting time alone...
    expect(drive(undefined, 200, 8, 0.25)).toBe(200);
    // ...but with 4 ms of verify time for its node (0.021 token/ms, below 1.25 / 52 ms running
    // and 1 / 40 ms not) it only explores.
    const gate = createDrafterGate(4);
    expect(drive(gate, 208, 8, 0.25, 40, 4)).toBeLessThanOrEqual(8 + 200 / 8 + 1);
    expect(gate.snapshot()[0]).toMatchObject({ running: false, draftMs: 8, costMs: 12 });
  });
});

/** A drafter that burns `ms` per proposal and proposes a token the target never picks; counts its calls. */
function useless(ms: number): { definition: DrafterDefinition<unknown>; proposals: () => number } {
  let proposals = 0;
  const definition = scriptedDrafter('useless', (ctx) => {
    proposals++;
    const end = performance.now() + ms;
    while (performance.now() < end);
    const root = ctx.tokens[ctx.tokens.length - 1];
    return { tokens: Int32Array.of(root, 0), parents: Int32Array.of(-1, 0), scores: Float32Array.of(1, 0.5) };
  });
  return { definition, proposals: () => proposals };
}

const tiny = useTinyEngines();

describe('the gate in the engine', () => {
  it('stops asking a costly drafter that adds nothing, and the output stays the plain one', async () => {
    const bad = useless(20);
    const engine = await tiny.engine([{ name: 'ngram' }, { name: 'useless' }], { extra: [bad.definition] });
    const plain = await tiny.engine([]);
    const prompt = tiny.tokenizer().encode(TINY_PROMPTS[0]);
    const request = { prompt, maxNewTokens: 96, sampling: GREEDY };
    const expected = await plain.generate({ ...request, speculate: false });
    const got = await engine.generate({ ...request, speculate: true });
    expect([...got.tokens]).toEqual([...expected.tokens]);
    // Eight steps to learn, then one step in eight.
    expect(bad.proposals()).toBeLessThan(8 + got.stats.steps / 8 + 2);
    expect(got.stats.steps).toBeGreaterThan(16);
  });

  it("does not charge a drafter for its passes' wait behind other requests", async () => {
    const plain = await tiny.engine([]);
    const prompt = tiny.tokenizer().encode(TINY_PROMPTS[0]);
    const request = { prompt, maxNewTokens: 64, sampling: GREEDY };
    const expected = (await plain.generate({ ...request, speculate: false })).tokens;
    // Drafts the next token right every step, and takes 20 ms a step: as drafting work it does not pay
    // on the tiny model (a step is a millisecond or two); as a wait behind other requests it does.
    const run = async (waited: boolean) => {
      let proposals = 0;
      let lastMs = 0;
      const oracle = scriptedDrafter(
        'oracle',
        (ctx) => {
          proposals++;
          const start = performance.now();
          while (performance.now() < start + 20);
          lastMs = performance.now() - start;
          const next = expected[ctx.tokens.length - ctx.promptLength];
          if (next === undefined) return null;
          const root = ctx.tokens[ctx.tokens.length - 1];
          return {
            tokens: Int32Array.of(root, next),
            parents: Int32Array.of(-1, 0),
            scores: Float32Array.of(1, 0.9),
          };
        },
        waited ? () => lastMs : undefined,
      );
      const engine = await tiny.engine([{ name: 'oracle' }], { extra: [oracle] });
      const got = await engine.generate({ ...request, speculate: true });
      expect([...got.tokens]).toEqual([...expected]);
      return { proposals, steps: got.stats.steps };
    };
    const working = await run(false);
    // Eight steps to learn, then one step in eight.
    expect(working.proposals).toBeLessThan(8 + working.steps / 8 + 2);
    const waiting = await run(true);
    expect(waiting.proposals).toBeGreaterThanOrEqual(waiting.steps * 0.9);
  });
});

describe('createDrafterGate disabled', () => {
  it('lets every drafter run every step', () => {
    expect(drive(createDrafterGate(4, false), 100, 10, 0)).toBe(100);
  });
});

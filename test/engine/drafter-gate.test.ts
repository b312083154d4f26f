/**
 * The drafter gate: a drafter proposes while what only it adds pays for its
 * drafting time; a gated-off drafter still explores now and then; the output
 * never changes.
 */
import { describe, expect, it } from 'vitest';
import type { DrafterDefinition } from '../../adapters/drafter.js';
import { createDrafterGate, exclusiveGain } from '../../engine/drafter-gate.js';
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

/** Runs `steps` steps in which drafter 0 costs `cost` ms and adds `gain` tokens; returns how often it ran. */
function drive(gate = createDrafterGate(4), steps: number, cost: number, gain: number, stepMs = 40): number {
  let runs = 0;
  for (let i = 0; i < steps; i++) {
    const run = gate.shouldRun(0);
    if (run) {
      runs++;
      gate.recordDrafter(0, cost, gain);
    }
    gate.recordStep(stepMs + (run ? cost : 0), 1 + (run ? gain : 0));
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

  it('never gates a drafter that costs under a hundredth of a step', () => {
    expect(drive(undefined, 200, 0.2, 0)).toBe(200);
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
});

describe('createDrafterGate disabled', () => {
  it('lets every drafter run every step', () => {
    expect(drive(createDrafterGate(4, false), 100, 10, 0)).toBe(100);
  });
});

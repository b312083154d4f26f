/**
 * Bad input is refused at the boundary with stable codes; a drafter that
 * throws or returns garbage is skipped for the request, which completes with
 * exactly the plain output.
 */
import { describe, expect, it } from 'vitest';
import type { Draft, DrafterDefinition } from '../../adapters/drafter.js';
import { isCanopyError } from '../../kernels/errors.js';
import { GREEDY } from '../../kernels/sampling-params.js';
import { scriptedDrafter, TINY_PROMPTS, useTinyEngines } from './tiny-engine.js';

const tiny = useTinyEngines();

function misbehaving(name: string, propose: (root: number) => Draft | null): DrafterDefinition<unknown> {
  return scriptedDrafter(name, (ctx) => propose(ctx.tokens[ctx.tokens.length - 1]));
}

const thrower = misbehaving('thrower', () => {
  throw new Error('boom');
});
const garbage = misbehaving('garbage', (root) => ({
  tokens: Int32Array.of(root, 5, 6),
  parents: Int32Array.of(-1, 2, 0), // not topological
  scores: Float32Array.of(1, 0.9, 0.9),
}));
const wrongRoot = misbehaving('wrong-root', (root) => ({
  tokens: Int32Array.of(root + 1, 5),
  parents: Int32Array.of(-1, 0),
  scores: Float32Array.of(1, 0.9),
}));

async function codeOf(promise: Promise<unknown>): Promise<string | undefined> {
  try {
    await promise;
  } catch (error) {
    return isCanopyError(error) ? error.code : `not a CanopyError: ${error}`;
  }
  return undefined;
}

describe('engine faults', () => {
  it.each([thrower, garbage, wrongRoot])(
    'skips a misbehaving drafter ($name) and still emits the plain output',
    async (bad) => {
      const plain = await tiny.engine([]);
      const engine = await tiny.engine([{ name: 'ngram' }, { name: bad.name }], { extra: [bad] });
      const prompt = tiny.tokenizer().encode(TINY_PROMPTS[0]);
      const expected = await plain.generate({ prompt, maxNewTokens: 32, sampling: GREEDY, speculate: false });
      const got = await engine.generate({ prompt, maxNewTokens: 32, sampling: GREEDY, speculate: true });
      expect([...got.tokens]).toEqual([...expected.tokens]);
      expect(got.stats.failedDrafters).toEqual([bad.name]);
    },
  );

  it('refuses unknown drafter names and malformed options before any work', async () => {
    expect(await codeOf(tiny.engine([{ name: 'nope' }]))).toBe('CANOPY_ERR_UNKNOWN_DRAFTER');
    expect(await codeOf(tiny.engine([{ name: 'ngram', options: { maxN: 'three' } }]))).toBe(
      'CANOPY_ERR_INVALID_DRAFTER_OPTIONS',
    );
    expect(await codeOf(tiny.engine([{ name: 'ngram', options: { unknownKnob: 1 } }]))).toBe(
      'CANOPY_ERR_INVALID_DRAFTER_OPTIONS',
    );
  });

  it('refuses budgets out of range and drafters the model does not run', async () => {
    expect(await codeOf(tiny.engine([{ name: 'ngram' }], { maxBudget: 0 }))).toBe(
      'CANOPY_ERR_BUDGET_OUT_OF_RANGE',
    );
    expect(await codeOf(tiny.engine([{ name: 'ngram' }], { maxBudget: 1000 }))).toBe(
      'CANOPY_ERR_BUDGET_OUT_OF_RANGE',
    );
    const engine = await tiny.engine([{ name: 'ngram' }]);
    const prompt = tiny.tokenizer().encode('hello');
    const request = { prompt, maxNewTokens: 4, sampling: GREEDY, speculate: true };
    expect(await codeOf(engine.generate({ ...request, maxBudget: 0 }))).toBe(
      'CANOPY_ERR_BUDGET_OUT_OF_RANGE',
    );
    expect(await codeOf(engine.generate({ ...request, maxBudget: 2.5 }))).toBe(
      'CANOPY_ERR_BUDGET_OUT_OF_RANGE',
    );
    expect(await codeOf(engine.generate({ ...request, drafters: ['recycling'] }))).toBe(
      'CANOPY_ERR_UNKNOWN_DRAFTER',
    );
  });

  it('refuses a prompt longer than the context', async () => {
    const engine = await tiny.engine([{ name: 'ngram' }]);
    const prompt = new Int32Array(tiny.target().info.maxContext + 1).fill(5);
    expect(
      await codeOf(engine.generate({ prompt, maxNewTokens: 4, sampling: GREEDY, speculate: true })),
    ).toBe('CANOPY_ERR_PROMPT_TOO_LONG');
  });

  it('stops at the context limit without overrunning it', async () => {
    const engine = await tiny.engine([{ name: 'ngram' }]);
    const max = tiny.target().info.maxContext;
    const prompt = new Int32Array(max - 5).fill(7);
    const got = await engine.generate({ prompt, maxNewTokens: 50, sampling: GREEDY, speculate: true });
    expect(got.tokens.length).toBeLessThanOrEqual(5);
    expect(got.finishReason).toBe('length');
  });

  it('cancels a request whose signal aborts', async () => {
    const engine = await tiny.engine([{ name: 'ngram' }]);
    const controller = new AbortController();
    const prompt = tiny.tokenizer().encode(TINY_PROMPTS[1]);
    let steps = 0;
    const run = engine.generate({
      prompt,
      maxNewTokens: 400,
      sampling: GREEDY,
      speculate: true,
      signal: controller.signal,
      onTokens: () => {
        if (++steps === 3) controller.abort();
      },
    });
    expect(await codeOf(run)).toBe('CANOPY_ERR_CANCELLED');
  });
});

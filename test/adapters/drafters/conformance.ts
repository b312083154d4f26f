/**
 * The drafter conformance suite: one set of behaviours every drafter must show,
 * run against each implementation (built-ins here; layer-skip and EAGLE call it
 * from their own test files):
 *
 *   describeDrafterConformance(myDrafter, { options: {...}, badOptions: [...] });
 */
import { describe, expect, it } from 'vitest';
import type {
  Draft,
  DraftContext,
  DrafterDefinition,
  DrafterEnvironment,
  DrafterFactory,
  DrafterOpenRequest,
  DrafterSession,
  DraftFeedback,
} from '../../../adapters/drafter.js';
import type { TargetInfo } from '../../../adapters/target.js';
import { assertDrafterDefinition } from '../../../engine/registry.js';
import { isCanopyError } from '../../../kernels/errors.js';
import { chainTree, validateTree } from '../../../kernels/tree.js';
import { mulberry32, randomParents } from '../../kernels/random.js';
import { cyclicOracle, Decoder, type DecodeStep, decode, draftHasPath } from './oracle.js';

export interface DrafterConformanceOptions {
  /** Raw options for parseOptions; undefined means the drafter's defaults. */
  readonly options?: unknown;
  /** Raw options that parseOptions must reject (besides a few that every drafter must). */
  readonly badOptions?: readonly unknown[];
  /** The model the factories are built for; default: a 512-token fake with top-k 8. */
  readonly env?: () => DrafterEnvironment | Promise<DrafterEnvironment>;
  /** Builds a session's open request (drafters that need a target session); default: the prompt alone. */
  readonly openRequest?: (prompt: Int32Array) => DrafterOpenRequest | Promise<DrafterOpenRequest>;
  /**
   * The factory shares learned state across sessions (a matrix, a history), so
   * a session's drafts may depend on others: independence is then checked as
   * "one session's use and close never break another".
   */
  readonly sharedState?: boolean;
  /**
   * How the drafter learns to propose the continuation of a context that
   * repeats itself: `warmupSessions` whole sessions over the repeat (opened,
   * decoded, closed) and then `warmupSteps` steps of the checked session.
   * `false` when it cannot (e.g. a head with random weights).
   */
  readonly repeat?: false | { readonly warmupSessions?: number; readonly warmupSteps?: number };
}

export const CONFORMANCE_TARGET: TargetInfo = Object.freeze({
  model: 'conformance-fake',
  vocabSize: 512,
  eosTokenIds: [0],
  maxContext: 8192,
  numLayers: 2,
  hiddenSize: 16,
  capabilities: Object.freeze({ maxTopK: 8, hiddenStates: false, skipLayers: false }),
});

/** Asserts the draft contract for a proposal made on `context`. */
export function expectValidDraft(draft: Draft | null, context: DraftContext, vocabSize: number): void {
  if (draft === null) return;
  validateTree(draft, vocabSize);
  const n = draft.tokens.length;
  expect(draft.scores).toBeInstanceOf(Float32Array);
  expect(draft.scores.length).toBe(n);
  expect(n).toBeLessThanOrEqual(context.budget);
  expect(draft.tokens[0]).toBe(context.tokens[context.tokens.length - 1]);
  expect(draft.scores[0]).toBe(1);
  for (let i = 1; i < n; i++) {
    expect(draft.scores[i]).toBeGreaterThan(0);
    expect(draft.scores[i]).toBeLessThanOrEqual(1);
  }
  // Siblings with one token would be one node after fusion: a wasted slot.
  const seen = new Set<string>();
  for (let i = 1; i < n; i++) {
    const key = `${draft.parents[i]}:${draft.tokens[i]}`;
    expect(seen.has(key), `node ${i} repeats a sibling's token`).toBe(false);
    seen.add(key);
  }
}

/** Feedback of the kind the engine may send: any tree, any accepted path, odd top-k widths. */
function randomFeedback(
  random: () => number,
  tokens: Int32Array,
  vocab: number,
  draft: Draft | null,
): DraftFeedback {
  const root = tokens[tokens.length - 1];
  let tree = draft ?? chainTree([root]);
  if (random() < 0.3) {
    // A fused tree holds nodes from other drafters.
    const n = 1 + Math.floor(random() * 12);
    const t = Int32Array.from({ length: n }, (_, i) => (i === 0 ? root : Math.floor(random() * vocab)));
    tree = { tokens: t, parents: randomParents(n, random) };
  }
  const n = tree.tokens.length;
  const width = [0, 1, 3, 8, 16][Math.floor(random() * 5)];
  const ids = Int32Array.from({ length: n * width }, () => Math.floor(random() * vocab));
  const result = {
    chosen: Int32Array.from({ length: n }, () => Math.floor(random() * vocab)),
    ...(width > 0 ? { topKIds: ids } : {}),
    ...(width > 0 && random() < 0.5 ? { topKLogprobs: Float32Array.from(ids, () => -5 * random()) } : {}),
  };
  const accepted = [0];
  for (let i = 1; i < n; i++)
    if (tree.parents[i] === accepted[accepted.length - 1] && random() < 0.5) accepted.push(i);
  const emitted = Int32Array.from([...accepted.slice(1).map((i) => tree.tokens[i]), result.chosen[0]]);
  const next = new Int32Array(tokens.length + emitted.length);
  next.set(tokens);
  next.set(emitted, tokens.length);
  return { tree, result, accepted: Int32Array.from(accepted), emitted, tokens: next };
}

function randomContext(random: () => number, vocab: number): Int32Array {
  // Pieces copied from earlier in the context give n-gram and suffix drafters something to find.
  const tokens: number[] = [];
  const length = 1 + Math.floor(random() * 200);
  while (tokens.length < length) {
    if (tokens.length > 8 && random() < 0.3) {
      const start = Math.floor(random() * (tokens.length - 4));
      tokens.push(...tokens.slice(start, start + 2 + Math.floor(random() * 6)));
    } else {
      tokens.push(Math.floor(random() * Math.min(vocab, 40)));
    }
  }
  return Int32Array.from(tokens.slice(0, length));
}

export function describeDrafterConformance(
  definition: DrafterDefinition<unknown>,
  config: DrafterConformanceOptions = {},
): void {
  const environment = async (): Promise<DrafterEnvironment> =>
    config.env ? await config.env() : { target: CONFORMANCE_TARGET };
  const build = async (): Promise<{ factory: DrafterFactory; env: DrafterEnvironment }> => {
    const env = await environment();
    return { factory: await definition.create(definition.parseOptions(config.options), env), env };
  };
  const open = async (factory: DrafterFactory, prompt: Int32Array): Promise<DrafterSession> =>
    factory.open(config.openRequest ? await config.openRequest(prompt) : { prompt });
  const topKOf = (factory: DrafterFactory): number => factory.capabilities.needsTopK;

  describe(`drafter conformance: ${definition.name}`, () => {
    it('passes the registry shape check and declares its capabilities as plain data', async () => {
      assertDrafterDefinition(definition);
      expect(JSON.parse(JSON.stringify(definition.capabilities))).toEqual(definition.capabilities);
      const { factory } = await build();
      expect(factory.name).toBe(definition.name);
      expect(JSON.parse(JSON.stringify(factory.capabilities))).toEqual(factory.capabilities);
      for (const flag of ['tree', 'probabilities', 'needsTarget'] as const) {
        expect(factory.capabilities[flag]).toBe(definition.capabilities[flag]);
      }
      factory.dispose?.();
    });

    it('parses its options into a frozen object', () => {
      const parsed = definition.parseOptions(config.options);
      if (typeof parsed === 'object' && parsed !== null) expect(Object.isFrozen(parsed)).toBe(true);
      expect(() => definition.parseOptions(undefined)).not.toThrow();
    });

    it('rejects bad options with CANOPY_ERR_INVALID_DRAFTER_OPTIONS', () => {
      for (const bad of [42, 'fast', [1, 2], { notAnOption: true }, ...(config.badOptions ?? [])]) {
        let caught: unknown;
        try {
          definition.parseOptions(bad);
        } catch (error) {
          caught = error;
        }
        expect(isCanopyError(caught, 'CANOPY_ERR_INVALID_DRAFTER_OPTIONS'), JSON.stringify(bad)).toBe(true);
      }
    });

    it('proposes only valid trees within the budget and leaves its inputs untouched', async () => {
      const { factory, env } = await build();
      const vocab = env.target.vocabSize;
      const random = mulberry32(1234);
      for (let s = 0; s < 12; s++) {
        let tokens = randomContext(random, vocab);
        const session = await open(factory, tokens);
        for (let step = 0; step < 15; step++) {
          const budget = [1, 2, 3, 8, 16, 64][Math.floor(random() * 6)];
          const context = { tokens, promptLength: Math.min(tokens.length, 50), budget };
          const before = tokens.slice();
          const draft = await session.propose(context);
          expectValidDraft(draft, context, vocab);
          const feedback = randomFeedback(random, tokens, vocab, draft);
          const committed = feedback.tokens.slice();
          session.observe(feedback);
          // The engine hands views of its own buffers: a drafter must never write into them.
          expect(tokens).toEqual(before);
          expect(feedback.tokens).toEqual(committed);
          tokens = feedback.tokens;
        }
        session.close?.();
      }
      factory.dispose?.();
    });

    it('accepts any feedback, including before a proposal and after no draft', async () => {
      const { factory, env } = await build();
      const vocab = env.target.vocabSize;
      const prompt = Int32Array.from([1, 2, 3, 1, 2]);
      const session = await open(factory, prompt);
      const rootOnly = chainTree([2]);
      const tokens = Int32Array.from([1, 2, 3, 1, 2, 3]);
      const base = { tree: rootOnly, accepted: Int32Array.of(0), emitted: Int32Array.of(3), tokens };
      session.observe({ ...base, result: { chosen: Int32Array.of(3) } });
      session.observe({ ...base, result: { chosen: Int32Array.of(3), topKIds: Int32Array.of(3, 4, 5) } });
      session.observe({ ...base, result: { chosen: Int32Array.of(3), topKIds: Int32Array.of(vocab + 5) } });
      const context = { tokens, promptLength: 5, budget: 1 };
      const none = await session.propose(context);
      expectValidDraft(none, context, vocab);
      session.observe({ ...base, result: { chosen: Int32Array.of(3) } });
      const later = { tokens, promptLength: 5, budget: 8 };
      expectValidDraft(await session.propose(later), later, vocab);
      session.close?.();
      session.close?.();
      factory.dispose?.();
    });

    it('keeps sessions independent of one another', async () => {
      const vocab = (await environment()).target.vocabSize;
      const oracle = cyclicOracle([5, 9, 14, 20, 27], vocab);
      const promptA = Int32Array.from([5, 9, 14, 20, 27, 5, 9]);
      const promptB = Int32Array.from([3, 3, 4, 3, 3, 4, 3]);
      const shape = (s: DecodeStep) => (s.draft ? [...s.draft.tokens, ...s.draft.parents] : null);

      const alone = await build();
      const plan = { budget: 8, topK: topKOf(alone.factory) };
      const soloA = new Decoder(await open(alone.factory, promptA), oracle, promptA, plan);
      const expected: unknown[] = [];
      for (let s = 0; s < 6; s++) expected.push(shape(await soloA.step()));

      const both = await build();
      const sessionB = await open(both.factory, promptB);
      const a = new Decoder(await open(both.factory, promptA), oracle, promptA, plan);
      const b = new Decoder(sessionB, oracle, promptB, plan);
      const got: unknown[] = [];
      for (let s = 0; s < 6; s++) {
        const stepA = await a.step();
        expectValidDraft(stepA.draft, stepA.context, vocab);
        got.push(shape(stepA));
        if (s < 3) {
          const stepB = await b.step();
          expectValidDraft(stepB.draft, stepB.context, vocab);
        }
        // Closing one session mid-way must not disturb the other.
        if (s === 3) sessionB.close?.();
      }
      if (!config.sharedState) expect(got).toEqual(expected);
      alone.factory.dispose?.();
      both.factory.dispose?.();
    });

    it.runIf(config.repeat !== false)(
      'proposes the continuation of a context that repeats itself',
      async () => {
        const warmup = config.repeat === false ? {} : (config.repeat ?? {});
        const { factory, env } = await build();
        const pattern = [17, 42, 99, 7, 63];
        const oracle = cyclicOracle(pattern, env.target.vocabSize);
        const prompt = Int32Array.from([...pattern, ...pattern, ...pattern, 17, 42]);
        const plan = { budget: 16, topK: topKOf(factory) };
        for (let w = 0; w < (warmup.warmupSessions ?? 0); w++) {
          const session = await open(factory, prompt);
          await decode(session, oracle, prompt, { ...plan, steps: 8 });
          session.close?.();
        }
        const session = await open(factory, prompt);
        const log = await decode(session, oracle, prompt, { ...plan, steps: (warmup.warmupSteps ?? 0) + 1 });
        const last = log[log.length - 1];
        const root = last.context.tokens[last.context.tokens.length - 1];
        const expected = [oracle.next(root)];
        while (expected.length < 3) expected.push(oracle.next(expected[expected.length - 1]));
        expect(draftHasPath(last.draft, expected), `draft ${last.draft?.tokens} lacks ${expected}`).toBe(
          true,
        );
        expectValidDraft(last.draft, last.context, env.target.vocabSize);
        session.close?.();
        factory.dispose?.();
      },
    );
  });
}

import { describe, expect, it } from 'vitest';
import type { Draft, DrafterFactory, DraftFeedback } from '../../../adapters/drafter.js';
import { recyclingDrafter } from '../../../adapters/drafters/index.js';
import { AdjacencyMatrix } from '../../../adapters/drafters/recycling/adjacency.js';
import { PairTable } from '../../../adapters/drafters/recycling/pair-table.js';
import { priorTemplate, templateProblem } from '../../../adapters/drafters/recycling/template.js';
import type { TargetInfo } from '../../../adapters/target.js';
import { isCanopyError } from '../../../kernels/errors.js';
import { CONFORMANCE_TARGET } from './conformance.js';
import { draftHasPath } from './oracle.js';

function factory(raw: unknown = {}, target: TargetInfo = CONFORMANCE_TARGET): DrafterFactory {
  return recyclingDrafter.create(recyclingDrafter.parseOptions(raw), { target }) as DrafterFactory;
}

/** Feedback of one verify pass over a chain `nodes`, with the given top-k rows (natural-log probabilities). */
function pass(nodes: number[], rows: number[][], probs?: number[][]): DraftFeedback {
  return {
    tree: { tokens: Int32Array.from(nodes), parents: Int32Array.from(nodes, (_, i) => i - 1) },
    result: {
      chosen: Int32Array.from(rows, (r) => r[0]),
      topKIds: Int32Array.from(rows.flat()),
      ...(probs ? { topKLogprobs: Float32Array.from(probs.flat(), Math.log) } : {}),
    },
    accepted: Int32Array.of(0),
    emitted: Int32Array.of(rows[0][0]),
    tokens: Int32Array.from([...nodes.slice(0, 1), rows[0][0]]),
  };
}

function propose(f: DrafterFactory, tokens: number[], budget = 16): Draft | null {
  return f.open({ prompt: Int32Array.from(tokens) }).propose({
    tokens: Int32Array.from(tokens),
    promptLength: tokens.length,
    budget,
  }) as Draft | null;
}

describe('recycling drafter', () => {
  it('gives no draft for a root it has never seen verified', () => {
    expect(propose(factory(), [1, 2, 3])).toBeNull();
  });

  it("proposes the target's top-k after the root, and their rows in turn", () => {
    const f = factory({ k: 3 });
    f.open({ prompt: Int32Array.of(5) }).observe(
      pass(
        [5, 6],
        [
          [6, 7, 8],
          [9, 10, 11],
        ],
      ),
    );
    const draft = propose(f, [1, 5])!;
    expect(draftHasPath(draft, [6, 9])).toBe(true);
    expect(draftHasPath(draft, [7])).toBe(true);
    expect(draftHasPath(draft, [8])).toBe(true);
  });

  it('scores with the probabilities the target returned, else by rank', () => {
    const f = factory({ k: 2 });
    f.open({ prompt: Int32Array.of(5) }).observe(pass([5], [[6, 7]], [[0.7, 0.2]]));
    const withProbs = propose(f, [5])!;
    expect(withProbs.scores[withProbs.tokens.indexOf(6)]).toBeCloseTo(0.7, 5);
    expect(withProbs.scores[withProbs.tokens.indexOf(7)]).toBeCloseTo(0.2, 5);
    f.open({ prompt: Int32Array.of(5) }).observe(pass([5], [[6, 7]]));
    const byRank = propose(f, [5])!;
    expect(byRank.scores[byRank.tokens.indexOf(6)]).toBeGreaterThan(byRank.scores[byRank.tokens.indexOf(7)]);
  });

  it('shares what one request learned with the next request of the same model only', () => {
    const shared = factory();
    shared.open({ prompt: Int32Array.of(5) }).observe(pass([5], [[6, 7, 8, 9, 10, 11, 12, 13]]));
    expect(propose(shared, [5])).not.toBeNull();
    expect(propose(factory(), [5])).toBeNull();
  });

  it('expands only the template it is given', () => {
    const f = factory({ k: 2, tree: [[0], [0, 0]] });
    const s = f.open({ prompt: Int32Array.of(5) });
    s.observe(
      pass(
        [5, 6, 8],
        [
          [6, 7],
          [8, 9],
          [10, 11],
        ],
      ),
    );
    const draft = propose(f, [5])!;
    expect([...draft.tokens]).toEqual([5, 6, 8]);
  });

  it('declares the top-k it needs, capped by what the target returns', () => {
    expect(factory({ k: 4 }).capabilities.needsTopK).toBe(4);
    const narrow = {
      ...CONFORMANCE_TARGET,
      capabilities: { ...CONFORMANCE_TARGET.capabilities, maxTopK: 2 },
    };
    expect(factory({ k: 4 }, narrow).capabilities.needsTopK).toBe(2);
  });

  it('refuses a target without top-k with CANOPY_ERR_DRAFTER_INCOMPATIBLE', () => {
    const none = { ...CONFORMANCE_TARGET, capabilities: { ...CONFORMANCE_TARGET.capabilities, maxTopK: 0 } };
    let caught: unknown;
    try {
      factory({}, none);
    } catch (error) {
      caught = error;
    }
    expect(isCanopyError(caught, 'CANOPY_ERR_DRAFTER_INCOMPATIBLE')).toBe(true);
  });

  it('stops drafting once its factory is disposed', () => {
    const f = factory();
    f.open({ prompt: Int32Array.of(5) }).observe(pass([5], [[6, 7, 8, 9, 10, 11, 12, 13]]));
    f.dispose?.();
    expect(propose(f, [5])).toBeNull();
  });

  it('keeps the matrix and the default pair table under 10 MB for a 49k vocabulary', () => {
    const { pairRows, k } = recyclingDrafter.parseOptions({});
    const bytes = new AdjacencyMatrix(49152, k).byteLength + new PairTable(pairRows, k, 49152).byteLength;
    expect(bytes).toBeLessThan(10 * 2 ** 20);
  });

  it('derives a default template that is prefix-closed and uses ranks below k', () => {
    const paths = priorTemplate(64, 8, 8);
    expect(paths).toHaveLength(64);
    expect(templateProblem(paths, 8)).toBeNull();
    expect(Math.max(...paths.map((p) => p.length))).toBeLessThanOrEqual(8);
  });
});

describe('recycling drafter warm start from the prompt', () => {
  it('learns the top-k after every prompt token when the target computed it at prefill', () => {
    const f = factory({ k: 2 });
    const prompt = Int32Array.of(10, 11, 12, 13);
    // Row i follows prompt[i]: after 11 the target would say 40 then 41.
    const ids = Int32Array.of(20, 21, 40, 41, 60, 61);
    const logprobs = Float32Array.from([0.7, 0.2, 0.8, 0.1, 0.6, 0.3], Math.log);
    f.open({ prompt, promptTopK: { k: 2, ids, logprobs } });
    // A later request whose root is 11 drafts 40 first, from what the prompt taught.
    const draft = propose(f, [5, 11]);
    expect(draft).not.toBeNull();
    expect(draftHasPath(draft as Draft, [40])).toBe(true);
    expect(draftHasPath(draft as Draft, [41])).toBe(true);
  });
});

describe('recycling drafter, second order', () => {
  // After 5 the target said 6 when 5 followed 1, and 7 when 5 followed 2.
  const learn = (f: DrafterFactory) => {
    const s = f.open({ prompt: Int32Array.of(1, 5) });
    const row = (next: number) => [next, 30, 31];
    for (const [before, next] of [
      [1, 6],
      [2, 7],
    ]) {
      s.observe({
        tree: { tokens: Int32Array.of(5), parents: Int32Array.of(-1) },
        result: { chosen: Int32Array.of(next), topKIds: Int32Array.from(row(next)) },
        accepted: Int32Array.of(0),
        emitted: Int32Array.of(next),
        tokens: Int32Array.of(before, 5, next),
      });
    }
  };
  /** The draft's highest-scored node below the root. */
  const best = (draft: Draft | null) => {
    if (!draft) return undefined;
    let top = 1;
    for (let i = 2; i < draft.tokens.length; i++) if (draft.scores[i] > draft.scores[top]) top = i;
    return draft.tokens[top];
  };

  it('looks the root up by the token before it, and falls back to its own row for an unseen pair', () => {
    const f = factory({ k: 3 });
    learn(f);
    expect(best(propose(f, [1, 5]))).toBe(6);
    expect(best(propose(f, [2, 5]))).toBe(7);
    // (3, 5) was never verified: the single-token row holds the latest observation.
    expect(best(propose(f, [3, 5]))).toBe(7);
  });

  it('looks deeper nodes up by their parent and themselves', () => {
    const f = factory({ k: 2 });
    const s = f.open({ prompt: Int32Array.of(9) });
    // One pass over the chain 9 → 5 → 6 whose previous committed token was 2:
    // after (2, 9) comes 5; after (9, 5) comes 6; after (5, 6) comes 8.
    s.observe({
      tree: { tokens: Int32Array.of(9, 5, 6), parents: Int32Array.of(-1, 0, 1) },
      result: { chosen: Int32Array.of(5, 6, 8), topKIds: Int32Array.of(5, 40, 6, 41, 8, 42) },
      accepted: Int32Array.of(0, 1, 2),
      emitted: Int32Array.of(5, 6, 8),
      tokens: Int32Array.of(2, 9, 5, 6, 8),
    });
    // A later pass teaches the single-token row of 5 something else (after (3, 5) comes 50).
    s.observe({
      tree: { tokens: Int32Array.of(5), parents: Int32Array.of(-1) },
      result: { chosen: Int32Array.of(50), topKIds: Int32Array.of(50, 51) },
      accepted: Int32Array.of(0),
      emitted: Int32Array.of(50),
      tokens: Int32Array.of(3, 5, 50),
    });
    const draft = propose(f, [2, 9])!;
    expect(draftHasPath(draft, [5, 6, 8])).toBe(true);
    expect(draftHasPath(draft, [5, 50])).toBe(false);
    // First order only: the chain goes through the latest row of 5.
    const first = factory({ k: 2, order: 1 });
    first.open({ prompt: Int32Array.of(9) }).observe({
      tree: { tokens: Int32Array.of(9, 5), parents: Int32Array.of(-1, 0) },
      result: { chosen: Int32Array.of(5, 6), topKIds: Int32Array.of(5, 40, 6, 41) },
      accepted: Int32Array.of(0, 1),
      emitted: Int32Array.of(5, 6),
      tokens: Int32Array.of(2, 9, 5, 6),
    });
    first.open({ prompt: Int32Array.of(9) }).observe({
      tree: { tokens: Int32Array.of(5), parents: Int32Array.of(-1) },
      result: { chosen: Int32Array.of(50), topKIds: Int32Array.of(50, 51) },
      accepted: Int32Array.of(0),
      emitted: Int32Array.of(50),
      tokens: Int32Array.of(3, 5, 50),
    });
    expect(draftHasPath(propose(first, [2, 9])!, [5, 50])).toBe(true);
  });

  it('learns pairs from the prompt at prefill', () => {
    const f = factory({ k: 1 });
    // After 11 the target says 40 where 11 follows 10, and 70 where it follows 12.
    f.open({
      prompt: Int32Array.of(10, 11, 12),
      promptTopK: { k: 1, ids: Int32Array.of(0, 40, 0), logprobs: new Float32Array(3) },
    });
    f.open({
      prompt: Int32Array.of(12, 11, 13),
      promptTopK: { k: 1, ids: Int32Array.of(0, 70, 0), logprobs: new Float32Array(3) },
    });
    expect(best(propose(f, [10, 11]))).toBe(40);
    expect(best(propose(f, [12, 11]))).toBe(70);
  });
});

describe('pair table', () => {
  it('never returns the row of another pair, evicting on a shared slot', () => {
    const table = new PairTable(1024, 2, 5000);
    const ids = Int32Array.of(7, 8);
    for (let a = 0; a < 4000; a++) table.record(a, a + 1, ids, 0, 2);
    let found = 0;
    for (let a = 0; a < 4000; a++) {
      const row = table.find(a, a + 1);
      if (row >= 0) {
        found++;
        expect(table.id(row, 0)).toBe(7);
      }
      expect(table.find(a + 1, a)).toBe(-1);
    }
    // Bounded: at most one pair per row survives.
    expect(found).toBeLessThanOrEqual(1024);
    expect(found).toBeGreaterThan(0);
  });

  it('drops ids outside the vocabulary and pairs with no previous token', () => {
    const table = new PairTable(1024, 2, 100);
    table.record(1, 2, Int32Array.of(5, 500), 0, 2);
    const row = table.find(1, 2);
    expect([table.id(row, 0), table.id(row, 1)]).toEqual([5, -1]);
    table.record(-1, 2, Int32Array.of(5, 6), 0, 2);
    expect(table.find(-1, 2)).toBe(-1);
  });
});

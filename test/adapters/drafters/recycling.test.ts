import { describe, expect, it } from 'vitest';
import type { Draft, DrafterFactory, DraftFeedback } from '../../../adapters/drafter.js';
import { recyclingDrafter } from '../../../adapters/drafters/index.js';
import { AdjacencyMatrix } from '../../../adapters/drafters/recycling/adjacency.js';
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

  it('keeps the matrix under 10 MB for a 49k vocabulary', () => {
    expect(new AdjacencyMatrix(49152, 8).byteLength).toBeLessThan(10 * 2 ** 20);
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

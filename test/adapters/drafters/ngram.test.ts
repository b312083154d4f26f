import { describe, expect, it } from 'vitest';
import type { Draft, DrafterFactory, DrafterSession } from '../../../adapters/drafter.js';
import { ngramDrafter } from '../../../adapters/drafters/index.js';
import { CONFORMANCE_TARGET } from './conformance.js';
import { draftHasPath } from './oracle.js';

function session(raw: unknown, prompt: number[]): DrafterSession {
  const factory = ngramDrafter.create(ngramDrafter.parseOptions(raw), { target: CONFORMANCE_TARGET });
  return (factory as DrafterFactory).open({ prompt: Int32Array.from(prompt) });
}

function propose(s: DrafterSession, tokens: number[], budget = 32): Draft | null {
  return s.propose({ tokens: Int32Array.from(tokens), promptLength: tokens.length, budget }) as Draft | null;
}

/** Score of the child of the root carrying `token`. */
function childScore(draft: Draft, token: number): number {
  for (let i = 1; i < draft.tokens.length; i++)
    if (draft.parents[i] === 0 && draft.tokens[i] === token) return draft.scores[i];
  return 0;
}

describe('ngram drafter', () => {
  it('proposes what followed the earlier occurrence of the context suffix', () => {
    const tokens = [1, 2, 3, 4, 5, 1, 2];
    const draft = propose(session({}, tokens), tokens);
    expect(draftHasPath(draft, [3, 4, 5, 1, 2])).toBe(true);
  });

  it('turns distinct continuations into branches, the more frequent scoring higher', () => {
    const tokens = [1, 2, 3, 9, 1, 2, 3, 9, 1, 2, 4, 9, 1, 2];
    const draft = propose(session({ minN: 2, maxN: 2 }, tokens), tokens)!;
    expect(childScore(draft, 3)).toBeGreaterThan(childScore(draft, 4));
    expect(childScore(draft, 4)).toBeGreaterThan(0);
  });

  it('trusts a longer match more than a shorter one', () => {
    // "7 1 2" occurred once (then 5); "2" alone also occurred before 6.
    const tokens = [7, 1, 2, 5, 8, 2, 6, 7, 1, 2];
    const draft = propose(session({ minN: 1, maxN: 3 }, tokens), tokens)!;
    expect(childScore(draft, 5)).toBeGreaterThan(childScore(draft, 6));
    expect(childScore(draft, 6)).toBeGreaterThan(0);
  });

  it('gives no draft when nothing matches or the budget has no room', () => {
    expect(propose(session({}, [1, 2, 3]), [1, 2, 3])).toBeNull();
    const tokens = [1, 2, 1];
    expect(propose(session({}, tokens), tokens, 1)).toBeNull();
  });

  it('learns the output as it is committed', () => {
    const s = session({ minN: 2, maxN: 3 }, [1, 2, 3]);
    expect(propose(s, [1, 2, 3])).toBeNull();
    const tokens = Int32Array.from([1, 2, 3, 8, 9, 2, 3]);
    s.observe({
      tree: { tokens: Int32Array.of(3), parents: Int32Array.of(-1) },
      result: { chosen: Int32Array.of(8) },
      accepted: Int32Array.of(0),
      emitted: Int32Array.from([8, 9, 2, 3]),
      tokens,
    });
    expect(draftHasPath(propose(s, [...tokens]), [8, 9, 2, 3])).toBe(true);
  });

  it('rebuilds its index when handed a context that does not extend the last one', () => {
    const s = session({}, [1, 2, 3, 1]);
    expect(draftHasPath(propose(s, [1, 2, 3, 1]), [2, 3])).toBe(true);
    expect(draftHasPath(propose(s, [5, 6, 7, 5]), [6, 7])).toBe(true);
  });

  it('stops at maxDepth and at the budget', () => {
    const tokens = [...Array.from({ length: 30 }, (_, i) => 100 + i), 100, 101];
    const deep = propose(session({ maxDepth: 3 }, tokens), tokens)!;
    expect(deep.tokens.length).toBe(4);
    const small = propose(session({}, tokens), tokens, 5)!;
    expect(small.tokens.length).toBe(5);
  });
});

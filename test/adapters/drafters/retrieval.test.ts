import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Draft, DrafterFactory, DrafterSession } from '../../../adapters/drafter.js';
import { retrievalDrafter } from '../../../adapters/drafters/index.js';
import { isCanopyError } from '../../../kernels/errors.js';
import { CONFORMANCE_TARGET } from './conformance.js';
import { draftHasPath } from './oracle.js';

async function factory(raw: unknown): Promise<DrafterFactory> {
  return retrievalDrafter.create(retrievalDrafter.parseOptions(raw), { target: CONFORMANCE_TARGET });
}

function propose(s: DrafterSession, tokens: number[], budget = 16): Draft | null {
  return s.propose({ tokens: Int32Array.from(tokens), promptLength: tokens.length, budget }) as Draft | null;
}

function childScore(draft: Draft, token: number): number {
  for (let i = 1; i < draft.tokens.length; i++)
    if (draft.parents[i] === 0 && draft.tokens[i] === token) return draft.scores[i];
  return 0;
}

/** Runs a finished request whose output is `output`, as the engine would report it. */
function finish(f: DrafterFactory, prompt: number[], output: number[]): void {
  const s = f.open({ prompt: Int32Array.from(prompt) });
  const tokens = Int32Array.from([...prompt, ...output]);
  s.observe({
    tree: { tokens: Int32Array.of(prompt[prompt.length - 1]), parents: Int32Array.of(-1) },
    result: { chosen: Int32Array.of(output[0]) },
    accepted: Int32Array.of(0),
    emitted: Int32Array.from(output),
    tokens,
  });
  s.close?.();
}

async function rejects(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  return undefined;
}

describe('retrieval drafter', () => {
  let dir = '';
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'canopy-retrieval-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('scores continuations of the matched suffix by how often they followed it', async () => {
    const f = await factory({
      corpus: {
        tokens: [
          [1, 2, 3, 4],
          [1, 2, 3, 5],
          [1, 2, 6],
        ],
      },
    });
    const draft = propose(f.open({ prompt: Int32Array.of(9, 1, 2) }), [9, 1, 2])!;
    // "1 2" occurs 3 times: twice before 3, once before 6; four pseudo-counts of smoothing.
    expect(childScore(draft, 3)).toBeCloseTo(2 / 7, 5);
    expect(childScore(draft, 6)).toBeCloseTo(1 / 7, 5);
    expect(draftHasPath(draft, [3, 4])).toBe(true);
    expect(draftHasPath(draft, [3, 5])).toBe(true);
  });

  it('matches the longest suffix that occurs, not a shorter one', async () => {
    const f = await factory({
      corpus: {
        tokens: [
          [7, 1, 2, 8],
          [1, 2, 9],
          [1, 2, 9],
        ],
      },
    });
    const draft = propose(f.open({ prompt: Int32Array.of(7, 1, 2) }), [7, 1, 2])!;
    expect(draftHasPath(draft, [8])).toBe(true);
    expect(draftHasPath(draft, [9])).toBe(false);
  });

  it('backs off to a shorter suffix when the longest one only ends documents', async () => {
    const f = await factory({
      corpus: {
        tokens: [
          [7, 1, 2],
          [1, 2, 9],
        ],
      },
    });
    expect(draftHasPath(propose(f.open({ prompt: Int32Array.of(7, 1, 2) }), [7, 1, 2]), [9])).toBe(true);
  });

  it('needs at least minMatch tokens of suffix', async () => {
    const f = await factory({ corpus: { tokens: [[1, 2, 3]] }, minMatch: 2 });
    expect(propose(f.open({ prompt: Int32Array.of(5, 2) }), [5, 2])).toBeNull();
    const loose = await factory({ corpus: { tokens: [[1, 2, 3]] }, minMatch: 1 });
    expect(draftHasPath(propose(loose.open({ prompt: Int32Array.of(5, 2) }), [5, 2]), [3])).toBe(true);
  });

  it('prunes continuations rarer than minScore', async () => {
    const corpus = [...Array.from({ length: 30 }, () => [1, 2, 3]), [1, 2, 4]];
    const f = await factory({ corpus: { tokens: corpus }, minScore: 0.1 });
    const draft = propose(f.open({ prompt: Int32Array.of(1, 2) }), [1, 2])!;
    expect(draftHasPath(draft, [3])).toBe(true);
    expect(draftHasPath(draft, [4])).toBe(false);
  });

  it("learns from past outputs once a request closes, and not from a request's own context", async () => {
    const f = await factory({});
    const prompt = [40, 41, 42, 43];
    const s = f.open({ prompt: Int32Array.from(prompt) });
    expect(propose(s, [40, 41, 42, 43, 40, 41])).toBeNull();
    finish(f, [1, 2, 3], [50, 51, 52, 53, 54]);
    expect(draftHasPath(propose(f.open({ prompt: Int32Array.of(50, 51) }), [50, 51]), [52, 53, 54])).toBe(
      true,
    );
    // The prompt's tail is kept before the output, so a new answer's start matches too.
    expect(draftHasPath(propose(f.open({ prompt: Int32Array.of(2, 3) }), [2, 3]), [50, 51])).toBe(true);
  });

  it('learns nothing when history is off', async () => {
    const f = await factory({ historyTokens: 0 });
    finish(f, [1, 2, 3], [50, 51, 52, 53, 54]);
    expect(propose(f.open({ prompt: Int32Array.of(50, 51) }), [50, 51])).toBeNull();
  });

  it('evicts the oldest outputs to stay within historyTokens', async () => {
    const f = await factory({ historyTokens: 40, historyShards: 2 });
    finish(f, [1], [60, 61, 62, 63]);
    for (let r = 0; r < 12; r++) finish(f, [1], [100 + 5 * r, 101 + 5 * r, 102 + 5 * r, 103 + 5 * r]);
    expect(propose(f.open({ prompt: Int32Array.of(60, 61) }), [60, 61])).toBeNull();
    expect(draftHasPath(propose(f.open({ prompt: Int32Array.of(155, 156) }), [155, 156]), [157, 158])).toBe(
      true,
    );
  });

  it('reads a JSONL corpus file of token id arrays', async () => {
    const file = join(dir, 'corpus.jsonl');
    await writeFile(file, '[1, 2, 3, 4]\n\n[8, 9]\n');
    const f = await factory({ corpusFile: file });
    expect(draftHasPath(propose(f.open({ prompt: Int32Array.of(1, 2) }), [1, 2]), [3, 4])).toBe(true);
  });

  it('rejects unreadable or malformed corpora with CANOPY_ERR_INVALID_DRAFTER_OPTIONS', async () => {
    const bad = join(dir, 'bad.jsonl');
    await writeFile(bad, '[1, 2]\n{"tokens": [3]}\n');
    const cases = [
      { corpusFile: bad },
      { corpusFile: join(dir, 'missing.jsonl') },
      { corpus: { tokens: [[1, CONFORMANCE_TARGET.vocabSize]] } },
      { corpus: { tokens: [[1, 2, 3]] }, maxCorpusTokens: 2 },
    ];
    for (const raw of cases) {
      const error = await rejects(factory(raw));
      expect(isCanopyError(error, 'CANOPY_ERR_INVALID_DRAFTER_OPTIONS'), JSON.stringify(raw)).toBe(true);
    }
  });
});

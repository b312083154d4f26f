import { describe, expect, it } from 'vitest';
import {
  builtinDrafters,
  ngramDrafter,
  recyclingDrafter,
  retrievalDrafter,
} from '../../../adapters/drafters/index.js';
import { createDrafterRegistry } from '../../../engine/registry.js';
import { describeDrafterConformance } from './conformance.js';

describe('builtinDrafters', () => {
  it('registers ngram, recycling, retrieval, layer-skip and eagle in a fresh registry', () => {
    const registry = createDrafterRegistry(builtinDrafters);
    expect(registry.names()).toEqual(
      expect.arrayContaining(['ngram', 'recycling', 'retrieval', 'layer-skip', 'eagle']),
    );
  });
});

describeDrafterConformance(ngramDrafter, {
  badOptions: [{ minN: 0 }, { minN: 3, maxN: 2 }, { maxMatches: 1.5 }, { maxDepth: -1 }],
});

describeDrafterConformance(recyclingDrafter, {
  sharedState: true,
  // Every token of the repeat must have been verified once before its row is known.
  repeat: { warmupSteps: 6 },
  badOptions: [
    { k: 0 },
    { tree: [[0, 0]] },
    { tree: [[9]] },
    { tree: [[]] },
    { tree: [[0], [0]] },
    // The pair table: a power of two from 1024; order 1 or 2.
    { pairRows: 3000 },
    { pairRows: 512 },
    { order: 3 },
  ],
});

describeDrafterConformance(retrievalDrafter, {
  sharedState: true,
  // Retrieval learns from past outputs: one finished request over the repeat.
  repeat: { warmupSessions: 1 },
  badOptions: [
    { minMatch: 0 },
    { minMatch: 9, maxMatch: 4 },
    { historyTokens: -1 },
    { corpus: { tokens: [[1, -2]] } },
    { corpus: [[1, 2]] },
    { minScore: 2 },
  ],
});

import { describe, expect, it } from 'vitest';
import type { DrafterDefinition } from '../../adapters/drafter.js';
import { builtinDrafters } from '../../adapters/drafters/index.js';
import { createDrafterRegistry } from '../../engine/index.js';
import { isCanopyError } from '../../kernels/errors.js';

const third: DrafterDefinition<unknown> = {
  name: 'my-drafter',
  capabilities: {
    tree: false,
    probabilities: false,
    needsTopK: 0,
    needsHiddenLayers: [],
    needsTarget: false,
  },
  parseOptions: (raw) => raw,
  create: () => ({
    name: 'my-drafter',
    capabilities: third.capabilities,
    open: () => ({ propose: () => null, observe: () => undefined }),
  }),
};

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (error) {
    return isCanopyError(error) ? error.code : 'not a CanopyError';
  }
  return undefined;
}

describe('drafter registry', () => {
  it('holds the built-ins and a third-party drafter registered the same way', () => {
    const registry = createDrafterRegistry(builtinDrafters);
    registry.register(third);
    expect(registry.names()).toEqual(
      expect.arrayContaining(['ngram', 'recycling', 'retrieval', 'my-drafter']),
    );
    expect(registry.get('my-drafter').name).toBe('my-drafter');
  });

  it('rejects a duplicate name', () => {
    const registry = createDrafterRegistry([third]);
    expect(codeOf(() => registry.register(third))).toBe('CANOPY_ERR_DUPLICATE_DRAFTER');
  });

  it('names the known drafters when asked for an unknown one', () => {
    const registry = createDrafterRegistry(builtinDrafters);
    expect(codeOf(() => registry.get('ngramm'))).toBe('CANOPY_ERR_UNKNOWN_DRAFTER');
    expect(() => registry.get('ngramm')).toThrow(/ngram/);
  });

  it.each([
    ['a bad name', { ...third, name: 'Bad Name' }],
    ['a missing capability', { ...third, capabilities: { ...third.capabilities, needsTarget: undefined } }],
    ['a negative top-k need', { ...third, capabilities: { ...third.capabilities, needsTopK: -1 } }],
    [
      'hidden layers that are not indices',
      { ...third, capabilities: { ...third.capabilities, needsHiddenLayers: ['x'] } },
    ],
    ['no create function', { ...third, create: undefined }],
    ['no parseOptions function', { ...third, parseOptions: 'nope' }],
    ['not an object', 42],
  ])('rejects a definition with %s at registration', (_label, definition) => {
    const registry = createDrafterRegistry();
    expect(codeOf(() => registry.register(definition as DrafterDefinition<unknown>))).toBe(
      'CANOPY_ERR_DRAFTER_SHAPE',
    );
  });
});

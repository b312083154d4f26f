/**
 * `ngram`: prompt lookup. Matches the last n tokens (n from maxN down to minN)
 * against the prompt and the output so far, and proposes what followed them,
 * several occurrences becoming several branches. Per-request state only.
 */
import type { DrafterCapabilities, DrafterDefinition, DrafterFactory } from '../../drafter.js';
import { parseDrafterOptions } from '../parse-options.js';
import { type NgramOptions, ngramOptionsSchema } from './options.js';
import { NgramSession } from './session.js';

export type { NgramOptions } from './options.js';

const capabilities: DrafterCapabilities = Object.freeze({
  tree: true,
  probabilities: false,
  needsTopK: 0,
  needsHiddenLayers: Object.freeze([]) as readonly number[],
  needsTarget: false,
});

export const ngramDrafter: DrafterDefinition<NgramOptions> = Object.freeze({
  name: 'ngram',
  capabilities,
  parseOptions: (raw: unknown): NgramOptions => parseDrafterOptions('ngram', ngramOptionsSchema, raw),
  create(options: NgramOptions): DrafterFactory {
    return {
      name: 'ngram',
      capabilities,
      open: (request) => new NgramSession(options, request.prompt),
    };
  },
});

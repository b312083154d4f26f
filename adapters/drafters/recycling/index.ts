/**
 * `recycling`: Token Recycling (Luo et al., 2024). The target's top-k next
 * tokens after every token it verifies are kept in an adjacency matrix shared
 * by all requests of the model; a draft expands a static tree template from the
 * root through that matrix. Train-free, and it learns as the model runs.
 *
 * Beyond the paper, rows are also kept per (previous, current) token pair in a
 * bounded hash table (pair-table.ts) and preferred where they exist: one more
 * token of context makes the recycled top-k a better guess.
 */
import { CanopyError } from '../../../kernels/errors.js';
import type {
  DrafterCapabilities,
  DrafterDefinition,
  DrafterEnvironment,
  DrafterFactory,
} from '../../drafter.js';
import { parseDrafterOptions } from '../parse-options.js';
import { AdjacencyMatrix } from './adjacency.js';
import { DEFAULT_RECYCLING_K, type RecyclingOptions, recyclingOptionsSchema } from './options.js';
import { PairTable } from './pair-table.js';
import { RecyclingSession, type RecyclingShared } from './session.js';
import { compileTemplate } from './template.js';

export type { RecyclingOptions } from './options.js';

function capabilitiesFor(k: number): DrafterCapabilities {
  return Object.freeze({
    tree: true,
    probabilities: false,
    needsTopK: k,
    needsHiddenLayers: Object.freeze([]) as readonly number[],
    needsTarget: false,
  });
}

/**
 * The definition declares the default k; a factory declares the k it was
 * built with, capped by what the target can return.
 */
export const recyclingDrafter: DrafterDefinition<RecyclingOptions> = Object.freeze({
  name: 'recycling',
  capabilities: capabilitiesFor(DEFAULT_RECYCLING_K),
  parseOptions: (raw: unknown): RecyclingOptions =>
    parseDrafterOptions('recycling', recyclingOptionsSchema, raw),
  create(options: RecyclingOptions, env: DrafterEnvironment): DrafterFactory {
    const maxTopK = env.target.capabilities.maxTopK;
    if (maxTopK < 1) {
      throw new CanopyError(
        'CANOPY_ERR_DRAFTER_INCOMPATIBLE',
        `drafter 'recycling' needs the target's top-k per node, and target '${env.target.model}' returns none`,
        { details: { drafter: 'recycling', model: env.target.model } },
      );
    }
    const template = compileTemplate(options.tree);
    const vocab = env.target.vocabSize;
    // Expansion handles pack (previous token, token, template node) into one safe integer.
    const pairsFit = (vocab + 1) * vocab * template.size <= Number.MAX_SAFE_INTEGER;
    const shared: {
      matrix: AdjacencyMatrix | null;
      pairs: PairTable | null;
      template: RecyclingShared['template'];
    } = {
      matrix: new AdjacencyMatrix(vocab, options.k),
      pairs: options.order === 2 && pairsFit ? new PairTable(options.pairRows, options.k, vocab) : null,
      template,
    };
    return {
      name: 'recycling',
      capabilities: capabilitiesFor(Math.min(options.k, maxTopK)),
      open(request) {
        // Learn from the prompt too: the target's top-k after every prompt token, when the
        // target computed it during prefill (OpenOptions.promptTopK).
        const top = request.promptTopK;
        if (top && shared.matrix) {
          const rows = Math.min(request.prompt.length - 1, top.ids.length / top.k);
          for (let i = 0; i < rows; i++) {
            shared.matrix.record(request.prompt[i], top.ids, i * top.k, top.k, top.logprobs);
            if (i > 0) {
              const before = request.prompt[i - 1];
              shared.pairs?.record(before, request.prompt[i], top.ids, i * top.k, top.k, top.logprobs);
            }
          }
        }
        return new RecyclingSession(shared);
      },
      dispose() {
        shared.matrix = null;
        shared.pairs = null;
      },
    };
  },
});

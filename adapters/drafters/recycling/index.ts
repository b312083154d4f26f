/**
 * `recycling`: Token Recycling (Luo et al., 2024). The target's top-k next
 * tokens after every token it verifies are kept in an adjacency matrix shared
 * by all requests of the model; a draft expands a static tree template from the
 * root through that matrix. Train-free, and it learns as the model runs.
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
    const shared: { matrix: AdjacencyMatrix | null; template: RecyclingShared['template'] } = {
      matrix: new AdjacencyMatrix(env.target.vocabSize, options.k),
      template: compileTemplate(options.tree),
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
          for (let i = 0; i < rows; i++)
            shared.matrix.record(request.prompt[i], top.ids, i * top.k, top.k, top.logprobs);
        }
        return new RecyclingSession(shared);
      },
      dispose() {
        shared.matrix = null;
      },
    };
  },
});

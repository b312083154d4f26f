/**
 * `eagle`: an EAGLE-style feature head (Li et al., EAGLE-1/2; the reduced
 * draft vocabulary and training-time test of EAGLE-3). A one-block network
 * reads the target's own final-normed hidden state and the next token's
 * embedding, predicts the next hidden state and, through the target's frozen
 * LM head, the next token; drafting repeats that on its own predictions and
 * grows a dynamic tree by confidence. The head is trained per model by
 * `models/train/` (docs/eagle.md) and runs in process under onnxruntime-node,
 * or on Triton's canopy_eagle model (option `triton`).
 */
import { CanopyError } from '../../../kernels/errors.js';
import type {
  DrafterCapabilities,
  DrafterDefinition,
  DrafterEnvironment,
  DrafterFactory,
} from '../../drafter.js';
import { parseDrafterOptions } from '../parse-options.js';
import { locateHead } from './head-file.js';
import { loadHeadModel } from './head-model.js';
import { type HeadRunner, LocalHeadRunner } from './head-runner.js';
import { type EagleOptions, eagleOptionsSchema } from './options.js';
import { EagleSession } from './session.js';
import { TritonHeadRunner } from './triton-head.js';

export { HEAD_GRAPH, HEAD_META, TRAIN_COMMAND } from './head-file.js';
export type { EagleOptions } from './options.js';

function capabilitiesFor(featureLayers: readonly number[], promptRows = 0): DrafterCapabilities {
  return Object.freeze({
    tree: true,
    probabilities: true,
    needsTopK: 0,
    // The definition cannot know the target's layer count; a factory names the layer its head reads.
    needsHiddenLayers: Object.freeze([...featureLayers]),
    needsPromptHidden: promptRows > 0,
    needsTarget: false,
  });
}

function incompatible(message: string, model: string): CanopyError {
  return new CanopyError('CANOPY_ERR_DRAFTER_INCOMPATIBLE', `drafter 'eagle' ${message}`, {
    details: { drafter: 'eagle', model },
  });
}

export const eagleDrafter: DrafterDefinition<EagleOptions> = Object.freeze({
  name: 'eagle',
  capabilities: capabilitiesFor([]),
  parseOptions: (raw: unknown): EagleOptions => parseDrafterOptions('eagle', eagleOptionsSchema, raw),
  async create(options: EagleOptions, env: DrafterEnvironment): Promise<DrafterFactory> {
    const { target } = env;
    if (!target.capabilities.hiddenStates) {
      throw incompatible(
        `needs the target's hidden states, and target '${target.model}' returns none`,
        target.model,
      );
    }
    const head = locateHead(options.head, env.modelDir, target);
    if (env.modelDir === undefined) {
      throw incompatible(
        `needs the model directory for the target's embeddings of '${target.model}'`,
        target.model,
      );
    }
    const model = loadHeadModel(head, env.modelDir);
    let runner: HeadRunner;
    try {
      runner = options.triton
        ? await TritonHeadRunner.connect(options.triton, head.graph, model.geometry)
        : await LocalHeadRunner.load(head.graph, model.geometry, model.lmHead, options.threads);
    } catch (error) {
      model.close();
      if (options.triton && error instanceof CanopyError) throw error;
      throw new CanopyError('CANOPY_ERR_MODEL_INVALID', `eagle head ${head.graph} cannot be loaded`, {
        cause: error,
      });
    }
    const limits = {
      maxDepth: options.maxDepth,
      width: options.width,
      branch: options.branch,
      minScore: options.minScore,
      minPathScore: options.minPathScore,
      maxNodes: options.maxNodes,
    };
    let open = true;
    return {
      name: 'eagle',
      capabilities: capabilitiesFor([model.featureLayer], options.promptRows),
      open: (request) => {
        const session = new EagleSession(model, runner, limits);
        const hidden = request.promptHidden?.get(model.featureLayer);
        if (options.promptRows > 0 && hidden) session.readPrompt(request.prompt, hidden, options.promptRows);
        return session;
      },
      dispose() {
        if (!open) return;
        open = false;
        model.close();
        void runner.dispose();
      },
    };
  },
});

/**
 * `layer-skip`: self-speculative drafting (after SWIFT, Xia et al. 2024, and
 * Kangaroo, Liu et al. 2024). The target itself drafts, with some of its
 * blocks skipped, through scratch passes on the request's own target session
 * (`TargetSession.draft`): no extra weights, on any target that can skip
 * layers (embedded and Triton). Which blocks to skip is searched and re-tuned
 * per model from observed agreement and cost; a gate keeps it from drafting
 * where that does not pay. See docs/layer-skip.md.
 */
import { CanopyError } from '../../../kernels/errors.js';
import type {
  DrafterCapabilities,
  DrafterDefinition,
  DrafterEnvironment,
  DrafterFactory,
} from '../../drafter.js';
import { parseDrafterOptions } from '../parse-options.js';
import { type LayerSkipOptions, layerSkipOptionsSchema } from './options.js';
import { LayerSkipSession, type LayerSkipShared } from './session.js';
import { type LayerSkipReport, LayerSkipTuner } from './tuner.js';

export type { LayerSkipOptions } from './options.js';
export type { LayerSkipReport, SetReport } from './tuner.js';

const capabilities: DrafterCapabilities = Object.freeze({
  tree: true,
  probabilities: true,
  needsTopK: 0,
  needsHiddenLayers: Object.freeze([]) as readonly number[],
  needsTarget: true,
});

/** The factory, with what its tuning has found so far (which blocks it skips, and whether that pays). */
export interface LayerSkipFactory extends DrafterFactory {
  report(): LayerSkipReport;
}

function incompatible(model: string, why: string): CanopyError {
  return new CanopyError(
    'CANOPY_ERR_DRAFTER_INCOMPATIBLE',
    `drafter 'layer-skip' cannot run on '${model}': ${why}`,
    {
      details: { drafter: 'layer-skip', model },
    },
  );
}

function checkFixedSet(options: LayerSkipOptions, numLayers: number): void {
  const skip = options.skipLayers;
  if (!skip) return;
  const bad = skip.find((l) => l >= numLayers);
  const problem =
    bad !== undefined
      ? `layer ${bad} is outside the model's ${numLayers} blocks`
      : skip.length === 0 || skip.length >= numLayers
        ? `skip between 1 and ${numLayers - 1} of the model's ${numLayers} blocks`
        : undefined;
  if (problem) {
    throw new CanopyError(
      'CANOPY_ERR_INVALID_DRAFTER_OPTIONS',
      `drafter 'layer-skip' options: skipLayers: ${problem}`,
      {
        details: { drafter: 'layer-skip', issues: [{ path: 'skipLayers', message: problem }] },
      },
    );
  }
}

export const layerSkipDrafter: DrafterDefinition<LayerSkipOptions> = Object.freeze({
  name: 'layer-skip',
  capabilities,
  parseOptions: (raw: unknown): LayerSkipOptions =>
    parseDrafterOptions('layer-skip', layerSkipOptionsSchema, raw),
  create(options: LayerSkipOptions, env: DrafterEnvironment): LayerSkipFactory {
    const { model, numLayers, capabilities: caps } = env.target;
    if (!caps.skipLayers) throw incompatible(model, 'the target cannot run passes with layers skipped');
    if (caps.maxTopK < 1) throw incompatible(model, 'the target returns no top-k probabilities');
    checkFixedSet(options, numLayers);
    if (!options.skipLayers && numLayers < 3) {
      throw incompatible(model, `${numLayers} blocks leave none to skip besides the first and last`);
    }
    const shared: LayerSkipShared = {
      tuner: new LayerSkipTuner(numLayers, options),
      options,
      topK: Math.min(options.topK, caps.maxTopK),
    };
    const lastReport = { value: shared.tuner!.report() };
    return {
      name: 'layer-skip',
      capabilities,
      open: (request) => new LayerSkipSession(shared, request.target),
      report: () => {
        if (shared.tuner) lastReport.value = shared.tuner.report();
        return lastReport.value;
      },
      dispose() {
        if (shared.tuner) lastReport.value = shared.tuner.report();
        shared.tuner = null;
      },
    };
  },
});

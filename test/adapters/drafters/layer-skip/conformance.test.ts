/**
 * The shared drafter conformance suite, with the real tiny model as the
 * target the drafter runs. The suite's decoder verifies against an oracle,
 * not this target, so the target session stays at the prompt: the drafter
 * drafts on a session's first step and declines (no draft) once the context
 * has moved past its target session, as it must.
 */
import { afterAll, beforeAll } from 'vitest';
import { layerSkipDrafter } from '../../../../adapters/drafters/index.js';
import { createEmbeddedTarget, type EmbeddedTarget } from '../../../../adapters/targets/embedded/index.js';
import { GREEDY } from '../../../../kernels/sampling-params.js';
import { useTinyModel } from '../../targets/embedded/tiny-model.js';
import { describeDrafterConformance } from '../conformance.js';

const tinyModel = useTinyModel();
let target: EmbeddedTarget;
beforeAll(async () => {
  target = await createEmbeddedTarget({ model: tinyModel(), threads: 1 });
});
afterAll(async () => target?.dispose());

const BAD_OPTIONS = [
  { maxDepth: 0 },
  { topK: 9 },
  { splitBelow: 1 },
  { minProbability: 0 },
  { gate: 'never' },
  { maxRegret: -0.1 },
  { skipLayers: [1, 1] },
  { skipLayers: [-1] },
  { search: { candidates: -1 } },
  { search: { skipRatio: [0.7, 0.2] } },
  { search: { unknown: 1 } },
];

for (const options of [{ gate: 'always', splitBelow: 0.9, minProbability: 0.001 }, {}]) {
  describeDrafterConformance(layerSkipDrafter, {
    options,
    env: () => ({ target: target.info }),
    openRequest: async (prompt) => ({ prompt, target: await target.open(prompt, { sampling: GREEDY }) }),
    // The skip set, its search and the confidence calibration are shared by the model's requests.
    sharedState: true,
    // A random tiny model does not continue a repeat; that is a property of the model, not the drafter.
    repeat: false,
    badOptions: BAD_OPTIONS,
  });
}

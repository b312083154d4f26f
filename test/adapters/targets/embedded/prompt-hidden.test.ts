/**
 * OpenOptions.promptHiddenLayers: the hidden states at every prompt position,
 * computed during prefill, equal what a verify pass at that position returns.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEmbeddedTarget, type EmbeddedTarget } from '../../../../adapters/targets/embedded/index.js';
import { isCanopyError } from '../../../../kernels/errors.js';
import { GREEDY } from '../../../../kernels/sampling-params.js';
import { chainTree } from '../../../../kernels/tree.js';
import { useTinyModel } from './tiny-model.js';

const dir = useTinyModel();
let target: EmbeddedTarget;
beforeAll(async () => {
  target = await createEmbeddedTarget({ model: dir(), threads: 1 });
});
afterAll(() => target.dispose());

describe('prompt hidden states at prefill', () => {
  it('match the hidden states of a verify pass at every prompt position, for each layer asked', async () => {
    const prompt = Int32Array.from({ length: 300 }, (_, i) => (i * 37 + 11) % 400); // spans two prefill chunks
    const layers = [1, target.info.numLayers];
    const h = target.info.hiddenSize;
    const session = await target.open(prompt, { sampling: GREEDY, promptHiddenLayers: layers });
    const hidden = session.promptHidden;
    expect([...(hidden?.keys() ?? [])].sort()).toEqual(layers);
    for (const l of layers) expect(hidden?.get(l)?.length).toBe((prompt.length - 1) * h);
    await session.close();
    for (const i of [0, 1, 255, 256, 298]) {
      const s = await target.open(prompt.subarray(0, i + 1), { sampling: GREEDY });
      const r = await s.step(chainTree([prompt[i]]), { hiddenLayers: layers });
      for (const l of layers) {
        const want = r.hidden?.get(l) as Float32Array;
        const got = hidden?.get(l)?.subarray(i * h, (i + 1) * h) as Float32Array;
        let worst = 0;
        for (let j = 0; j < h; j++) worst = Math.max(worst, Math.abs(got[j] - want[j]));
        expect(worst, `position ${i}, layer ${l}`).toBeLessThan(1e-4);
      }
      await s.close();
    }
  });

  it('are absent unless asked, and a layer out of range is refused before prefill', async () => {
    const s = await target.open(Int32Array.of(5, 6, 7), { sampling: GREEDY });
    expect(s.promptHidden).toBeUndefined();
    await s.close();
    let caught: unknown;
    try {
      await target.open(Int32Array.of(5, 6, 7), {
        sampling: GREEDY,
        promptHiddenLayers: [target.info.numLayers + 1],
      });
    } catch (error) {
      caught = error;
    }
    expect(isCanopyError(caught, 'CANOPY_ERR_INVALID_ARGUMENT')).toBe(true);
  });
});

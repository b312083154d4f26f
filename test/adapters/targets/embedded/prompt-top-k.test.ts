/**
 * OpenOptions.promptTopK: the top-k after every prompt position, computed
 * during prefill, equals what a verify pass at that position returns.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEmbeddedTarget, type EmbeddedTarget } from '../../../../adapters/targets/embedded/index.js';
import { GREEDY } from '../../../../kernels/sampling-params.js';
import { chainTree } from '../../../../kernels/tree.js';
import { useTinyModel } from './tiny-model.js';

const dir = useTinyModel();
let target: EmbeddedTarget;
beforeAll(async () => {
  target = await createEmbeddedTarget({ model: dir(), threads: 1 });
});
afterAll(() => target.dispose());

describe('prompt top-k at prefill', () => {
  it('matches the top-k of a verify pass at every prompt position', async () => {
    const prompt = Int32Array.from({ length: 300 }, (_, i) => (i * 37 + 11) % 400); // spans two prefill chunks
    const k = 4;
    const session = await target.open(prompt, { sampling: GREEDY, promptTopK: k });
    const top = session.promptTopK;
    expect(top?.k).toBe(k);
    expect(top?.ids.length).toBe((prompt.length - 1) * k);
    await session.close();
    for (const i of [0, 1, 137, 255, 256, 298]) {
      const s = await target.open(prompt.subarray(0, i + 1), { sampling: GREEDY });
      const r = await s.step(chainTree([prompt[i]]), { topK: k });
      expect([...top!.ids.subarray(i * k, (i + 1) * k)], `position ${i}`).toEqual([...r.topKIds!]);
      for (let j = 0; j < k; j++) expect(top!.logprobs[i * k + j]).toBeCloseTo(r.topKLogprobs![j], 3);
      await s.close();
    }
  });

  it('is absent unless asked', async () => {
    const s = await target.open(Int32Array.of(5, 6, 7), { sampling: GREEDY });
    expect(s.promptTopK).toBeUndefined();
    await s.close();
  });
});

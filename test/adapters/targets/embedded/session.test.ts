/** Embedded-only session rules that the shared conformance suite leaves to each target. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEmbeddedTarget, type EmbeddedTarget } from '../../../../adapters/targets/embedded/index.js';
import { type ErrorCode, isCanopyError } from '../../../../kernels/errors.js';
import { GREEDY } from '../../../../kernels/sampling-params.js';
import { rootOnly } from '../random-trees.js';
import { useTinyModel } from './tiny-model.js';

const tinyModel = useTinyModel();
let target: EmbeddedTarget;
beforeAll(async () => {
  target = await createEmbeddedTarget({ model: tinyModel(), threads: 1 });
});
afterAll(async () => target?.dispose());

async function expectCode(work: () => unknown, code: ErrorCode): Promise<void> {
  try {
    await work();
  } catch (error) {
    if (isCanopyError(error, code)) return;
    throw error;
  }
  expect.unreachable(`expected ${code}`);
}

const tree = (tokens: number[], parents: number[]) => ({
  tokens: Int32Array.from(tokens),
  parents: Int32Array.from(parents),
});

describe('embedded session', () => {
  it("runs concurrent requests' passes one at a time, each giving what it gives alone", async () => {
    const prompts = Array.from({ length: 8 }, (_, i) => Int32Array.of(3 + i, 4, 5 + i));
    const sessions = await Promise.all(prompts.map((p) => target.open(p, { sampling: GREEDY })));
    const trees = prompts.map((p) => tree([p[2], 8, 9, 10], [-1, 0, 0, 1]));
    const alone = [];
    for (let i = 0; i < 8; i++) alone.push([...(await sessions[i].step(trees[i])).chosen]);
    const started = performance.now();
    const together = await Promise.all(sessions.map((s, i) => s.step(trees[i])));
    const wall = performance.now() - started;
    expect(together.map((r) => [...r.chosen])).toEqual(alone);
    // The last pass in line waited for the seven before it: most of the wall time.
    expect(Math.max(...together.map((r) => r.queuedMs ?? 0))).toBeGreaterThan(0.5 * wall);
    await Promise.all(sessions.map((s) => s.close()));
  });

  it('fills the context to its last position, then refuses with CANOPY_ERR_CONTEXT_FULL', async () => {
    const max = target.info.maxContext;
    const s = await target.open(new Int32Array(max - 1).fill(7), { sampling: GREEDY });
    // Root at position max - 2: a child at max - 1 still fits, a grandchild does not.
    await expectCode(() => s.step(tree([7, 8, 9], [-1, 0, 1])), 'CANOPY_ERR_CONTEXT_FULL');
    const r = await s.step(tree([7, 8], [-1, 0]));
    s.accept(Int32Array.of(0), r.chosen[0]);
    await s.step(rootOnly(r.chosen[0]));
    s.accept(Int32Array.of(0), 5);
    expect(s.length).toBe(max + 1);
    await expectCode(() => s.step(rootOnly(5)), 'CANOPY_ERR_CONTEXT_FULL');
    await s.close();
  });

  it('refuses accept without a step, paths that are not chains, and a tree on the wrong root', async () => {
    const s = await target.open(Int32Array.of(3, 4, 5), { sampling: GREEDY });
    await expectCode(() => s.accept(Int32Array.of(0), 1), 'CANOPY_ERR_INVALID_ARGUMENT');
    await expectCode(() => s.step(rootOnly(4)), 'CANOPY_ERR_INVALID_TREE');
    await s.step(tree([5, 6, 7, 8], [-1, 0, 0, 1]));
    await expectCode(() => s.accept(Int32Array.of(0, 2, 3), 1), 'CANOPY_ERR_INVALID_ARGUMENT');
    await expectCode(() => s.accept(Int32Array.of(1), 1), 'CANOPY_ERR_INVALID_ARGUMENT');
    await expectCode(
      () => s.accept(Int32Array.of(0, 1), target.info.vocabSize),
      'CANOPY_ERR_TOKEN_OUT_OF_VOCAB',
    );
    s.accept(Int32Array.of(0, 1, 3), 9);
    expect(s.length).toBe(6);
    await expectCode(() => s.accept(Int32Array.of(0), 1), 'CANOPY_ERR_INVALID_ARGUMENT');
    await s.close();
  });

  it('checks pass options', async () => {
    const s = await target.open(Int32Array.of(3, 4, 5), { sampling: GREEDY });
    await expectCode(
      () => s.step(rootOnly(5), { topK: target.info.capabilities.maxTopK + 1 }),
      'CANOPY_ERR_INVALID_ARGUMENT',
    );
    await expectCode(
      () => s.step(rootOnly(5), { hiddenLayers: [target.info.numLayers + 1] }),
      'CANOPY_ERR_INVALID_ARGUMENT',
    );
    await expectCode(
      () => s.draft!(rootOnly(5), { skipLayers: [target.info.numLayers] }),
      'CANOPY_ERR_INVALID_ARGUMENT',
    );
    await s.close();
  });

  it('stops a prefill when the request is cancelled', async () => {
    const controller = new AbortController();
    controller.abort();
    await expectCode(
      () => target.open(new Int32Array(300).fill(3), { sampling: GREEDY, signal: controller.signal }),
      'CANOPY_ERR_CANCELLED',
    );
  });

  it('closes its sessions when disposed, and then opens no more', async () => {
    const own = await createEmbeddedTarget({ model: tinyModel(), threads: 1 });
    const s = await own.open(Int32Array.of(3, 4), { sampling: GREEDY });
    await own.dispose();
    await expectCode(() => s.step(rootOnly(4)), 'CANOPY_ERR_SESSION_CLOSED');
    await expectCode(() => own.open(Int32Array.of(3), { sampling: GREEDY }), 'CANOPY_ERR_SHUTTING_DOWN');
  });
});

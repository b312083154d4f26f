/** Drafting with the layer-skipped target itself, on the real tiny model (embedded target). */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Draft, DraftContext } from '../../../../adapters/drafter.js';
import { type LayerSkipFactory, layerSkipDrafter } from '../../../../adapters/drafters/index.js';
import type { TargetSession } from '../../../../adapters/target.js';
import { createEmbeddedTarget, type EmbeddedTarget } from '../../../../adapters/targets/embedded/index.js';
import { isCanopyError } from '../../../../kernels/errors.js';
import { GREEDY } from '../../../../kernels/sampling-params.js';
import { chainTree, treeDepths } from '../../../../kernels/tree.js';
import { useTinyModel } from '../../targets/embedded/tiny-model.js';

const tinyModel = useTinyModel();
let target: EmbeddedTarget;
beforeAll(async () => {
  target = await createEmbeddedTarget({ model: tinyModel(), threads: 1 });
});
afterAll(async () => target?.dispose());

const PROMPT = Int32Array.of(11, 42, 7, 99, 250, 13, 42, 7);
const ROOT = PROMPT[PROMPT.length - 1];

function factory(raw: object): LayerSkipFactory {
  return layerSkipDrafter.create(layerSkipDrafter.parseOptions({ gate: 'always', ...raw }), {
    target: target.info,
  }) as LayerSkipFactory;
}

async function propose(raw: object, budget = 32): Promise<{ draft: Draft | null; session: TargetSession }> {
  const session = await target.open(PROMPT, { sampling: GREEDY });
  const context: DraftContext = { tokens: PROMPT, promptLength: PROMPT.length, budget };
  const draft = await factory(raw).open({ prompt: PROMPT, target: session }).propose(context);
  return { draft, session };
}

/** Options that make the draft one chain as deep as maxDepth. */
const CHAIN = { skipLayers: [1], splitBelow: 0.001, minProbability: 0.0001, stopBelow: 0.0001, maxWidth: 1 };

describe('layer-skip drafting on the tiny model', () => {
  it("drafts the layer-skipped model's own greedy chain, scored by its own probabilities", async () => {
    const { draft, session } = await propose({ ...CHAIN, maxDepth: 4 });
    const chain = [ROOT];
    const probabilities = [1];
    for (let d = 0; d < 4; d++) {
      const r = await session.draft!(chainTree(chain), { skipLayers: [1], topK: 1 });
      chain.push(r.chosen[d]);
      probabilities.push(Math.exp(r.topKLogprobs![d]));
    }
    expect(draft).not.toBeNull();
    expect([...draft!.tokens]).toEqual(chain);
    expect([...draft!.parents]).toEqual([-1, 0, 1, 2, 3]);
    for (let i = 0; i < chain.length; i++) expect(draft!.scores[i]).toBeCloseTo(probabilities[i], 5);
    // Scratch passes leave the request's committed state alone.
    const after = await session.step(chainTree([ROOT]));
    const fresh = await target.open(PROMPT, { sampling: GREEDY });
    expect(after.chosen[0]).toBe((await fresh.step(chainTree([ROOT]))).chosen[0]);
    await Promise.all([session.close(), fresh.close()]);
  });

  it('differs from the full model when blocks are skipped', async () => {
    const skipped = await propose({ ...CHAIN, maxDepth: 6, skipLayers: [1, 2] });
    const full = [ROOT];
    for (let d = 0; d < 6; d++) full.push((await skipped.session.draft!(chainTree(full))).chosen[d]);
    // Two skipped blocks of four change what the model says.
    expect([...skipped.draft!.tokens]).not.toEqual(full);
    await skipped.session.close();
  });

  it('splits where its top-1 probability is low, keeping distinct candidates best first', async () => {
    const { draft, session } = await propose({
      skipLayers: [2],
      splitBelow: 0.99,
      minProbability: 0.0001,
      topK: 3,
      maxWidth: 3,
      maxDepth: 1,
    });
    const top = await session.draft!(chainTree([ROOT]), { skipLayers: [2], topK: 3 });
    expect([...draft!.tokens]).toEqual([ROOT, ...top.topKIds!]);
    expect([...draft!.parents]).toEqual([-1, 0, 0, 0]);
    for (let r = 0; r < 3; r++) expect(draft!.scores[r + 1]).toBeCloseTo(Math.exp(top.topKLogprobs![r]), 5);
    await session.close();
  });

  it('stops after one pass when the path confidence falls below stopBelow', async () => {
    const { draft, session } = await propose({ ...CHAIN, maxDepth: 6, stopBelow: 0.99 });
    expect(Math.max(...treeDepths(draft!.parents))).toBe(1);
    await session.close();
  });

  it('grows a tree within the budget and the depth limit', async () => {
    for (const budget of [2, 3, 7]) {
      const { draft, session } = await propose(
        { splitBelow: 0.99, minProbability: 0.0001, stopBelow: 0.0001, maxDepth: 3 },
        budget,
      );
      expect(draft!.tokens.length).toBeLessThanOrEqual(budget);
      expect(Math.max(...treeDepths(draft!.parents))).toBeLessThanOrEqual(3);
      await session.close();
    }
  });

  it('gives no draft when the target session is not at the context it is asked about', async () => {
    const session = await target.open(PROMPT, { sampling: GREEDY });
    const longer = Int32Array.from([...PROMPT, 5]);
    const drafter = factory(CHAIN).open({ prompt: PROMPT, target: session });
    expect(await drafter.propose({ tokens: longer, promptLength: PROMPT.length, budget: 8 })).toBeNull();
    expect(
      await factory(CHAIN).open({ prompt: PROMPT }).propose({ tokens: PROMPT, promptLength: 8, budget: 8 }),
    ).toBeNull();
    await session.close();
  });

  it("leaves its passes' wait behind other requests out of the pass time its tuner learns", async () => {
    const WAIT_MS = 40;
    const f = factory({ ...CHAIN, maxDepth: 2 });
    const session = await target.open(PROMPT, { sampling: GREEDY });
    // A busy server: every drafting pass first waits behind other requests, and says so.
    const busy = {
      get length() {
        return session.length;
      },
      draft: async (...args: Parameters<NonNullable<TargetSession['draft']>>) => {
        await new Promise((resolve) => setTimeout(resolve, WAIT_MS));
        return { ...(await session.draft!(...args)), queuedMs: WAIT_MS };
      },
    } as TargetSession;
    const drafter = f.open({ prompt: PROMPT, target: busy });
    const context: DraftContext = { tokens: PROMPT, promptLength: PROMPT.length, budget: 8 };
    const one = chainTree([ROOT]);
    const feedback = {
      tree: one,
      result: { chosen: Int32Array.of(5), queuedMs: WAIT_MS },
      accepted: Int32Array.of(0),
      emitted: Int32Array.of(5),
      tokens: PROMPT,
    };
    // The first drafted step is untimed (one-time work); the next ones are what the tuner measures.
    for (let i = 0; i < 3; i++) {
      expect(await drafter.propose(context)).not.toBeNull();
      drafter.observe(feedback);
    }
    expect(f.report().passMs).toBeLessThan(WAIT_MS / 2);
    await session.close();
  });

  it('reports its skip set, and drafts nothing once disposed', async () => {
    const f = factory({ skipLayers: [2] });
    expect(f.report().skipLayers).toEqual([2]);
    const session = await target.open(PROMPT, { sampling: GREEDY });
    f.dispose?.();
    const context = { tokens: PROMPT, promptLength: PROMPT.length, budget: 8 };
    expect(await f.open({ prompt: PROMPT, target: session }).propose(context)).toBeNull();
    expect(f.report().skipLayers).toEqual([2]);
    await session.close();
  });
});

describe('layer-skip registration', () => {
  const codeOf = (work: () => unknown): string | undefined => {
    try {
      work();
    } catch (error) {
      return isCanopyError(error) ? error.code : 'not a CanopyError';
    }
    return undefined;
  };

  it('refuses a target that cannot skip layers, naming why', () => {
    const info = { ...target.info, capabilities: { ...target.info.capabilities, skipLayers: false } };
    const create = () => layerSkipDrafter.create(layerSkipDrafter.parseOptions({}), { target: info });
    expect(codeOf(create)).toBe('CANOPY_ERR_DRAFTER_INCOMPATIBLE');
    expect(create).toThrow(/skip/);
  });

  it('refuses a fixed skip set that does not fit the model', () => {
    for (const skipLayers of [[4], [0, 1, 2, 3]]) {
      const options = layerSkipDrafter.parseOptions({ skipLayers });
      expect(codeOf(() => layerSkipDrafter.create(options, { target: target.info }))).toBe(
        'CANOPY_ERR_INVALID_DRAFTER_OPTIONS',
      );
    }
  });
});

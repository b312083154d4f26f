/**
 * The eagle drafter on the real tiny model, with a head the training tool
 * trained for it (fixtures/tiny-random, made by `python3 models/train/eagle.py
 * --model <tiny model dir> --out test/adapters/drafters/eagle/fixtures/tiny-random
 * --math 40 --generic 300 --followup 40 --max-new 64 --slots 32 --epochs 4 --draft-vocab 512`).
 */
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DrafterEnvironment } from '../../../../adapters/drafter.js';
import { locateHead } from '../../../../adapters/drafters/eagle/head-file.js';
import { loadHeadModel } from '../../../../adapters/drafters/eagle/head-model.js';
import { type HeadRunner, LocalHeadRunner } from '../../../../adapters/drafters/eagle/head-runner.js';
import { eagleDrafter } from '../../../../adapters/drafters/eagle/index.js';
import { EagleSession } from '../../../../adapters/drafters/eagle/session.js';
import { createDrafterRegistry, createModelEngine, type ModelEngine } from '../../../../engine/index.js';
import { isCanopyError } from '../../../../kernels/errors.js';
import { GREEDY, type SamplingParams } from '../../../../kernels/sampling-params.js';
import { expectPlainOutput, useTinyEngines } from '../../../engine/tiny-engine.js';
import { describeDrafterConformance } from '../conformance.js';

const FIXTURE = fileURLToPath(new URL('./fixtures/tiny-random/eagle.onnx', import.meta.url));
const tiny = useTinyEngines();
const modelDir = tiny.modelDir;

/** Chat prompts like the ones the fixture head was trained on (a head learns its target where it was trained). */
const CHATS = [
  'Explain glaciers in simple terms.',
  'Write a short story about a lost robot.',
  'Why is recycling important?',
  'Pretend you are a chef. How do I make a simple tomato soup?',
];

const env = (): DrafterEnvironment => ({ target: tiny.target().info, modelDir: modelDir() });

/** Speculating engines draft every step and verify the best 16 nodes: what they accept does not follow this machine's timings. */
const engine = (options: unknown, speculate = true): Promise<ModelEngine> =>
  speculate
    ? tiny.engine([{ name: 'eagle', options }], { maxBudget: 16, gateDrafters: false, fixedBudget: true })
    : tiny.engine([]);

async function codeOf(promise: Promise<unknown>): Promise<string | undefined> {
  try {
    await promise;
  } catch (error) {
    return isCanopyError(error) ? error.code : String(error);
  }
  return undefined;
}

describe('eagle fixture', () => {
  it('was trained for the tiny model the tests prepare', () => {
    const meta = JSON.parse(readFileSync(FIXTURE.replace(/\.onnx$/, '.json'), 'utf8'));
    const manifest = JSON.parse(readFileSync(join(modelDir(), 'manifest.json'), 'utf8'));
    // A changed tiny model needs a retrained fixture (command in this file's header).
    expect(meta.target.sourceSha256).toBe(manifest.source.sha256);
  });
});

describeDrafterConformance(eagleDrafter as never, {
  options: { head: FIXTURE },
  env,
  // The suite's feedback carries no hidden states, so the head never has a feature to extend.
  repeat: false,
  badOptions: [
    { maxDepth: 0 },
    { width: 0 },
    { branch: 33 },
    { minScore: 1 },
    { promptRows: -1 },
    { maxNodes: 1 },
    { head: '' },
    { triton: { url: 'localhost:8000' } },
    { triton: { url: 'http://localhost:8000', model: '' } },
    { triton: { url: 'http://localhost:8000', extra: 1 } },
  ],
});

describe('eagle drafter on the tiny model', () => {
  const SEEDED: SamplingParams = { ...GREEDY, temperature: 0.8, topP: 0.95, seed: 77 };

  for (const [mode, sampling] of [
    ['greedy', GREEDY],
    ['seeded sampling', SEEDED],
  ] as const) {
    it(`emits exactly the plain ${mode} tokens, with drafts the target accepts`, async () => {
      const plain = await engine(undefined, false);
      const spec = await engine({ head: FIXTURE });
      let accepted = 0;
      let steps = 0;
      let tokens = 0;
      for (const [i, text] of CHATS.entries()) {
        const prompt = tiny.tokenizer().encodeChat([{ role: 'user', content: text }]);
        const s = { ...sampling, seed: sampling.seed + i };
        const expected = await plain.generate({ prompt, maxNewTokens: 48, sampling: s, speculate: false });
        const got = await spec.generate({ prompt, maxNewTokens: 48, sampling: s, speculate: true });
        expect([...got.tokens], `prompt ${i}`).toEqual([...expected.tokens]);
        expect(got.stats.failedDrafters).toEqual([]);
        accepted += got.stats.acceptedByDrafter.eagle ?? 0;
        steps += got.stats.steps;
        tokens += got.tokens.length;
      }
      // A head fed misaligned features (wrong row, wrong token pairing) accepts next to nothing.
      if (mode === 'greedy') expect(tokens / steps).toBeGreaterThan(1.5);
      expect(accepted).toBeGreaterThan(0);
    });
  }

  it("reads the prompt's features with promptRows, so the first step drafts too", async () => {
    const target = tiny.target();
    const prompt = tiny.tokenizer().encodeChat([{ role: 'user', content: CHATS[0] }]);
    const layer = target.info.numLayers;
    const session = await target.open(prompt, { sampling: GREEDY, promptHiddenLayers: [layer] });
    const factory = await eagleDrafter.create(
      eagleDrafter.parseOptions({ head: FIXTURE, promptRows: 64 }),
      env(),
    );
    try {
      expect(factory.capabilities.needsPromptHidden).toBe(true);
      const context = { tokens: prompt, promptLength: prompt.length, budget: 16 };
      const cold = factory.open({ prompt });
      expect(await cold.propose(context)).toBeNull(); // no feature yet: nothing to extend
      const warm = factory.open({ prompt, promptHidden: session.promptHidden });
      const draft = await warm.propose(context);
      expect(draft?.tokens[0]).toBe(prompt[prompt.length - 1]);
      expect(draft?.tokens.length).toBeGreaterThan(1);
      cold.close?.();
      warm.close?.();
    } finally {
      factory.dispose?.();
      await session.close();
    }
  });

  it("adds up one propose's head-pass waits as lastWaitMs", async () => {
    const target = tiny.target();
    const prompt = tiny.tokenizer().encodeChat([{ role: 'user', content: CHATS[0] }]);
    const session = await target.open(prompt, {
      sampling: GREEDY,
      promptHiddenLayers: [target.info.numLayers],
    });
    const head = locateHead(FIXTURE, modelDir(), target.info);
    const model = loadHeadModel(head, modelDir());
    const local = await LocalHeadRunner.load(head.graph, model.geometry, model.lmHead, 1);
    // A head behind a queue: every pass says it waited 5 ms.
    let passes = 0;
    const queued: HeadRunner = {
      newCache: () => local.newCache(),
      release: (kv) => local.release(kv),
      dispose: () => local.dispose(),
      run: async (pass) => {
        passes++;
        return { ...(await local.run(pass)), queuedMs: 5 };
      },
    };
    try {
      const limits = { maxDepth: 4, width: 4, branch: 4, minScore: 0, minPathScore: 0, maxNodes: 32 };
      const drafter = new EagleSession(model, queued, limits);
      drafter.readPrompt(prompt, session.promptHidden!.get(target.info.numLayers)!, 64);
      const context = { tokens: prompt, promptLength: prompt.length, budget: 16 };
      expect((await drafter.propose(context))?.tokens.length).toBeGreaterThan(1);
      expect(passes).toBeGreaterThan(1);
      expect(drafter.lastWaitMs).toBe(5 * passes);
      passes = 0;
      await drafter.propose(context);
      expect(drafter.lastWaitMs).toBe(5 * passes); // per propose, not since the start
      drafter.close();
    } finally {
      model.close();
      await local.dispose();
      await session.close();
    }
  });

  it('with promptRows, emits exactly the plain greedy tokens', async () => {
    const plain = await engine(undefined, false);
    const spec = await engine({ head: FIXTURE, promptRows: 256 });
    await expectPlainOutput(tiny.tokenizer(), plain, spec, CHATS, 32);
  });

  it('declares the final-normed hidden layer it reads', async () => {
    const factory = await eagleDrafter.create(eagleDrafter.parseOptions({ head: FIXTURE }), env());
    expect(factory.capabilities.needsHiddenLayers).toEqual([tiny.target().info.numLayers]);
    expect(factory.capabilities.probabilities).toBe(true);
    factory.dispose?.();
  });
});

describe('eagle drafter start-up errors', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'canopy-eagle-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('is incompatible without a head, naming the command that trains one', async () => {
    let caught: unknown;
    try {
      await eagleDrafter.create(eagleDrafter.parseOptions({}), { target: tiny.target().info, modelDir: dir });
    } catch (error) {
      caught = error;
    }
    expect(isCanopyError(caught, 'CANOPY_ERR_DRAFTER_INCOMPATIBLE')).toBe(true);
    expect((caught as Error).message).toContain('models/train/eagle.py');
    // The engine then runs without it.
    const e = await createModelEngine({
      target: tiny.target(),
      registry: createDrafterRegistry([eagleDrafter]),
      drafters: [{ name: 'eagle', options: { head: join(dir, 'none.onnx') } }],
      modelDir: modelDir(),
      ownsTarget: false,
    });
    expect(e.drafterNames).toEqual([]);
    await e.dispose();
  });

  it('refuses a head trained for another model, naming both', async () => {
    const meta = JSON.parse(readFileSync(FIXTURE.replace(/\.onnx$/, '.json'), 'utf8'));
    meta.target = { ...meta.target, model: 'other-model', vocabSize: 49152, hiddenSize: 576, numLayers: 30 };
    copyFileSync(FIXTURE, join(dir, 'eagle.onnx'));
    writeFileSync(join(dir, 'eagle.json'), JSON.stringify(meta));
    let caught: unknown;
    try {
      await eagleDrafter.create(eagleDrafter.parseOptions({ head: join(dir, 'eagle.onnx') }), env());
    } catch (error) {
      caught = error;
    }
    expect(isCanopyError(caught, 'CANOPY_ERR_DRAFTER_HEAD_MISMATCH')).toBe(true);
    expect((caught as Error).message).toContain('other-model');
    expect((caught as Error).message).toContain(tiny.target().info.model);
  });

  it('is incompatible with a target that returns no hidden states', async () => {
    const info = {
      ...tiny.target().info,
      capabilities: { ...tiny.target().info.capabilities, hiddenStates: false },
    };
    expect(
      await codeOf(
        Promise.resolve(
          eagleDrafter.create(eagleDrafter.parseOptions({ head: FIXTURE }), {
            target: info,
            modelDir: modelDir(),
          }),
        ),
      ),
    ).toBe('CANOPY_ERR_DRAFTER_INCOMPATIBLE');
  });
});

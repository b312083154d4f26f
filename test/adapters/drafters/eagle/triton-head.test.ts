/**
 * The eagle head on Triton (option `triton`): runs when a Triton server is
 * named (CANOPY_TRITON_HTTP, as .ci/run does) that serves canopy_eagle with the
 * tiny model's fixture head (`canopy triton start --model tiny-random
 * --eagle-head test/adapters/drafters/eagle/fixtures/tiny-random/eagle.onnx`).
 * The target stays in process: what is tested is the head's transport.
 */
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { locateHead } from '../../../../adapters/drafters/eagle/head-file.js';
import { loadHeadModel } from '../../../../adapters/drafters/eagle/head-model.js';
import { HeadKv, LocalHeadRunner } from '../../../../adapters/drafters/eagle/head-runner.js';
import { eagleDrafter } from '../../../../adapters/drafters/eagle/index.js';
import { TritonHeadRunner } from '../../../../adapters/drafters/eagle/triton-head.js';
import { isCanopyError } from '../../../../kernels/errors.js';
import { expectPlainOutput, useTinyEngines } from '../../../engine/tiny-engine.js';

const URL_ = process.env.CANOPY_TRITON_HTTP;
const FIXTURE = fileURLToPath(new URL('./fixtures/tiny-random/eagle.onnx', import.meta.url));
const CHATS = ['Explain glaciers in simple terms.', 'Write a short story about a lost robot.'];

describe.runIf(URL_ !== undefined)('eagle head on Triton (canopy_eagle)', () => {
  const tiny = useTinyEngines();
  const triton = () => ({ url: URL_!, model: 'canopy_eagle', timeoutMs: 30_000 });
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'canopy-eagle-triton-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('computes what the head computes in process, pass for pass', async () => {
    const head = locateHead(FIXTURE, tiny.modelDir(), tiny.target().info);
    const model = loadHeadModel(head, tiny.modelDir());
    const local = await LocalHeadRunner.load(head.graph, model.geometry, model.lmHead, 1);
    const remote = await TritonHeadRunner.connect(triton(), head.graph, model.geometry);
    try {
      const h = model.geometry.hidden;
      const localKv = local.newCache();
      const remoteKv = remote.newCache();
      let x = 1;
      const noise = (n: number) =>
        Float32Array.from({ length: n }, () => {
          x = (x * 48271) % 2147483647;
          return x / 2147483647 - 0.5;
        });
      // Three causal rows, then two sibling draft rows after them, then one row after the first three again.
      const passes = [
        { past: 0, n: 3, bias: [0, -1, -1, 0, 0, -1, 0, 0, 0] },
        { past: 3, n: 2, bias: [0, 0, 0, 0, -1, 0, 0, 0, -1, 0] },
        { past: 3, n: 1, bias: [0, 0, 0, 0] },
      ];
      for (const p of passes) {
        const features = noise(p.n * h);
        const embeds = model.embed(Int32Array.from({ length: p.n }, (_, i) => 5 + i));
        const bias = Float32Array.from(p.bias, (b) => (b < 0 ? Number.NEGATIVE_INFINITY : 0));
        const positions = Array.from({ length: p.n }, (_, i) => p.past + i);
        const common = { features, embeds, positions, bias, past: p.past, topK: 4 };
        const a = await local.run({ ...common, kv: localKv });
        const b = await remote.run({ ...common, kv: remoteKv });
        expect([...b.ids]).toEqual([...a.ids]);
        for (let i = 0; i < a.features.length; i++)
          expect(Math.abs(b.features[i] - a.features[i])).toBeLessThan(1e-4);
        for (let i = 0; i < a.logprobs.length; i++)
          expect(Math.abs(b.logprobs[i] - a.logprobs[i])).toBeLessThan(1e-4);
        expect(remoteKv.length).toBe(localKv.length);
        // The served head returns its time per pass, so a remote pass knows its wait; a local one has none.
        expect(b.queuedMs).toBeTypeOf('number');
        expect(a.queuedMs).toBeUndefined();
      }
      expect(localKv).toBeInstanceOf(HeadKv);
      remote.release(remoteKv);
    } finally {
      model.close();
      await Promise.all([local.dispose(), remote.dispose()]);
    }
  });

  it('drafts tokens the target accepts, with output equal to plain decoding', async () => {
    const plain = await tiny.engine([]);
    const spec = await tiny.engine([{ name: 'eagle', options: { head: FIXTURE, triton: triton() } }], {
      maxBudget: 16,
      gateDrafters: false,
      fixedBudget: true,
    });
    const accepted = await expectPlainOutput(tiny.tokenizer(), plain, spec, CHATS, 32);
    expect(accepted.eagle ?? 0).toBeGreaterThan(0);
  });

  it('refuses to draft with a head other than the one the server runs', async () => {
    // Same metadata, different graph bytes: the served sha256 no longer matches.
    copyFileSync(FIXTURE.replace(/\.onnx$/, '.json'), join(dir, 'eagle.json'));
    copyFileSync(FIXTURE, join(dir, 'eagle.onnx'));
    writeFileSync(join(dir, 'eagle.onnx'), '\n', { flag: 'a' });
    let caught: unknown;
    try {
      await eagleDrafter.create(
        eagleDrafter.parseOptions({ head: join(dir, 'eagle.onnx'), triton: triton() }),
        {
          target: tiny.target().info,
          modelDir: tiny.modelDir(),
        },
      );
    } catch (error) {
      caught = error;
    }
    expect(isCanopyError(caught, 'CANOPY_ERR_DRAFTER_HEAD_MISMATCH')).toBe(true);
  });

  it('says so when the server does not serve the head model', async () => {
    let caught: unknown;
    try {
      await eagleDrafter.create(
        eagleDrafter.parseOptions({ head: FIXTURE, triton: { ...triton(), model: 'no_such_head' } }),
        { target: tiny.target().info, modelDir: tiny.modelDir() },
      );
    } catch (error) {
      caught = error;
    }
    expect(isCanopyError(caught, 'CANOPY_ERR_UPSTREAM_NOT_READY')).toBe(true);
  });
});

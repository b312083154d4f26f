/**
 * The Triton target against a real Triton server running canopy_lm. Runs when
 * CANOPY_TRITON_HTTP and/or CANOPY_TRITON_GRPC name the server (as printed by
 * `npx canopy triton start`); HTTP runs with and without the binary tensor
 * extension, gRPC both unary and streaming.
 */
import { createServer } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createTritonTarget,
  type TritonTarget,
  type TritonTargetOptions,
} from '../../../../adapters/targets/triton/index.js';
import { encodeBatch, FLAG_CLOSE } from '../../../../adapters/targets/triton/wire.js';
import { GREEDY, type SamplingParams } from '../../../../kernels/sampling-params.js';
import type { TokenTree } from '../../../../kernels/tree.js';
import { continuePlain, draftTree, single as one, plainDecode, randomTokens, rng } from './decoding.js';

const HTTP = process.env.CANOPY_TRITON_HTTP;
const GRPC = process.env.CANOPY_TRITON_GRPC;
const setups: [string, TritonTargetOptions][] = [
  ...(HTTP
    ? [
        ['http', { url: HTTP }] as [string, TritonTargetOptions],
        ['http without the binary extension', { url: HTTP, binary: false }] as [string, TritonTargetOptions],
      ]
    : []),
  ...(GRPC
    ? [
        ['grpc', { url: GRPC }] as [string, TritonTargetOptions],
        ['grpc stream', { url: GRPC, stream: true }] as [string, TritonTargetOptions],
      ]
    : []),
];
const SEEDED: SamplingParams = { ...GREEDY, temperature: 0.9, topK: 50, topP: 0.95, seed: 1234 };

describe.runIf(setups.length > 0)('Triton target', () => {
  for (const [label, options] of setups) describeOver(label, options);
});

function describeOver(label: string, options: TritonTargetOptions): void {
  describe(`over ${label}`, () => {
    let target: TritonTarget;

    beforeAll(async () => {
      target = await createTritonTarget(options);
    });

    afterAll(async () => {
      await target?.dispose();
    });

    it('describes the model from its served configuration', async () => {
      const config = await target.client.modelConfig('canopy_lm');
      expect(target.info.vocabSize).toBe(Number(config.parameters.vocab_size));
      expect(target.info.numLayers).toBe(Number(config.parameters.num_layers));
      expect(target.info.eosTokenIds.length).toBeGreaterThan(0);
    });

    for (const [mode, sampling] of [
      ['greedy', GREEDY],
      ['seeded sampling', SEEDED],
    ] as const) {
      it(`reopens a session Triton forgot by prefilling, without a duplicate token (${mode})`, async () => {
        const random = rng(13);
        const prompt = randomTokens(random, 8, target.info.vocabSize);
        const plain = await plainDecode(target, prompt, 12, sampling);
        const session = await target.open(prompt, { sampling: sampling });
        const first = await continuePlain(session, prompt[prompt.length - 1]!, 5);
        // A raw request, outside the session, closes its id: from here Triton does not know it.
        const close = {
          sessionId: session.id,
          flags: FLAG_CLOSE,
          tree: EMPTY_TREE,
          keep: new Int32Array(0),
          topK: 0,
          hiddenLayers: [],
        };
        await target.client.infer(encodeBatch('canopy_lm', [close]));
        const root = first[first.length - 1]!;
        await expect(session.step(one(root))).rejects.toMatchObject({
          code: 'CANOPY_ERR_UPSTREAM_SESSION_LOST',
        });
        await expect(session.step(one(root))).rejects.toMatchObject({
          code: 'CANOPY_ERR_UPSTREAM_SESSION_LOST',
        });
        const committed = Int32Array.from([...prompt, ...first]);
        await session.reopen(committed);
        expect(session.length).toBe(committed.length);
        const rest = await continuePlain(session, root, 7);
        await session.close();
        expect([...first, ...rest]).toEqual(plain);
      });
    }

    it('answers several sessions in one request as their own steps would', async () => {
      const random = rng(3);
      const prompts = [9, 17, 5].map((n) => randomTokens(random, n, target.info.vocabSize));
      const trees = prompts.map((p) => draftTree(p[p.length - 1]!, [], random, target.info.vocabSize));
      const asks = [{ topK: 2 }, {}, { topK: 5, hiddenLayers: [0, target.info.numLayers] }];
      const batched = await Promise.all(prompts.map((p) => target.open(p, { sampling: GREEDY })));
      const alone = await Promise.all(prompts.map((p) => target.open(p, { sampling: GREEDY })));
      const many = await target.stepMany(
        batched.map((session, i) => ({ session, tree: trees[i]!, options: asks[i] })),
      );
      for (let i = 0; i < prompts.length; i++) {
        const one = await alone[i]!.step(trees[i]!, asks[i]);
        expect([...many[i]!.chosen]).toEqual([...one.chosen]);
        expect(many[i]!.topKIds && [...many[i]!.topKIds!]).toEqual(one.topKIds && [...one.topKIds]);
        expect(many[i]!.hidden?.size ?? 0).toBe(asks[i]!.hiddenLayers?.length ?? 0);
        for (const [layer, h] of one.hidden ?? []) {
          expect(h.length).toBe(trees[i]!.tokens.length * target.info.hiddenSize);
          const diff = h.reduce((m, v, j) => Math.max(m, Math.abs(v - many[i]!.hidden!.get(layer)![j]!)), 0);
          expect(diff).toBeLessThan(1e-3);
        }
      }
      await Promise.all([...batched, ...alone].map((s) => s.close()));
    });

    // Retried: whether the step lands behind the prefills is up to the sockets and the scheduler.
    it("reports a pass's wait behind other requests in Triton's queue", { retry: 2 }, async () => {
      const random = rng(21);
      const session = await target.open(randomTokens(random, 8, target.info.vocabSize), { sampling: GREEDY });
      const lone = await session.step(one(5));
      // canopy_lm declares compute_ms, so every pass reports its wait.
      expect(lone.queuedMs).toBeTypeOf('number');
      let root = lone.chosen[0]!;
      session.accept(Int32Array.of(0), root);
      const long = Math.min(480, target.info.maxContext - 16);
      // Long prefills are sent first, then a one-node step. Whether the step lands behind them is up to
      // the sockets and the scheduler: an attempt counts when at least two prefills finished while the
      // step was in flight, which the one model instance can only do by running them before it.
      for (const delayMs of [5, 15, 30, 60, 120]) {
        const done: number[] = [];
        const opens = Array.from({ length: 6 }, () =>
          target.open(randomTokens(random, long, target.info.vocabSize), { sampling: GREEDY }).then((s) => {
            done.push(performance.now());
            return s;
          }),
        );
        await new Promise((resolve) => setTimeout(resolve, delayMs));
        const sent = performance.now();
        const behind = await session.step(one(root));
        const finished = performance.now();
        root = behind.chosen[0]!;
        session.accept(Int32Array.of(0), root);
        await Promise.all((await Promise.all(opens)).map((s) => s.close()));
        if (done.filter((t) => t > sent && t < finished).length < 2) continue;
        // Most of its time was the others' prefills, not its own one-node pass.
        expect(behind.queuedMs).toBeGreaterThan((finished - sent) / 2);
        await session.close();
        return;
      }
      throw new Error('no attempt put the step behind two prefills');
    });

    it('marks a session lost after a cancelled step, and reopen recovers it', async () => {
      const random = rng(17);
      const prompt = randomTokens(random, 8, target.info.vocabSize);
      const plain = await plainDecode(target, prompt, 6, GREEDY);
      const session = await target.open(prompt, { sampling: GREEDY });
      const controller = new AbortController();
      const pending = session.step(one(prompt[prompt.length - 1]!), { signal: controller.signal });
      controller.abort();
      await expect(pending).rejects.toMatchObject({ code: 'CANOPY_ERR_CANCELLED' });
      await expect(session.step(one(prompt[prompt.length - 1]!))).rejects.toMatchObject({
        code: 'CANOPY_ERR_UPSTREAM_SESSION_LOST',
      });
      await session.reopen(prompt);
      expect(await continuePlain(session, prompt[prompt.length - 1]!, 6)).toEqual(plain);
      await session.close();
    });

    it('times out a request that takes longer than the timeout', async () => {
      const quick = await createTritonTarget({ ...options, timeoutMs: 1 });
      try {
        const prompt = randomTokens(rng(19), Math.min(900, quick.info.maxContext - 1), quick.info.vocabSize);
        await expect(quick.open(prompt, { sampling: GREEDY })).rejects.toMatchObject({
          code: 'CANOPY_ERR_UPSTREAM_TIMEOUT',
        });
      } finally {
        await quick.dispose();
      }
    });

    it('refuses an accept that does not follow a step, and a session another target opened', async () => {
      const session = await target.open(Int32Array.of(5, 6, 7), { sampling: GREEDY });
      expect(() => session.accept(Int32Array.of(0), 9)).toThrow(
        expect.objectContaining({ code: 'CANOPY_ERR_INVALID_ARGUMENT' }),
      );
      const tree = { tokens: Int32Array.of(7, 8, 9), parents: Int32Array.of(-1, 0, 0) };
      await session.step(tree);
      // Node 2 is a sibling of node 1, not its child.
      expect(() => session.accept(Int32Array.of(0, 1, 2), 9)).toThrow(
        expect.objectContaining({ code: 'CANOPY_ERR_INVALID_ARGUMENT' }),
      );
      const other = await createTritonTarget(options);
      await expect(other.stepMany([{ session, tree }])).rejects.toMatchObject({
        code: 'CANOPY_ERR_INVALID_ARGUMENT',
      });
      await other.dispose();
      await session.close();
    });

    it('reports a model Triton does not serve as not ready', async () => {
      await expect(createTritonTarget({ ...options, model: 'no_such_model' })).rejects.toMatchObject({
        code: 'CANOPY_ERR_UPSTREAM_NOT_READY',
      });
    });

    it('reports a closed port as unreachable', async () => {
      const port = await new Promise<number>((resolve) => {
        const probe = createServer().listen(0, '127.0.0.1', () => {
          const { port } = probe.address() as { port: number };
          probe.close(() => resolve(port));
        });
      });
      const url = options.url.replace(/:\d+$/, `:${port}`);
      await expect(createTritonTarget({ ...options, url })).rejects.toMatchObject({
        code: 'CANOPY_ERR_UPSTREAM_UNREACHABLE',
      });
    });
  });
}

const EMPTY_TREE: TokenTree = { tokens: new Int32Array(0), parents: new Int32Array(0) };

/**
 * Server faults for real: a private Triton (started like `canopy triton start`,
 * in its own run directory) behind a TCP relay whose address stays put while
 * the server restarts on new ports. Runs where Triton is set up for the other
 * Triton tests (CANOPY_TRITON_HTTP or CANOPY_TRITON_GRPC); CANOPY_TRITON_MODEL
 * and CANOPY_TRITON_MODEL_REPOSITORY choose what it serves (defaults: those of
 * `canopy triton start`).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTritonTarget, type TritonTarget } from '../../../../adapters/targets/triton/index.js';
import { GREEDY } from '../../../../kernels/sampling-params.js';
import { startTritonServer, stopTritonServer } from '../../../../plugins/triton-server/index.js';
import { continuePlain, plainDecode, randomTokens, rng, single } from './decoding.js';

const ENABLED = Boolean(process.env.CANOPY_TRITON_HTTP || process.env.CANOPY_TRITON_GRPC);

/** Forwards TCP connections to whatever port `upstream` names at connect time. */
class Relay {
  upstream = 0;
  readonly #server: Server;
  readonly #sockets = new Set<Socket>();

  constructor() {
    this.#server = createServer((client) => {
      const server = createConnection(this.upstream, '127.0.0.1');
      for (const s of [client, server]) {
        this.#sockets.add(s);
        s.on('error', () => undefined);
        s.on('close', () => {
          this.#sockets.delete(s);
          client.destroy();
          server.destroy();
        });
      }
      client.pipe(server).pipe(client);
    });
  }

  listen(): Promise<string> {
    return new Promise((resolve) =>
      this.#server.listen(0, '127.0.0.1', () =>
        resolve(`127.0.0.1:${(this.#server.address() as { port: number }).port}`),
      ),
    );
  }

  close(): Promise<void> {
    for (const s of this.#sockets) s.destroy();
    return new Promise((resolve) => this.#server.close(() => resolve()));
  }
}

const portOf = (url: string) => Number(/:(\d+)$/.exec(url)![1]);

describe.runIf(ENABLED)('Triton target when the server stops and restarts', () => {
  const runDir = mkdtempSync(join(tmpdir(), 'canopy-triton-restart-'));
  const relays = { http: new Relay(), grpc: new Relay() };
  const targets: Record<'http' | 'grpc', TritonTarget | undefined> = { http: undefined, grpc: undefined };

  async function start(): Promise<void> {
    const { server } = await startTritonServer({
      runDir,
      model: process.env.CANOPY_TRITON_MODEL,
      modelRepository: process.env.CANOPY_TRITON_MODEL_REPOSITORY,
    });
    relays.http.upstream = portOf(server.http);
    relays.grpc.upstream = portOf(server.grpc);
  }

  async function untilReady(target: TritonTarget): Promise<void> {
    const deadline = Date.now() + 60_000;
    for (;;) {
      if (await target.client.serverReady().catch(() => false)) return;
      if (Date.now() > deadline) throw new Error('Triton did not come back');
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  beforeAll(async () => {
    await start();
    targets.http = await createTritonTarget({ url: `http://${await relays.http.listen()}` });
    targets.grpc = await createTritonTarget({ url: `grpc://${await relays.grpc.listen()}` });
  }, 300_000);

  afterAll(async () => {
    await Promise.allSettled([targets.http?.dispose(), targets.grpc?.dispose()]);
    await stopTritonServer({ runDir }).catch(() => undefined);
    await Promise.all([relays.http.close(), relays.grpc.close()]);
    rmSync(runDir, { recursive: true, force: true });
  }, 120_000);

  it('loses sessions in a restart; reopening them continues the text without a duplicate', async () => {
    const random = rng(23);
    const prompt = randomTokens(random, 10, targets.http!.info.vocabSize);
    const plain = await plainDecode(targets.http!, prompt, 10, GREEDY);
    const sessions = await Promise.all(
      [targets.http!, targets.grpc!].map((t) => t.open(prompt, { sampling: GREEDY })),
    );
    const firsts = await Promise.all(sessions.map((s) => continuePlain(s, prompt[prompt.length - 1]!, 4)));

    await stopTritonServer({ runDir });
    await start();
    for (const t of [targets.http!, targets.grpc!]) await untilReady(t);

    for (const [i, session] of sessions.entries()) {
      const first = firsts[i]!;
      const root = first[first.length - 1]!;
      const error = await session.step(single(root)).catch((e) => e);
      expect(error).toMatchObject({
        code: 'CANOPY_ERR_UPSTREAM_SESSION_LOST',
        details: { upstreamCode: 'CANOPY_SESSION_UNKNOWN' },
      });
      await session.reopen(Int32Array.from([...prompt, ...first]));
      const rest = await continuePlain(session, root, 6);
      expect([...first, ...rest]).toEqual(plain);
      await session.close();
    }
  }, 300_000);

  it('reports a stopped server as unreachable', async () => {
    const session = await targets.grpc!.open(Int32Array.of(5, 6, 7), { sampling: GREEDY });
    await stopTritonServer({ runDir });
    for (const target of [targets.http!, targets.grpc!]) {
      await expect(target.open(Int32Array.of(5, 6, 7), { sampling: GREEDY })).rejects.toMatchObject({
        code: 'CANOPY_ERR_UPSTREAM_UNREACHABLE',
      });
    }
    await expect(session.step(single(7))).rejects.toMatchObject({ code: 'CANOPY_ERR_UPSTREAM_UNREACHABLE' });
    // Closing needs no server: Triton's idle timeout would free what a live one held.
    await session.close();
  }, 120_000);
});

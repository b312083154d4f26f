/**
 * canopy in front of a real Triton server (started here with `canopy triton`
 * on a private repository): the reference model `canopy_lm`, made
 * speculative by one `canopy` parameter in its config.pbtxt and nothing else,
 * and `add_sub`, a model canopy knows nothing about.
 *
 * Runs when a Triton install is at hand (CANOPY_TRITON_HTTP set, as .ci/run
 * does) with the converted model CANOPY_TRITON_MODEL (default tiny-random) in
 * the canopy cache. tritonclient runs from the Triton venv (installed from
 * test/models/triton/requirements.txt when missing).
 */
import { execFile, spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import OpenAI from 'openai';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTritonTarget } from '../../../adapters/targets/triton/index.js';
import { GREEDY } from '../../../kernels/sampling-params.js';
import { loadConfig } from '../../../plugins/config/index.js';
import { type ModelHost, openModelHost } from '../../../plugins/host/model-host.js';
import { type CanopyServer, startCanopyServer } from '../../../plugins/proxy/index.js';
import {
  DEFAULT_MODEL_REPOSITORY,
  startTritonServer,
  stopTritonServer,
  type TritonServer,
  venvDir,
} from '../../../plugins/triton-server/index.js';
import { json, metric, plainText, post } from './helpers.js';

const ENABLED = process.env.CANOPY_TRITON_HTTP !== undefined;
const MODEL = process.env.CANOPY_TRITON_MODEL ?? 'tiny-random';
const HERE = fileURLToPath(new URL('.', import.meta.url));
const ROOT = join(HERE, '..', '..', '..');
const PARAMETER = '{"drafters":["ngram","recycling"],"maxBudget":16}';
const PROMPT = 'Once upon a time, in a small village by the sea,';

/** The test repository: canopy_lm with its `canopy` parameter set to PARAMETER, and add_sub. */
function writeRepository(repo: string): void {
  cpSync(join(DEFAULT_MODEL_REPOSITORY, 'canopy_lm'), join(repo, 'canopy_lm'), {
    recursive: true,
    filter: (path) => !path.includes('__pycache__'),
  });
  const file = join(repo, 'canopy_lm', 'config.pbtxt');
  const entry = `{ key: "canopy", value: { string_value: ${JSON.stringify(PARAMETER)} } }`;
  const shipped = readFileSync(file, 'utf8');
  const configured = shipped.replace(/\{ key: "canopy", value: \{ string_value: "[^"]*" \} \}/, entry);
  if (configured === shipped) throw new Error('the shipped canopy_lm config has no canopy parameter to set');
  writeFileSync(file, configured);
  cpSync(join(HERE, 'triton-repository', 'add_sub'), join(repo, 'add_sub'), { recursive: true });
}

function python(): string {
  const bin = join(venvDir(), 'bin', 'python');
  const probe = spawnSync(bin, ['-c', 'import tritonclient.grpc, tritonclient.http']);
  if (probe.status !== 0) {
    const requirements = join(ROOT, 'test', 'models', 'triton', 'requirements.txt');
    const install = spawnSync(bin, ['-m', 'pip', 'install', '--quiet', '-r', requirements], {
      encoding: 'utf8',
    });
    if (install.status !== 0) throw new Error(`cannot install tritonclient: ${install.stderr}`);
  }
  return bin;
}

const execFileAsync = promisify(execFile);
const hostPort = (url: string) => url.replace(/^\w+:\/\//, '');

describe.runIf(ENABLED)('canopy before a real Triton server', () => {
  let base: string;
  let triton: TritonServer;
  let canopy: CanopyServer;
  let direct: ModelHost;

  beforeAll(async () => {
    base = mkdtempSync(join(tmpdir(), 'canopy-proxy-triton-'));
    writeRepository(join(base, 'repo'));
    ({ server: triton } = await startTritonServer({
      modelRepository: join(base, 'repo'),
      model: MODEL,
      runDir: join(base, 'run'),
    }));
    // Nothing about canopy_lm in canopy's own configuration: only where Triton is.
    const config = loadConfig({
      file: false,
      env: {},
      overrides: { server: { port: 0, grpcPort: 0 }, upstream: { http: triton.http, grpc: triton.grpc } },
    });
    canopy = await startCanopyServer(config, { logger: pino({ level: 'silent' }) });
    // The reference: plain decoding on Triton directly, not through canopy.
    direct = await openModelHost({
      model: MODEL,
      target: { kind: 'triton', url: triton.http },
      drafters: [],
    });
  });

  afterAll(async () => {
    await canopy?.close(0);
    await direct?.dispose();
    if (base) {
      await stopTritonServer({ runDir: join(base, 'run') });
      rmSync(base, { recursive: true, force: true });
    }
  });

  const expected = (maxTokens: number) =>
    plainText(direct, direct.tokenizer.encode(PROMPT, { addSpecial: true }), maxTokens, GREEDY);

  it('enables speculation from the model config parameter alone: stats in the answer and in /metrics', async () => {
    const models = await json(await fetch(`${canopy.http}/v1/models`));
    expect(models.data.map((m: { id: string }) => m.id)).toContain('canopy_lm');
    const res = await post(`${canopy.http}/v2/models/canopy_lm/generate`, {
      text_input: PROMPT,
      max_tokens: 40,
    });
    expect(res.status).toBe(200);
    const body = await json(res);
    expect(body.text_output).toBe(await expected(40));
    expect(body.canopy.steps).toBeGreaterThan(0);
    expect(body.canopy.meanBudget).toBeLessThanOrEqual(16);
    expect(Object.keys(body.canopy.acceptedByDrafter).every((d) => ['ngram', 'recycling'].includes(d))).toBe(
      true,
    );
    const metrics = await (await fetch(`${canopy.http}/metrics`)).text();
    expect(
      metric(metrics, 'canopy_spec_decode_num_steps_total', { model: 'canopy_lm' }),
    ).toBeGreaterThanOrEqual(body.canopy.steps);
    expect(
      metric(metrics, 'canopy_requests_total', { model: 'canopy_lm', route: 'generate', outcome: 'ok' }),
    ).toBe(1);
  });

  it('tritonclient over HTTP and gRPC: pass-through equals Triton directly, text infers equal plain decoding', async () => {
    const args = {
      direct: { http: hostPort(triton.http), grpc: hostPort(triton.grpc) },
      proxy: { http: hostPort(canopy.http), grpc: hostPort(canopy.grpc!) },
      model: 'canopy_lm',
      prompt: PROMPT,
      max_tokens: 32,
    };
    // Asynchronously: the proxy under test answers from this very process.
    const run = await execFileAsync(python(), [join(HERE, 'tritonclient_check.py'), JSON.stringify(args)], {
      encoding: 'utf8',
      timeout: 300_000,
    });
    const out = JSON.parse(run.stdout);
    for (const protocol of ['http', 'grpc']) {
      expect(out.add_sub[protocol].proxy).toEqual(out.add_sub[protocol].direct);
      expect(out.add_sub[protocol].direct.OUTPUT0).toEqual([0.5, 1.5, 2.5, 3.5]);
      expect(out.metadata[protocol].proxy).toEqual(out.metadata[protocol].direct);
      expect(out.generate[protocol].text).toBe(await expected(32));
      expect(out.generate[protocol].stats.completionTokens).toBe(32);
    }
    expect(out.generate.grpc_stream.text).toBe(await expected(32));
    expect(out.generate.grpc_stream.responses).toBeGreaterThan(1);
  });

  it('gives the openai client plain decoding’s text from the Triton-backed model, streamed and not', async () => {
    const client = new OpenAI({ baseURL: `${canopy.http}/v1`, apiKey: 'unused', maxRetries: 0 });
    const messages = [{ role: 'user' as const, content: 'Count to five.' }];
    const reference = await plainText(direct, direct.tokenizer.encodeChat(messages), 32, GREEDY);
    const chat = await client.chat.completions.create({
      model: 'canopy_lm',
      messages,
      max_tokens: 32,
      temperature: 0,
    });
    expect(chat.choices[0].message.content).toBe(reference);
    const stream = await client.chat.completions.create({
      model: 'canopy_lm',
      messages,
      max_tokens: 32,
      temperature: 0,
      stream: true,
    });
    let text = '';
    for await (const chunk of stream) text += chunk.choices[0]?.delta?.content ?? '';
    expect(text).toBe(reference);
  });

  it('returns plain decoding’s log-probabilities from the Triton-backed model, sampled with a seed', async () => {
    const client = new OpenAI({ baseURL: `${canopy.http}/v1`, apiKey: 'unused', maxRetries: 0 });
    const messages = [{ role: 'user' as const, content: 'Name three rivers.' }];
    const sampling = { ...GREEDY, temperature: 0.8, topP: 0.95, seed: 7 };
    const reference = await direct.engine.generate({
      prompt: direct.tokenizer.encodeChat(messages),
      maxNewTokens: 24,
      sampling,
      speculate: false,
      logprobs: 2,
    });
    const chat = await client.chat.completions.create({
      model: 'canopy_lm',
      messages,
      max_tokens: 24,
      temperature: 0.8,
      top_p: 0.95,
      seed: 7,
      logprobs: true,
      top_logprobs: 2,
    });
    const content = chat.choices[0].logprobs?.content ?? [];
    expect(content.map((e) => e.bytes)).toEqual(
      [...reference.tokens].map((id) => [...direct.tokenizer.tokenBytes(id)]),
    );
    for (const [t, entry] of content.entries()) {
      expect(entry.logprob).toBeCloseTo(reference.logprobs!.logprobs[t], 3);
      expect(entry.top_logprobs).toHaveLength(2);
      expect(entry.top_logprobs[0].logprob).toBeCloseTo(reference.logprobs!.topLogprobs[t * 2], 3);
    }
    expect((chat as unknown as { canopy: { steps: number } }).canopy.steps).toBeGreaterThan(0);
  });

  it('passes canopy_lm’s own wire requests through, HTTP and gRPC alike', async () => {
    for (const url of [canopy.http, canopy.grpc!]) {
      const target = await createTritonTarget({ url });
      try {
        const prompt = direct.tokenizer.encode(PROMPT, { addSpecial: true });
        const session = await target.open(prompt, { sampling: GREEDY });
        const tokens: number[] = [];
        let root = prompt[prompt.length - 1];
        for (let i = 0; i < 8; i++) {
          const { chosen } = await session.step({ tokens: Int32Array.of(root), parents: Int32Array.of(-1) });
          tokens.push(chosen[0]);
          session.accept(Int32Array.of(0), chosen[0]);
          root = chosen[0];
        }
        await session.close();
        expect(direct.tokenizer.decode(tokens)).toBe(
          (await expected(8)).slice(0, direct.tokenizer.decode(tokens).length),
        );
      } finally {
        await target.dispose();
      }
    }
  });

  it('answers 502/503 with the upstream’s message once Triton is gone', async () => {
    await stopTritonServer({ runDir: join(base, 'run') });
    const res = await post(`${canopy.http}/v2/models/canopy_lm/generate`, {
      text_input: PROMPT,
      max_tokens: 4,
    });
    expect([502, 503]).toContain(res.status);
    const body = await json(res);
    expect(body.code).toMatch(/^CANOPY_ERR_UPSTREAM_/);
    const pass = await fetch(`${canopy.http}/v2/health/ready`);
    expect(pass.status).toBe(503);
    expect((await json(pass)).code).toBe('CANOPY_ERR_UPSTREAM_UNREACHABLE');
  });
});

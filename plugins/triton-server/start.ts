/**
 * Starts the Triton server carried by nvidia-pytriton on a model repository,
 * bound to 127.0.0.1 on free ports, and waits for `/v2/health/ready`. The
 * server is detached: it outlives the command that started it until `stop`.
 *
 * What it takes to run without a GPU: the wheel bundles every library the
 * server needs (CUDA runtime included; it only warns that no driver is there);
 * the pinned-memory pool is turned off (it needs a driver); the Python backend
 * runs its stub from our own backend directory with the venv's bin first on
 * PATH, so the stub's embedded Python uses the venv's site-packages.
 */

import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, openSync } from 'node:fs';
import { createServer } from 'node:net';
import { join, resolve } from 'node:path';
import { CanopyError } from '../../kernels/errors.js';
import { DEFAULT_MODEL_REPOSITORY, DEFAULT_RUN_DIR } from './paths.js';
import { isAlive, sleep, tail } from './process-util.js';
import { ensureTritonEnv, libraryPathOf, type TritonEnv } from './python-env.js';
import { prepareServedRepository } from './served-repository.js';
import { isRunning, readState, removeState, type TritonServer, writeState } from './state.js';
import { killServer } from './stop.js';

export interface StartOptions {
  /** Triton model repository (default: canopy's models/triton); served from a filled copy in the run directory. */
  readonly modelRepository?: string;
  /** Converted model (a cache name or a directory) for every canopy_lm in it; default: each config's model_name. */
  readonly model?: string;
  /** Head graph for canopy_eagle (default: the head the eagle drafter would find for the model). */
  readonly eagleHead?: string;
  /** Where the state file and log go (default `.triton-run/` in the project). */
  readonly runDir?: string;
  /** How long to wait for readiness, ms. */
  readonly timeoutMs?: number;
  /** Base Python for a new venv. */
  readonly python?: string;
  /** Triton's --log-verbose level. */
  readonly logVerbose?: number;
  readonly progress?: (line: string) => void;
}

export interface StartResult {
  readonly server: TritonServer;
  /** True when a server recorded in the run directory was already up. */
  readonly reused: boolean;
}

const BIND_RETRIES = 3;

/** Triton logs errors (`E...` lines, model load failures) well before its last lines; show both. */
function logExcerpt(log: string): string {
  const lines = tail(log, 2000).split('\n');
  const errors = lines.filter(
    (line) =>
      /^E\d{4}|error|failed|UNAVAILABLE/i.test(line) && !line.includes('CudaDriverHelper has not been'),
  );
  const picked = [...new Set([...errors.slice(0, 20), ...lines.slice(-5)])];
  return picked.map((line) => (line.length > 600 ? `${line.slice(0, 600)}…` : line)).join('\n');
}

function startFailed(message: string, log?: string): CanopyError {
  const excerpt = log ? logExcerpt(log) : '';
  return new CanopyError(
    'CANOPY_ERR_TRITON_START_FAILED',
    excerpt ? `${message}; from ${log}:\n${excerpt}` : message,
    { details: { log } },
  );
}

function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address();
      probe.close(() => (typeof address === 'object' && address ? resolvePort(address.port) : reject()));
    });
  });
}

export async function isReady(http: string): Promise<boolean> {
  try {
    const res = await fetch(`${http}/v2/health/ready`, { signal: AbortSignal.timeout(2000) });
    return res.ok;
  } catch {
    return false;
  }
}

function serverArgs(env: TritonEnv, repository: string, httpPort: number, grpcPort: number, verbose: number) {
  return [
    `--model-repository=${repository}`,
    `--backend-directory=${env.backendDir}`,
    `--cache-directory=${env.cacheDir}`,
    '--http-address=127.0.0.1',
    `--http-port=${httpPort}`,
    '--grpc-address=127.0.0.1',
    `--grpc-port=${grpcPort}`,
    '--allow-metrics=false',
    '--allow-sagemaker=false',
    '--allow-vertex-ai=false',
    '--pinned-memory-pool-byte-size=0',
    '--exit-timeout-secs=5',
    `--log-verbose=${verbose}`,
  ];
}

async function launchOnce(env: TritonEnv, opts: StartOptions, repository: string, runDir: string) {
  const [httpPort, grpcPort] = [await freePort(), await freePort()];
  const log = join(runDir, 'server.log');
  const fd = openSync(log, 'w');
  const childEnv: NodeJS.ProcessEnv = {
    ...process.env,
    PATH: `${env.binDir}:${process.env.PATH ?? ''}`,
    LD_LIBRARY_PATH: libraryPathOf(env),
  };
  const child = spawn(
    env.serverBinary,
    serverArgs(env, repository, httpPort, grpcPort, opts.logVerbose ?? 0),
    {
      cwd: runDir,
      detached: true,
      env: childEnv,
      stdio: ['ignore', fd, fd],
    },
  );
  child.unref();
  let exited = false;
  child.on('exit', () => {
    exited = true;
  });
  await new Promise<void>((ok, fail) => {
    child.once('spawn', ok);
    child.once('error', (e) => fail(startFailed(`cannot run ${env.serverBinary}: ${e.message}`)));
  });
  const server: TritonServer = {
    http: `http://127.0.0.1:${httpPort}`,
    grpc: `grpc://127.0.0.1:${grpcPort}`,
    pid: child.pid!,
    modelRepository: repository,
    log,
    startedAt: new Date().toISOString(),
  };
  writeState(runDir, server);
  return { server, hasExited: () => exited || !isAlive(server.pid) };
}

async function waitReady(
  server: TritonServer,
  hasExited: () => boolean,
  timeoutMs: number,
): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await isReady(server.http)) return true;
    if (hasExited()) return false;
    await sleep(250);
  }
  throw startFailed(`Triton was not ready after ${timeoutMs / 1000} s`, server.log);
}

function bindFailure(log: string): boolean {
  return /address already in use|failed to (start|bind)/i.test(tail(log, 80));
}

/** Starts a server (or finds the one already running for `runDir`) and waits until it is ready. */
export async function startTritonServer(opts: StartOptions = {}): Promise<StartResult> {
  const runDir = resolve(opts.runDir ?? DEFAULT_RUN_DIR);
  const timeoutMs = opts.timeoutMs ?? 180_000;
  mkdirSync(runDir, { recursive: true });
  const existing = readState(runDir);
  if (existing && isRunning(existing)) {
    if (await waitReady(existing, () => !isAlive(existing.pid), timeoutMs)) {
      return { server: existing, reused: true };
    }
  }
  removeState(runDir);

  const source = resolve(opts.modelRepository ?? DEFAULT_MODEL_REPOSITORY);
  if (!existsSync(source)) throw startFailed(`model repository ${source} does not exist`);
  const repository = join(runDir, 'repository');
  const served = prepareServedRepository(source, repository, {
    model: opts.model,
    eagleHead: opts.eagleHead,
  });
  for (const { name, reason } of served.skipped) opts.progress?.(`not serving ${name}: ${reason}`);
  const env = await ensureTritonEnv({ python: opts.python, progress: opts.progress });
  for (let attempt = 1; ; attempt++) {
    opts.progress?.(`starting tritonserver on ${repository} (from ${source})`);
    const { server, hasExited } = await launchOnce(env, opts, repository, runDir);
    try {
      if (await waitReady(server, hasExited, timeoutMs)) return { server, reused: false };
    } catch (e) {
      await killServer(server, 5000);
      removeState(runDir);
      throw e;
    }
    removeState(runDir);
    if (attempt >= BIND_RETRIES || !bindFailure(server.log)) {
      throw startFailed('Triton exited before it was ready', server.log);
    }
  }
}

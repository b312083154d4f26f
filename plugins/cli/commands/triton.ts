/**
 * `canopy triton install|start|stop`: a real Triton server for local runs and CI.
 *
 *   canopy triton start [--model-repository DIR] [--model NAME|DIR] [--run-dir DIR]
 *                       [--timeout SECONDS] [--python PYTHON] [--log-verbose N]
 *     prints {"http": URL, "grpc": URL, "pid": N} once /v2/health/ready answers,
 *     and leaves the server running (a second start with the same --run-dir
 *     prints the running one).
 *   canopy triton stop [--run-dir DIR] [--grace SECONDS]
 *   canopy triton install [--python PYTHON]
 */
import { parseArgs } from 'node:util';
import { CanopyError } from '../../../kernels/errors.js';
import {
  ensureTritonEnv,
  publicView,
  startTritonServer,
  stopTritonServer,
} from '../../triton-server/index.js';
import type { Command } from './command.js';

const HELP = `usage: canopy triton <install|start|stop> [options]

  install   create .venv/triton with nvidia-pytriton, onnxruntime and numpy (cached)
  start     install if needed, start Triton on 127.0.0.1 (free ports), wait until
            ready, print {"http", "grpc", "pid"} as JSON; the server keeps running
  stop      stop the server that start recorded (SIGTERM, then SIGKILL)

options:
  --model-repository DIR  Triton model repository (default: models/triton)
  --model NAME|DIR        converted model for canopy_lm (default: the repository's config)
  --eagle-head FILE       head graph for canopy_eagle (default: the one the eagle drafter
                          finds for the model; none: canopy_eagle is not served)
  --run-dir DIR           where the state file and server.log live (default: .triton-run)
  --timeout SECONDS       readiness wait for start (default 180)
  --grace SECONDS         SIGTERM grace period for stop (default 15)
  --python PYTHON         base Python for a new venv (default: CANOPY_PYTHON, else python3)
  --log-verbose N         Triton's log verbosity (default 0)`;

/** A positive number of seconds as milliseconds. */
function millis(value: string | undefined, flag: string, fallbackSeconds: number): number {
  const n = value === undefined ? fallbackSeconds : Number(value);
  if (!Number.isFinite(n) || n <= 0) {
    throw new CanopyError('CANOPY_ERR_INVALID_ARGUMENT', `${flag} must be a positive number of seconds`);
  }
  return n * 1000;
}

function verbosity(value: string | undefined): number {
  const n = Number(value ?? 0);
  if (!Number.isInteger(n) || n < 0) {
    throw new CanopyError('CANOPY_ERR_INVALID_ARGUMENT', '--log-verbose must be a non-negative integer');
  }
  return n;
}

function progress(line: string): void {
  console.error(`canopy triton: ${line}`);
}

export const tritonCommand: Command = {
  name: 'triton',
  summary: 'install, start or stop a local Triton server with the reference model',
  async run(argv) {
    const { values, positionals } = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        'model-repository': { type: 'string' },
        model: { type: 'string' },
        'eagle-head': { type: 'string' },
        'run-dir': { type: 'string' },
        timeout: { type: 'string' },
        grace: { type: 'string' },
        python: { type: 'string' },
        'log-verbose': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    });
    const [action] = positionals;
    if (values.help || action === undefined) {
      console.log(HELP);
      return values.help ? 0 : 2;
    }
    switch (action) {
      case 'install': {
        const env = await ensureTritonEnv({ python: values.python, progress });
        console.log(JSON.stringify({ venv: env.venv, python: env.pythonVersion, server: env.serverBinary }));
        return 0;
      }
      case 'start': {
        const { server, reused } = await startTritonServer({
          modelRepository: values['model-repository'],
          model: values.model,
          eagleHead: values['eagle-head'],
          runDir: values['run-dir'],
          timeoutMs: millis(values.timeout, '--timeout', 180),
          python: values.python,
          logVerbose: verbosity(values['log-verbose']),
          progress,
        });
        if (reused) progress(`already running (pid ${server.pid}); log ${server.log}`);
        console.log(JSON.stringify(publicView(server)));
        return 0;
      }
      case 'stop': {
        const result = await stopTritonServer({
          runDir: values['run-dir'],
          graceMs: millis(values.grace, '--grace', 15),
        });
        if (result.pid === undefined) progress('no server was running');
        else progress(`stopped pid ${result.pid}${result.killed ? ' (SIGKILL after the grace period)' : ''}`);
        return 0;
      }
      default:
        throw new CanopyError(
          'CANOPY_ERR_INVALID_ARGUMENT',
          `unknown action '${action}' (install, start or stop)`,
        );
    }
  },
};

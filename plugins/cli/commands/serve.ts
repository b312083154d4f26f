/**
 * `canopy serve [--config FILE] (--upstream URL | --embedded) [--port N] ...`:
 * the drop-in proxy (docs/serving.md). Prints `{"http", "grpc"}` on stdout
 * once it listens, logs JSON lines on stderr, and on SIGTERM or SIGINT shuts
 * down gracefully (a second signal stops at once).
 */
import { parseArgs } from 'node:util';
import pino from 'pino';
import { DEFAULT_MODEL, modelDir, readManifestIfPresent } from '../../../adapters/model-store/index.js';
import { CanopyError } from '../../../kernels/errors.js';
import { prepareModel } from '../../../models/convert/prepare-model.js';
import { type CanopyConfig, type CanopyConfigInput, loadConfig } from '../../config/index.js';
import { startCanopyServer } from '../../proxy/index.js';
import { draftersFromFlag, numberFlag } from '../flags.js';
import { createProgress } from '../progress.js';
import type { Command } from './command.js';

const HELP = `usage: canopy serve [--config FILE] (--upstream URL | --embedded) [options]

Serves Triton's HTTP and gRPC APIs with speculative decoding for the
speculative models (generate, generate_stream, text infer, OpenAI
/v1/completions and /v1/chat/completions); everything else passes through to
Triton unchanged. Prints {"http", "grpc"} once listening. See docs/serving.md.

  --config FILE          canopy.config.json or .yaml (default: $CANOPY_CONFIG, else
                         ./canopy.config.{json,yaml,yml} when present)
  --upstream URL         Triton's HTTP endpoint, e.g. http://127.0.0.1:8000
  --upstream-grpc URL    Triton's gRPC endpoint (grpc://127.0.0.1:8001): enables the gRPC pass-through
  --embedded             no Triton: serve the embedded model in process
  --model NAME|DIR       the embedded model (default ${DEFAULT_MODEL}, prepared on first use)
  --host HOST            interface to bind (default 127.0.0.1)
  --port N               HTTP port (default 8080; 0 = any free port)
  --grpc-port N          gRPC port (default 8081 with --upstream-grpc)
  --drafters none|LIST   default drafters of every model (default ngram,recycling,retrieval)
  --budget N             default largest verify tree (default 64)
  --log-level LEVEL      fatal, error, warn, info (default), debug, trace, silent
  --no-warmup            skip the warm-up generation (embedded: one chat request through
                         the server itself, printed on stderr, before it reports ready)

Flags win over CANOPY_* environment variables, which win over the file.`;

function overridesOf(values: Record<string, string | boolean | undefined>): CanopyConfigInput {
  const s = (k: string) => values[k] as string | undefined;
  if (values.embedded && s('upstream') !== undefined) {
    throw new CanopyError('CANOPY_ERR_INVALID_ARGUMENT', '--embedded and --upstream exclude each other');
  }
  const server = {
    host: s('host'),
    port: numberFlag('port', s('port'), true),
    grpcPort: numberFlag('grpc-port', s('grpc-port'), true),
  };
  const drafters = s('drafters') === undefined ? undefined : (draftersFromFlag(s('drafters')) ?? []);
  const overrides: Record<string, unknown> = {
    server,
    defaults: { drafters: drafters?.map((d) => d.name), maxBudget: numberFlag('budget', s('budget'), true) },
    log: { level: s('log-level') },
  };
  if (s('upstream') !== undefined || s('upstream-grpc') !== undefined) {
    overrides.upstream = { http: s('upstream'), grpc: s('upstream-grpc') };
  }
  if (values.embedded || s('model') !== undefined) overrides.embedded = { model: s('model') };
  return overrides as CanopyConfigInput;
}

/** `npx canopy serve --embedded` must work on a fresh machine: the default model is prepared once. */
async function ensureDefaultModel(config: CanopyConfig): Promise<void> {
  if (!config.embedded || config.embedded.model !== undefined) return;
  if (readManifestIfPresent(modelDir(DEFAULT_MODEL)) !== undefined) return;
  const progress = createProgress('canopy serve: ');
  console.error(`canopy serve: preparing the default model ${DEFAULT_MODEL} (once)`);
  try {
    await prepareModel({ onProgress: (e) => progress.update(e) });
  } finally {
    progress.finish();
  }
}

const WARMUP_PROMPT = 'What is the capital of France?';

/**
 * One chat request through the running server before it reports ready: the
 * first onnxruntime pass is slow, and an operator sees at once that the model
 * answers sensibly. A failure is reported, not fatal.
 */
async function warmUp(http: string): Promise<void> {
  try {
    const models = (await (await fetch(`${http}/v1/models`)).json()) as { data?: { id: string }[] };
    const model = models.data?.[0]?.id;
    if (model === undefined) throw new Error('the server lists no model');
    const res = await fetch(`${http}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        model,
        messages: [{ role: 'user', content: WARMUP_PROMPT }],
        max_tokens: 32,
        temperature: 0,
      }),
    });
    const body = (await res.json()) as {
      choices?: { message?: { content?: string } }[];
      canopy?: { tau?: number };
      error?: unknown;
    };
    const answer = body.choices?.[0]?.message?.content;
    if (!res.ok || answer === undefined) throw new Error(JSON.stringify(body.error ?? body));
    const tau = body.canopy?.tau === undefined ? '' : ` (τ ${body.canopy.tau})`;
    console.error(
      `canopy serve: warm-up: ${JSON.stringify(WARMUP_PROMPT)} → ${JSON.stringify(answer.trim())}${tau}`,
    );
  } catch (error) {
    console.error(
      `canopy serve: warm-up request failed: ${error instanceof Error ? error.message : String(error)}`,
    );
  }
}

export const serveCommand: Command = {
  name: 'serve',
  summary: 'serve Triton/OpenAI APIs with speculative decoding (proxy before Triton, or embedded)',
  async run(argv) {
    const { values } = parseArgs({
      args: argv,
      options: {
        config: { type: 'string' },
        upstream: { type: 'string' },
        'upstream-grpc': { type: 'string' },
        embedded: { type: 'boolean', default: false },
        model: { type: 'string' },
        host: { type: 'string' },
        port: { type: 'string' },
        'grpc-port': { type: 'string' },
        drafters: { type: 'string' },
        budget: { type: 'string' },
        'log-level': { type: 'string' },
        'no-warmup': { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
    });
    if (values.help) {
      console.log(HELP);
      return 0;
    }
    const config = loadConfig({
      file: values.config,
      overrides: overridesOf(values),
      overridesLabel: 'the flags',
    });
    await ensureDefaultModel(config);
    const logger = pino({ level: config.log.level }, pino.destination(2));
    const server = await startCanopyServer(config, { logger });
    if (config.embedded && !values['no-warmup']) await warmUp(server.http);
    console.log(JSON.stringify({ http: server.http, grpc: server.grpc ?? null }));

    let onSignal: ((signal: NodeJS.Signals) => void) | undefined;
    try {
      await new Promise<void>((resolve) => {
        onSignal = (signal) => {
          if (onSignal === undefined) return;
          if (server.core.closing) {
            logger.warn({ signal }, 'second signal: stopping at once');
            process.exit(1);
          }
          logger.info({ signal }, 'shutting down gracefully (send it again to stop at once)');
          server.close().then(resolve, resolve);
        };
        process.on('SIGTERM', onSignal);
        process.on('SIGINT', onSignal);
      });
    } finally {
      if (onSignal) {
        process.off('SIGTERM', onSignal);
        process.off('SIGINT', onSignal);
      }
    }
    return 0;
  },
};

/**
 * `canopy generate --prompt TEXT [--chat] [--max-new-tokens N] [--drafters none|LIST] [--json] ...`:
 * one generation on the embedded default (or a Triton server with --target).
 * Text streams to stdout as it is generated; with --json one object is printed
 * at the end instead (with --logprobs N, each token's log-probability and its
 * N most likely alternatives too).
 */
import { parseArgs } from 'node:util';
import pino from 'pino';
import { DEFAULT_MODEL } from '../../../adapters/model-store/index.js';
import { summarize } from '../../../engine/index.js';
import { CanopyError } from '../../../kernels/errors.js';
import { openModelHost } from '../../host/model-host.js';
import { outputText } from '../../host/output-text.js';
import { draftersFromFlag, numberFlag, SAMPLING_FLAGS, samplingFromFlags, targetFromFlag } from '../flags.js';
import type { Command } from './command.js';

const HELP = `usage: canopy generate --prompt TEXT [options]

  --prompt TEXT          the prompt (required)
  --chat                 wrap the prompt in the model's chat template as a user turn
  --system TEXT          a system message (with --chat)
  --max-new-tokens N     tokens to generate at most (default 128)
  --drafters none|LIST   'none' = plain decoding; a comma-separated list (ngram,recycling,retrieval);
                         default: ngram,recycling,retrieval
  --budget N             largest verify tree (nodes, root included; default 64)
  --stop TEXT            stop string (repeatable)
  --temperature T  --top-p P  --top-k K  --min-p P  --seed N
  --repetition-penalty R  --frequency-penalty F  --presence-penalty P
  --model NAME           prepared model (default ${DEFAULT_MODEL})
  --target URL           verify on a Triton server (http://HOST:PORT or grpc://HOST:PORT) instead of in process
  --triton-model NAME    the Triton model (default canopy_lm)
  --logprobs N           with --json: each token's log-probability and its N most likely alternatives (0-20)
  --json                 print { text, tokens, finishReason, stats } as JSON (and logprobs when asked)`;

export const generateCommand: Command = {
  name: 'generate',
  summary: 'generate text with speculative decoding (embedded model or a Triton server)',
  async run(argv) {
    const { values } = parseArgs({
      args: argv,
      options: {
        prompt: { type: 'string' },
        chat: { type: 'boolean', default: false },
        system: { type: 'string' },
        'max-new-tokens': { type: 'string' },
        drafters: { type: 'string' },
        budget: { type: 'string' },
        stop: { type: 'string', multiple: true },
        model: { type: 'string' },
        target: { type: 'string' },
        'triton-model': { type: 'string' },
        json: { type: 'boolean', default: false },
        logprobs: { type: 'string' },
        help: { type: 'boolean', short: 'h', default: false },
        ...SAMPLING_FLAGS,
      },
    });
    if (values.help) {
      console.log(HELP);
      return 0;
    }
    if (values.prompt === undefined)
      throw new CanopyError('CANOPY_ERR_INVALID_ARGUMENT', '--prompt is required');
    const maxNewTokens = numberFlag('max-new-tokens', values['max-new-tokens'], true) ?? 128;
    if (maxNewTokens < 1 || maxNewTokens > 1_000_000) {
      throw new CanopyError(
        'CANOPY_ERR_MAX_TOKENS_OUT_OF_RANGE',
        `--max-new-tokens must be at least 1, got ${maxNewTokens}`,
      );
    }
    const budget = numberFlag('budget', values.budget, true);
    const logprobs = numberFlag('logprobs', values.logprobs, true);
    if (logprobs !== undefined && !values.json) {
      throw new CanopyError('CANOPY_ERR_INVALID_ARGUMENT', '--logprobs needs --json');
    }
    const sampling = samplingFromFlags(values);
    const drafters = draftersFromFlag(values.drafters);
    const target = targetFromFlag(values.target, values['triton-model']);

    const host = await openModelHost({
      model: values.model ?? DEFAULT_MODEL,
      target,
      drafters: drafters ?? [],
      maxBudget: budget,
      logger: pino({ level: process.env.CANOPY_LOG_LEVEL ?? 'warn' }, pino.destination(2)),
    });
    try {
      const { tokenizer } = host;
      const prompt = values.chat
        ? tokenizer.encodeChat([
            ...(values.system === undefined ? [] : [{ role: 'system' as const, content: values.system }]),
            { role: 'user' as const, content: values.prompt },
          ])
        : tokenizer.encode(values.prompt, { addSpecial: true });
      const stop = values.stop ?? [];
      const stream = !values.json && stop.length === 0;
      const decoder = tokenizer.createStreamDecoder({ skipSpecial: true });
      const result = await host.engine.generate({
        prompt,
        maxNewTokens,
        sampling,
        stop,
        speculate: drafters !== null,
        maxBudget: budget,
        logprobs,
        onTokens: stream
          ? (tokens) => {
              for (const id of tokens) process.stdout.write(decoder.push(id));
            }
          : undefined,
      });
      const text = outputText(tokenizer, result);
      const stats = summarize(result.stats);
      if (values.json) {
        const lp = result.logprobs;
        const perToken = lp
          ? [...result.tokens].map((id, t) => ({
              id,
              logprob: lp.logprobs[t],
              top: Array.from({ length: lp.top }, (_, r) => ({
                id: lp.topIds[t * lp.top + r],
                logprob: lp.topLogprobs[t * lp.top + r],
              })),
            }))
          : undefined;
        console.log(
          JSON.stringify({
            text,
            tokens: [...result.tokens],
            finishReason: result.finishReason,
            stats,
            ...(perToken ? { logprobs: perToken } : {}),
          }),
        );
      } else {
        if (stream) process.stdout.write(`${decoder.flush()}\n`);
        else console.log(text);
        console.error(
          `[${result.tokens.length} tokens, ${stats.steps} steps, τ ${stats.tau}, ${stats.tokensPerSecond} tok/s, finish ${result.finishReason}]`,
        );
      }
      return 0;
    } finally {
      await host.dispose();
    }
  },
};

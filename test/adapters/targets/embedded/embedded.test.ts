import { describe } from 'vitest';
import { DEFAULT_MODEL } from '../../../../adapters/model-store/index.js';
import { createEmbeddedTarget } from '../../../../adapters/targets/embedded/index.js';
import { loadTokenizer } from '../../../../adapters/tokenizer/index.js';
import { describeTargetConformance } from '../conformance.js';
import { useTinyModel } from './tiny-model.js';

const tinyModel = useTinyModel();

const TEXTS = [
  'The quick brown fox jumps over the lazy dog.',
  'def add(a, b):\n    return a + b\n',
  'Question: what is 12 + 30? Answer:',
];

async function promptsFor(dir: string, chat: boolean): Promise<Int32Array[]> {
  const tokenizer = await loadTokenizer(dir);
  return TEXTS.map((text) =>
    chat ? tokenizer.encodeChat([{ role: 'user', content: text }]) : tokenizer.encode(text),
  );
}

describeTargetConformance(
  'embedded on the tiny random model',
  async () => createEmbeddedTarget({ model: tinyModel() }),
  {
    prompts: async () => promptsFor(tinyModel(), false),
    treesPerPrompt: 3,
    maxNodes: 16,
    longRunTokens: 48,
  },
);

describe.runIf(process.env.CANOPY_MODEL_TESTS === '1')('with the real model', () => {
  describeTargetConformance(
    `embedded on ${DEFAULT_MODEL}`,
    () => createEmbeddedTarget({ model: DEFAULT_MODEL }),
    {
      prompts: async (target) => promptsFor((target as unknown as { dir: string }).dir, true),
      treesPerPrompt: 1,
      maxNodes: 10,
      longRunTokens: 24,
    },
  );
});

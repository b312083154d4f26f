/**
 * The shared target conformance suite against the Triton target, over HTTP,
 * gRPC and gRPC streaming, when CANOPY_TRITON_HTTP / CANOPY_TRITON_GRPC name a
 * running server (`npx canopy triton start` prints both).
 *
 * Prompts are real text, tokenized with the served model's own tokenizer from
 * the local model cache (CANOPY_TRITON_MODEL names it when the server was
 * started with `--model`; else the model the server reports).
 */
import { describe } from 'vitest';
import { loadManifest } from '../../../../adapters/model-store/index.js';
import type { Target } from '../../../../adapters/target.js';
import { createTritonTarget, type TritonTargetOptions } from '../../../../adapters/targets/triton/index.js';
import { loadTokenizer } from '../../../../adapters/tokenizer/index.js';
import { describeTargetConformance } from '../conformance.js';

const TEXTS = [
  'The quick brown fox jumps over the lazy dog.',
  'def add(a, b):\n    return a + b\n',
  'Question: what is 12 + 30? Answer:',
];

async function prompts(target: Target): Promise<Int32Array[]> {
  const { dir } = loadManifest(process.env.CANOPY_TRITON_MODEL ?? target.info.model);
  const tokenizer = await loadTokenizer(dir);
  return TEXTS.map((text) => tokenizer.encode(text));
}

const setups: [string, TritonTargetOptions][] = [];
if (process.env.CANOPY_TRITON_HTTP) setups.push(['http', { url: process.env.CANOPY_TRITON_HTTP }]);
if (process.env.CANOPY_TRITON_GRPC) {
  setups.push(['grpc', { url: process.env.CANOPY_TRITON_GRPC }]);
  setups.push(['grpc stream', { url: process.env.CANOPY_TRITON_GRPC, stream: true }]);
}

describe.runIf(setups.length > 0)('Triton target conformance', () => {
  for (const [label, options] of setups) {
    describeTargetConformance(`Triton over ${label}`, () => createTritonTarget(options), {
      prompts,
      treesPerPrompt: 2,
      maxNodes: 12,
      longRunTokens: 32,
    });
  }
});

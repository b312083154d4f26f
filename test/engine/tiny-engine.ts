/**
 * Engines over the real tiny random model (embedded onnxruntime target) for
 * engine tests. One target per test file; every engine built here shares it.
 */
import { afterAll, beforeAll, expect } from 'vitest';
import type { Draft, DraftContext, DrafterDefinition } from '../../adapters/drafter.js';
import { builtinDrafters } from '../../adapters/drafters/index.js';
import { createEmbeddedTarget, type EmbeddedTarget } from '../../adapters/targets/embedded/index.js';
import { loadTokenizer, type Tokenizer } from '../../adapters/tokenizer/index.js';
import {
  createDrafterRegistry,
  createModelEngine,
  type DrafterSpec,
  type ModelEngine,
} from '../../engine/index.js';
import { GREEDY } from '../../kernels/sampling-params.js';
import { useTinyModel } from '../adapters/targets/embedded/tiny-model.js';

export interface TinyEngines {
  /** The tiny model's directory (drafters read weights such as embeddings from it). */
  readonly modelDir: () => string;
  readonly target: () => EmbeddedTarget;
  readonly tokenizer: () => Tokenizer;
  engine(drafters: readonly DrafterSpec[], options?: TinyEngineOptions): Promise<ModelEngine>;
}

export interface TinyEngineOptions {
  /** Drafter definitions registered beside the built-in ones. */
  readonly extra?: readonly DrafterDefinition<unknown>[];
  /** Default 32. */
  readonly maxBudget?: number;
  /** false: every drafter proposes every step (tests of a drafter's own behaviour). */
  readonly gateDrafters?: boolean;
  /** true: verify the best maxBudget nodes every step, whatever this machine's timings say. */
  readonly fixedBudget?: boolean;
}

export function useTinyEngines(): TinyEngines {
  const modelDir = useTinyModel();
  let target: EmbeddedTarget | undefined;
  let tokenizer: Tokenizer | undefined;
  const engines: ModelEngine[] = [];
  beforeAll(async () => {
    target = await createEmbeddedTarget({ model: modelDir(), threads: 1 });
    tokenizer = await loadTokenizer(modelDir());
  });
  afterAll(async () => {
    await Promise.all(engines.map((e) => e.dispose()));
    await target?.dispose();
  });
  return {
    modelDir,
    target: () => target as EmbeddedTarget,
    tokenizer: () => tokenizer as Tokenizer,
    async engine(drafters, { extra = [], maxBudget = 32, gateDrafters = true, fixedBudget = false } = {}) {
      const engine = await createModelEngine({
        target: target as EmbeddedTarget,
        registry: createDrafterRegistry([...builtinDrafters, ...extra]),
        drafters,
        maxBudget,
        fixedBudget,
        modelDir: modelDir(),
        ownsTarget: false,
        gateDrafters,
      });
      engines.push(engine);
      return engine;
    },
  };
}

/**
 * Generates each chat greedily with `plain` (speculation off) and `spec` (on),
 * expects the same tokens and no failed drafter, and returns the draft tokens
 * each drafter got accepted, summed over the chats.
 */
export async function expectPlainOutput(
  tokenizer: Tokenizer,
  plain: ModelEngine,
  spec: ModelEngine,
  chats: readonly string[],
  maxNewTokens: number,
): Promise<Record<string, number>> {
  const accepted: Record<string, number> = {};
  for (const text of chats) {
    const prompt = tokenizer.encodeChat([{ role: 'user', content: text }]);
    const expected = await plain.generate({ prompt, maxNewTokens, sampling: GREEDY, speculate: false });
    const got = await spec.generate({ prompt, maxNewTokens, sampling: GREEDY, speculate: true });
    expect([...got.tokens], text).toEqual([...expected.tokens]);
    expect(got.stats.failedDrafters).toEqual([]);
    for (const [name, n] of Object.entries(got.stats.acceptedByDrafter))
      accepted[name] = (accepted[name] ?? 0) + n;
  }
  return accepted;
}

/** Prompts that make the tiny model's drafters useful: repeated phrases, lists, code-ish text. */
export const TINY_PROMPTS = [
  'the cat sat on the mat. the cat sat on the mat. the cat',
  'one two three four five one two three four five one two',
  'def add(a, b):\n    return a + b\n\ndef add(a, b):\n',
  'Hello there! How are you today? Hello there! How',
  'a b c d e f g h i j k l m n o p',
];

/** A third-party style drafter whose proposal is `propose(context)`; it learns nothing. */
export function scriptedDrafter(
  name: string,
  propose: (context: DraftContext) => Draft | null,
  /** What each session reports as `lastWaitMs` (the wait of its own target passes). */
  lastWaitMs?: () => number,
): DrafterDefinition<unknown> {
  const capabilities = {
    tree: true,
    probabilities: false,
    needsTopK: 0,
    needsHiddenLayers: [],
    needsTarget: false,
  };
  return {
    name,
    capabilities,
    parseOptions: (raw) => raw,
    create: () => ({
      name,
      capabilities,
      open: () =>
        lastWaitMs
          ? {
              propose,
              observe: () => undefined,
              get lastWaitMs() {
                return lastWaitMs();
              },
            }
          : { propose, observe: () => undefined },
    }),
  };
}

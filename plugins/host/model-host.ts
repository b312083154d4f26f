/**
 * A served model: its target (embedded or Triton), its tokenizer, and the
 * engine with its drafters. The CLI, the benchmark, the proxy and the Express
 * middleware all open models through here, so they behave the same.
 */
import type { Logger } from 'pino';
import { builtinDrafters } from '../../adapters/drafters/index.js';
import { loadManifest } from '../../adapters/model-store/index.js';
import type { Target } from '../../adapters/target.js';
import { createEmbeddedTarget } from '../../adapters/targets/embedded/index.js';
import { loadTokenizer, type Tokenizer } from '../../adapters/tokenizer/index.js';
import {
  createDrafterRegistry,
  createModelEngine,
  type DrafterRegistry,
  type DrafterSpec,
  type EngineObserver,
  type ModelEngine,
} from '../../engine/index.js';
import { StopStringMatcher, type TokenBytes } from '../../kernels/stop-strings.js';

/** What runs when nothing else is configured: the fusion of the train-free drafters. */
export const DEFAULT_DRAFTERS: readonly DrafterSpec[] = Object.freeze([
  { name: 'ngram' },
  { name: 'recycling' },
  { name: 'retrieval' },
]);

export type TargetSpec =
  | { readonly kind: 'embedded'; readonly threads?: number }
  | { readonly kind: 'triton'; readonly url: string; readonly model?: string; readonly timeoutMs?: number };

export interface ModelHostOptions {
  /** Prepared model name (or directory) in the canopy cache: tokenizer and, when embedded, weights. */
  readonly model: string;
  readonly target?: TargetSpec;
  readonly drafters?: readonly DrafterSpec[];
  readonly maxBudget?: number;
  /** See ModelEngineOptions.fixedBudget (experiments, tests that must not depend on this machine's speed). */
  readonly fixedBudget?: boolean;
  readonly registry?: DrafterRegistry;
  readonly logger?: Logger;
  readonly observer?: EngineObserver;
  /** See ModelEngineOptions.gateDrafters (default true). */
  readonly gateDrafters?: boolean;
}

export interface ModelHost {
  readonly name: string;
  /** The prepared model's cache directory (drafters read weights such as embeddings from it). */
  readonly dir: string;
  readonly engine: ModelEngine;
  readonly tokenizer: Tokenizer;
  dispose(): Promise<void>;
}

/** A registry holding the built-in drafters; third-party ones register on it too. */
export function createDefaultRegistry(): DrafterRegistry {
  return createDrafterRegistry(builtinDrafters);
}

/**
 * The bytes stop strings are matched against: the text the answer shows,
 * where special tokens (`<|im_end|>`...) have none, so a stop string that a
 * special token splits in the token stream still ends the answer, as it does
 * in the text the user gets and in a streamed answer.
 */
export function stopTextTable(
  tokenizer: Pick<Tokenizer, 'vocabSize' | 'tokenBytes' | 'isSpecial'>,
): TokenBytes {
  const shown = (id: number) => (tokenizer.isSpecial(id) ? EMPTY : tokenizer.tokenBytes(id));
  const offsets = new Int32Array(tokenizer.vocabSize + 1);
  for (let id = 0; id < tokenizer.vocabSize; id++) offsets[id + 1] = offsets[id] + shown(id).length;
  const bytes = new Uint8Array(offsets[tokenizer.vocabSize]);
  for (let id = 0; id < tokenizer.vocabSize; id++) bytes.set(shown(id), offsets[id]);
  return { bytes, offsets };
}

const EMPTY = new Uint8Array(0);

async function openTarget(spec: TargetSpec, model: string): Promise<Target> {
  if (spec.kind === 'embedded') return createEmbeddedTarget({ model, threads: spec.threads });
  const { createTritonTarget } = await import('../../adapters/targets/triton/index.js');
  return createTritonTarget({ url: spec.url, model: spec.model ?? 'canopy_lm', timeoutMs: spec.timeoutMs });
}

export async function openModelHost(options: ModelHostOptions): Promise<ModelHost> {
  const { dir, manifest } = loadManifest(options.model);
  const tokenizer = await loadTokenizer(dir);
  const target = await openTarget(options.target ?? { kind: 'embedded' }, dir);
  let table: TokenBytes | undefined;
  try {
    const engine = await createModelEngine({
      name: manifest.name,
      target,
      registry: options.registry ?? createDefaultRegistry(),
      drafters: options.drafters ?? DEFAULT_DRAFTERS,
      maxBudget: options.maxBudget,
      fixedBudget: options.fixedBudget,
      modelDir: dir,
      gateDrafters: options.gateDrafters,
      logger: options.logger,
      observer: options.observer,
      createStopMatcher(stop) {
        if (stop.length === 0) return undefined;
        table ??= stopTextTable(tokenizer);
        return new StopStringMatcher(stop, table);
      },
    });
    return { name: manifest.name, dir, engine, tokenizer, dispose: () => engine.dispose() };
  } catch (error) {
    await target.dispose();
    throw error;
  }
}

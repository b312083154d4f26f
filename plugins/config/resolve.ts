/**
 * The effective settings of one speculative model, key by key:
 *
 *   built-in < `defaults` < the Triton model's `canopy` parameter < `models.<name>`
 *
 * canopy's own configuration has the last word, so whoever runs the proxy can
 * override (or switch off, `enabled: false`) what a model config asks for.
 */
import type { DrafterSpec } from '../../engine/index.js';
import { DEFAULT_DRAFTERS } from '../host/model-host.js';
import type { CanopyConfig, DrafterEntry, ModelSettings } from './schema.js';

export const BUILTIN_SPECULATION = Object.freeze({
  maxBudget: 64,
  defaultMaxTokens: 128,
  maxTokens: 4096,
});

export interface ResolvedModel {
  /** The name clients use. */
  readonly name: string;
  readonly enabled: boolean;
  /** Triton model that verifies (unused for the embedded model). */
  readonly target: string;
  /** Prepared model for the tokenizer; undefined = ask the target's config. */
  readonly tokenizer: string | undefined;
  readonly drafters: readonly DrafterSpec[];
  readonly maxBudget: number;
  readonly defaultMaxTokens: number;
  readonly maxTokens: number;
}

/** A config file's drafter entry as the engine takes it. */
export function drafterSpec(entry: DrafterEntry): DrafterSpec {
  return typeof entry === 'string' ? { name: entry } : { name: entry.name, options: entry.options };
}

export function resolveModel(
  config: CanopyConfig,
  name: string,
  fromModelConfig?: ModelSettings,
): ResolvedModel {
  const own = config.models[name] ?? {};
  const pick = <K extends keyof ModelSettings>(key: K): ModelSettings[K] =>
    own[key] ?? fromModelConfig?.[key] ?? (config.defaults as ModelSettings)[key];
  const drafters = pick('drafters');
  const maxTokens = pick('maxTokens') ?? BUILTIN_SPECULATION.maxTokens;
  return Object.freeze({
    name,
    enabled: pick('enabled') ?? true,
    target: pick('target') ?? name,
    tokenizer: pick('tokenizer'),
    drafters: Object.freeze(drafters === undefined ? [...DEFAULT_DRAFTERS] : drafters.map(drafterSpec)),
    maxBudget: pick('maxBudget') ?? BUILTIN_SPECULATION.maxBudget,
    defaultMaxTokens: Math.min(pick('defaultMaxTokens') ?? BUILTIN_SPECULATION.defaultMaxTokens, maxTokens),
    maxTokens,
  });
}

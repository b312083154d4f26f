/**
 * The engine of one model: builds its drafters from configuration through the
 * registry, owns the per-model state (runtime.ts) and runs requests.
 * The proxy, the Express middleware, the CLI and the benchmark all sit on this.
 */
import pino, { type Logger } from 'pino';
import type { DrafterFactory } from '../adapters/drafter.js';
import type { Target, TargetInfo } from '../adapters/target.js';
import { CanopyError, isCanopyError } from '../kernels/errors.js';
import { createCalibration, createSetCalibration } from './calibration.js';
import { createCostModel } from './cost-model.js';
import { createDrafterGate } from './drafter-gate.js';
import { createBudgetPolicy } from './policy.js';
import type { DrafterRegistry } from './registry.js';
import type { ModelRuntime, RuntimeDrafter, StopMatcher } from './runtime.js';
import { runSession } from './session.js';
import { type EngineObserver, type GenerateRequest, type GenerateResult, MAX_LOGPROBS } from './types.js';

export const MAX_BUDGET_LIMIT = 256;
const MAX_DRAFTERS = 32;

export interface DrafterSpec {
  readonly name: string;
  readonly options?: unknown;
}

export interface ModelEngineOptions {
  readonly name?: string;
  readonly target: Target;
  readonly registry: DrafterRegistry;
  readonly drafters: readonly DrafterSpec[];
  /** Largest verify budget, root included (1..256). Default 64. */
  readonly maxBudget?: number;
  /** Verify the best `maxBudget` nodes every step instead of letting the policy choose (experiments). */
  readonly fixedBudget?: boolean;
  /**
   * Let a drafter propose only while it pays for its drafting time (engine/drafter-gate.ts).
   * Default true; false asks every drafter every step (experiments, drafter tests).
   */
  readonly gateDrafters?: boolean;
  readonly modelDir?: string;
  readonly logger?: Logger;
  readonly observer?: EngineObserver;
  readonly createStopMatcher?: (stop: readonly string[]) => StopMatcher | undefined;
  /** Whether dispose() also disposes the target (false when engines share one target). Default true. */
  readonly ownsTarget?: boolean;
}

export interface ModelEngine {
  readonly name: string;
  readonly target: Target;
  /** Drafters that were built (incompatible ones are left out with a warning). */
  readonly drafterNames: readonly string[];
  readonly maxBudget: number;
  generate(request: GenerateRequest): Promise<GenerateResult>;
  /** The measured verify cost per tree size (ms), for reports. */
  costSnapshot(): { nodes: number; ms: number; samples: number }[];
  dispose(): Promise<void>;
}

export function checkBudget(budget: number): number {
  if (!Number.isInteger(budget) || budget < 1 || budget > MAX_BUDGET_LIMIT) {
    throw new CanopyError(
      'CANOPY_ERR_BUDGET_OUT_OF_RANGE',
      `budget must be an integer from 1 to ${MAX_BUDGET_LIMIT}, got ${budget}`,
      { details: { budget } },
    );
  }
  return budget;
}

/**
 * A request's `logprobs`: an integer from 0 to the alternatives the target can
 * return (MAX_LOGPROBS at most), on a target that reports log-probabilities.
 */
export function checkLogprobs(top: number, info: TargetInfo): number {
  if (!info.capabilities.logprobs) {
    throw new CanopyError(
      'CANOPY_ERR_TARGET_UNSUPPORTED',
      `log-probabilities are not available from model '${info.model}': its target does not report them`,
    );
  }
  const limit = Math.min(MAX_LOGPROBS, info.capabilities.maxTopK);
  if (!Number.isInteger(top) || top < 0 || top > limit) {
    throw new CanopyError(
      'CANOPY_ERR_INVALID_ARGUMENT',
      `log-probability alternatives must be an integer from 0 to ${limit}, got ${top}`,
      { details: { limit } },
    );
  }
  return top;
}

export async function createModelEngine(options: ModelEngineOptions): Promise<ModelEngine> {
  const { target, registry } = options;
  const name = options.name ?? target.info.model;
  const log = (options.logger ?? pino({ level: 'silent' })).child({ model: name });
  const maxBudget = checkBudget(options.maxBudget ?? 64);
  if (options.drafters.length > MAX_DRAFTERS) {
    throw new CanopyError('CANOPY_ERR_INVALID_CONFIG', `at most ${MAX_DRAFTERS} drafters per model`);
  }

  // Parse every drafter's options first: a typo fails before any model work starts.
  const parsed = options.drafters.map((spec) => {
    const def = registry.get(spec.name);
    return { def, options: def.parseOptions(spec.options ?? {}) };
  });
  const seen = new Set<string>();
  const drafters: RuntimeDrafter[] = [];
  for (const { def, options: drafterOptions } of parsed) {
    if (seen.has(def.name))
      throw new CanopyError('CANOPY_ERR_INVALID_CONFIG', `drafter '${def.name}' is listed twice`);
    seen.add(def.name);
    try {
      const factory = await def.create(drafterOptions, { target: target.info, modelDir: options.modelDir });
      drafters.push({ name: def.name, source: drafters.length, factory });
    } catch (error) {
      if (!isCanopyError(error, 'CANOPY_ERR_DRAFTER_INCOMPATIBLE')) throw error;
      log.warn(
        { drafter: def.name, reason: error.message },
        'drafter cannot run on this target; running without it',
      );
    }
  }
  const byName = new Map<string, DrafterFactory>(drafters.map((d) => [d.name, d.factory]));

  const cost = createCostModel(MAX_BUDGET_LIMIT);
  let hostMean = 0;
  let hostCount = 0;
  const runtime: ModelRuntime = {
    name,
    target,
    drafters,
    drafterByName: (n) => byName.get(n) as DrafterFactory,
    calibration: createCalibration(MAX_DRAFTERS),
    setCalibration: createSetCalibration(),
    cost,
    policy: createBudgetPolicy(cost),
    gate: createDrafterGate(MAX_DRAFTERS, options.gateDrafters !== false),
    maxBudget,
    fixedBudget: options.fixedBudget === true,
    log,
    observer: options.observer,
    createStopMatcher: options.createStopMatcher,
    hostMs: () => hostMean,
    recordHost(ms) {
      hostCount++;
      hostMean += (ms - hostMean) / Math.min(hostCount, 50);
    },
  };

  return {
    name,
    target,
    drafterNames: drafters.map((d) => d.name),
    maxBudget,
    async generate(request) {
      for (const d of request.drafters ?? []) {
        if (!byName.has(d)) {
          throw new CanopyError(
            'CANOPY_ERR_UNKNOWN_DRAFTER',
            `drafter '${d}' is not enabled for model '${name}'; enabled: ${[...byName.keys()].join(', ') || '(none)'}`,
            { details: { drafter: d } },
          );
        }
      }
      if (request.maxBudget !== undefined) checkBudget(request.maxBudget);
      if (request.logprobs !== undefined) checkLogprobs(request.logprobs, target.info);
      if (!Number.isInteger(request.maxNewTokens) || request.maxNewTokens < 1) {
        throw new CanopyError(
          'CANOPY_ERR_MAX_TOKENS_OUT_OF_RANGE',
          `max new tokens must be a positive integer, got ${request.maxNewTokens}`,
        );
      }
      return runSession(runtime, request);
    },
    costSnapshot: () => cost.snapshot(),
    async dispose() {
      for (const d of drafters) d.factory.dispose?.();
      if (options.ownsTarget !== false) await target.dispose();
    },
  };
}

/**
 * Per-model state shared by every request of that model: the target, the
 * drafter factories (recycling matrix, suffix index…), calibration, the
 * measured verify cost and the budget policy.
 */
import type { Logger } from 'pino';
import type { DrafterFactory } from '../adapters/drafter.js';
import type { Target } from '../adapters/target.js';
import type { Calibration, SetCalibration } from './calibration.js';
import type { CostModel } from './cost-model.js';
import type { DrafterGate } from './drafter-gate.js';
import type { BudgetPolicy } from './policy.js';
import type { EngineObserver } from './types.js';

export interface RuntimeDrafter {
  readonly name: string;
  /** Bit index in fusion provenance. */
  readonly source: number;
  readonly factory: DrafterFactory;
}

/** Matches stop strings over the emitted tokens, across steps. */
export interface StopMatcher {
  /** Returns how many of `tokens` to keep when a stop string completed in them, else -1. */
  push(tokens: Int32Array): number;
  /** Once a stop fired: generated text bytes to keep (everything before the stop string). */
  readonly hit: { readonly stop: number; readonly textBytes: number } | null;
}

export interface ModelRuntime {
  readonly name: string;
  readonly target: Target;
  readonly drafters: readonly RuntimeDrafter[];
  drafterByName(name: string): DrafterFactory;
  readonly calibration: Calibration;
  /** Second stage: fused nodes by the set of drafters that proposed them (calibration.ts). */
  readonly setCalibration: SetCalibration;
  readonly cost: CostModel;
  readonly policy: BudgetPolicy;
  /** Which drafters pay for their drafting time (drafter-gate.ts). */
  readonly gate: DrafterGate;
  /** Largest verify budget (nodes per pass, root included). */
  readonly maxBudget: number;
  /** Always verify the full `maxBudget` tree, bypassing the policy (experiments and benchmarks). */
  readonly fixedBudget: boolean;
  readonly log: Logger;
  readonly observer?: EngineObserver;
  createStopMatcher?(stop: readonly string[]): StopMatcher | undefined;
  /** Mean per-step host time (drafting, fusion, walk), ms. */
  hostMs(): number;
  recordHost(ms: number): void;
}

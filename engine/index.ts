export {
  type Calibration,
  createCalibration,
  createSetCalibration,
  type SetCalibration,
} from './calibration.js';
export { type CostModel, createCostModel } from './cost-model.js';
export {
  checkBudget,
  checkLogprobs,
  createModelEngine,
  type DrafterSpec,
  MAX_BUDGET_LIMIT,
  type ModelEngine,
  type ModelEngineOptions,
} from './model-engine.js';
export { BUDGET_CANDIDATES, type BudgetPolicy, createBudgetPolicy } from './policy.js';
export { assertDrafterDefinition, createDrafterRegistry, type DrafterRegistry } from './registry.js';
export type { StopMatcher } from './runtime.js';
export {
  draftOverheadShare,
  emptyStats,
  type RequestStats,
  summarize,
  tau,
  tokensPerSecond,
} from './stats.js';
export {
  type EngineObserver,
  type FinishReason,
  type GenerateRequest,
  type GenerateResult,
  MAX_LOGPROBS,
  type TokenLogprobs,
} from './types.js';

/**
 * One request's decoding loop (docs/architecture.md, "One decoding step"):
 * drafters propose → fusion keeps the best `budget` nodes → the target
 * verifies the tree in one pass → the walk keeps the longest agreed path plus
 * the target's own next token → feedback to drafters, calibration and policy.
 *
 * Speculation off is the same loop with a one-node tree every step: that is
 * the baseline every benchmark compares against.
 */
import type { Draft, DraftContext, DrafterSession } from '../adapters/drafter.js';
import type { PassResult, TargetSession } from '../adapters/target.js';
import { CanopyError, isCanopyError } from '../kernels/errors.js';
import { type FusedTree, type FusionInput, fuseTrees, prefixTree } from '../kernels/fuse.js';
import { validateTree } from '../kernels/tree.js';
import { walkTree } from '../kernels/verify.js';
import { exclusiveGain, exclusiveVerifyMs } from './drafter-gate.js';
import { accountDrafts, calibrateDraft, recordFused } from './feedback.js';
import type { ModelRuntime } from './runtime.js';
import { emptyStats, type RequestStats } from './stats.js';
import type { FinishReason, GenerateRequest, GenerateResult, TokenLogprobs } from './types.js';

interface ActiveDrafter {
  readonly name: string;
  /** Index of the drafter in the model's runtime (bit in fusion provenance). */
  readonly source: number;
  readonly session: DrafterSession;
  failed: boolean;
}

const now = (): number => performance.now();

export async function runSession(rt: ModelRuntime, req: GenerateRequest): Promise<GenerateResult> {
  const started = now();
  const stats = emptyStats();
  const { target, log } = rt;
  const prompt = req.prompt;
  if (prompt.length === 0) throw new CanopyError('CANOPY_ERR_INVALID_ARGUMENT', 'the prompt has no tokens');
  const chosenDrafters = req.speculate
    ? rt.drafters.filter((d) => req.drafters === undefined || req.drafters.includes(d.name))
    : [];
  const topK = Math.min(
    target.info.capabilities.maxTopK,
    Math.max(0, ...chosenDrafters.map((d) => d.factory.capabilities.needsTopK)),
  );
  const promptHiddenLayers = [
    ...new Set(
      chosenDrafters.flatMap((d) =>
        d.factory.capabilities.needsPromptHidden ? d.factory.capabilities.needsHiddenLayers : [],
      ),
    ),
  ];
  // The target refuses a prompt that cannot fit (CANOPY_ERR_PROMPT_TOO_LONG) before anything is allocated.
  let session: TargetSession = await target.open(prompt, {
    sampling: req.sampling,
    promptTopK: topK > 0 ? topK : undefined,
    promptHiddenLayers: promptHiddenLayers.length > 0 ? promptHiddenLayers : undefined,
    signal: req.signal,
  });
  stats.prefillMs = now() - started;
  const capacity = Math.max(
    prompt.length,
    Math.min(prompt.length + req.maxNewTokens, target.info.maxContext),
  );
  const tokens = new Int32Array(capacity);
  tokens.set(prompt);
  let committed = prompt.length;
  let generated = 0;
  let finish: FinishReason = 'length';

  const drafters: ActiveDrafter[] = [];
  const stop = rt.createStopMatcher?.(req.stop ?? []);
  const logprobs = req.logprobs === undefined ? undefined : new LogprobRecorder(req.logprobs);

  try {
    for (const d of chosenDrafters) {
      const request = {
        prompt,
        promptTopK: session.promptTopK,
        promptHidden: d.factory.capabilities.needsPromptHidden ? session.promptHidden : undefined,
        target: d.factory.capabilities.needsTarget ? session : undefined,
      };
      try {
        drafters.push({ name: d.name, source: d.source, session: d.factory.open(request), failed: false });
      } catch (error) {
        drafterFailed(rt, stats, d.name, error);
      }
    }
    const hiddenLayers = [
      ...new Set(drafters.flatMap((d) => rt.drafterByName(d.name).capabilities.needsHiddenLayers)),
    ];
    const passTopK = Math.max(topK, req.logprobs ?? 0);
    const passOptions = {
      topK: passTopK > 0 ? passTopK : undefined,
      hiddenLayers: hiddenLayers.length > 0 ? hiddenLayers : undefined,
      logprobs: logprobs !== undefined ? true : undefined,
      signal: req.signal,
    };
    const maxBudget = Math.max(1, Math.min(req.maxBudget ?? rt.maxBudget, rt.maxBudget));

    while (generated < req.maxNewTokens) {
      if (req.signal?.aborted) throw new CanopyError('CANOPY_ERR_CANCELLED', 'the request was cancelled');
      if (committed >= target.info.maxContext) break;
      const root = tokens[committed - 1];
      const context = tokens.subarray(0, committed);
      const room = Math.min(maxBudget, target.info.maxContext - committed + 1);

      // 1. Draft.
      const t0 = now();
      const { inputs, raw, ran, waitedMs } = await proposeAll(rt, stats, drafters, {
        tokens: context,
        promptLength: prompt.length,
        budget: room,
      });
      const t1 = now();

      // 2. Fuse under the budget the policy picks.
      const fused = fuseTrees(root, inputs, room, rt.setCalibration.map);
      let tree: FusedTree = fused;
      if (tree.tokens.length > 1 && !rt.fixedBudget) {
        const { budget } = rt.policy.choose(tree.pathScores.subarray(1), rt.hostMs(), room);
        tree = prefixTree(tree, budget);
      }
      const t2 = now();

      // 3. Verify in one pass (re-opening a session the upstream lost).
      let result: PassResult;
      try {
        result = await session.step(tree, passOptions);
      } catch (error) {
        if (!isCanopyError(error, 'CANOPY_ERR_UPSTREAM_SESSION_LOST')) throw error;
        log.warn(
          { err: error, committed },
          'target session lost; re-opening by prefilling the committed tokens',
        );
        if (session.reopen) {
          await session.reopen(context);
        } else {
          await session.close().catch(() => undefined);
          session = await target.open(context, { sampling: req.sampling, signal: req.signal });
        }
        result = await session.step(tree, passOptions);
      }
      const t3 = now();
      // The cost of this tree size: the pass, without any wait behind other requests' passes.
      rt.cost.record(tree.tokens.length, t3 - t2 - (result.queuedMs ?? 0));

      // 4. Walk: longest agreed path + the target's own token.
      const walk = walkTree(tree, result.chosen, {
        eosTokenIds: target.info.eosTokenIds,
        maxTokens: Math.min(req.maxNewTokens - generated, capacity - committed),
      });
      let emitted = walk.emitted;
      if (walk.finish) finish = walk.finish === 'eos' ? 'eos' : 'length';
      if (stop) {
        const keep = stop.push(emitted);
        if (keep >= 0) {
          emitted = emitted.subarray(0, keep);
          finish = 'stop';
        }
      }
      tokens.set(emitted, committed);
      const stepLogprobs = logprobs?.record(walk.accepted, emitted.length, result);
      committed += emitted.length;
      generated += emitted.length;
      const done = finish !== 'length' || generated >= req.maxNewTokens || walk.finish !== null;
      if (!done) session.accept(walk.accepted, emitted[emitted.length - 1]);

      // 5. Feedback: calibration, drafters, accounting.
      const feedback = {
        tree,
        result,
        accepted: walk.accepted,
        emitted,
        tokens: tokens.subarray(0, committed),
      };
      accountDrafts(rt, stats, inputs, raw, feedback);
      recordFused(rt, fused, feedback);
      for (const { source, ms } of ran)
        rt.gate.recordDrafter(
          source,
          ms,
          exclusiveGain(tree.sources, walk.accepted, source),
          exclusiveVerifyMs(tree.sources, source, rt.cost.estimate),
        );
      for (const d of drafters) {
        if (d.failed) continue;
        try {
          d.session.observe(feedback);
        } catch (error) {
          d.failed = true;
          drafterFailed(rt, stats, d.name, error);
        }
      }
      const t4 = now();

      stats.steps++;
      stats.budgetSum += tree.tokens.length;
      let predicted = 1;
      for (let i = 1; i < tree.pathScores.length; i++) predicted += tree.pathScores[i];
      stats.predictedTokens += predicted;
      stats.draftMs += t1 - t0;
      stats.fuseMs += t2 - t1;
      stats.verifyMs += t3 - t2;
      stats.walkMs += t4 - t3;
      // What the policy and the gate weigh is work: waits behind other requests' passes are left out.
      rt.recordHost(t2 - t0 - waitedMs + (t4 - t3));
      if (ran.length > 0) rt.gate.recordStep(t4 - t0 - waitedMs - (result.queuedMs ?? 0), emitted.length);
      rt.observer?.onStep?.(rt.name, tree.tokens.length, walk.accepted.length - 1, t3 - t2, result.queuedMs);
      if (emitted.length > 0) req.onTokens?.(emitted, stepLogprobs);
      if (done) break;
    }
  } finally {
    for (const d of drafters) {
      try {
        d.session.close?.();
      } catch (error) {
        drafterFailed(rt, stats, d.name, error);
      }
    }
    await session
      .close()
      .catch((error: unknown) => log.warn({ err: error }, 'closing the target session failed'));
  }

  stats.tokens = generated;
  stats.totalMs = now() - started;
  rt.observer?.onRequest?.(rt.name, stats);
  const hit = stop?.hit;
  return {
    tokens: tokens.slice(prompt.length, committed),
    finishReason: finish,
    stop: hit ? { index: hit.stop, textBytes: hit.textBytes } : undefined,
    logprobs: logprobs?.result(),
    stats,
  };
}

/**
 * Every live drafter's proposal, validated and calibrated, from the drafters
 * the gate lets run this step (`ran`: which, and how long each took). A
 * drafter that throws or returns an invalid tree is marked failed for the rest
 * of the request (logged once, counted) and the step goes on without it.
 */
async function proposeAll(
  rt: ModelRuntime,
  stats: RequestStats,
  drafters: readonly ActiveDrafter[],
  context: DraftContext,
): Promise<{ inputs: FusionInput[]; raw: Draft[]; ran: { source: number; ms: number }[]; waitedMs: number }> {
  const inputs: FusionInput[] = [];
  const raw: Draft[] = [];
  const ran: { source: number; ms: number }[] = [];
  let waitedMs = 0;
  const root = context.tokens[context.tokens.length - 1];
  for (const d of drafters) {
    if (d.failed || !rt.gate.shouldRun(d.source)) continue;
    try {
      const started = now();
      const draft = await d.session.propose(context);
      const elapsed = now() - started;
      // The gate weighs drafting work; a wait behind other requests' passes is the server's load.
      const waited = Math.min(Math.max(0, d.session.lastWaitMs ?? 0), elapsed);
      waitedMs += waited;
      ran.push({ source: d.source, ms: elapsed - waited });
      stats.ranByDrafter[d.name] = (stats.ranByDrafter[d.name] ?? 0) + 1;
      if (draft === null || draft.tokens.length <= 1) continue;
      validateTree(draft, rt.target.info.vocabSize);
      if (draft.tokens[0] !== root) throw new Error(`draft root ${draft.tokens[0]} is not the root ${root}`);
      inputs.push({ draft: calibrateDraft(rt.calibration, d.source, draft), source: d.source });
      raw.push(draft);
    } catch (error) {
      d.failed = true;
      drafterFailed(rt, stats, d.name, error);
    }
  }
  return { inputs, raw, ran, waitedMs };
}

function drafterFailed(rt: ModelRuntime, stats: RequestStats, name: string, error: unknown): void {
  if (!stats.failedDrafters.includes(name)) stats.failedDrafters.push(name);
  rt.log.warn({ drafter: name, err: error }, 'drafter failed; skipping it for the rest of this request');
  rt.observer?.onDrafterError?.(rt.name, name);
}

/**
 * Collects the log-probabilities of the emitted tokens, step by step. The
 * token emitted j-th in a step is the target's choice at the j-th accepted
 * node, so its log-probability and alternatives are that node's.
 */
class LogprobRecorder {
  readonly #top: number;
  readonly #steps: TokenLogprobs[] = [];

  constructor(top: number) {
    this.#top = top;
  }

  /** Records one step's first `count` accepted nodes; returns their values. */
  record(accepted: Int32Array, count: number, result: PassResult): TokenLogprobs {
    const nodes = result.chosen.length;
    const chosen = result.chosenLogprobs;
    if (!chosen || chosen.length < nodes) {
      throw new CanopyError('CANOPY_ERR_INTERNAL', 'the target returned no log-probabilities for the pass');
    }
    const top = this.#top;
    const ids = result.topKIds;
    const lps = result.topKLogprobs;
    const width = ids ? ids.length / nodes : 0;
    if (top > 0 && (!ids || !lps || !Number.isInteger(width) || width < top)) {
      throw new CanopyError(
        'CANOPY_ERR_INTERNAL',
        `the target returned fewer than ${top} alternatives per node`,
      );
    }
    const step = allocate(count, top);
    for (let j = 0; j < count; j++) {
      const node = accepted[j];
      if (Number.isNaN(chosen[node])) {
        throw new CanopyError(
          'CANOPY_ERR_INTERNAL',
          `the target returned no log-probability for node ${node}`,
        );
      }
      step.logprobs[j] = chosen[node];
      for (let r = 0; r < top; r++) {
        step.topIds[j * top + r] = (ids as Int32Array)[node * width + r];
        step.topLogprobs[j * top + r] = (lps as Float32Array)[node * width + r];
      }
    }
    this.#steps.push(step);
    return step;
  }

  /** Every step's values, in order. */
  result(): TokenLogprobs {
    const top = this.#top;
    const all = allocate(
      this.#steps.reduce((sum, step) => sum + step.logprobs.length, 0),
      top,
    );
    let at = 0;
    for (const step of this.#steps) {
      all.logprobs.set(step.logprobs, at);
      all.topIds.set(step.topIds, at * top);
      all.topLogprobs.set(step.topLogprobs, at * top);
      at += step.logprobs.length;
    }
    return all;
  }
}

/** Room for `count` tokens' log-probabilities with `top` alternatives each. */
function allocate(count: number, top: number) {
  return {
    top,
    logprobs: new Float32Array(count),
    topIds: new Int32Array(count * top),
    topLogprobs: new Float32Array(count * top),
  };
}

import type { Draft, DraftContext, DrafterSession, DraftFeedback } from '../../drafter.js';
import type { TargetSession } from '../../target.js';
import { DraftTree, mapOnto } from './grow.js';
import type { LayerSkipOptions } from './options.js';
import type { DraftPlan, LayerSkipTuner } from './tuner.js';

/** What the factory shares with its sessions; `tuner` is null once the factory is disposed. */
export interface LayerSkipShared {
  tuner: LayerSkipTuner | null;
  readonly options: LayerSkipOptions;
  /** Top-k asked of each scratch pass (the option, capped by the target). */
  readonly topK: number;
}

/** The proposal of the current step, kept until its feedback arrives. */
interface Pending {
  readonly plan: DraftPlan | null;
  readonly tree: DraftTree | null;
  readonly draftMs: number;
  /** When `propose` returned (performance.now()). */
  readonly end: number;
}

const now = (): number => performance.now();

/**
 * One request of the layer-skip drafter. `propose` drafts by running the
 * request's own target session with the tuner's skip set, one scratch pass
 * per depth (the engine calls it after `accept`, so a remote session has no
 * step awaiting acceptance); `observe` reports to the tuner how the target
 * judged the drafted nodes and how long the step took.
 */
export class LayerSkipSession implements DrafterSession {
  readonly #shared: LayerSkipShared;
  readonly #target: TargetSession | undefined;
  #pending: Pending | undefined;
  #waitedMs = 0;

  constructor(shared: LayerSkipShared, target: TargetSession | undefined) {
    this.#shared = shared;
    this.#target = target;
  }

  get lastWaitMs(): number {
    return this.#waitedMs;
  }

  async propose(context: DraftContext): Promise<Draft | null> {
    this.#pending = undefined;
    this.#waitedMs = 0;
    const start = now();
    const tuner = this.#shared.tuner;
    const target = this.#target;
    const length = context.tokens.length;
    // The target session must stand exactly at this context (it always does under the engine).
    if (!tuner || !target?.draft || length === 0 || target.length !== length) return null;
    const plan = context.budget >= 2 ? tuner.plan() : null;
    if (!plan) {
      this.#pending = { plan: null, tree: null, draftMs: 0, end: now() };
      return null;
    }
    const { options, topK } = this.#shared;
    const tree = new DraftTree(context.tokens[length - 1]);
    const blocks = tuner.numLayers - plan.skip.length;
    const threshold = tuner.stopThreshold(plan.skip);
    const calibrate = (p: number) => tuner.confidence.map(p);
    // What the tuner learns leaves out waits behind other requests' passes (a busy server, not the plan).
    for (let depth = 0; depth < options.maxDepth; depth++) {
      const t = now();
      const result = await target.draft(tree.asTree(), {
        skipLayers: plan.skip,
        topK,
        signal: context.signal,
      });
      const waited = result.queuedMs ?? 0;
      this.#waitedMs += waited;
      tuner.recordPass(plan, blocks, now() - t - waited);
      const best = tree.grow(result, topK, options, calibrate, context.budget - tree.size);
      // Early exit (Kangaroo): the next pass is worth less than it costs.
      if (best === 0 || best < threshold || tree.size >= context.budget) break;
    }
    this.#pending = { plan, tree, draftMs: now() - start - this.#waitedMs, end: now() };
    return tree.size > 1 ? tree.toDraft() : null;
  }

  observe(feedback: DraftFeedback): void {
    const pending = this.#pending;
    const tuner = this.#shared.tuner;
    this.#pending = undefined;
    if (!pending || !tuner) return;
    const restMs = now() - pending.end - (feedback.result.queuedMs ?? 0);
    const emitted = feedback.emitted.length;
    if (!pending.plan || !pending.tree) {
      tuner.recordPlain(restMs, emitted);
      return;
    }
    const { tree } = pending;
    const verified = feedback.tree;
    const chosen = feedback.result.chosen;
    const mine = mapOnto(verified, tree);
    let nodes = 0;
    let hits = 0;
    for (let j = 0; j < mine.length && j < chosen.length; j++) {
      const i = mine[j];
      if (i < 0 || tree.predicted[i] < 0) continue;
      const agreed = tree.predicted[i] === chosen[j];
      nodes++;
      if (agreed) hits++;
      tuner.confidence.record(tree.top1[i], agreed);
    }
    tuner.recordDrafted(pending.plan, { draftMs: pending.draftMs, restMs, emitted, nodes, hits });
  }

  close(): void {
    this.#pending = undefined;
  }
}

/**
 * The per-model state of the layer-skip drafter, shared by all requests of
 * the model: which blocks to skip (the incumbent), the search for better
 * ones, the measured costs, and the gate that decides whether a step drafts.
 *
 * The gate compares drafted steps with the *baseline rate* (baseline.ts):
 * tokens per ms of the steps this drafter sat out. A drafted step that
 * emitted E tokens in T ms gained E / baseline − T ms; a set *pays* when the
 * gain of its recent steps, against the current baseline, clears a small
 * margin of their time. Exploring (trying candidate sets, re-checking a set that does not
 * pay) may lose at most `maxRegret` of all the wall time the model's requests
 * took, plus a small warm-up allowance: so on a model and machine where
 * layer skipping never pays, it costs a bounded, small share of the time,
 * and a set that pays opens the gate by itself.
 */
import { Baseline, Mean } from './baseline.js';
import { Confidence, chainRate, PassCost } from './economics.js';
import type { LayerSkipOptions } from './options.js';
import { agreementOf, priorSet, type SetRecord, SkipSetSearch, searchSpace } from './search.js';

/** `explore`: judging a candidate set; `exploit`: the incumbent pays; `probe`: re-checking an incumbent that does not. */
export type StepKind = 'explore' | 'exploit' | 'probe';

export interface DraftPlan {
  readonly kind: StepKind;
  readonly skip: readonly number[];
  readonly record: SetRecord;
  /**
   * False for the model's first drafts: their passes may include one-time
   * work (the embedded target loads its layer-skip graph on first use), so
   * their times are not held against drafting.
   */
  readonly timed: boolean;
}

/** What one drafted step showed. */
export interface DraftedStep {
  /** Time spent in the drafter's passes (and tree building). */
  readonly draftMs: number;
  /** Time from the end of the proposal to its feedback (fusion, verify, walk, other drafters). */
  readonly restMs: number;
  /** Tokens the step emitted. */
  readonly emitted: number;
  /** Verified draft nodes whose layer-skipped token was known, and how many the target agreed with. */
  readonly nodes: number;
  readonly hits: number;
}

export interface SetReport {
  readonly skipLayers: readonly number[];
  readonly agreement: number;
  readonly nodes: number;
  readonly steps: number;
  /** Mean net gain per drafted step, ms (negative: drafting lost time). */
  readonly gainPerStepMs: number;
}

export interface LayerSkipReport {
  /** The incumbent set and whether it is drafting (pays, or `gate: 'always'`). */
  readonly skipLayers: readonly number[];
  readonly drafting: boolean;
  readonly searching: boolean;
  readonly rounds: number;
  readonly steps: number;
  readonly draftedSteps: number;
  /** Net wall time drafting saved (negative: lost) against the baseline rate, and the time seen. */
  readonly netGainMs: number;
  readonly seenMs: number;
  /** Mean ms of a scratch pass with the incumbent set, of the rest of a plain step, per baseline token. */
  readonly passMs: number;
  readonly restMs: number;
  readonly tokenMs: number;
  /** The best judged sets, best first. */
  readonly sets: readonly SetReport[];
}

/** Tokens' worth of loss allowed before any time has been seen. */
const WARMUP_TOKENS = 8;
/** Timed drafted steps before a set's measured gain is trusted, and the margins it must clear. */
const MIN_STEPS = 8;
const PAY_MARGIN = 0.03;
/** Beyond this margin drafting "clearly pays": the baseline is re-measured less often. */
const CLEAR_MARGIN = 0.1;
/** Forgetting: a set's step sums are halved past this many steps. */
const MAX_STEPS = 256;

export class LayerSkipTuner {
  readonly numLayers: number;
  readonly passCost = new PassCost();
  readonly confidence = new Confidence();
  readonly #options: LayerSkipOptions;
  readonly #search: SkipSetSearch;
  readonly #fixed: boolean;
  #incumbent: SetRecord;
  #candidate: SetRecord | undefined;
  #rounds = 0;
  /** Nodes and steps the candidate has been judged on in this round. */
  #roundNodes = 0;
  #roundSteps = 0;
  readonly #baseline = new Baseline();
  readonly #restDraft = new Mean(20);
  #seenMs = 0;
  #netGainMs = 0;
  #steps = 0;
  #drafted = 0;
  /** Whether a drafted step has completed (later drafts are timed). */
  #timed = false;

  constructor(numLayers: number, options: LayerSkipOptions) {
    this.numLayers = numLayers;
    this.#options = options;
    const space = searchSpace(numLayers, options.search.skipRatio);
    this.#search = new SkipSetSearch(space, options.search.seed);
    this.#fixed = options.skipLayers !== undefined;
    const start = options.skipLayers ? [...options.skipLayers].sort((a, b) => a - b) : priorSet(space);
    this.#incumbent = this.#search.record(start);
    this.#candidate = this.#fixed || options.search.candidates === 0 ? undefined : this.#incumbent;
  }

  /** How the next step drafts, or null for a step without drafting. */
  plan(): DraftPlan | null {
    this.#steps++;
    const explore = this.#candidate;
    if (this.#options.gate === 'always') {
      return explore ? this.#plan('explore', explore) : this.#plan('exploit', this.#incumbent);
    }
    if (this.#baseline.due(!explore && this.#pays(this.#incumbent, CLEAR_MARGIN))) return null;
    const tokenMs = this.#baseline.tokenMs;
    const allowance = this.#netGainMs + this.#options.maxRegret * this.#seenMs + WARMUP_TOKENS * tokenMs;
    if (explore && allowance > 0) return this.#plan('explore', explore);
    if (this.#pays(this.#incumbent)) return this.#plan('exploit', this.#incumbent);
    if (allowance > 0) return this.#plan('probe', this.#incumbent);
    return null;
  }

  /** A step this drafter sat out: `restMs` from the end of its (empty) proposal to the feedback. */
  recordPlain(restMs: number, emitted: number): void {
    this.#seenMs += restMs;
    this.#baseline.record(restMs, emitted);
  }

  /** One scratch pass of a step planned by `plan`. */
  recordPass(plan: DraftPlan, blocks: number, ms: number): void {
    if (plan.timed) this.passCost.record(blocks, ms);
  }

  recordDrafted(plan: DraftPlan, step: DraftedStep): void {
    this.#timed = true;
    const total = plan.timed ? step.draftMs + step.restMs : step.restMs;
    this.#seenMs += total;
    this.#drafted++;
    this.#baseline.skipped();
    this.#restDraft.add(step.restMs);
    const tokenMs = this.#baseline.tokenMs;
    const gain = Number.isNaN(tokenMs) || !plan.timed ? 0 : step.emitted * tokenMs - total;
    this.#netGainMs += gain;
    const r = plan.record;
    if (plan.timed) {
      if (r.steps >= MAX_STEPS) {
        r.steps /= 2;
        r.tokens /= 2;
        r.ms /= 2;
      }
      r.steps++;
      r.tokens += step.emitted;
      r.ms += total;
    }
    r.nodes += step.nodes;
    r.hits += step.hits;
    if (plan.kind === 'explore' && r === this.#candidate) {
      this.#roundNodes += step.nodes;
      this.#advance();
    } else {
      this.#preferPaying();
    }
  }

  /**
   * Calibrated path probability below which one more pass does not pay: the
   * pass costs `passMs`, and the path's tokens are worth `tokenMs` each.
   */
  stopThreshold(skip: readonly number[]): number {
    const ratio = this.passCost.estimate(this.numLayers - skip.length) / this.#baseline.tokenMs;
    return Number.isNaN(ratio) ? this.#options.stopBelow : Math.max(this.#options.stopBelow, ratio);
  }

  report(): LayerSkipReport {
    const score = this.#score();
    const sets = [...this.#search.records]
      .filter((r) => r.nodes > 0)
      .sort((a, b) => score(agreementOf(b), b.skip.length) - score(agreementOf(a), a.skip.length))
      .slice(0, 5)
      .map((r) => ({
        skipLayers: r.skip,
        agreement: agreementOf(r),
        nodes: r.nodes,
        steps: r.steps,
        gainPerStepMs: r.steps > 0 ? this.#gain(r) / r.steps : 0,
      }));
    return {
      skipLayers: this.#incumbent.skip,
      drafting: this.#options.gate === 'always' || this.#pays(this.#incumbent),
      searching: this.#candidate !== undefined,
      rounds: this.#rounds,
      steps: this.#steps,
      draftedSteps: this.#drafted,
      netGainMs: this.#netGainMs,
      seenMs: this.#seenMs,
      passMs: this.passCost.estimate(this.numLayers - this.#incumbent.skip.length),
      restMs: this.#baseline.restMs,
      tokenMs: this.#baseline.tokenMs,
      sets,
    };
  }

  #plan(kind: StepKind, record: SetRecord): DraftPlan {
    return { kind, skip: record.skip, record, timed: this.#timed };
  }

  /** Net ms the set's steps gained against the current baseline (NaN before a baseline). */
  #gain(r: SetRecord): number {
    return r.tokens * this.#baseline.tokenMs - r.ms;
  }

  /** Whether drafting with `r` beats the current baseline rate by `margin`. */
  #pays(r: SetRecord, margin = PAY_MARGIN): boolean {
    return r.steps >= MIN_STEPS && this.#gain(r) > margin * r.ms;
  }

  /** Predicted tokens/ms of drafting with a set of this agreement and size. */
  #score(): (alpha: number, skipped: number) => number {
    const rest = Number.isNaN(this.#restDraft.value) ? this.#baseline.restMs : this.#restDraft.value;
    const restMs = Number.isNaN(rest) ? 1 : rest;
    const depth = this.#options.maxDepth;
    return (alpha, skipped) => {
      const blocks = this.numLayers - skipped;
      let passMs = this.passCost.estimate(blocks);
      if (Number.isNaN(passMs)) passMs = (restMs * blocks) / this.numLayers;
      return chainRate(alpha, passMs, restMs, depth).rate;
    };
  }

  /**
   * Measured gains outrank the model: the set that pays best (if any) becomes
   * the incumbent. Drafting with it measures it further, so a set that only
   * looked good on a lucky streak soon stops paying and loses the place.
   */
  #preferPaying(): void {
    let best: SetRecord | undefined;
    for (const r of this.#search.records) {
      if (this.#pays(r) && (!best || this.#gain(r) / r.ms > this.#gain(best) / best.ms)) best = r;
    }
    if (best) this.#incumbent = best;
  }

  /** After a step judging the candidate: once judged, refit, pick the incumbent and the next candidate. */
  #advance(): void {
    const need = this.#options.search.nodesPerCandidate;
    this.#roundSteps++;
    // A set whose drafts never reach deep nodes is judged on steps instead.
    if (this.#roundNodes < need && this.#roundSteps < 4 * need) return;
    this.#search.refit();
    const score = this.#score();
    this.#incumbent = this.#search.best(score, need) ?? this.#incumbent;
    this.#preferPaying();
    this.#rounds++;
    this.#roundNodes = 0;
    this.#roundSteps = 0;
    this.#candidate =
      this.#rounds >= this.#options.search.candidates
        ? undefined
        : this.#search.record(this.#search.suggest(score, this.#incumbent.skip));
  }
}

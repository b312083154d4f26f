/**
 * The baseline a drafted step is judged against: the steps this drafter sat
 * out (plain decoding when it drafts alone, the other drafters' fusion
 * otherwise), timed from the end of its empty proposal to the step's
 * feedback. Tokens per step vary widely in fusion, so it averages many.
 */

/**
 * A step without drafting at least this often, so the baseline stays current:
 * in fusion it moves as the other drafters learn, and a stale baseline would
 * credit drafting with their progress. Less often once drafting clearly pays,
 * since each such step forgoes its gain.
 */
const CONTROL_EVERY = 8;
const CONTROL_EVERY_SETTLED = 32;
/** Steps without drafting that measure the baseline before any drafting. */
const MIN_SAMPLES = 4;
const WINDOW = 50;

/** Running mean over about the last `window` values. */
export class Mean {
  value = Number.NaN;
  count = 0;
  constructor(readonly window: number) {}
  add(x: number): void {
    this.count++;
    this.value = this.count === 1 ? x : this.value + (x - this.value) / Math.min(this.count, this.window);
  }
}

export class Baseline {
  readonly #rest = new Mean(WINDOW);
  readonly #tokens = new Mean(WINDOW);
  #sinceLast = Number.POSITIVE_INFINITY;

  /** A step without drafting that took `restMs` and emitted `tokens`. */
  record(restMs: number, tokens: number): void {
    this.#rest.add(restMs);
    this.#tokens.add(tokens);
    this.#sinceLast = 0;
  }

  /** A step with drafting went by. */
  skipped(): void {
    this.#sinceLast++;
  }

  /** Whether the next step must go without drafting (`settled`: drafting clearly pays). */
  due(settled: boolean): boolean {
    return (
      this.#rest.count < MIN_SAMPLES || this.#sinceLast >= (settled ? CONTROL_EVERY_SETTLED : CONTROL_EVERY)
    );
  }

  /** Mean ms of the rest of a step without drafting; NaN before any. */
  get restMs(): number {
    return this.#rest.value;
  }

  /** Milliseconds per token at the baseline rate; NaN before any step without drafting. */
  get tokenMs(): number {
    return this.#rest.value / Math.max(1, this.#tokens.value);
  }
}

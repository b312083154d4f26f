/**
 * How long a pass waited on the server behind other work, from the client's
 * wall time of the request and the model's `compute_ms` per session.
 *
 * A request's wall time is transport (framing, sockets, Triton's front end,
 * the model's parsing) + the wait in Triton's scheduler + the model's work for
 * every session of the request. Transport is a property of the connection, so
 * it is estimated as the least `wall - Σ compute` seen: a request that did not
 * queue. What remains of a session's wall time after its own work and that
 * floor is its wait: Triton's queue and the other sessions of its request.
 *
 * The floor follows the minimum down at once and rises only slowly (a changed
 * route): under sustained load every request may queue, and a floor that rose
 * quickly would take the queue for transport, which is the error this module
 * exists to remove (larger trees would look cheaper than they are).
 *
 * The floor comes from the smallest requests (a CLOSE, a one-node step), so the
 * part of transport that grows with the answer (top-k rows, hidden states) is
 * counted as wait: large trees are priced a little below their cost. Measured
 * with `bench/triton-overhead.ts`, an HTTP round trip takes 1.6-1.7 ms from 1
 * to 32 nodes, against 25-60 ms of compute per pass on a CPU.
 */

/** Fraction of the gap to a higher sample the floor closes per request (≈ 4 000 requests to close 63 %). */
const RISE = 1 / 4096;

export class QueueWaitEstimator {
  #floor = Number.POSITIVE_INFINITY;

  /** Current transport estimate in ms; Infinity before the first request. */
  get transportMs(): number {
    return this.#floor;
  }

  /**
   * Per-session wait of one request, in request order. `computeMs` holds the
   * model's own time for each session; `wallMs` is the client's time from
   * sending the request to decoding its answer.
   */
  observe(wallMs: number, computeMs: ArrayLike<number>): number[] {
    const own = Array.from(computeMs, nonNegative);
    if (!Number.isFinite(wallMs)) return own.map(() => 0);
    const outside = Math.max(0, wallMs - own.reduce((sum, ms) => sum + ms, 0));
    const floor = Math.min(this.#floor, outside);
    this.#floor = outside < this.#floor ? outside : this.#floor + (outside - this.#floor) * RISE;
    return own.map((ms) => Math.max(0, wallMs - ms - floor));
  }
}

/** A server's time that is missing, negative or not a number counts as none. */
function nonNegative(ms: number): number {
  return Number.isFinite(ms) && ms > 0 ? ms : 0;
}

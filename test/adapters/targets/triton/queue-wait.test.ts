import { describe, expect, it } from 'vitest';
import { QueueWaitEstimator } from '../../../../adapters/targets/triton/queue-wait.js';

describe('queue wait from the model time per session', () => {
  it('takes the least time outside the model as transport and the rest as wait', () => {
    const waits = new QueueWaitEstimator();
    expect(waits.observe(12, [10])).toEqual([0]); // first request: 2 ms outside the model
    expect(waits.transportMs).toBe(2);
    // Behind 30 ms of another request in Triton's queue.
    expect(waits.observe(42, [10])).toEqual([30]);
    expect(waits.transportMs).toBeLessThan(2.01);
    // A faster request lowers the floor at once.
    expect(waits.observe(11.5, [10])).toEqual([0]);
    expect(waits.transportMs).toBe(1.5);
  });

  it('counts the other sessions of a batched request as wait', () => {
    const waits = new QueueWaitEstimator();
    waits.observe(3, [1]); // transport 2
    const [a, b, c] = waits.observe(2 + 10 + 20 + 5, [10, 20, 5]);
    expect(a).toBeCloseTo(25, 9);
    expect(b).toBeCloseTo(15, 9);
    expect(c).toBeCloseTo(30, 9);
  });

  it('keeps the floor under a queue that never empties', () => {
    const waits = new QueueWaitEstimator();
    waits.observe(12, [10]);
    // A thousand requests each behind 40 ms of others: the floor stays near transport.
    let last = 0;
    for (let i = 0; i < 1000; i++) last = waits.observe(52, [10])[0]!;
    expect(waits.transportMs).toBeLessThan(12);
    expect(last).toBeGreaterThan(30);
  });

  it('counts a missing or broken server time as none and never reports a negative wait', () => {
    const waits = new QueueWaitEstimator();
    expect(waits.observe(5, [Number.NaN])).toEqual([0]);
    expect(waits.transportMs).toBe(5);
    expect(waits.observe(4, [-3])).toEqual([0]);
    // A server time longer than the request (clocks disagree): no wait, not a negative one.
    expect(waits.observe(3, [9])).toEqual([0]);
  });
});

import { describe, expect, it } from 'vitest';
import { emptyStats } from '../../../engine/index.js';
import { createMetrics } from '../../../plugins/metrics/index.js';
import { metric } from '../proxy/helpers.js';

describe('createMetrics', () => {
  it('turns engine steps and request stats into spec_decode_* series', async () => {
    const m = createMetrics({ processMetrics: false });
    m.observer.onStep?.('a', 1, 0, 2); // plain step: no draft
    m.observer.onStep?.('a', 8, 3, 4);
    m.observer.onStep?.('a', 4, 1, 6, 3); // waited 3 ms behind another request's pass
    const stats = {
      ...emptyStats(),
      acceptedAtDepth: [2, 1, 1],
      acceptedByDrafter: { ngram: 4 },
      draftedByDrafter: { ngram: 10 },
      ranByDrafter: { ngram: 3, eagle: 1 },
    };
    m.observer.onRequest?.('a', stats);
    m.observer.onDrafterError?.('a', 'retrieval');
    const text = await m.render();
    const at = (name: string, labels: Record<string, string> = {}) =>
      metric(text, name, { model: 'a', ...labels });
    expect(at('canopy_spec_decode_num_steps_total')).toBe(3);
    expect(at('canopy_spec_decode_num_drafts_total')).toBe(2);
    expect(at('canopy_spec_decode_num_draft_tokens_total')).toBe(7 + 3);
    expect(at('canopy_spec_decode_num_accepted_tokens_total')).toBe(4);
    expect(at('canopy_spec_decode_mean_accepted_length')).toBeCloseTo(1 + 4 / 3);
    expect(at('canopy_spec_decode_num_accepted_tokens_per_pos_total', { position: '0' })).toBe(2);
    expect(at('canopy_spec_decode_num_accepted_tokens_per_pos_total', { position: '2' })).toBe(1);
    expect(at('canopy_spec_decode_drafter_accepted_tokens_total', { drafter: 'ngram' })).toBe(4);
    expect(at('canopy_spec_decode_drafter_draft_tokens_total', { drafter: 'ngram' })).toBe(10);
    expect(at('canopy_spec_decode_drafter_errors_total', { drafter: 'retrieval' })).toBe(1);
    expect(at('canopy_spec_decode_drafter_proposals_total', { drafter: 'eagle' })).toBe(1);
    expect(at('canopy_spec_decode_verify_latency_seconds_sum')).toBeCloseTo(0.012);
    expect(at('canopy_spec_decode_budget_bucket', { le: '4' })).toBe(2);
    // Only the step whose target reported a wait is in the queue histogram.
    expect(at('canopy_target_queue_wait_seconds_count')).toBe(1);
    expect(at('canopy_target_queue_wait_seconds_sum')).toBeCloseTo(0.003);
  });

  it('counts requests by route and outcome, and requests in flight', async () => {
    const m = createMetrics({ processMetrics: false });
    const leave = m.trackInFlight('generate');
    expect(metric(await m.render(), 'canopy_requests_in_flight', { route: 'generate' })).toBe(1);
    leave();
    leave();
    m.recordRequest({
      model: 'a',
      route: 'generate',
      outcome: 'cancelled',
      seconds: 0.2,
      completionTokens: 5,
    });
    const text = await m.render();
    expect(metric(text, 'canopy_requests_in_flight', { route: 'generate' })).toBe(0);
    expect(
      metric(text, 'canopy_requests_total', { model: 'a', route: 'generate', outcome: 'cancelled' }),
    ).toBe(1);
    expect(metric(text, 'canopy_generation_tokens_total', { model: 'a' })).toBe(5);
  });

  it('keeps each server’s counters apart', async () => {
    const one = createMetrics({ processMetrics: false });
    const two = createMetrics({ processMetrics: false });
    one.observer.onStep?.('a', 2, 1, 1);
    expect(metric(await two.render(), 'canopy_spec_decode_num_steps_total', { model: 'a' })).toBe(0);
  });
});

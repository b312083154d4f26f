/**
 * Prometheus metrics of a canopy server (prom-client), one registry per
 * server so that several servers in one process never share counters.
 *
 * Speculation metrics follow vLLM's `spec_decode_*` names: a *draft* is a
 * verify pass that carried draft nodes, *draft tokens* are those nodes (root
 * excluded), *accepted tokens* the draft nodes the target agreed with, and
 * the *mean accepted length* is tokens per verify pass (τ, accepted + 1).
 * They are fed by the engine's observer, per step and per request, never per
 * token.
 */
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import type { EngineObserver, RequestStats } from '../../engine/index.js';

/** One finished (or failed) request, as the routes report it. */
export interface RequestRecord {
  readonly model: string;
  /** `generate`, `generate_stream`, `infer`, `completions`, `chat_completions`, ... */
  readonly route: string;
  readonly outcome: 'ok' | 'error' | 'cancelled';
  readonly seconds: number;
  readonly promptTokens?: number;
  readonly completionTokens?: number;
}

export interface CanopyMetrics {
  readonly registry: Registry;
  /** Give to the engines (openModelHost's `observer`). */
  readonly observer: EngineObserver;
  recordRequest(record: RequestRecord): void;
  /** Counts a request in flight until the returned function is called. */
  trackInFlight(route: string): () => void;
  /** Counts a request passed through to Triton. */
  recordPassThrough(protocol: 'http' | 'grpc', method: string): void;
  render(): Promise<string>;
  readonly contentType: string;
}

export interface MetricsOptions {
  /** Node process metrics (CPU, memory, event loop). Default true. */
  readonly processMetrics?: boolean;
}

const SECONDS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];

export function createMetrics(options: MetricsOptions = {}): CanopyMetrics {
  const registry = new Registry();
  if (options.processMetrics !== false) collectDefaultMetrics({ register: registry, prefix: 'canopy_' });
  const registers = [registry];
  const counter = (name: string, help: string, labelNames: string[]) =>
    new Counter({ name, help, labelNames, registers });

  const drafts = counter('canopy_spec_decode_num_drafts_total', 'Verify passes that carried draft tokens.', [
    'model',
  ]);
  const steps = counter(
    'canopy_spec_decode_num_steps_total',
    'Verify passes (target calls), drafted or not.',
    ['model'],
  );
  const draftTokens = counter(
    'canopy_spec_decode_num_draft_tokens_total',
    'Draft tokens sent to the target.',
    ['model'],
  );
  const accepted = counter(
    'canopy_spec_decode_num_accepted_tokens_total',
    'Draft tokens the target accepted.',
    ['model'],
  );
  const perPosition = counter(
    'canopy_spec_decode_num_accepted_tokens_per_pos_total',
    'Accepted draft tokens by position in the accepted path (0 = first token after the root).',
    ['model', 'position'],
  );
  const byDrafterDrafted = counter(
    'canopy_spec_decode_drafter_draft_tokens_total',
    'Draft tokens each drafter contributed to verified trees.',
    ['model', 'drafter'],
  );
  const byDrafterProposals = counter(
    'canopy_spec_decode_drafter_proposals_total',
    'Steps on which each drafter proposed (the drafter gate skips one that does not pay for its time).',
    ['model', 'drafter'],
  );
  const byDrafterAccepted = counter(
    'canopy_spec_decode_drafter_accepted_tokens_total',
    'Accepted tokens credited to each drafter (a node several drafters proposed counts for each).',
    ['model', 'drafter'],
  );
  const drafterErrors = counter(
    'canopy_spec_decode_drafter_errors_total',
    'Drafters that failed and were skipped for the rest of a request.',
    ['model', 'drafter'],
  );
  const verifyLatency = new Histogram({
    name: 'canopy_spec_decode_verify_latency_seconds',
    help: 'Time of one verify pass (one target call).',
    labelNames: ['model'],
    buckets: SECONDS,
    registers,
  });
  const queueWait = new Histogram({
    name: 'canopy_target_queue_wait_seconds',
    help: "Wait of a verify pass behind other requests' passes on the target (embedded: one pass runs at a time).",
    labelNames: ['model'],
    buckets: SECONDS,
    registers,
  });
  const budget = new Histogram({
    name: 'canopy_spec_decode_budget',
    help: 'Nodes per verify pass chosen by the budget policy (root included; 1 = plain decoding).',
    labelNames: ['model'],
    buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256],
    registers,
  });
  // τ per model from the counters, computed when scraped.
  const tally = new Map<string, { steps: number; accepted: number }>();
  new Gauge({
    name: 'canopy_spec_decode_mean_accepted_length',
    help: 'Tokens emitted per verify pass (accepted draft tokens + 1), since start.',
    labelNames: ['model'],
    registers,
    collect() {
      for (const [model, t] of tally) this.set({ model }, t.steps === 0 ? 0 : 1 + t.accepted / t.steps);
    },
  });
  const requests = counter('canopy_requests_total', 'Requests canopy answered itself, by outcome.', [
    'model',
    'route',
    'outcome',
  ]);
  const duration = new Histogram({
    name: 'canopy_request_duration_seconds',
    help: 'Latency of requests canopy answered itself (whole response, streams included).',
    labelNames: ['model', 'route'],
    buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120],
    registers,
  });
  const promptTokens = counter('canopy_prompt_tokens_total', 'Prompt tokens of finished requests.', [
    'model',
  ]);
  const generationTokens = counter('canopy_generation_tokens_total', 'Tokens generated.', ['model']);
  const inFlight = new Gauge({
    name: 'canopy_requests_in_flight',
    help: 'Requests canopy is answering now.',
    labelNames: ['route'],
    registers,
  });
  const passThrough = counter('canopy_passthrough_requests_total', 'Requests passed through to Triton.', [
    'protocol',
    'method',
  ]);

  const observer: EngineObserver = {
    onStep(model, nodes, acceptedNodes, verifyMs, queuedMs) {
      steps.inc({ model });
      if (nodes > 1) {
        drafts.inc({ model });
        draftTokens.inc({ model }, nodes - 1);
      }
      if (acceptedNodes > 0) accepted.inc({ model }, acceptedNodes);
      verifyLatency.observe({ model }, verifyMs / 1000);
      if (queuedMs !== undefined) queueWait.observe({ model }, queuedMs / 1000);
      budget.observe({ model }, nodes);
      const t = tally.get(model) ?? { steps: 0, accepted: 0 };
      t.steps++;
      t.accepted += acceptedNodes;
      tally.set(model, t);
    },
    onRequest(model, stats: RequestStats) {
      stats.acceptedAtDepth.forEach((n, position) => {
        if (n > 0) perPosition.inc({ model, position: String(position) }, n);
      });
      for (const [drafter, n] of Object.entries(stats.draftedByDrafter)) {
        if (n > 0) byDrafterDrafted.inc({ model, drafter }, n);
      }
      for (const [drafter, n] of Object.entries(stats.acceptedByDrafter)) {
        if (n > 0) byDrafterAccepted.inc({ model, drafter }, n);
      }
      for (const [drafter, n] of Object.entries(stats.ranByDrafter)) {
        if (n > 0) byDrafterProposals.inc({ model, drafter }, n);
      }
    },
    onDrafterError(model, drafter) {
      drafterErrors.inc({ model, drafter });
    },
  };

  return {
    registry,
    observer,
    recordRequest(r) {
      requests.inc({ model: r.model, route: r.route, outcome: r.outcome });
      duration.observe({ model: r.model, route: r.route }, r.seconds);
      if (r.promptTokens) promptTokens.inc({ model: r.model }, r.promptTokens);
      if (r.completionTokens) generationTokens.inc({ model: r.model }, r.completionTokens);
    },
    trackInFlight(route) {
      inFlight.inc({ route });
      let done = false;
      return () => {
        if (done) return;
        done = true;
        inFlight.dec({ route });
      };
    },
    recordPassThrough(protocol, method) {
      passThrough.inc({ protocol, method });
    },
    render: () => registry.metrics(),
    contentType: registry.contentType,
  };
}

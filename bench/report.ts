/**
 * Turns benchmark runs into the report of ../shared/docs/benchmarks.md:
 * τ, speedup (ratio of tokens/s measured in the same run), exact match,
 * draft overhead, per-drafter accepted tokens — per category and overall.
 *
 * Two speeds are reported. `tokensPerSecond` counts decoding time only
 * (prefill excluded: speculation does not touch it, and on a CPU a long
 * prompt's prefill would otherwise dominate the ratio); `e2e*` fields include
 * prefill, as a client would see it.
 */
import type { PromptRun } from './spec-bench.js';

export interface Aggregate {
  prompts: number;
  tokens: number;
  steps: number;
  tau: number;
  tokensPerSecond: number;
  baselineTokensPerSecond: number;
  speedup: number;
  e2eSpeedup: number;
  exactMatch: number;
  draftOverheadShare: number;
  draftMicrosPerStep: number;
  meanBudget: number;
  /** τ the calibrated path scores predicted (a calibration check: the policy sizes trees with them). */
  predictedTau: number;
}

export interface VariantReport {
  overall: Aggregate;
  categories: Record<string, Aggregate>;
  /** Per drafter: accepted and drafted nodes, and the steps on which it proposed (the gate let it run). */
  drafters: Record<string, { acceptedTokens: number; draftedTokens: number; ranSteps: number }>;
  /** Prompts whose output differs from plain decoding (must be empty). */
  mismatches: { id: string; category: string; firstDifference: number }[];
}

interface Sums {
  prompts: number;
  matches: number;
  tokens: number;
  steps: number;
  decodeMs: number;
  totalMs: number;
  baseTokens: number;
  baseDecodeMs: number;
  baseTotalMs: number;
  specMs: number;
  verifyMs: number;
  budgetSum: number;
  predictedTokens: number;
}

const zero = (): Sums => ({
  prompts: 0,
  matches: 0,
  tokens: 0,
  steps: 0,
  decodeMs: 0,
  totalMs: 0,
  baseTokens: 0,
  baseDecodeMs: 0,
  baseTotalMs: 0,
  specMs: 0,
  verifyMs: 0,
  budgetSum: 0,
  predictedTokens: 0,
});

function firstDifference(a: number[][], b: number[][]): number {
  const fa = a.flat();
  const fb = b.flat();
  const n = Math.min(fa.length, fb.length);
  for (let i = 0; i < n; i++) if (fa[i] !== fb[i]) return i;
  return fa.length === fb.length ? -1 : n;
}

function add(s: Sums, run: PromptRun, base: PromptRun, match: boolean): void {
  s.prompts++;
  if (match) s.matches++;
  for (const st of run.stats) {
    s.tokens += st.tokens;
    s.steps += st.steps;
    s.decodeMs += st.totalMs - st.prefillMs;
    s.totalMs += st.totalMs;
    s.specMs += st.draftMs + st.fuseMs + st.walkMs;
    s.verifyMs += st.verifyMs;
    s.budgetSum += st.budgetSum;
    s.predictedTokens += st.predictedTokens;
  }
  for (const st of base.stats) {
    s.baseTokens += st.tokens;
    s.baseDecodeMs += st.totalMs - st.prefillMs;
    s.baseTotalMs += st.totalMs;
  }
}

const r = (x: number, d = 3): number => (Number.isFinite(x) ? Math.round(x * 10 ** d) / 10 ** d : 0);

function finish(s: Sums): Aggregate {
  const tps = (s.tokens * 1000) / s.decodeMs;
  const baseTps = (s.baseTokens * 1000) / s.baseDecodeMs;
  const e2e = (s.tokens * 1000) / s.totalMs / ((s.baseTokens * 1000) / s.baseTotalMs);
  return {
    prompts: s.prompts,
    tokens: s.tokens,
    steps: s.steps,
    tau: r(s.tokens / s.steps),
    tokensPerSecond: r(tps, 2),
    baselineTokensPerSecond: r(baseTps, 2),
    speedup: r(tps / baseTps),
    e2eSpeedup: r(e2e),
    exactMatch: r(s.matches / s.prompts, 4),
    draftOverheadShare: r(s.specMs / (s.specMs + s.verifyMs), 4),
    draftMicrosPerStep: r((s.specMs * 1000) / s.steps, 1),
    meanBudget: r(s.budgetSum / s.steps, 2),
    predictedTau: r(s.predictedTokens / s.steps),
  };
}

export function summarizeVariant(baseline: readonly PromptRun[], runs: readonly PromptRun[]): VariantReport {
  const overall = zero();
  const categories = new Map<string, Sums>();
  const drafters: VariantReport['drafters'] = {};
  const entry = (name: string) => {
    drafters[name] ??= { acceptedTokens: 0, draftedTokens: 0, ranSteps: 0 };
    return drafters[name];
  };
  const mismatches: VariantReport['mismatches'] = [];
  runs.forEach((run, i) => {
    const base = baseline[i];
    const diff = firstDifference(run.tokens, base.tokens);
    if (diff >= 0)
      mismatches.push({ id: run.prompt.id, category: run.prompt.category, firstDifference: diff });
    const cat = categories.get(run.prompt.category) ?? zero();
    categories.set(run.prompt.category, cat);
    add(cat, run, base, diff < 0);
    add(overall, run, base, diff < 0);
    for (const st of run.stats) {
      for (const [name, n] of Object.entries(st.acceptedByDrafter)) entry(name).acceptedTokens += n;
      for (const [name, n] of Object.entries(st.draftedByDrafter)) entry(name).draftedTokens += n;
      for (const [name, n] of Object.entries(st.ranByDrafter ?? {})) entry(name).ranSteps += n;
    }
  });
  return {
    overall: finish(overall),
    categories: Object.fromEntries([...categories].map(([k, v]) => [k, finish(v)])),
    drafters,
    mismatches,
  };
}

/** A fixed-width table: one row per category plus the overall row. */
export function formatTable(name: string, report: VariantReport): string {
  const head = [
    'category',
    'prompts',
    'τ',
    'pred τ',
    'tok/s',
    'base tok/s',
    'speedup',
    'e2e',
    'exact',
    'overhead',
    'budget',
  ];
  const row = (label: string, a: Aggregate): string[] => [
    label,
    String(a.prompts),
    a.tau.toFixed(2),
    a.predictedTau.toFixed(2),
    a.tokensPerSecond.toFixed(1),
    a.baselineTokensPerSecond.toFixed(1),
    `${a.speedup.toFixed(2)}×`,
    `${a.e2eSpeedup.toFixed(2)}×`,
    a.exactMatch.toFixed(2),
    `${(a.draftOverheadShare * 100).toFixed(1)}%`,
    a.meanBudget.toFixed(1),
  ];
  const rows = [
    head,
    ...Object.entries(report.categories).map(([k, v]) => row(k, v)),
    row('overall', report.overall),
  ];
  const widths = head.map((_, c) => Math.max(...rows.map((x) => x[c].length)));
  const line = (x: string[]): string =>
    x.map((v, c) => (c === 0 ? v.padEnd(widths[c]) : v.padStart(widths[c]))).join('  ');
  const steps = report.overall.steps;
  const per = Object.entries(report.drafters).map(
    ([d, v]) =>
      `${d} ${v.acceptedTokens}/${v.draftedTokens} accepted/drafted, proposed on ${((100 * v.ranSteps) / Math.max(1, steps)).toFixed(0)}% of steps`,
  );
  const drafters = per.length > 0 ? [`drafters: ${per.join('; ')}`] : [];
  return [`== ${name}`, line(rows[0]), ...rows.slice(1).map(line), ...drafters].join('\n');
}

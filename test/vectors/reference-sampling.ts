/**
 * The sampling spec (docs/sampling.md) written the obvious way: full sorts,
 * plain arrays, no laziness. It generates the shared vectors and checks the
 * fast kernel on random cases; it is not used at run time.
 */
import { uniformAt } from '../../kernels/rng.js';
import type { SamplingParams } from '../../kernels/sampling-params.js';

export interface ReferenceHistory {
  /** Prompt tokens, root included when the root is a prompt token. */
  readonly prompt: readonly number[];
  /** Generated tokens: committed, then the node's own path. */
  readonly generated: readonly number[];
}

/** Processed float64 logits after the penalties (step 1). */
export function referencePenalised(
  logits: Float32Array,
  params: SamplingParams,
  history: ReferenceHistory,
): number[] {
  const r = Math.fround(params.repetitionPenalty);
  const f = Math.fround(params.frequencyPenalty);
  const p = Math.fround(params.presencePenalty);
  const counts = new Map<number, number>();
  for (const t of history.generated) counts.set(t, (counts.get(t) ?? 0) + 1);
  const seen = new Set([...history.prompt, ...history.generated]);
  return Array.from(logits, (logit, id) => {
    let l = logit;
    if (seen.has(id)) l = l > 0 ? l / r : l * r;
    const c = counts.get(id) ?? 0;
    if (c > 0) l = l - f * c - p;
    return l;
  });
}

/** The kept tokens in σ order with their weights, and the draw's total mass (steps 3–8). */
export function referenceDistribution(
  logits: Float32Array,
  params: SamplingParams,
  history: ReferenceHistory,
): { order: number[]; weights: number[]; mass: number } {
  const T = Math.fround(params.temperature);
  const s = referencePenalised(logits, params, history).map((l) => l / T);
  const m = Math.max(...s);
  const byScore = s.map((_, id) => id).sort((a, b) => s[b] - s[a] || a - b);
  const k = params.topK > 0 && params.topK < s.length ? params.topK : s.length;
  const candidates = byScore.slice(0, k).sort((a, b) => a - b);
  const w = new Map(candidates.map((id) => [id, Math.exp(s[id] - m)] as const));
  let total = 0;
  for (const id of candidates) total += w.get(id)!;
  const order = [...candidates].sort((a, b) => w.get(b)! - w.get(a)! || a - b);
  const cum: number[] = [];
  let acc = 0;
  for (const id of order) {
    acc += w.get(id)!;
    cum.push(acc);
  }
  let kept = order.length;
  const topP = Math.fround(params.topP);
  if (topP < 1) {
    const j = cum.findIndex((c) => c >= topP * total);
    kept = j < 0 ? order.length : j + 1;
  }
  const minP = Math.fround(params.minP);
  if (minP > 0) kept = Math.min(kept, order.filter((id) => w.get(id)! >= minP).length);
  const keptIds = order.slice(0, kept);
  let mass = 0;
  for (const id of [...keptIds].sort((a, b) => a - b)) mass += w.get(id)!;
  return { order: keptIds, weights: keptIds.map((id) => w.get(id)!), mass };
}

export function referenceChoose(
  logits: Float32Array,
  params: SamplingParams,
  history: ReferenceHistory,
  position: number,
): number {
  if (Math.fround(params.temperature) === 0) {
    const l = referencePenalised(logits, params, history);
    let best = 0;
    for (let i = 1; i < l.length; i++) if (l[i] > l[best]) best = i;
    return best;
  }
  const { order, weights, mass } = referenceDistribution(logits, params, history);
  if (order.length === 1) return order[0];
  const x = uniformAt(params.seed, position) * mass;
  let acc = 0;
  for (let j = 0; j < order.length; j++) {
    acc += weights[j];
    if (acc > x) return order[j];
  }
  return order[order.length - 1];
}

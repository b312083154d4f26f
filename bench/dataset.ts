/**
 * Benchmark prompts in Spec-Bench's shape: one JSON object per line with
 * `category` and `turns` (one or two user turns). MT-Bench's sub-categories
 * count as one task, `mt_bench`.
 */
import { readFileSync } from 'node:fs';
import { CanopyError } from '../kernels/errors.js';

export interface BenchPrompt {
  readonly id: string;
  readonly category: string;
  /** Original category (the MT-Bench sub-category for mt_bench). */
  readonly subcategory: string;
  readonly turns: readonly string[];
}

const MT_BENCH = new Set([
  'writing',
  'roleplay',
  'reasoning',
  'math',
  'coding',
  'extraction',
  'stem',
  'humanities',
]);

export function loadDataset(path: string): BenchPrompt[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new CanopyError('CANOPY_ERR_INVALID_ARGUMENT', `cannot read dataset ${path}`, { cause: error });
  }
  const prompts: BenchPrompt[] = [];
  text.split('\n').forEach((line, i) => {
    if (line.trim() === '') return;
    let row: { question_id?: unknown; category?: unknown; turns?: unknown };
    try {
      row = JSON.parse(line);
    } catch (error) {
      throw new CanopyError('CANOPY_ERR_INVALID_ARGUMENT', `${path}:${i + 1}: not JSON`, { cause: error });
    }
    const turns = row.turns;
    if (
      typeof row.category !== 'string' ||
      !Array.isArray(turns) ||
      !turns.every((t) => typeof t === 'string')
    ) {
      throw new CanopyError(
        'CANOPY_ERR_INVALID_ARGUMENT',
        `${path}:${i + 1}: needs "category" and "turns": [string]`,
      );
    }
    const sub = row.category;
    prompts.push({
      id: String(row.question_id ?? i + 1),
      category: MT_BENCH.has(sub) ? 'mt_bench' : sub,
      subcategory: sub,
      turns: turns as string[],
    });
  });
  return prompts;
}

/**
 * A stratified subset: `perCategory` prompts of every category, spread evenly
 * over the category (and round-robin over MT-Bench's sub-categories), so the
 * subset is deterministic and named by its size alone.
 */
export function stratify(prompts: readonly BenchPrompt[], perCategory: number): BenchPrompt[] {
  const byCategory = new Map<string, BenchPrompt[]>();
  for (const p of prompts) {
    const list = byCategory.get(p.category) ?? [];
    list.push(p);
    byCategory.set(p.category, list);
  }
  const out: BenchPrompt[] = [];
  for (const list of byCategory.values()) {
    // Interleave sub-categories so that the even spread below covers all of them.
    const bySub = new Map<string, BenchPrompt[]>();
    for (const p of list) bySub.set(p.subcategory, [...(bySub.get(p.subcategory) ?? []), p]);
    const interleaved: BenchPrompt[] = [];
    const queues = [...bySub.values()];
    for (let i = 0; interleaved.length < list.length; i++) {
      for (const q of queues) if (i < q.length) interleaved.push(q[i]);
    }
    const take = Math.min(perCategory, interleaved.length);
    if (bySub.size > 1) {
      out.push(...interleaved.slice(0, take));
    } else {
      for (let k = 0; k < take; k++) out.push(interleaved[Math.floor((k * interleaved.length) / take)]);
    }
  }
  return out;
}

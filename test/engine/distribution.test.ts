/**
 * Unseeded sampling keeps the target's distribution: speculation on versus off,
 * over many requests with independent random seeds, the tokens drawn at a few
 * positions pass a chi-square test of homogeneity. (Seeds are fixed lists so
 * the test is deterministic; the two arms never share a seed.)
 */
import { describe, expect, it } from 'vitest';
import { GREEDY } from '../../kernels/sampling-params.js';
import { useTinyEngines } from './tiny-engine.js';

const tiny = useTinyEngines();
const RUNS = 300;
const POSITIONS = [1, 3, 5];

/** Two-sample chi-square statistic over categories, pooling rare ones (expected < 5) into one. */
function chiSquare(
  a: Map<number, number>,
  b: Map<number, number>,
  na: number,
  nb: number,
): { stat: number; df: number } {
  const keys = new Set([...a.keys(), ...b.keys()]);
  const cells: [number, number][] = [];
  let rareA = 0;
  let rareB = 0;
  for (const k of keys) {
    const x = a.get(k) ?? 0;
    const y = b.get(k) ?? 0;
    if (((x + y) * Math.min(na, nb)) / (na + nb) < 5) {
      rareA += x;
      rareB += y;
    } else cells.push([x, y]);
  }
  if (rareA + rareB > 0) cells.push([rareA, rareB]);
  let stat = 0;
  for (const [x, y] of cells) {
    const t = x + y;
    const ea = (t * na) / (na + nb);
    const eb = (t * nb) / (na + nb);
    stat += (x - ea) ** 2 / ea + (y - eb) ** 2 / eb;
  }
  return { stat, df: cells.length - 1 };
}

/** Upper 0.1% point of chi-square with df degrees of freedom (Wilson–Hilferty). */
function critical(df: number): number {
  const z = 3.09;
  return df * (1 - 2 / (9 * df) + z * Math.sqrt(2 / (9 * df))) ** 3;
}

describe('sampling distribution with speculation', () => {
  it('is the same with speculation on and off (chi-square, p > 0.001)', { timeout: 600_000 }, async () => {
    const plain = await tiny.engine([]);
    const spec = await tiny.engine([{ name: 'ngram' }, { name: 'recycling' }, { name: 'retrieval' }]);
    const prompt = tiny.tokenizer().encode('the cat sat on the mat. the cat sat on the');
    const sampling = { ...GREEDY, temperature: 1, topK: 12 };
    const counts = POSITIONS.map(() => [new Map<number, number>(), new Map<number, number>()]);
    let accepted = 0;
    for (let r = 0; r < RUNS; r++) {
      for (const [arm, engine] of [plain, spec].entries()) {
        const seed = 1_000_003 * (2 * r + arm) + 17; // distinct seeds per arm and run
        const out = await engine.generate({
          prompt,
          maxNewTokens: 6,
          sampling: { ...sampling, seed },
          speculate: arm === 1,
        });
        accepted += out.stats.acceptedTokens;
        POSITIONS.forEach((p, i) => {
          const t = out.tokens[p];
          if (t !== undefined) counts[i][arm].set(t, (counts[i][arm].get(t) ?? 0) + 1);
        });
      }
    }
    expect(accepted).toBeGreaterThan(0);
    for (const [i, [a, b]] of counts.entries()) {
      const na = [...a.values()].reduce((x, y) => x + y, 0);
      const nb = [...b.values()].reduce((x, y) => x + y, 0);
      const { stat, df } = chiSquare(a, b, na, nb);
      expect(df, `position ${POSITIONS[i]} has several outcomes`).toBeGreaterThan(1);
      expect(stat, `position ${POSITIONS[i]}: χ²=${stat.toFixed(1)} df=${df}`).toBeLessThan(critical(df));
    }
  });
});

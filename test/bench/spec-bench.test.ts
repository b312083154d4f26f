/**
 * The bench's schedule (bench/spec-bench.ts) with engines that only record
 * what they are asked: interleaving, the untimed warm-up, and priming.
 */
import { describe, expect, it } from 'vitest';
import type { BenchPrompt } from '../../bench/dataset.js';
import { runBench } from '../../bench/spec-bench.js';
import type { ModelEngine } from '../../engine/index.js';
import { GREEDY } from '../../kernels/sampling-params.js';

interface Call {
  readonly engine: string;
  readonly prompt: string;
  readonly speculate: boolean;
}

function recorder(name: string, calls: Call[]): ModelEngine {
  return {
    async generate(request: { prompt: Int32Array; speculate?: boolean }) {
      calls.push({
        engine: name,
        prompt: String.fromCharCode(...request.prompt),
        speculate: request.speculate === true,
      });
      return { tokens: Int32Array.of(7), stats: { steps: 1 } };
    },
  } as unknown as ModelEngine;
}

const prompt = (id: string, turns: string[]): BenchPrompt => ({ id, category: 'c', subcategory: 'c', turns });

const chat = {
  // The last user turn's text stands for the prompt's tokens.
  encodeChat: (m: readonly { role: string; content: string }[]) =>
    Int32Array.from(m[m.length - 1].content, (c) => c.charCodeAt(0)),
  decode: () => 'x',
};

describe('runBench', () => {
  it('serves the prime prompts (first turns) to every speculative variant before the measured ones, and reports none of them', async () => {
    const calls: Call[] = [];
    const runs = await runBench({
      prompts: [prompt('1', ['A', 'B'])],
      prime: [prompt('p1', ['P', 'Q']), prompt('p2', ['R'])],
      maxNewTokens: 4,
      sampling: GREEDY,
      chat,
      baseline: recorder('plain', calls),
      variants: [
        { name: 'x', engine: recorder('x', calls) },
        { name: 'y', engine: recorder('y', calls) },
      ],
      warmup: false,
    });
    const primeCalls = calls.slice(0, 4);
    expect(primeCalls).toEqual([
      { engine: 'x', prompt: 'P', speculate: true },
      { engine: 'y', prompt: 'P', speculate: true },
      { engine: 'x', prompt: 'R', speculate: true },
      { engine: 'y', prompt: 'R', speculate: true },
    ]);
    // The plain lane is never primed (it has nothing to learn); the measured prompt follows, both turns.
    expect(calls.slice(4).map((c) => `${c.engine}:${c.prompt}`)).toEqual([
      'plain:A',
      'plain:B',
      'x:A',
      'x:B',
      'y:A',
      'y:B',
    ]);
    expect(runs.baseline.map((r) => r.prompt.id)).toEqual(['1']);
    expect(runs.variants.get('x')?.map((r) => r.prompt.id)).toEqual(['1']);
  });

  it('counts prime generations in its progress', async () => {
    const seen: [number, number][] = [];
    await runBench({
      prompts: [prompt('1', ['A'])],
      prime: [prompt('p1', ['P'])],
      maxNewTokens: 4,
      sampling: GREEDY,
      chat,
      baseline: recorder('plain', []),
      variants: [{ name: 'x', engine: recorder('x', []) }],
      warmup: false,
      onProgress: (done, total) => seen.push([done, total]),
    });
    expect(seen).toEqual([
      [1, 3],
      [2, 3],
      [3, 3],
    ]);
  });
});

/**
 * `canopy generate` and `canopy bench` on the tiny model: JSON output, the
 * same tokens with and without drafters, and flag errors with stable codes
 * before any model work.
 */
import { copyFileSync, cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { main } from '../../../../plugins/cli/main.js';
import { useTinyModel } from '../../../adapters/targets/embedded/tiny-model.js';
import { captureOutput } from './capture-output.js';

const tinyDir = useTinyModel();
const { out, err } = captureOutput({ stdout: true, stderr: true });

async function generateJson(...flags: string[]) {
  const code = await main(['generate', '--model', tinyDir(), '--json', '--max-new-tokens', '24', ...flags]);
  expect(code, err.join('\n')).toBe(0);
  return JSON.parse(out.join('')) as {
    text: string;
    tokens: number[];
    stats: { steps: number; tau: number; tokensPerSecond: number };
  };
}

describe('canopy generate', () => {
  it('prints text, token ids and stats as JSON, and speculation changes nothing but speed', async () => {
    const prompt = ['--prompt', 'one two three one two three one two'];
    const plain = await generateJson(...prompt, '--drafters', 'none');
    out.length = 0;
    const spec = await generateJson(...prompt, '--drafters', 'ngram,recycling');
    expect(plain.tokens.length).toBe(24);
    expect(spec.tokens).toEqual(plain.tokens);
    expect(spec.text).toBe(plain.text);
    expect(plain.stats.steps).toBe(24);
    expect(plain.stats.tau).toBe(1);
    expect(spec.stats.steps).toBeLessThanOrEqual(plain.stats.steps);
    expect(spec.stats.tokensPerSecond).toBeGreaterThan(0);
  });

  it('draws the same tokens for the same seed, with and without speculation', async () => {
    const flags = ['--prompt', 'hello there', '--temperature', '0.8', '--top-p', '0.95', '--seed', '42'];
    const plain = await generateJson(...flags, '--drafters', 'none');
    out.length = 0;
    const spec = await generateJson(...flags);
    expect(spec.tokens).toEqual(plain.tokens);
  });

  it('prints each token’s log-probability and alternatives, the same with and without speculation', async () => {
    const flags = ['--prompt', 'one two three one two three one two', '--logprobs', '2'];
    const plain = (await generateJson(...flags, '--drafters', 'none')) as unknown as {
      tokens: number[];
      logprobs: { id: number; logprob: number; top: { id: number; logprob: number }[] }[];
    };
    out.length = 0;
    const spec = (await generateJson(...flags)) as unknown as typeof plain;
    expect(spec.tokens).toEqual(plain.tokens);
    expect(spec.logprobs.map((e) => e.id)).toEqual(spec.tokens);
    for (const [t, e] of spec.logprobs.entries()) {
      expect(e.top).toHaveLength(2);
      expect(e.top[0].id).toBe(e.id); // greedy: the most likely token
      expect(e.logprob).toBeCloseTo(plain.logprobs[t].logprob, 4);
    }
  });

  it.each([
    [['--json', '--logprobs', '21'], 'CANOPY_ERR_INVALID_ARGUMENT'],
    [['--logprobs', '2'], 'CANOPY_ERR_INVALID_ARGUMENT'],
    [['--drafters', 'nope'], 'CANOPY_ERR_UNKNOWN_DRAFTER'],
    [['--drafters', 'ngram,,recycling'], 'CANOPY_ERR_UNKNOWN_DRAFTER'],
    [['--budget', '0'], 'CANOPY_ERR_BUDGET_OUT_OF_RANGE'],
    [['--budget', '9999'], 'CANOPY_ERR_BUDGET_OUT_OF_RANGE'],
    [['--budget', 'lots'], 'CANOPY_ERR_INVALID_ARGUMENT'],
    [['--seed', '1.5'], 'CANOPY_ERR_INVALID_SAMPLING'],
    [['--seed=-3'], 'CANOPY_ERR_INVALID_SAMPLING'],
    [['--temperature=-1'], 'CANOPY_ERR_INVALID_SAMPLING'],
    [['--top-p', '0'], 'CANOPY_ERR_INVALID_SAMPLING'],
    [['--max-new-tokens', '0'], 'CANOPY_ERR_MAX_TOKENS_OUT_OF_RANGE'],
  ])('refuses %j with %s', async (flags, code) => {
    expect(await main(['generate', '--model', tinyDir(), '--prompt', 'hi', ...flags])).toBe(1);
    expect(err.join('\n')).toContain(`[${code}]`);
  });

  it.each([
    ['paper'],
    ['=[{"name":"recycling"}]'],
    ['paper=[]'],
    ['paper={"name":"recycling"}'],
    ['paper=[{"name":"recycling","optons":{}}]'],
    ['fusion=["ngram"]'],
  ])('bench refuses --variant %s before any work', async (variant) => {
    // The dataset does not exist: the flag is refused before anything is read.
    const args = ['bench', '--model', tinyDir(), '--dataset', 'never-read.jsonl', '--variant', variant];
    expect(await main(args)).toBe(1);
    expect(err.join('\n')).toMatch(/--variant .*\[CANOPY_ERR_INVALID_ARGUMENT\]/);
  });

  it.each([
    [['--prime-count', '4'], '--prime-count needs --prime'],
    [['--prime', 'p.jsonl', '--prime-count', '0'], '--prime-count must be ≥ 1'],
    [['--prime', 'p.jsonl', '--prime-count', '1.5'], '--prime-count must be an integer'],
  ])('bench refuses %j before any work', async (flags, message) => {
    const dir = tinyDir();
    const dataset = join(dir, '..', 'one.jsonl');
    writeFileSync(dataset, JSON.stringify({ question_id: 1, category: 'qa', turns: ['hi'] }));
    expect(await main(['bench', '--model', dir, '--dataset', dataset, ...flags])).toBe(1);
    expect(err.join('\n')).toContain(message);
    expect(err.join('\n')).toContain('[CANOPY_ERR_INVALID_ARGUMENT]');
  });

  it('says which command prepares a missing model', async () => {
    expect(await main(['generate', '--model', 'not-prepared-anywhere', '--prompt', 'hi'])).toBe(1);
    expect(err.join('\n')).toMatch(/prepare-model.*\[CANOPY_ERR_MODEL_NOT_PREPARED\]/);
  });

  it('rejects unknown flags with usage advice', async () => {
    expect(await main(['generate', '--promt', 'hi'])).toBe(2);
    expect(err.join('\n')).toContain('CANOPY_ERR_INVALID_ARGUMENT');
  });
});

describe('canopy bench', () => {
  it('compares plain and speculative decoding on a dataset and writes the report', async () => {
    const dir = tinyDir();
    const dataset = join(dir, '..', 'bench.jsonl');
    const rows = [
      { question_id: 1, category: 'writing', turns: ['one two three one two three', 'again please'] },
      { question_id: 2, category: 'qa', turns: ['a b c a b c a b'] },
      { question_id: 3, category: 'qa', turns: ['hello hello hello'] },
    ];
    writeFileSync(dataset, rows.map((r) => JSON.stringify(r)).join('\n'));
    const prime = join(dir, '..', 'prime.jsonl');
    writeFileSync(
      prime,
      ['one two', 'three four', 'five six']
        .map((t, i) => JSON.stringify({ category: 'p', turns: [t], question_id: i }))
        .join('\n'),
    );
    const json = join(dir, '..', 'bench.json');
    const chart = join(dir, '..', 'bench.svg');
    const code = await main([
      'bench',
      '--model',
      dir,
      '--dataset',
      dataset,
      '--per-category',
      '2',
      '--max-new-tokens',
      '16',
      '--compare',
      '--variant',
      'paper=[{"name":"recycling","options":{"order":1}}]',
      '--json',
      json,
      '--chart',
      chart,
      '--prime',
      prime,
      '--prime-count',
      '2',
    ]);
    expect(code, err.join('\n')).toBe(0);
    const report = JSON.parse((await import('node:fs')).readFileSync(json, 'utf8'));
    expect(Object.keys(report.categories).sort()).toEqual(['mt_bench', 'qa']);
    expect(report.overall.exactMatch).toBe(1);
    expect(report.overall.prompts).toBe(3);
    for (const key of [
      'tau',
      'speedup',
      'tokensPerSecond',
      'baselineTokensPerSecond',
      'draftOverheadShare',
      'predictedTau',
    ]) {
      expect(report.overall[key], key).toBeTypeOf('number');
    }
    expect(Object.keys(report.variants).sort()).toEqual([
      'fusion',
      'ngram',
      'paper',
      'recycling',
      'retrieval',
    ]);
    expect(report.variants.paper.overall.exactMatch).toBe(1);
    expect(report.settings.subset).toMatch(/2 per category/);
    expect(report.settings.prime).toEqual({ file: prime, prompts: 2 });
    expect(report.machine.cores).toBeGreaterThan(0);
    expect((await import('node:fs')).readFileSync(chart, 'utf8')).toMatch(/^<svg/);
    expect(out.join('\n')).toMatch(/== fusion/);
  });

  it('gives every variant the model directory, so a head-based drafter runs in the bench', async () => {
    // A copy of the tiny model with the eagle test head beside it (where the training tool writes).
    const dir = mkdtempSync(join(tmpdir(), 'canopy-bench-eagle-'));
    try {
      const model = join(dir, 'tiny');
      cpSync(tinyDir(), model, { recursive: true });
      const fixture = new URL('../../../adapters/drafters/eagle/fixtures/tiny-random/', import.meta.url);
      for (const f of ['eagle.onnx', 'eagle.json']) copyFileSync(new URL(f, fixture), join(model, f));
      const dataset = join(dir, 'bench.jsonl');
      const turns = ['Explain glaciers in simple terms.'];
      writeFileSync(dataset, JSON.stringify({ question_id: 1, category: 'qa', turns }));
      const json = join(dir, 'bench.json');
      const args = ['bench', '--model', model, '--dataset', dataset, '--max-new-tokens', '24'];
      const code = await main([
        ...args,
        ...['--drafters', 'eagle,ngram', '--compare', '--also', 'ngram,recycling', '--json', json],
      ]);
      expect(code, err.join('\n')).toBe(0);
      expect(err.join('\n')).not.toMatch(/running without it/);
      const report = JSON.parse(readFileSync(json, 'utf8'));
      expect(report.overall.exactMatch).toBe(1);
      expect(Object.keys(report.variants).sort()).toEqual(['eagle', 'fusion', 'ngram', 'ngram+recycling']);
      expect(report.variants['ngram+recycling'].overall.exactMatch).toBe(1);
      expect(report.variants.eagle.overall.tau).toBeGreaterThan(1);
      expect(report.drafters.eagle.ranSteps).toBeGreaterThan(0);
      expect(report.drafters.eagle.ranSteps).toBeLessThanOrEqual(report.overall.steps);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

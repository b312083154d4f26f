/**
 * Tokenizer throughput on long prompts: encode with an empty piece cache
 * (a fresh tokenizer, the first request of a server) and with a warm one,
 * and decode, for a prompt of about 8k tokens built from Spec-Bench turns and
 * for a CJK text with no spaces (one long piece: the heap merge path).
 *
 *   npm run build && node dist/bench/tokenizer.js [--model NAME|DIR] [--tokens 8192] [--reps 5]
 *     [--data ../shared/data/spec_bench/question.jsonl]
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { modelDir } from '../adapters/model-store/index.js';
import {
  loadTokenizer,
  parseTokenizerFile,
  type Tokenizer,
  type TokenizerFile,
} from '../adapters/tokenizer/index.js';
import { createTokenizer } from '../adapters/tokenizer/tokenizer.js';

interface Timing {
  readonly name: string;
  readonly chars: number;
  readonly tokens: number;
  readonly coldMs: number;
  readonly warmMs: number;
  readonly decodeMs: number;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

function time(file: TokenizerFile, name: string, text: string, reps: number): Timing {
  const cold: number[] = [];
  const warm: number[] = [];
  const decode: number[] = [];
  let tokens = 0;
  for (let r = 0; r < reps; r++) {
    const tokenizer = createTokenizer(file);
    let start = performance.now();
    const ids = tokenizer.encode(text);
    cold.push(performance.now() - start);
    start = performance.now();
    tokenizer.encode(text);
    warm.push(performance.now() - start);
    start = performance.now();
    tokenizer.decode(ids);
    decode.push(performance.now() - start);
    tokens = ids.length;
  }
  return {
    name,
    chars: text.length,
    tokens,
    coldMs: median(cold),
    warmMs: median(warm),
    decodeMs: median(decode),
  };
}

function promptOf(tokenizer: Tokenizer, turns: string[], target: number): string {
  let text = '';
  for (let i = 0; tokenizer.encode(text).length < target; i++) text += `${turns[i % turns.length]}\n`;
  return text;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      model: { type: 'string', default: 'smollm2-135m-instruct' },
      tokens: { type: 'string', default: '8192' },
      reps: { type: 'string', default: '5' },
      data: { type: 'string', default: '../shared/data/spec_bench/question.jsonl' },
    },
  });
  const dir = modelDir(values.model);
  const tokenizer = await loadTokenizer(dir);
  const file = parseTokenizerFile(JSON.parse(readFileSync(`${dir}/tokenizer.json`, 'utf8')));
  const turns = readFileSync(values.data, 'utf8')
    .split('\n')
    .filter((l) => l.trim())
    .flatMap((l) => (JSON.parse(l) as { turns: string[] }).turns);
  const target = Number(values.tokens);
  const reps = Number(values.reps);
  const english = promptOf(tokenizer, turns, target);
  const cjk = '我们今天去公园散步天气很好阳光明媚孩子们在草地上玩耍老人们坐在长椅上聊天'.repeat(
    Math.ceil(target / 70),
  );
  let start = performance.now();
  createTokenizer(file);
  const buildMs = performance.now() - start;
  start = performance.now();
  await loadTokenizer(dir);
  const loadMs = performance.now() - start;
  console.log(
    `tokenizer of ${dir}: load ${loadMs.toFixed(0)} ms (of which building ${buildMs.toFixed(0)} ms)`,
  );
  for (const t of [time(file, 'spec-bench', english, reps), time(file, 'cjk, one piece', cjk, reps)]) {
    const rate = (ms: number) => `${((t.tokens / ms) * 1000).toFixed(0)} tok/s`;
    console.log(
      `${t.name.padEnd(16)} ${t.chars} chars ${t.tokens} tokens | encode cold ${t.coldMs.toFixed(1)} ms (${rate(t.coldMs)})` +
        ` warm ${t.warmMs.toFixed(1)} ms (${rate(t.warmMs)}) | decode ${t.decodeMs.toFixed(1)} ms (medians of ${reps})`,
    );
  }
}

await main();

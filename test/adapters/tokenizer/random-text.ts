/**
 * Seeded random text for tokenizer tests: runs drawn from pools of scripts
 * and hazards (emoji with ZWJ and skin tones, CJK, combining marks, unusual
 * whitespace, digits of other scripts, contractions, special-token look-alikes).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/** mulberry32: small, seeded, good enough to pick test strings. */
export function seededRandom(seed: number): () => number {
  let state = seed | 0;
  return () => {
    state = (state + 0x6d2b79f5) | 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Pools of single characters (strings) or whole units (arrays). */
const POOLS: readonly (string | readonly string[])[] = [
  'abcdefghijklmnopqrstuvwxyz',
  'ABCDEFGHIJKLMNOPQRSTUVWXYZ',
  '0123456789',
  '.,;:!?-_()[]{}<>/\\|@#$%^&*+=~`"\'',
  [
    ' ',
    '  ',
    '   ',
    '\t',
    '\n',
    '\n\n',
    '\r\n',
    '\u00a0',
    '\u3000',
    '\u0085',
    '\u2028',
    '\u200b',
    '\v',
    '\f',
  ],
  ['😀', '👍🏽', '👨‍👩‍👧', '🇫🇷', '❤️', '🤖', '🧑🏿‍🚀', '🐍'],
  '你好世界中文字符测试汉语',
  'こんにちはカタカナ',
  '한국어텍스트',
  ['e\u0301', 'a\u0308', 'n\u0303', '\u0301', '\u0327', 'ṩ', 'क़'],
  'αβγδεζηθ',
  'абвгдеёжз',
  'مرحبا بالعالم',
  'नमस्ते दुनिया',
  'สวัสดีครับ',
  ['²', '½', 'Ⅻ', '٣', '४', '𝟙', '①'],
  ["'s", "'ll", "'ve", "'re", "'d", "'m", "'t", "'S", "'LL"],
  ['ü', 'ß', 'ç', 'ø', 'œ', 'æ', 'ñ', 'É', '\ufeff'],
];

/** Look-alikes and real specials, for tests that exercise special-token parsing. */
export const SPECIAL_LOOKALIKES = [
  '<|im_start|>',
  '<|im_end|>',
  '<|endoftext|>',
  '<|im_',
  'im_end|>',
  '<|',
  '|>',
];

export interface RandomTextOptions {
  readonly maxRuns?: number;
  /** Extra units mixed in like any other pool. */
  readonly extra?: readonly string[];
}

/** A random string of 1..maxRuns runs; every run repeats one pick 1-6 times for strings pools. */
export function randomText(rand: () => number, options: RandomTextOptions = {}): string {
  const pools = options.extra ? [...POOLS, options.extra] : POOLS;
  const pick = <T>(items: readonly T[]): T => items[Math.floor(rand() * items.length)];
  const runs = 1 + Math.floor(rand() * (options.maxRuns ?? 30));
  let out = '';
  for (let r = 0; r < runs; r++) {
    const pool = pick(pools);
    if (typeof pool === 'string') {
      const chars = [...pool];
      const n = 1 + Math.floor(rand() * 6);
      for (let i = 0; i < n; i++) out += pick(chars);
    } else {
      out += pick(pool);
    }
  }
  return out;
}

/** Hand-picked strings where tokenizers usually disagree. */
export const TRICKY_TEXTS: readonly string[] = [
  '',
  ' ',
  '\n\n\n',
  '   leading and trailing   ',
  "I'm sure it's fine, isn't it? They'LL see. Y'all'd've",
  'Version 3.14.159-rc2 released on 2024-12-31 at 23:59:59 (UTC+02:00).',
  '$1,234,567.89 and ¥1000 and ١٢٣ and ⅷ and x²',
  'def f(x):\n\treturn x**2  # square\n\n\nclass A:\n    pass',
  'https://example.com/path?query=1&b=2#frag',
  '👨‍👩‍👧‍👦 family, 🏳️‍🌈 flag, 🇯🇵 Japan, 👍🏿 thumbs',
  '中文，標點。日本語の文章、한국어 문장!',
  'e\u0301te\u0301 vs été; Zalgo: Z͑ͫ̓ͪ̂ͫ̽͏̴̙̤̞͉͚̯̞̠͍A̴̵̜̰͔ͫ͗͢L̠ͨͧͩ͘G̴̻͈͍͔̹̑͗̎̅͛́Ǫ̵̹̻̝̳͂̌̌͘',
  '\u00a0non-breaking\u2009thin\u3000ideographic\u0085next-line\ufeffbom',
  '<|im_start|>user\nhello<|im_end|>\n<|im_start|>assistant\n',
  '<|im_start|><|im_start|>nested<|im_end|x',
  '<repo_name>canopy<file_sep>README.md',
  ' \n \n\r\n\r\n  x\n\n\ty  \n',
  "ALL CAPS DON'T WON'T I'D WE'VE 12345678901 3.5e-10",
];

/** Spec-Bench prompts, every turn (../shared/data relative to the repository root). */
export function specBenchTurns(): string[] {
  const path = join(process.cwd(), '..', 'shared', 'data', 'spec_bench', 'question.jsonl');
  return readFileSync(path, 'utf8')
    .split('\n')
    .filter((line) => line.trim().length > 0)
    .flatMap((line) => (JSON.parse(line) as { turns: string[] }).turns);
}

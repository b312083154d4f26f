/**
 * Per-step cost of the train-free drafters at a long context: propose + observe
 * in microseconds, on a synthetic 8k-token context with a 49152-token
 * vocabulary (Zipf-distributed tokens with copied passages, like text that
 * quotes itself), budget 32, top-8 feedback on every node.
 *
 *   npm run build && node dist/bench/drafters.js [--steps N] [--context N] [--warm N]
 *
 * Timings on shared machines are noisy; compare drafters within one run.
 */
import { parseArgs } from 'node:util';
import type { Draft, DrafterDefinition, DraftFeedback } from '../adapters/drafter.js';
import { builtinDrafters } from '../adapters/drafters/index.js';
import type { TargetInfo } from '../adapters/target.js';
import { isCanopyError } from '../kernels/errors.js';
import { chainTree } from '../kernels/tree.js';

const VOCAB = 49152;
const TOP_K = 8;
const BUDGET = 32;

const target: TargetInfo = {
  model: 'bench',
  vocabSize: VOCAB,
  eosTokenIds: [2],
  maxContext: 32768,
  numLayers: 30,
  hiddenSize: 576,
  capabilities: { maxTopK: TOP_K, hiddenStates: false, skipLayers: false },
};

function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

/** Zipf-like token ids with passages copied from earlier in the text. */
function syntheticText(length: number, random: () => number): Int32Array {
  const out = new Int32Array(length);
  let i = 0;
  while (i < length) {
    if (i > 64 && random() < 0.05) {
      const from = Math.floor(random() * (i - 32));
      const n = Math.min(4 + Math.floor(random() * 24), length - i);
      out.copyWithin(i, from, from + n);
      i += n;
    } else {
      out[i++] = Math.floor(VOCAB * random() ** 4);
    }
  }
  return out;
}

/** Committed tokens in one growing buffer; drafters get views, as from the engine. */
class Committed {
  #buffer: Int32Array;
  length: number;

  constructor(prompt: Int32Array) {
    this.#buffer = new Int32Array(prompt.length * 2 + 1024);
    this.#buffer.set(prompt);
    this.length = prompt.length;
  }

  get view(): Int32Array {
    return this.#buffer.subarray(0, this.length);
  }

  push(tokens: Int32Array): void {
    if (this.length + tokens.length > this.#buffer.length) {
      const grown = new Int32Array(2 * (this.length + tokens.length));
      grown.set(this.view);
      this.#buffer = grown;
    }
    this.#buffer.set(tokens, this.length);
    this.length += tokens.length;
  }
}

/** The target's part, faked: `next` says what comes next; half of each drafted path is accepted. */
function verify(
  draft: Draft | null,
  committed: Committed,
  next: number,
  random: () => number,
): DraftFeedback {
  const tree = draft ?? chainTree([committed.view[committed.length - 1]]);
  const accepted = [0];
  for (let i = 1; i < tree.tokens.length; i++) {
    if (tree.parents[i] === accepted[accepted.length - 1] && random() < 0.5) accepted.push(i);
  }
  const emitted = Int32Array.from([...accepted.slice(1).map((i) => tree.tokens[i]), next]);
  const topKIds = Int32Array.from({ length: tree.tokens.length * TOP_K }, () =>
    Math.floor(VOCAB * random() ** 4),
  );
  committed.push(emitted);
  return {
    tree,
    result: { chosen: emitted.subarray(emitted.length - 1), topKIds },
    accepted: Int32Array.from(accepted),
    emitted,
    tokens: committed.view,
  };
}

function quantile(sorted: Float64Array, q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}

async function run(
  definition: DrafterDefinition<unknown>,
  contextLength: number,
  steps: number,
  warmRequests: number,
): Promise<string> {
  const random = lcg(42);
  const factory = await definition.create(definition.parseOptions(undefined), { target });
  const text = syntheticText(contextLength + 4 * steps, random);
  const prompt = text.slice(0, contextLength);
  // Warm shared state as a running server would have it: past requests of the same model,
  // over passages the measured request will also see.
  for (let r = 0; r < warmRequests; r++) {
    const start = (contextLength - 256 + r * 37) % (text.length - 512);
    const warm = text.slice(start, start + 256);
    const past = factory.open({ prompt: warm });
    const committed = new Committed(warm);
    for (let step = 0; step < 32; step++) {
      const draft = await past.propose({ tokens: committed.view, promptLength: warm.length, budget: BUDGET });
      past.observe(verify(draft, committed, text[(start + committed.length) % text.length], random));
    }
    past.close?.();
  }
  const session = factory.open({ prompt });
  const committed = new Committed(prompt);
  const cost = new Float64Array(steps);
  let drafted = 0;
  let nodes = 0;
  for (let step = 0; step < steps; step++) {
    const t0 = process.hrtime.bigint();
    const draft = await session.propose({
      tokens: committed.view,
      promptLength: prompt.length,
      budget: BUDGET,
    });
    const t1 = process.hrtime.bigint();
    const feedback = verify(draft, committed, text[committed.length % text.length], random);
    const t2 = process.hrtime.bigint();
    session.observe(feedback);
    const t3 = process.hrtime.bigint();
    cost[step] = Number(t1 - t0 + (t3 - t2)) / 1000;
    if (draft) {
      drafted++;
      nodes += draft.tokens.length;
    }
  }
  session.close?.();
  factory.dispose?.();
  const mean = cost.reduce((a, b) => a + b, 0) / steps;
  cost.sort();
  return [
    definition.name.padEnd(10),
    mean.toFixed(1).padStart(8),
    quantile(cost, 0.5).toFixed(1).padStart(8),
    quantile(cost, 0.99).toFixed(1).padStart(8),
    `${((100 * drafted) / steps).toFixed(0)}%`.padStart(8),
    (drafted ? nodes / drafted : 0).toFixed(1).padStart(8),
  ].join(' ');
}

const { values } = parseArgs({
  options: {
    steps: { type: 'string', default: '2000' },
    context: { type: 'string', default: '8192' },
    warm: { type: 'string', default: '1024' },
  },
});
const steps = Number(values.steps);
const contextLength = Number(values.context);
const warmRequests = Number(values.warm);
console.log(
  `context ${contextLength} tokens, ${steps} steps, budget ${BUDGET}, vocab ${VOCAB}, top-${TOP_K} feedback, ` +
    `after ${warmRequests} past requests of 32 steps`,
);
console.log('drafter    mean µs   p50 µs   p99 µs  drafted   nodes');
// Drafters that run the target itself (layer-skip) or read its hidden states (eagle, which refuses
// this fake target at create) need a real target: not timed here.
for (const definition of builtinDrafters.filter((d) => !d.capabilities.needsTarget)) {
  try {
    console.log(await run(definition, contextLength, steps, warmRequests));
  } catch (error) {
    if (!isCanopyError(error, 'CANOPY_ERR_DRAFTER_INCOMPATIBLE')) throw error;
  }
}

/**
 * A stand-in for the target in drafter tests: its next token after token t is
 * a fixed function of t, so a greedy decode from a prompt is fully known. The
 * decode loop below does what the engine does each step: propose, verify the
 * tree (greedy walk), feed the result back to the drafter.
 */
import type { Draft, DraftContext, DrafterSession, DraftFeedback } from '../../../adapters/drafter.js';
import type { PassResult } from '../../../adapters/target.js';
import { chainTree, type TokenTree } from '../../../kernels/tree.js';

export interface Oracle {
  readonly vocabSize: number;
  /** The target's greedy token after `token`. */
  next(token: number): number;
  /** The target's top-k after `token`, best first (distinct ids in the vocabulary). */
  topK(token: number, k: number): number[];
}

/** Cycles through `pattern` (distinct tokens); anything else leads back to its start. */
export function cyclicOracle(pattern: readonly number[], vocabSize: number): Oracle {
  const position = new Map(pattern.map((t, i) => [t, i]));
  const next = (token: number): number => {
    const i = position.get(token);
    return i === undefined ? pattern[0] : pattern[(i + 1) % pattern.length];
  };
  return {
    vocabSize,
    next,
    topK(token, k) {
      const ids = [next(token)];
      for (let c = 1; ids.length < Math.min(k, vocabSize); c++) {
        const id = (ids[0] + c * 7) % vocabSize;
        if (!ids.includes(id)) ids.push(id);
      }
      return ids;
    },
  };
}

/** The target's answer for every node of `tree`, with top-k when asked (k > 0). */
export function oraclePass(oracle: Oracle, tree: TokenTree, k: number): PassResult {
  const n = tree.tokens.length;
  const chosen = new Int32Array(n);
  for (let i = 0; i < n; i++) chosen[i] = oracle.next(tree.tokens[i]);
  if (k === 0) return { chosen };
  const topKIds = new Int32Array(n * k);
  const topKLogprobs = new Float32Array(n * k);
  for (let i = 0; i < n; i++) {
    const ids = oracle.topK(tree.tokens[i], k);
    for (let r = 0; r < k; r++) {
      topKIds[i * k + r] = ids[r] ?? ids[0];
      topKLogprobs[i * k + r] = r === 0 ? Math.log(0.9) : Math.log(0.1 / k);
    }
  }
  return { chosen, topKIds, topKLogprobs };
}

/** Greedy walk: follow the child equal to the target's token; emit accepted + correction/bonus. */
export function greedyWalk(
  tree: TokenTree,
  chosen: Int32Array,
): { accepted: Int32Array; emitted: Int32Array } {
  const accepted = [0];
  const emitted: number[] = [];
  let node = 0;
  for (;;) {
    const want = chosen[node];
    let child = -1;
    for (let i = node + 1; i < tree.tokens.length; i++) {
      if (tree.parents[i] === node && tree.tokens[i] === want) {
        child = i;
        break;
      }
    }
    emitted.push(want);
    if (child < 0) break;
    accepted.push(child);
    node = child;
  }
  return { accepted: Int32Array.from(accepted), emitted: Int32Array.from(emitted) };
}

export interface DecodeStep {
  readonly context: DraftContext;
  readonly draft: Draft | null;
  readonly feedback: DraftFeedback;
}

export interface DecodePlan {
  /** Nodes per verify pass. */
  readonly budget: number;
  /** Top ids per node the pass returns (the drafter's needsTopK). */
  readonly topK: number;
}

/** Drives one session against the oracle, one engine step at a time. */
export class Decoder {
  readonly #session: DrafterSession;
  readonly #oracle: Oracle;
  readonly #promptLength: number;
  readonly #plan: DecodePlan;
  tokens: Int32Array;

  constructor(session: DrafterSession, oracle: Oracle, prompt: Int32Array, plan: DecodePlan) {
    this.#session = session;
    this.#oracle = oracle;
    this.#promptLength = prompt.length;
    this.#plan = plan;
    this.tokens = Int32Array.from(prompt);
  }

  /** Propose, verify greedily, commit, observe. */
  async step(): Promise<DecodeStep> {
    const committed = this.tokens.slice();
    const context = { tokens: committed, promptLength: this.#promptLength, budget: this.#plan.budget };
    const draft = await this.#session.propose(context);
    const tree: TokenTree = draft ?? chainTree([committed[committed.length - 1]]);
    const result = oraclePass(this.#oracle, tree, this.#plan.topK);
    const { accepted, emitted } = greedyWalk(tree, result.chosen);
    const tokens = new Int32Array(committed.length + emitted.length);
    tokens.set(committed);
    tokens.set(emitted, committed.length);
    this.tokens = tokens;
    const feedback: DraftFeedback = { tree, result, accepted, emitted, tokens: tokens.slice() };
    this.#session.observe(feedback);
    return { context, draft, feedback };
  }
}

/** Decodes `steps` steps of one session against the oracle, as the engine would. */
export async function decode(
  session: DrafterSession,
  oracle: Oracle,
  prompt: Int32Array,
  plan: DecodePlan & { readonly steps: number },
): Promise<DecodeStep[]> {
  const decoder = new Decoder(session, oracle, prompt, plan);
  const log: DecodeStep[] = [];
  for (let s = 0; s < plan.steps; s++) log.push(await decoder.step());
  return log;
}

/** Whether the draft holds the chain `path` below its root. */
export function draftHasPath(draft: Draft | null, path: readonly number[]): boolean {
  if (!draft) return false;
  let node = 0;
  for (const token of path) {
    let child = -1;
    for (let i = node + 1; i < draft.tokens.length; i++) {
      if (draft.parents[i] === node && draft.tokens[i] === token) {
        child = i;
        break;
      }
    }
    if (child < 0) return false;
    node = child;
  }
  return true;
}

import { growBestFirst } from '../../../kernels/best-first-tree.js';
import type { Draft, DraftContext, DrafterSession, DraftFeedback } from '../../drafter.js';
import type { AdjacencyMatrix } from './adjacency.js';
import type { PairTable } from './pair-table.js';
import type { CompiledTemplate } from './template.js';

/** What a session reads from its factory; `matrix` is null once the factory is disposed. */
export interface RecyclingShared {
  readonly matrix: AdjacencyMatrix | null;
  /** Rows keyed by (previous, current) token; null when the drafter runs first-order only. */
  readonly pairs: PairTable | null;
  readonly template: CompiledTemplate;
}

/**
 * One request's view of the shared tables. Proposing expands the template
 * from the root, looking each node's children up in the row of its (parent,
 * node) token pair when the pair table has one and in the row of its token
 * otherwise, best-first by score; observing writes the target's top-k of every
 * verified node back into both.
 */
export class RecyclingSession implements DrafterSession {
  readonly #shared: RecyclingShared;

  constructor(shared: RecyclingShared) {
    this.#shared = shared;
  }

  propose(context: DraftContext): Draft | null {
    const matrix = this.#shared.matrix;
    const pairs = matrix ? this.#shared.pairs : null;
    const length = context.tokens.length;
    if (!matrix || length === 0 || context.budget < 2) return null;
    const root = context.tokens[length - 1];
    const previous = pairs && length > 1 ? context.tokens[length - 2] : -1;
    if (!matrix.seen(root) && (pairs?.find(previous, root) ?? -1) < 0) return null;
    const { size, childRanks, childNodes } = this.#shared.template;
    // A handle packs (previous token + 1, token, template node); the factory
    // keeps the pair table only where that stays below 2^53.
    const span = matrix.vocabSize * size;
    const draft = growBestFirst(
      root,
      (previous + 1) * span + root * size,
      { budget: Math.min(context.budget, size), maxDepth: size, minScore: 0 },
      (handle, _depth, emit) => {
        const node = handle % size;
        const rest = (handle - node) / size;
        const token = rest % matrix.vocabSize;
        const before = (rest - token) / matrix.vocabSize - 1;
        const pairRow = pairs ? pairs.find(before, token) : -1;
        const ranks = childRanks[node];
        for (let c = 0; c < ranks.length; c++) {
          const rank = ranks[c];
          const id = pairRow >= 0 ? pairs!.id(pairRow, rank) : matrix.id(token, rank);
          if (id < 0) continue;
          let duplicate = false; // a row holds distinct ids when the target wrote it; guard anyway
          for (let j = 0; j < c && !duplicate; j++)
            duplicate = (pairRow >= 0 ? pairs!.id(pairRow, ranks[j]) : matrix.id(token, ranks[j])) === id;
          if (duplicate) continue;
          const score = pairRow >= 0 ? pairs!.score(pairRow, rank) : matrix.score(token, rank);
          emit(id, score, (pairs ? (token + 1) * span : 0) + id * size + childNodes[node][c]);
        }
      },
    );
    return draft.tokens.length > 1 ? draft : null;
  }

  observe(feedback: DraftFeedback): void {
    const matrix = this.#shared.matrix;
    const pairs = matrix ? this.#shared.pairs : null;
    const ids = feedback.result.topKIds;
    const { tokens, parents } = feedback.tree;
    const nodes = tokens.length;
    if (!matrix || !ids || nodes === 0) return;
    const width = ids.length / nodes;
    if (!Number.isInteger(width) || width < 1) return;
    const lp = feedback.result.topKLogprobs;
    const logprobs = lp && lp.length === ids.length ? lp : undefined;
    // The root sat at position committedBefore - 1; the token before it is its pair's first half.
    const rootAt = feedback.tokens.length - feedback.emitted.length - 1;
    const beforeRoot = rootAt >= 1 ? feedback.tokens[rootAt - 1] : -1;
    for (let i = 0; i < nodes; i++) {
      matrix.record(tokens[i], ids, i * width, width, logprobs);
      const before = i === 0 ? beforeRoot : tokens[parents[i]];
      pairs?.record(before, tokens[i], ids, i * width, width, logprobs);
    }
  }
}

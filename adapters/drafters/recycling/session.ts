import { growBestFirst } from '../../../kernels/best-first-tree.js';
import type { Draft, DraftContext, DrafterSession, DraftFeedback } from '../../drafter.js';
import type { AdjacencyMatrix } from './adjacency.js';
import type { PairTable } from './pair-table.js';
import type { CompiledTemplate } from './template.js';
import type { TopKRows } from './top-k-rows.js';

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
    const { matrix, pairs } = this.#shared;
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
        // The pair's row where the table has it, else the token's own row.
        const pairRow = pairs ? pairs.find(before, token) : -1;
        const table: TopKRows = pairRow >= 0 ? (pairs as PairTable) : matrix;
        const row = pairRow >= 0 ? pairRow : token;
        const childBefore = pairs ? (token + 1) * span : 0; // the children's "previous" is this token
        const ranks = childRanks[node];
        for (let c = 0; c < ranks.length; c++) {
          const id = table.id(row, ranks[c]);
          if (id < 0 || isEarlierSibling(table, row, ranks, c, id)) continue;
          emit(id, table.score(row, ranks[c]), childBefore + id * size + childNodes[node][c]);
        }
      },
    );
    return draft.tokens.length > 1 ? draft : null;
  }

  observe(feedback: DraftFeedback): void {
    const { matrix, pairs } = this.#shared;
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

/** A row holds distinct ids when the target wrote it; this guards siblings against a malformed one. */
function isEarlierSibling(table: TopKRows, row: number, ranks: readonly number[], c: number, id: number) {
  for (let j = 0; j < c; j++) if (table.id(row, ranks[j]) === id) return true;
  return false;
}

import { growBestFirst } from '../../../kernels/best-first-tree.js';
import type { Draft, DraftContext, DrafterSession, DraftFeedback } from '../../drafter.js';
import type { AdjacencyMatrix } from './adjacency.js';
import type { CompiledTemplate } from './template.js';

/** What a session reads from its factory; `matrix` is null once the factory is disposed. */
export interface RecyclingShared {
  readonly matrix: AdjacencyMatrix | null;
  readonly template: CompiledTemplate;
}

/**
 * One request's view of the shared adjacency matrix. Proposing expands the
 * template from the root, looking each node's children up in the row of its
 * token, best-first by score; observing writes the target's top-k of every
 * verified node back into the matrix.
 */
export class RecyclingSession implements DrafterSession {
  readonly #shared: RecyclingShared;

  constructor(shared: RecyclingShared) {
    this.#shared = shared;
  }

  propose(context: DraftContext): Draft | null {
    const matrix = this.#shared.matrix;
    const length = context.tokens.length;
    if (!matrix || length === 0 || context.budget < 2) return null;
    const root = context.tokens[length - 1];
    if (!matrix.seen(root)) return null;
    const { size, childRanks, childNodes } = this.#shared.template;
    // A handle packs (token, template node); both are small integers.
    const draft = growBestFirst(
      root,
      root * size,
      { budget: Math.min(context.budget, size), maxDepth: size, minScore: 0 },
      (handle, _depth, emit) => {
        const node = handle % size;
        const token = (handle - node) / size;
        const ranks = childRanks[node];
        for (let c = 0; c < ranks.length; c++) {
          const id = matrix.id(token, ranks[c]);
          if (id < 0 || isEarlierSibling(matrix, token, ranks, c, id)) continue;
          emit(id, matrix.score(token, ranks[c]), id * size + childNodes[node][c]);
        }
      },
    );
    return draft.tokens.length > 1 ? draft : null;
  }

  observe(feedback: DraftFeedback): void {
    const matrix = this.#shared.matrix;
    const ids = feedback.result.topKIds;
    const nodes = feedback.tree.tokens.length;
    if (!matrix || !ids || nodes === 0) return;
    const width = ids.length / nodes;
    if (!Number.isInteger(width) || width < 1) return;
    const lp = feedback.result.topKLogprobs;
    const logprobs = lp && lp.length === ids.length ? lp : undefined;
    for (let i = 0; i < nodes; i++) matrix.record(feedback.tree.tokens[i], ids, i * width, width, logprobs);
  }
}

/** A row holds distinct ids when the target wrote it; this guards siblings against a malformed one. */
function isEarlierSibling(
  matrix: AdjacencyMatrix,
  token: number,
  ranks: readonly number[],
  c: number,
  id: number,
) {
  for (let j = 0; j < c; j++) if (matrix.id(token, ranks[j]) === id) return true;
  return false;
}

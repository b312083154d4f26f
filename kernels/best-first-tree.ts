/**
 * Grows a draft tree best-first by path score, the product of node scores
 * from the root. Node scores are in (0, 1], so a path score never rises along
 * a path: taking candidates in order of path score yields, for any budget, the
 * subtree with the highest scores, and every node arrives after its parent
 * (`parents[i] < i`).
 *
 * The caller's `expand` callback knows what a node's children are (continuation
 * counts, an adjacency row, a template); this kernel only orders and cuts.
 */

/** A grown tree: node 0 is the root with score 1. */
export interface GrownTree {
  /** [numNodes] */
  readonly tokens: Int32Array;
  /** [numNodes] */
  readonly parents: Int32Array;
  /** [numNodes] score of each node given its parent, in (0, 1]. */
  readonly scores: Float32Array;
}

export interface GrowLimits {
  /** Most nodes, root included (≥ 1). */
  readonly budget: number;
  /** Deepest node depth (root = 0). */
  readonly maxDepth: number;
  /** Children scored below this are dropped. */
  readonly minScore: number;
}

/**
 * Called once per node that may get children. `handle` is the caller's own
 * reference for that node (what `emit` gave it). Children of one node must
 * carry distinct tokens.
 */
export type Expand = (
  handle: number,
  depth: number,
  emit: (token: number, score: number, childHandle: number) => void,
) => void;

/**
 * Candidate nodes in append-only parallel arrays, with a binary max-heap of
 * their ids keyed by path score.
 */
class Candidates {
  readonly key: number[] = [];
  readonly parent: number[] = [];
  readonly token: number[] = [];
  readonly score: number[] = [];
  readonly handle: number[] = [];
  readonly #heap: number[] = [];

  get size(): number {
    return this.#heap.length;
  }

  push(key: number, parent: number, token: number, score: number, handle: number): void {
    const id = this.key.length;
    this.key.push(key);
    this.parent.push(parent);
    this.token.push(token);
    this.score.push(score);
    this.handle.push(handle);
    const heap = this.#heap;
    let i = heap.length;
    heap.push(id);
    while (i > 0) {
      const up = (i - 1) >> 1;
      if (this.key[heap[up]] >= key) break;
      heap[i] = heap[up];
      i = up;
    }
    heap[i] = id;
  }

  /** Removes and returns the id of the candidate with the highest path score. */
  pop(): number {
    const heap = this.#heap;
    const top = heap[0];
    const last = heap.pop()!;
    const n = heap.length;
    if (n === 0) return top;
    const key = this.key[last];
    let i = 0;
    for (;;) {
      let child = 2 * i + 1;
      if (child >= n) break;
      if (child + 1 < n && this.key[heap[child + 1]] > this.key[heap[child]]) child++;
      if (this.key[heap[child]] <= key) break;
      heap[i] = heap[child];
      i = child;
    }
    heap[i] = last;
    return top;
  }
}

export function growBestFirst(
  rootToken: number,
  rootHandle: number,
  limits: GrowLimits,
  expand: Expand,
): GrownTree {
  const budget = Math.max(1, Math.floor(limits.budget));
  const tokens = new Int32Array(budget);
  const parents = new Int32Array(budget);
  const scores = new Float32Array(budget);
  const pathScores = new Float64Array(budget);
  const depths = new Int32Array(budget);
  tokens[0] = rootToken;
  parents[0] = -1;
  scores[0] = 1;
  pathScores[0] = 1;
  let count = 1;

  const candidates = new Candidates();
  let expanding = 0;
  const emit = (token: number, score: number, childHandle: number): void => {
    if (!(score >= limits.minScore) || score <= 0) return;
    const s = Math.min(score, 1);
    candidates.push(pathScores[expanding] * s, expanding, token, s, childHandle);
  };
  const grow = (node: number, handle: number): void => {
    if (depths[node] >= limits.maxDepth || count >= budget) return;
    expanding = node;
    expand(handle, depths[node], emit);
  };

  grow(0, rootHandle);
  while (count < budget && candidates.size > 0) {
    const id = candidates.pop();
    const node = count++;
    const parent = candidates.parent[id];
    tokens[node] = candidates.token[id];
    parents[node] = parent;
    scores[node] = candidates.score[id];
    pathScores[node] = candidates.key[id];
    depths[node] = depths[parent] + 1;
    grow(node, candidates.handle[id]);
  }
  return count === budget
    ? { tokens, parents, scores }
    : { tokens: tokens.slice(0, count), parents: parents.slice(0, count), scores: scores.slice(0, count) };
}

/**
 * The static tree template of Token Recycling (Luo et al., 2024): which ranks
 * of the adjacency row each draft node expands into. A template is a list of
 * *rank paths* from the root, as in Medusa/EAGLE tree "choices": `[0]` is the
 * root's best next token, `[0, 1]` that token's second-best, and so on. Every
 * proper prefix of a path must be in the list too.
 */

/** A template compiled for expansion: node 0 is the root, nodes in the listed order. */
export interface CompiledTemplate {
  /** Nodes, root included. */
  readonly size: number;
  /** [size] ranks of each node's children, best-first by the prior. */
  readonly childRanks: readonly (readonly number[])[];
  /** [size] template node of each of those children. */
  readonly childNodes: readonly (readonly number[])[];
}

/**
 * Score of rank r when the target gave no log-probabilities: a geometric prior
 * (1/2, 1/4, ...) that ranks lower neighbours as ever less likely to be accepted.
 */
export function rankPrior(rank: number): number {
  return 0.5 ** (rank + 1);
}

/** Why a list of rank paths is not a template, or null when it is one. */
export function templateProblem(paths: readonly (readonly number[])[], k: number): string | null {
  const seen = new Set<string>();
  for (const path of paths) {
    if (path.length === 0) return 'a rank path must not be empty (the root is implicit)';
    const bad = path.find((r) => r >= k);
    if (bad !== undefined) return `rank ${bad} in [${path}] is not below k = ${k}`;
    const key = path.join(',');
    if (seen.has(key)) return `rank path [${path}] is listed twice`;
    seen.add(key);
  }
  for (const path of paths) {
    if (path.length > 1 && !seen.has(path.slice(0, -1).join(','))) {
      return `rank path [${path}] needs its prefix [${path.slice(0, -1)}] in the template`;
    }
  }
  return null;
}

/** Compiles valid rank paths (see templateProblem) into child lists. */
export function compileTemplate(paths: readonly (readonly number[])[]): CompiledTemplate {
  // Shorter paths first, so that a parent always has a smaller node index.
  const sorted = [...paths].sort((a, b) => a.length - b.length || priorOf(b) - priorOf(a));
  const nodeOf = new Map<string, number>([['', 0]]);
  const childRanks: number[][] = [[]];
  const childNodes: number[][] = [[]];
  for (const path of sorted) {
    const node = childRanks.length;
    nodeOf.set(path.join(','), node);
    childRanks.push([]);
    childNodes.push([]);
    const parent = nodeOf.get(path.slice(0, -1).join(','))!;
    childRanks[parent].push(path[path.length - 1]);
    childNodes[parent].push(node);
  }
  return { size: childRanks.length, childRanks, childNodes };
}

function priorOf(path: readonly number[]): number {
  let p = 1;
  for (const r of path) p *= rankPrior(r);
  return p;
}

/**
 * The `size` rank paths with the highest prior path score (depth ≤ maxDepth,
 * ranks < k): the default template. Token Recycling's own static tree has
 * about 80 nodes tuned for a GPU; on a CPU the verify budget is smaller, and the
 * drafter still fills whatever budget it gets best-first from this template.
 */
export function priorTemplate(size: number, k: number, maxDepth: number): number[][] {
  const paths: number[][] = [];
  let frontier: number[][] = [[]];
  for (let depth = 1; depth <= maxDepth; depth++) {
    const next: number[][] = [];
    for (const p of frontier) for (let r = 0; r < k; r++) next.push([...p, r]);
    // Only paths that can still make the cut are extended.
    next.sort((a, b) => priorOf(b) - priorOf(a));
    frontier = next.slice(0, size);
    paths.push(...frontier);
  }
  paths.sort((a, b) => priorOf(b) - priorOf(a) || a.length - b.length);
  return paths.slice(0, size);
}

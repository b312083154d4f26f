/**
 * A token tree in flat form.
 *
 * Node 0 is the *root*: the last committed token, whose KV entry does not exist
 * yet. Every other node is a drafted token; `parents[i] < i` (topological
 * order), `parents[0] = -1`. Depths and attention masks are derived from
 * `parents`, never stored beside it.
 */
export interface TokenTree {
  /** [numNodes] token id of each node. */
  readonly tokens: Int32Array;
  /** [numNodes] index of each node's parent; -1 for the root. */
  readonly parents: Int32Array;
}

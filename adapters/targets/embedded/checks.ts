/**
 * Input checks of the embedded target, each throwing its stable code. Run
 * once per call at the adapter's edge; the pass itself trusts its inputs.
 */
import { CanopyError } from '../../../kernels/errors.js';
import { type TokenTree, treeDepths, validateTree } from '../../../kernels/tree.js';
import type { DraftPassOptions } from '../../target.js';

/** Most nodes in one tree (pending KV rows beyond the context are reserved for this many). */
export const MAX_TREE_NODES = 1024;

export interface SessionShape {
  readonly vocabSize: number;
  readonly numLayers: number;
  readonly numKvHeads: number;
  readonly headDim: number;
  readonly maxContext: number;
  readonly maxTopK: number;
}

export function checkSignal(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new CanopyError('CANOPY_ERR_CANCELLED', 'the request was cancelled');
}

export function checkPrompt(prompt: Int32Array, shape: SessionShape): void {
  if (prompt.length === 0) throw new CanopyError('CANOPY_ERR_INVALID_ARGUMENT', 'the prompt is empty');
  if (prompt.length > shape.maxContext) {
    throw new CanopyError(
      'CANOPY_ERR_PROMPT_TOO_LONG',
      `the prompt has ${prompt.length} tokens; the model's context holds ${shape.maxContext}`,
      { details: { promptTokens: prompt.length, maxContext: shape.maxContext } },
    );
  }
  for (let i = 0; i < prompt.length; i++) {
    if (!(prompt[i] >= 0 && prompt[i] < shape.vocabSize)) {
      throw new CanopyError(
        'CANOPY_ERR_TOKEN_OUT_OF_VOCAB',
        `prompt token ${i} is ${prompt[i]}, outside the vocabulary [0, ${shape.vocabSize})`,
        { details: { index: i, token: prompt[i], vocabSize: shape.vocabSize } },
      );
    }
  }
}

/**
 * Checks a tree against the session (`length` committed tokens, `root` the
 * last) and the pass options; returns the nodes' depths.
 */
export function checkPass(
  tree: TokenTree,
  options: DraftPassOptions | undefined,
  length: number,
  root: number,
  shape: SessionShape,
): Int32Array {
  checkSignal(options?.signal);
  validateTree(tree, shape.vocabSize);
  if (tree.tokens.length > MAX_TREE_NODES) {
    throw new CanopyError(
      'CANOPY_ERR_BUDGET_OUT_OF_RANGE',
      `a tree holds at most ${MAX_TREE_NODES} nodes, got ${tree.tokens.length}`,
    );
  }
  if (tree.tokens[0] !== root) {
    throw new CanopyError(
      'CANOPY_ERR_INVALID_TREE',
      `tree root is token ${tree.tokens[0]}, but the session's root is ${root}`,
      { details: { node: 0, token: tree.tokens[0], root } },
    );
  }
  const depths = treeDepths(tree.parents);
  let deepest = 0;
  for (let i = 0; i < depths.length; i++) deepest = Math.max(deepest, depths[i]);
  // The root sits at position length - 1; the deepest node must stay inside the context.
  if (length - 1 + deepest >= shape.maxContext) {
    throw new CanopyError(
      'CANOPY_ERR_CONTEXT_FULL',
      `a tree of depth ${deepest} after ${length} tokens exceeds the model's context of ${shape.maxContext}`,
      { details: { length, depth: deepest, maxContext: shape.maxContext } },
    );
  }
  checkOptions(options, shape);
  return depths;
}

/** Hidden layers asked of a pass or of prefill: 0..numLayers (numLayers = the final-normed state). */
export function checkHiddenLayers(layers: readonly number[] | undefined, shape: SessionShape): void {
  for (const l of layers ?? []) {
    if (!Number.isInteger(l) || l < 0 || l > shape.numLayers) {
      throw new CanopyError(
        'CANOPY_ERR_INVALID_ARGUMENT',
        `hidden layer ${l} is outside [0, ${shape.numLayers}]`,
      );
    }
  }
}

function checkOptions(options: DraftPassOptions | undefined, shape: SessionShape): void {
  const bad = (what: string) => new CanopyError('CANOPY_ERR_INVALID_ARGUMENT', what);
  const k = options?.topK ?? 0;
  if (!Number.isInteger(k) || k < 0 || k > shape.maxTopK) {
    throw bad(`topK must be an integer in [0, ${shape.maxTopK}], got ${k}`);
  }
  checkHiddenLayers(options?.hiddenLayers, shape);
  for (const l of options?.skipLayers ?? []) {
    if (!Number.isInteger(l) || l < 0 || l >= shape.numLayers) {
      throw bad(`skip layer ${l} is outside [0, ${shape.numLayers})`);
    }
  }
}

/** Checks an accepted path (root first, each node a child of the previous) and the next root. */
export function checkAccept(tree: TokenTree, path: Int32Array, nextRoot: number, vocabSize: number): void {
  const bad = (what: string) => new CanopyError('CANOPY_ERR_INVALID_ARGUMENT', what);
  if (path.length === 0 || path[0] !== 0) throw bad('the accepted path must start at the root (node 0)');
  for (let i = 1; i < path.length; i++) {
    if (!(path[i] > 0 && path[i] < tree.tokens.length) || tree.parents[path[i]] !== path[i - 1]) {
      throw bad(`accepted node ${path[i]} is not a child of node ${path[i - 1]}`);
    }
  }
  if (!Number.isInteger(nextRoot) || nextRoot < 0 || nextRoot >= vocabSize) {
    throw new CanopyError(
      'CANOPY_ERR_TOKEN_OUT_OF_VOCAB',
      `next root ${nextRoot} is outside the vocabulary`,
      {
        details: { token: nextRoot, vocabSize },
      },
    );
  }
}

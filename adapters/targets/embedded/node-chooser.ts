/**
 * The token the target emits after each reachable tree node when plain argmax
 * is not enough: seeded sampling or penalties (kernels/sample.ts). Each node is
 * chosen over its own history: the committed tokens plus the drafted tokens
 * on its path, layered on the penalty history, and drawn at its absolute
 * position, so a node's choice is the one plain decoding of that path makes.
 */

import { PenaltyHistory } from '../../../kernels/penalty-history.js';
import { chooseToken, createSampleScratch, type SampleScratch } from '../../../kernels/sample.js';
import { isGreedy, type SamplingParams } from '../../../kernels/sampling-params.js';

/** Whether choosing needs the full logits (greedy without penalties reads the graph's argmax). */
export function needsLogits(p: SamplingParams): boolean {
  return !isGreedy(p) || p.repetitionPenalty !== 1 || p.frequencyPenalty !== 0 || p.presencePenalty !== 0;
}

export class NodeChooser {
  readonly #params: SamplingParams;
  readonly #history: PenaltyHistory;
  readonly #scratch: SampleScratch;
  readonly #vocab: number;

  /** `prompt` includes the root (the last prompt token). */
  constructor(vocabSize: number, params: SamplingParams, prompt: Int32Array) {
    this.#vocab = vocabSize;
    this.#params = params;
    this.#history = new PenaltyHistory(vocabSize, prompt);
    this.#scratch = createSampleScratch(vocabSize);
  }

  /**
   * Fills `out[i]` for every node a verify walk can reach (the root, and any
   * node whose parent is reachable and chose its token); the others get -1
   * (adapters/target.ts), so a step draws τ times rather than once per node.
   * `logits` is [N, V]; `committed` the committed length (root included):
   * node i chooses position committed + depth.
   */
  choose(
    tokens: Int32Array,
    parents: Int32Array,
    depths: Int32Array,
    logits: Float32Array,
    committed: number,
    out: Int32Array,
  ): void {
    const h = this.#history;
    const path: number[] = [];
    for (let i = 0; i < tokens.length; i++) {
      // An unreachable parent holds -1, which never equals a token.
      if (i > 0 && out[parents[i]] !== tokens[i]) {
        out[i] = -1;
        continue;
      }
      // The overlay is the drafted path root→node, root excluded.
      path.length = 0;
      for (let j = i; j > 0; j = parents[j]) path.push(tokens[j]);
      h.truncatePath(0);
      for (let k = path.length - 1; k >= 0; k--) h.push(path[k]);
      const row = logits.subarray(i * this.#vocab, (i + 1) * this.#vocab);
      out[i] = chooseToken(row, this.#params, h, committed + depths[i], this.#scratch);
    }
    h.truncatePath(0);
  }

  /** Records newly committed generated tokens (accepted drafts, then the new root). */
  commit(tokens: ArrayLike<number>): void {
    this.#history.commitAll(tokens);
  }
}

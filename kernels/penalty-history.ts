/**
 * What the repetition, frequency and presence penalties look at, kept
 * incrementally.
 *
 * - The *prompt* marks tokens for the repetition penalty only.
 * - *Committed* generated tokens are counted once, when they are committed.
 * - A tree node's *path* (the drafted tokens between the root and the node) is
 *   layered on top as a stack: `push` the path's tokens, draw, `pop` them.
 *   Moving between nodes of a tree costs the depth difference, never a pass
 *   over the committed text.
 *
 * Penalties only touch tokens that occur, so the history also keeps the list
 * of distinct tokens seen (`seen`); the sampler iterates it instead of the
 * vocabulary.
 */
import { CanopyError } from './errors.js';

export class PenaltyHistory {
  readonly vocabSize: number;
  /** [vocab] 1 where the token occurs in the prompt. */
  readonly #inPrompt: Uint8Array;
  /** [vocab] occurrences among generated tokens: committed + path. */
  readonly #counts: Int32Array;
  /** Distinct token ids that occur in the prompt or among generated tokens, first-seen order. */
  #seen: Int32Array;
  #seenLength = 0;
  /** The path overlay, bottom first. */
  #path: Int32Array = new Int32Array(16);
  #pathLength = 0;
  #generated = 0;

  /** `prompt` holds the prompt's tokens, root included when the root is a prompt token. */
  constructor(vocabSize: number, prompt: ArrayLike<number> = []) {
    this.vocabSize = vocabSize;
    this.#inPrompt = new Uint8Array(vocabSize);
    this.#counts = new Int32Array(vocabSize);
    this.#seen = new Int32Array(Math.max(16, Math.min(vocabSize, prompt.length)));
    for (let i = 0; i < prompt.length; i++) {
      const t = this.#check(prompt[i]);
      if (this.#inPrompt[t] === 0) {
        this.#inPrompt[t] = 1;
        this.#addSeen(t);
      }
    }
  }

  /** Distinct tokens that occur (prompt or generated); `seen.subarray(0, seenLength)` is valid. */
  get seen(): Int32Array {
    return this.#seen;
  }

  get seenLength(): number {
    return this.#seenLength;
  }

  /** Generated tokens committed so far (the path overlay excluded). */
  get generatedLength(): number {
    return this.#generated;
  }

  get pathLength(): number {
    return this.#pathLength;
  }

  /** The token at depth `depth` (1-based) of the current path overlay. */
  pathToken(depth: number): number {
    return this.#path[depth - 1];
  }

  inPrompt(token: number): boolean {
    return this.#inPrompt[token] === 1;
  }

  /** Occurrences of `token` among generated tokens, the path overlay included. */
  count(token: number): number {
    return this.#counts[token];
  }

  /** Records a committed generated token. The path overlay must be empty. */
  commit(token: number): void {
    if (this.#pathLength !== 0) {
      throw new CanopyError('CANOPY_ERR_INTERNAL', 'commit while a tree path is layered on the history');
    }
    this.#add(this.#check(token));
    this.#generated++;
  }

  /** Commits every token of `tokens` in order. */
  commitAll(tokens: ArrayLike<number>): void {
    for (let i = 0; i < tokens.length; i++) this.commit(tokens[i]);
  }

  /** Layers one more drafted token of the current node's path on top. */
  push(token: number): void {
    const t = this.#check(token);
    if (this.#pathLength === this.#path.length) {
      const grown = new Int32Array(this.#path.length * 2);
      grown.set(this.#path);
      this.#path = grown;
    }
    this.#path[this.#pathLength++] = t;
    this.#add(t);
  }

  /** Removes the last pushed token. Pushes and pops nest, so `seen` shrinks from its end. */
  pop(): void {
    if (this.#pathLength === 0) throw new CanopyError('CANOPY_ERR_INTERNAL', 'pop on an empty tree path');
    const t = this.#path[--this.#pathLength];
    if (--this.#counts[t] === 0 && this.#inPrompt[t] === 0) this.#seenLength--;
  }

  /** Pops until the path holds `depth` tokens. */
  truncatePath(depth: number): void {
    while (this.#pathLength > depth) this.pop();
  }

  #add(t: number): void {
    if (this.#counts[t]++ === 0 && this.#inPrompt[t] === 0) this.#addSeen(t);
  }

  #addSeen(t: number): void {
    if (this.#seenLength === this.#seen.length) {
      const grown = new Int32Array(Math.min(this.vocabSize, this.#seen.length * 2));
      grown.set(this.#seen);
      this.#seen = grown;
    }
    this.#seen[this.#seenLength++] = t;
  }

  #check(token: number): number {
    if (!Number.isInteger(token) || token < 0 || token >= this.vocabSize) {
      throw new CanopyError(
        'CANOPY_ERR_TOKEN_OUT_OF_VOCAB',
        `token ${token} is outside the vocabulary [0, ${this.vocabSize})`,
        { details: { token, vocabSize: this.vocabSize } },
      );
    }
    return token;
  }
}

/**
 * One decoding session of the Triton target: the client-side half of a
 * `canopy_lm` session. The KV cache lives in Triton under `id`; this side keeps
 * what the next request must carry (the `keep` path from `accept`) and enough
 * bookkeeping to refuse calls that would put the two halves out of step.
 *
 * States: `open` → (`busy` while a request is in flight) → `open`; any request
 * whose fate is unknown (timeout, cancel, connection lost mid-flight) or that
 * finds the server no longer knows the id leaves it `lost`, and only `reopen`
 * (or a new session) goes on from there. `close` is final.
 */
import { CanopyError } from '../../../kernels/errors.js';
import type { SamplingParams } from '../../../kernels/sampling-params.js';
import { type TokenTree, treeDepths, validateTree } from '../../../kernels/tree.js';
import type {
  DraftPassOptions,
  PassOptions,
  PassResult,
  PromptTopK,
  TargetInfo,
  TargetSession,
} from '../../target.js';
import { outcomeOf } from './upstream-errors.js';
import { EMPTY_INT32, FLAG_CLOSE, FLAG_OPEN, FLAG_SCRATCH, type WireOp, type WireResult } from './wire.js';

export interface TritonTargetSession extends TargetSession {
  /** The session id in Triton; a `reopen` gives a new one. */
  readonly id: string;
  /**
   * Re-creates the session in Triton by prefilling `committed` (prompt and
   * every emitted token; the last is the root) under a fresh id, after the
   * server lost it (CANOPY_ERR_UPSTREAM_SESSION_LOST: restart, idle timeout) or
   * a request's fate is unknown. Nothing is emitted, so no token is duplicated;
   * seeded draws are keyed by position, so they come out the same.
   */
  reopen(committed: Int32Array, options?: { signal?: AbortSignal }): Promise<void>;
}

/** What a session needs from its target: the one way to send requests. */
export interface SessionHost {
  readonly info: TargetInfo;
  newSessionId(): string;
  send(ops: readonly WireOp[], skipLayers: readonly number[], signal?: AbortSignal): Promise<WireResult[]>;
  /** The session exists in Triton: `dispose` must close it. */
  track(session: TritonSession): void;
  /** Nothing of the session is left in Triton. */
  release(session: TritonSession): void;
}

type State = 'open' | 'busy' | 'lost' | 'closed';

export class TritonSession implements TritonTargetSession {
  #id: string;
  #length = 0;
  #state: State = 'busy';
  /** Path to keep from the last STEP tree, sent with the next request. */
  #keep: Int32Array = EMPTY_INT32;
  #promptTopK: PromptTopK | undefined;
  #promptHidden: ReadonlyMap<number, Float32Array> | undefined;
  /** Parents of the last STEP tree until `accept` consumes them. */
  #unaccepted: Int32Array | undefined;
  #closing: Promise<void> | undefined;
  readonly #host: SessionHost;
  readonly #sampling: SamplingParams;

  constructor(host: SessionHost, sampling: SamplingParams) {
    this.#host = host;
    this.#sampling = sampling;
    this.#id = host.newSessionId();
  }

  get id(): string {
    return this.#id;
  }

  get length(): number {
    return this.#length;
  }

  /** Top-k after each prompt token, when asked at OPEN (OpenOptions.promptTopK). */
  get promptTopK(): PromptTopK | undefined {
    return this.#promptTopK;
  }

  /** Hidden states at each prompt position, when asked at OPEN (OpenOptions.promptHiddenLayers). */
  get promptHidden(): ReadonlyMap<number, Float32Array> | undefined {
    return this.#promptHidden;
  }

  /** Sends OPEN; the prompt's last token becomes the root. */
  async open(
    prompt: Int32Array,
    signal?: AbortSignal,
    promptTopK = 0,
    promptHiddenLayers: readonly number[] = [],
  ): Promise<void> {
    const info = this.#host.info;
    if (prompt.length === 0) throw new CanopyError('CANOPY_ERR_INVALID_ARGUMENT', 'the prompt is empty');
    if (prompt.length > info.maxContext) {
      throw new CanopyError(
        'CANOPY_ERR_PROMPT_TOO_LONG',
        `the prompt has ${prompt.length} tokens; the model takes at most ${info.maxContext}`,
        { details: { promptLength: prompt.length, maxContext: info.maxContext } },
      );
    }
    const body = prompt.subarray(0, prompt.length - 1);
    const parents = Int32Array.from(body, (_, i) => i - 1);
    validateTree({ tokens: prompt, parents: Int32Array.from(prompt, (_, i) => i - 1) }, info.vocabSize);
    const k = Math.min(Math.max(0, Math.floor(promptTopK)), info.capabilities.maxTopK);
    const layers = [...new Set(promptHiddenLayers)];
    checkHiddenLayers(info, layers);
    const hiddenLayers = body.length > 0 && info.capabilities.hiddenStates ? layers : [];
    const op = this.#op(FLAG_OPEN, { tokens: body, parents }, { topK: k, hiddenLayers }, this.#sampling);
    this.#state = 'busy';
    // Tracked before sending: after a timeout the session may exist in Triton, and dispose must close it.
    this.#host.track(this);
    try {
      const [result] = await this.#host.send([op], [], signal);
      this.#assertInStep(result!.sessionLength, prompt.length);
      const { topKIds, topKLogprobs, hidden } = result!.pass;
      this.#promptTopK =
        k > 0 && body.length > 0 && topKIds && topKLogprobs
          ? { k, ids: topKIds, logprobs: topKLogprobs }
          : undefined;
      this.#promptHidden = hiddenLayers.length > 0 && hidden && hidden.size > 0 ? hidden : undefined;
    } catch (error) {
      if (outcomeOf(error) !== 'unknown') this.#host.release(this);
      this.#state = 'lost';
      throw error;
    }
    this.#length = prompt.length;
    this.#keep = EMPTY_INT32;
    this.#unaccepted = undefined;
    this.#state = 'open';
  }

  step(tree: TokenTree, options?: PassOptions): Promise<PassResult> {
    return this.#run('step', tree, options ?? {});
  }

  draft(tree: TokenTree, options?: DraftPassOptions): Promise<PassResult> {
    return this.#run('draft', tree, options ?? {});
  }

  accept(path: Int32Array, nextRoot: number): void {
    this.#assertUsable();
    const parents = this.#unaccepted;
    if (parents === undefined) throw invalid('accept() needs a step() whose result was not accepted yet');
    if (path.length === 0 || path[0] !== 0) throw invalid('an accepted path starts at the root (node 0)');
    for (let i = 1; i < path.length; i++) {
      if (path[i]! >= parents.length || parents[path[i]!] !== path[i - 1]) {
        throw invalid(`accepted node ${path[i]} is not a child of node ${path[i - 1]} in the last tree`);
      }
    }
    if (!Number.isInteger(nextRoot) || nextRoot < 0 || nextRoot >= this.#host.info.vocabSize) {
      throw new CanopyError(
        'CANOPY_ERR_TOKEN_OUT_OF_VOCAB',
        `next root ${nextRoot} is outside the vocabulary`,
      );
    }
    this.#keep = Int32Array.from(path);
    this.#length += path.length;
    this.#unaccepted = undefined;
  }

  close(): Promise<void> {
    if (this.#closing) return this.#closing;
    const wasOpen = this.#state !== 'closed';
    this.#state = 'closed';
    this.#host.release(this);
    this.#closing = wasOpen ? this.#sendClose(this.#id) : Promise.resolve();
    return this.#closing;
  }

  async reopen(committed: Int32Array, options?: { signal?: AbortSignal }): Promise<void> {
    if (this.#state === 'closed') throw closedError();
    if (this.#state === 'busy') throw invalid('reopen() while a request of this session is in flight');
    const old = this.#id;
    this.#state = 'busy';
    try {
      // Free the old id first (it may still exist after a timeout) so that a full server has room.
      await this.#sendClose(old);
    } catch {
      // Recovery goes on: Triton frees a forgotten id after its idle timeout.
    }
    this.#id = this.#host.newSessionId();
    try {
      await this.open(committed, options?.signal);
    } catch (error) {
      this.#state = 'lost'; // refused input too: the old id is gone either way
      throw error;
    }
  }

  /** The op this session adds to a batched STEP; marks it busy until `settle`. */
  begin(kind: 'step' | 'draft', tree: TokenTree, options: DraftPassOptions): WireOp {
    this.#assertUsable();
    const info = this.#host.info;
    validateTree(tree, info.vocabSize);
    if (kind === 'draft' && this.#unaccepted) {
      throw invalid('draft() between step() and accept() would drop the step tree that accept() refers to');
    }
    const depths = treeDepths(tree.parents);
    const deepest = depths.reduce((a, b) => Math.max(a, b), 0);
    if (this.#length + deepest > info.maxContext) {
      throw new CanopyError(
        'CANOPY_ERR_PROMPT_TOO_LONG',
        `a tree of depth ${deepest} after ${this.#length} committed tokens exceeds the context of ${info.maxContext}`,
        { details: { committed: this.#length, depth: deepest, maxContext: info.maxContext } },
      );
    }
    checkExtras(info, options, kind);
    const op = this.#op(kind === 'draft' ? FLAG_SCRATCH : 0, tree, options);
    this.#state = 'busy';
    return op;
  }

  ownedBy(host: SessionHost): boolean {
    return this.#host === host;
  }

  /** Undoes `begin` when the batch it was for is never sent. */
  unbegin(): void {
    if (this.#state === 'busy') this.#state = 'open';
  }

  /**
   * Records a batched request's outcome for this session. Throws when Triton's
   * count of committed tokens disagrees with ours (the session is then lost).
   */
  settle(kind: 'step' | 'draft', tree: TokenTree, outcome: WireResult | Error): void {
    if (this.#state !== 'busy') return; // closed meanwhile
    if (outcome instanceof Error) {
      const forgotten = (outcome as CanopyError).code === 'CANOPY_ERR_UPSTREAM_SESSION_LOST';
      // Nothing left in Triton to free: stop tracking it.
      if (forgotten) this.#host.release(this);
      // A refused request changed nothing in Triton: the pending keep still applies.
      this.#state = forgotten || outcomeOf(outcome) === 'unknown' ? 'lost' : 'open';
      return;
    }
    try {
      this.#assertInStep(outcome.sessionLength, this.#length);
    } catch (error) {
      this.#state = 'lost';
      throw error;
    }
    this.#keep = EMPTY_INT32;
    // A copy: the caller may reuse its arrays before accept() reads these.
    this.#unaccepted = kind === 'step' ? tree.parents.slice() : undefined;
    this.#state = 'open';
  }

  #op(flags: number, tree: TokenTree, options: DraftPassOptions, sampling?: SamplingParams): WireOp {
    return {
      sessionId: this.#id,
      flags,
      tree,
      keep: flags & FLAG_OPEN ? EMPTY_INT32 : this.#keep,
      ...(sampling ? { sampling } : {}),
      topK: options.topK ?? 0,
      hiddenLayers: options.hiddenLayers ?? [],
      ...(options.logprobs && !(flags & FLAG_SCRATCH) ? { logprobs: true } : {}),
    };
  }

  async #run(kind: 'step' | 'draft', tree: TokenTree, options: DraftPassOptions): Promise<PassResult> {
    const op = this.begin(kind, tree, options);
    try {
      const [result] = await this.#host.send(
        [op],
        kind === 'draft' ? (options.skipLayers ?? []) : [],
        options.signal,
      );
      this.settle(kind, tree, result!);
      return result!.pass;
    } catch (error) {
      this.settle(kind, tree, error as Error);
      throw error;
    }
  }

  async #sendClose(id: string): Promise<void> {
    const op: WireOp = {
      sessionId: id,
      flags: FLAG_CLOSE,
      tree: EMPTY_TREE,
      keep: EMPTY_INT32,
      topK: 0,
      hiddenLayers: [],
    };
    try {
      await this.#host.send([op], []);
    } catch (error) {
      // Gone already (server restarted, idle timeout) or unreachable: Triton frees it on its idle timeout.
      const code = (error as CanopyError).code;
      if (code !== 'CANOPY_ERR_UPSTREAM_SESSION_LOST' && code !== 'CANOPY_ERR_UPSTREAM_UNREACHABLE')
        throw error;
    }
  }

  #assertInStep(theirs: number, ours: number): void {
    if (theirs !== ours) {
      throw new CanopyError(
        'CANOPY_ERR_UPSTREAM_PROTOCOL',
        `session '${this.#id}': Triton holds ${theirs} committed tokens, the client ${ours}`,
        { details: { sessionId: this.#id, upstream: theirs, client: ours } },
      );
    }
  }

  #assertUsable(): void {
    if (this.#state === 'closed') throw closedError();
    if (this.#state === 'busy') throw invalid('one request at a time per session');
    if (this.#state === 'lost') {
      throw new CanopyError(
        'CANOPY_ERR_UPSTREAM_SESSION_LOST',
        `session '${this.#id}' is out of step with Triton after a failed request; reopen it`,
        { details: { sessionId: this.#id, outcome: 'not-sent' } },
      );
    }
  }
}

const EMPTY_TREE: TokenTree = { tokens: EMPTY_INT32, parents: EMPTY_INT32 };

function checkExtras(info: TargetInfo, options: DraftPassOptions, kind: 'step' | 'draft'): void {
  const caps = info.capabilities;
  const topK = options.topK ?? 0;
  if (!Number.isInteger(topK) || topK < 0 || topK > caps.maxTopK) {
    throw new CanopyError('CANOPY_ERR_TARGET_UNSUPPORTED', `topK ${topK} is outside [0, ${caps.maxTopK}]`);
  }
  if (options.logprobs && !caps.logprobs) {
    throw new CanopyError(
      'CANOPY_ERR_TARGET_UNSUPPORTED',
      'this Triton model does not return log-probabilities',
    );
  }
  const layers = options.hiddenLayers ?? [];
  if (layers.length > 0 && !caps.hiddenStates) {
    throw new CanopyError('CANOPY_ERR_TARGET_UNSUPPORTED', 'this Triton model does not return hidden states');
  }
  checkHiddenLayers(info, layers);
  const skip = kind === 'draft' ? (options.skipLayers ?? []) : [];
  if (skip.length > 0 && !caps.skipLayers) {
    throw new CanopyError('CANOPY_ERR_TARGET_UNSUPPORTED', 'this Triton model cannot skip layers');
  }
  for (const l of skip) {
    if (!Number.isInteger(l) || l < 0 || l >= info.numLayers)
      throw invalid(`skip layer ${l} is outside [0, ${info.numLayers})`);
  }
}

/** Hidden layers run 0..numLayers (numLayers = the final-normed state). */
function checkHiddenLayers(info: TargetInfo, layers: readonly number[]): void {
  for (const l of layers) {
    if (!Number.isInteger(l) || l < 0 || l > info.numLayers)
      throw invalid(`hidden layer ${l} is outside [0, ${info.numLayers}]`);
  }
}

function invalid(message: string): CanopyError {
  return new CanopyError('CANOPY_ERR_INVALID_ARGUMENT', message);
}

function closedError(): CanopyError {
  return new CanopyError('CANOPY_ERR_SESSION_CLOSED', 'the target session is closed');
}

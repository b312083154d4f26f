/**
 * One request's EAGLE drafting. The target hands every verify pass's hidden
 * states to `observe`; the features of the accepted path (the nodes whose
 * tokens are now committed) become *true rows* of the head: row t pairs the
 * target's feature f_t with the token committed after it, x_{t+1}. They are
 * run through the head at the next `propose` (one pass, kept in the head's KV
 * cache for good), whose last row predicts the root's children; the tree then
 * grows from the head's own predicted features (draft-tree.ts).
 *
 * The prompt's features never reach a drafter (the engine's prefill returns
 * none), so the head's context starts at the prompt's last token: the first
 * step of a request has no draft. The head was trained that way (models/train).
 */
import type { Draft, DraftContext, DrafterSession, DraftFeedback } from '../../drafter.js';
import { type DraftLimits, growDraftTree, type RootPrediction } from './draft-tree.js';
import type { HeadModel } from './head-model.js';
import type { HeadCache, HeadOutputs, HeadRunner } from './head-runner.js';

/** The smallest draft budget the verified-size hint may ask for. */
const MIN_HINT = 8;

interface TrueRow {
  readonly feature: Float32Array;
  readonly token: number;
  readonly position: number;
}

export class EagleSession implements DrafterSession {
  readonly #model: HeadModel;
  readonly #runner: HeadRunner;
  readonly #limits: DraftLimits;
  readonly #kv: HeadCache;
  /** Rows of the cache that hold true rows; draft rows are written after them and dropped. */
  #trueRows = 0;
  /** Position of the last true row, cached or pending (-1: none). */
  #lastPosition = -1;
  #pending: TrueRow[] = [];
  /** What the last true row predicts: the children of the root that follows it. */
  #root: RootPrediction | undefined;
  #closed = false;
  /** Smoothed size of the trees the engine verified lately (its policy's budget, fusion included). */
  #verifiedSize = 0;
  /** What the last propose's head passes waited behind other requests' (the head on Triton). */
  #waitedMs = 0;

  constructor(model: HeadModel, runner: HeadRunner, limits: DraftLimits) {
    this.#model = model;
    // Every head pass goes through here, so that the waits of one propose add up.
    this.#runner = {
      newCache: () => runner.newCache(),
      release: (kv) => runner.release(kv),
      run: async (pass) => {
        const out = await runner.run(pass);
        this.#waitedMs += out.queuedMs ?? 0;
        return out;
      },
      // The runner is the factory's, shared by its sessions: it disposes it.
      dispose: async () => {},
    };
    this.#limits = limits;
    this.#kv = runner.newCache();
  }

  get lastWaitMs(): number {
    return this.#waitedMs;
  }

  /**
   * Queues the last `rows` prompt positions as true rows (the target's features at
   * prefill, [(prompt.length - 1) * H]): row t pairs f_t with prompt[t + 1], so the
   * last one predicts the children of the first root and the first step drafts too.
   */
  readPrompt(prompt: Int32Array, hidden: Float32Array, rows: number): void {
    const h = this.#model.geometry.hidden;
    const n = prompt.length;
    if (this.#closed || n < 2 || hidden.length !== (n - 1) * h) return;
    for (let t = Math.max(0, n - 1 - rows); t <= n - 2; t++) {
      this.#pending.push({ feature: hidden.slice(t * h, (t + 1) * h), token: prompt[t + 1], position: t });
    }
    this.#lastPosition = n - 2;
  }

  async propose(context: DraftContext): Promise<Draft | null> {
    this.#waitedMs = 0;
    if (this.#closed || context.budget < 2 || context.tokens.length < 2) return null;
    if (this.#pending.length > 0) await this.#flush();
    const n = context.tokens.length;
    const root = this.#root;
    // The prediction is for this root only if its row is the one right before it.
    if (!root || root.token !== context.tokens[n - 1] || root.position !== n - 2) return null;
    // Nodes beyond what the engine has lately taken cost head passes and are cut anyway; twice
    // that leaves its policy room to grow the tree when drafts get better.
    const hint =
      this.#verifiedSize > 0 ? Math.max(MIN_HINT, Math.ceil(2 * this.#verifiedSize)) : context.budget;
    const draft = await growDraftTree(
      this.#model,
      this.#runner,
      this.#kv,
      root,
      Math.min(context.budget, hint),
      this.#limits,
    );
    this.#kv.length = this.#trueRows;
    return draft;
  }

  /** Runs the pending true rows through the head (causal among themselves, after every cached row). */
  async #flush(): Promise<void> {
    const rows = this.#pending;
    this.#pending = [];
    const { hidden: h } = this.#model.geometry;
    const n = rows.length;
    const t = this.#trueRows;
    const features = new Float32Array(n * h);
    const tokens = new Int32Array(n);
    const bias = new Float32Array(n * (t + n));
    for (let i = 0; i < n; i++) {
      features.set(rows[i].feature, i * h);
      tokens[i] = rows[i].token;
      bias.fill(Number.NEGATIVE_INFINITY, i * (t + n) + t + i + 1, (i + 1) * (t + n));
    }
    const out: HeadOutputs = await this.#runner.run({
      features,
      embeds: this.#model.embed(tokens),
      positions: rows.map((r) => r.position),
      bias,
      past: t,
      kv: this.#kv,
      topK: this.#limits.branch,
    });
    this.#trueRows = t + n;
    const last = n - 1;
    const k = this.#limits.branch;
    this.#root = {
      token: rows[last].token,
      position: rows[last].position,
      feature: out.features.slice(last * h, (last + 1) * h),
      ids: out.ids.slice(last * k, (last + 1) * k),
      logprobs: out.logprobs.slice(last * k, (last + 1) * k),
    };
  }

  observe(feedback: DraftFeedback): void {
    if (this.#closed) return;
    const size = feedback.tree.tokens.length;
    this.#verifiedSize = this.#verifiedSize > 0 ? 0.7 * this.#verifiedSize + 0.3 * size : size;
    const { hidden: h } = this.#model.geometry;
    const nodes = feedback.tree.tokens.length;
    const hidden = feedback.result.hidden?.get(this.#model.featureLayer);
    if (!hidden || hidden.length !== nodes * h) return;
    const committedBefore = feedback.tokens.length - feedback.emitted.length;
    const accepted = feedback.accepted;
    for (let i = 0; i < accepted.length; i++) {
      const node = accepted[i];
      const next = committedBefore + i;
      if (node < 0 || node >= nodes || next >= feedback.tokens.length) break;
      const position = committedBefore - 1 + i;
      if (position <= this.#lastPosition) this.#reset(); // a context that does not extend ours
      this.#pending.push({
        feature: hidden.slice(node * h, (node + 1) * h),
        token: feedback.tokens[next],
        position,
      });
      this.#lastPosition = position;
    }
  }

  #reset(): void {
    this.#pending = [];
    this.#trueRows = 0;
    this.#kv.length = 0;
    this.#lastPosition = -1;
    this.#root = undefined;
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#pending = [];
    this.#root = undefined;
    this.#runner.release(this.#kv);
  }
}

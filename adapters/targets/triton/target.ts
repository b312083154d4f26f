/**
 * The Triton target: `Target` (adapters/target.ts) over a KServe v2 client
 * talking to the reference model `canopy_lm` (docs/triton-wire.md), on HTTP or
 * gRPC alike.
 *
 * `stepMany` verifies several sessions' trees in one infer request (the flat
 * batch layout), for the engine's scheduler; `step` is `stepMany` of one.
 */
import { randomUUID } from 'node:crypto';
import { CanopyError } from '../../../kernels/errors.js';
import type { TokenTree } from '../../../kernels/tree.js';
import type {
  OpenOptions,
  PassOptions,
  PassResult,
  Target,
  TargetInfo,
  TargetSession,
} from '../../target.js';
import { createKServeClient } from './connect.js';
import type { GrpcKServeClient } from './grpc.js';
import type { InferStream } from './grpc-stream.js';
import type { KServeClient, Transport } from './kserve-client.js';
import { QueueWaitEstimator } from './queue-wait.js';
import { type SessionHost, TritonSession, type TritonTargetSession } from './session.js';
import { type TargetInfoOverrides, targetInfoFromConfig } from './target-info.js';
import { decodeBatch, encodeBatch, type WireOp, type WireResult } from './wire.js';

export interface TritonTargetOptions {
  /** `http://host:port` or `grpc://host:port` (the scheme picks the transport unless `transport` does). */
  readonly url: string;
  /** Triton model name; default `canopy_lm`. */
  readonly model?: string;
  readonly version?: string;
  readonly transport?: Transport;
  /** Timeout of each model request (open, step, draft, close) in ms; default 30 000, 0 = none. */
  readonly timeoutMs?: number;
  /** HTTP: most pooled sockets. */
  readonly connections?: number;
  /** HTTP: binary tensor data extension (default: when the server has it). */
  readonly binary?: boolean | 'auto';
  /** gRPC: send every infer over one ModelStreamInfer stream instead of unary calls. */
  readonly stream?: boolean;
  /** Values that win over the model configuration's parameters. */
  readonly info?: TargetInfoOverrides;
  /** Prepended to session ids (which must stay within 128 bytes). */
  readonly sessionPrefix?: string;
  /** A client to use instead of building one (a wrapped or shared client); the target will not close it. */
  readonly client?: KServeClient;
}

/** One session's verify pass within a `stepMany` call. */
export interface TritonStepItem {
  readonly session: TargetSession;
  readonly tree: TokenTree;
  /** Per-session extras; per-item signals are ignored (the batch has one signal). */
  readonly options?: PassOptions;
}

export interface TritonTarget extends Target {
  readonly client: KServeClient;
  open(prompt: Int32Array, options: OpenOptions): Promise<TritonTargetSession>;
  /**
   * Verifies each item's tree for its session in one Triton request. Each
   * session appears at most once. Fails as a whole: on error every session is
   * left as a failed `step` would leave it.
   */
  stepMany(items: readonly TritonStepItem[], options?: { signal?: AbortSignal }): Promise<PassResult[]>;
}

export async function createTritonTarget(options: TritonTargetOptions): Promise<TritonTarget> {
  const owned = options.client === undefined;
  const client =
    options.client ??
    createKServeClient({
      url: options.url,
      transport: options.transport,
      connections: options.connections,
      binary: options.binary,
    });
  const model = options.model ?? 'canopy_lm';
  try {
    if (!(await client.modelReady(model, options.version))) {
      throw new CanopyError(
        'CANOPY_ERR_UPSTREAM_NOT_READY',
        `Triton at ${client.url} has no ready model '${model}' (not in its repository, loading, or unloaded)`,
        { details: { url: client.url, model } },
      );
    }
    const config = await client.modelConfig(model, options.version);
    const info = targetInfoFromConfig(config, options.info);
    // Models that report their time per session let passes report their wait (docs/triton-wire.md).
    const timed = config.outputs.some((t) => t.name === 'compute_ms');
    const stream =
      options.stream && client.transport === 'grpc' ? (client as GrpcKServeClient).openStream() : undefined;
    return new TritonTargetImpl(client, owned, model, info, options, stream, timed);
  } catch (error) {
    if (owned) await client.close();
    throw error;
  }
}

class TritonTargetImpl implements TritonTarget, SessionHost {
  readonly client: KServeClient;
  readonly info: TargetInfo;
  readonly #owned: boolean;
  readonly #model: string;
  readonly #version: string | undefined;
  readonly #prefix: string;
  readonly #stream: InferStream | undefined;
  readonly #timeoutMs: number;
  readonly #sessions = new Set<TritonSession>();
  /** Set when the model returns `compute_ms`. */
  readonly #waits: QueueWaitEstimator | undefined;
  #disposed = false;

  constructor(
    client: KServeClient,
    owned: boolean,
    model: string,
    info: TargetInfo,
    options: TritonTargetOptions,
    stream: InferStream | undefined,
    timed: boolean,
  ) {
    this.client = client;
    this.info = info;
    this.#owned = owned;
    this.#model = model;
    this.#version = options.version;
    this.#prefix = options.sessionPrefix ?? 'canopy-';
    this.#stream = stream;
    this.#timeoutMs = options.timeoutMs ?? 30_000;
    this.#waits = timed ? new QueueWaitEstimator() : undefined;
  }

  async open(prompt: Int32Array, options: OpenOptions): Promise<TritonTargetSession> {
    if (this.#disposed) throw new CanopyError('CANOPY_ERR_SHUTTING_DOWN', 'the Triton target is disposed');
    const session = new TritonSession(this, options.sampling);
    await session.open(prompt, options.signal, options.promptTopK, options.promptHiddenLayers);
    return session;
  }

  async stepMany(
    items: readonly TritonStepItem[],
    options?: { signal?: AbortSignal },
  ): Promise<PassResult[]> {
    if (items.length === 0) return [];
    const begun: TritonSession[] = [];
    const ops: WireOp[] = [];
    try {
      for (const item of items) {
        const session = this.#own(item.session);
        ops.push(session.begin('step', item.tree, item.options ?? {}));
        begun.push(session);
      }
    } catch (error) {
      for (const s of begun) s.unbegin();
      throw error;
    }
    let results: WireResult[];
    try {
      results = await this.send(ops, [], options?.signal);
    } catch (error) {
      for (const [i, s] of begun.entries()) s.settle('step', items[i]!.tree, error as Error);
      throw error;
    }
    let mismatch: unknown;
    for (const [i, s] of begun.entries()) {
      try {
        s.settle('step', items[i]!.tree, results[i]!);
      } catch (error) {
        mismatch ??= error;
      }
    }
    if (mismatch !== undefined) throw mismatch;
    return results.map((r) => r.pass);
  }

  async dispose(): Promise<void> {
    if (this.#disposed) return;
    this.#disposed = true;
    await Promise.allSettled([...this.#sessions].map((s) => s.close()));
    this.#stream?.close();
    if (this.#owned) await this.client.close();
  }

  // SessionHost

  newSessionId(): string {
    return this.#prefix + randomUUID();
  }

  async send(
    ops: readonly WireOp[],
    skipLayers: readonly number[],
    signal?: AbortSignal,
  ): Promise<WireResult[]> {
    const waits = this.#waits;
    const request = {
      ...encodeBatch(this.#model, ops, skipLayers, waits !== undefined),
      version: this.#version,
    };
    const call = { signal, timeoutMs: this.#timeoutMs };
    const sent = performance.now();
    const response = this.#stream
      ? await this.#stream.infer(request, call)
      : await this.client.infer(request, call);
    const wallMs = performance.now() - sent;
    const results = decodeBatch(request, ops, response);
    if (!waits || results.some((r) => r.computeMs === undefined)) return results;
    const queued = waits.observe(
      wallMs,
      results.map((r) => r.computeMs!),
    );
    return results.map((r, i) => ({ ...r, pass: { ...r.pass, queuedMs: queued[i]! } }));
  }

  track(session: TritonSession): void {
    this.#sessions.add(session);
  }

  release(session: TritonSession): void {
    this.#sessions.delete(session);
  }

  #own(session: TargetSession): TritonSession {
    if (!(session instanceof TritonSession) || !session.ownedBy(this)) {
      throw new CanopyError(
        'CANOPY_ERR_INVALID_ARGUMENT',
        'stepMany() got a session this Triton target did not open',
      );
    }
    return session;
  }
}

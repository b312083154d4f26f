/**
 * The head on Triton: runs each head pass on the canopy_eagle model
 * (models/triton/canopy_eagle, wire contract in docs/eagle.md), which keeps
 * every drafting session's head KV cache on the server. The drafter itself
 * still reads the head's metadata (draft vocabulary) and the target's
 * embeddings locally; the served head must be the same file (its sha256 is a
 * parameter of the served config), or the drafter refuses to start.
 */
import { randomUUID } from 'node:crypto';
import { CanopyError } from '../../../kernels/errors.js';
import {
  createKServeClient,
  type KServeClient,
  optionalOutputOf,
  outputOf,
  tensor,
} from '../../targets/triton/index.js';
import { QueueWaitEstimator } from '../../targets/triton/queue-wait.js';
import { headSha256 } from './head-file.js';
import type { HeadCache, HeadGeometry, HeadOutputs, HeadPass, HeadRunner } from './head-runner.js';

export interface TritonHeadOptions {
  /** `http://host:port` or `grpc://host:port`. */
  readonly url: string;
  readonly model: string;
  /** Per-call timeout, ms. */
  readonly timeoutMs: number;
}

class RemoteCache implements HeadCache {
  length = 0;
  constructor(readonly id: string) {}
}

const encoder = new TextEncoder();

export class TritonHeadRunner implements HeadRunner {
  readonly #client: KServeClient;
  readonly #model: string;
  readonly #geometry: HeadGeometry;
  readonly #prefix = randomUUID();
  /** The served head's time per pass (`compute_ms`, when it returns it) against the round trip. */
  readonly #waits = new QueueWaitEstimator();
  #sessions = 0;

  private constructor(client: KServeClient, model: string, geometry: HeadGeometry) {
    this.#client = client;
    this.#model = model;
    this.#geometry = geometry;
  }

  /** Connects and checks that the server serves `graph` (by sha256). */
  static async connect(
    options: TritonHeadOptions,
    graph: string,
    geometry: HeadGeometry,
  ): Promise<TritonHeadRunner> {
    const client = createKServeClient({ url: options.url, timeoutMs: options.timeoutMs });
    try {
      if (!(await client.modelReady(options.model))) {
        throw new CanopyError(
          'CANOPY_ERR_UPSTREAM_NOT_READY',
          `drafter 'eagle': Triton at ${client.url} has no ready model '${options.model}' (start it with \`npx canopy triton start\`; it is served when the model has a head)`,
          { details: { drafter: 'eagle', url: client.url, model: options.model } },
        );
      }
      const config = await client.modelConfig(options.model);
      const served = config.parameters.head_sha256 ?? '';
      const local = headSha256(graph);
      if (served !== local) {
        throw new CanopyError(
          'CANOPY_ERR_DRAFTER_HEAD_MISMATCH',
          `drafter 'eagle': Triton model '${options.model}' at ${client.url} serves head ${served || '(unknown)'}, this process drafts with ${graph} (${local})`,
          { details: { drafter: 'eagle', served, local, graph } },
        );
      }
      return new TritonHeadRunner(client, options.model, geometry);
    } catch (error) {
      await client.close();
      throw error;
    }
  }

  newCache(): HeadCache {
    return new RemoteCache(`${this.#prefix}-${++this.#sessions}`);
  }

  async run(pass: HeadPass): Promise<HeadOutputs> {
    if (!(pass.kv instanceof RemoteCache))
      throw new TypeError('TritonHeadRunner.run: a cache from another runner');
    const { hidden: h, draftVocab } = this.#geometry;
    const n = pass.positions.length;
    const t = pass.past;
    const sent = performance.now();
    const response = await this.#client.infer({
      model: this.#model,
      inputs: [
        tensor('session_id', 'BYTES', [encoder.encode(pass.kv.id)], [1]),
        tensor('past', 'INT32', Int32Array.of(t), [1]),
        tensor('features', 'FP32', pass.features.subarray(0, n * h), [n, h]),
        tensor('token_embeds', 'FP32', pass.embeds.subarray(0, n * h), [n, h]),
        tensor(
          'positions',
          'INT64',
          BigInt64Array.from(pass.positions, (p) => BigInt(p)),
          [n],
        ),
        tensor('attn_bias', 'FP32', pass.bias.subarray(0, n * (t + n)), [n, t + n]),
        tensor('top_k', 'INT32', Int32Array.of(pass.topK), [1]),
      ],
    });
    const wallMs = performance.now() - sent;
    const features = outputOf(response, 'feature_out', 'FP32').data;
    const ids = outputOf(response, 'topk_ids', 'INT32').data;
    const logprobs = outputOf(response, 'topk_logprobs', 'FP32').data;
    if (features.length !== n * h || ids.length !== n * pass.topK || logprobs.length !== ids.length) {
      throw new CanopyError(
        'CANOPY_ERR_UPSTREAM_PROTOCOL',
        `Triton model '${this.#model}' answered a ${n}-row head pass with ${features.length / h} feature rows and ${ids.length} children`,
      );
    }
    for (const id of ids) {
      if (id < 0 || id >= draftVocab) {
        throw new CanopyError(
          'CANOPY_ERR_UPSTREAM_PROTOCOL',
          `Triton model '${this.#model}' drafted index ${id} outside the draft vocabulary`,
        );
      }
    }
    pass.kv.length = t + n;
    // Only timing: a head that does not return its time (an older canopy_eagle) gives no wait.
    const compute = optionalOutputOf(response, 'compute_ms', 'FP32');
    if (compute?.data.length !== 1) return { features, ids, logprobs };
    const [queuedMs] = this.#waits.observe(wallMs, compute.data);
    return { features, ids, logprobs, queuedMs };
  }

  release(kv: HeadCache): void {
    if (!(kv instanceof RemoteCache)) return;
    kv.length = 0;
    // Best effort: the server also closes idle sessions on its own.
    this.#client
      .infer({
        model: this.#model,
        inputs: [
          tensor('session_id', 'BYTES', [encoder.encode(kv.id)], [1]),
          tensor('close', 'BOOL', Uint8Array.of(1), [1]),
        ],
      })
      .catch(() => {});
  }

  async dispose(): Promise<void> {
    await this.#client.close();
  }
}

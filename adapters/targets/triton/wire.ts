/**
 * The `canopy_lm` wire contract (docs/triton-wire.md) in TypeScript: many
 * sessions' operations in one infer request, in the flat batch layout, and the
 * answer cut back into one PassResult per session.
 *
 * Request-wide extras (top-k width, hidden layers) are the widest any session
 * asked for; each session gets back exactly what it asked.
 */
import { CanopyError } from '../../../kernels/errors.js';
import type { SamplingParams } from '../../../kernels/sampling-params.js';
import type { TokenTree } from '../../../kernels/tree.js';
import type { PassResult } from '../../target.js';
import { type Tensor, tensor } from './codec.js';
import { type InferRequest, type InferResponse, optionalOutputOf, outputOf } from './kserve-client.js';

export const FLAG_OPEN = 1;
export const FLAG_CLOSE = 2;
export const FLAG_SCRATCH = 4;

/** One session's part of a request. */
export interface WireOp {
  readonly sessionId: string;
  /** FLAG_* bits; 0 = STEP. */
  readonly flags: number;
  /** OPEN: the prompt minus its last token as a chain; CLOSE alone: empty. */
  readonly tree: TokenTree;
  /** Nodes of the session's previous STEP tree to keep, root first. */
  readonly keep: Int32Array;
  /** Read by the server on OPEN only. */
  readonly sampling?: SamplingParams;
  readonly topK: number;
  readonly hiddenLayers: readonly number[];
  /** Ask for the log-probability of each chosen token (`chosen_logprobs`). */
  readonly logprobs?: boolean;
}

export interface WireResult {
  readonly pass: PassResult;
  /** Committed tokens after the request, root included, as the server counts them. */
  readonly sessionLength: number;
  /** The model's own time for this session's work, when the request asked for `compute_ms`. */
  readonly computeMs?: number;
}

/** Zero nodes or zero keep entries (a length-0 array cannot be written, so one instance serves all). */
export const EMPTY_INT32 = new Int32Array(0);

/**
 * The infer request for `ops`. `computeTime` asks for the model's time per
 * session (`compute_ms`), which only models that declare that output return.
 */
export function encodeBatch(
  model: string,
  ops: readonly WireOp[],
  skipLayers: readonly number[] = [],
  computeTime = false,
): InferRequest {
  const b = ops.length;
  let total = 0;
  let keepTotal = 0;
  let topK = 0;
  const hidden = new Set<number>();
  for (const op of ops) {
    total += op.tree.tokens.length;
    keepTotal += op.keep.length;
    topK = Math.max(topK, op.topK);
    for (const layer of op.hiddenLayers) hidden.add(layer);
  }
  const encoder = new TextEncoder();
  const flags = new Int32Array(b); // [B]
  const nodeCount = new Int32Array(b); // [B]
  const keepCount = new Int32Array(b); // [B]
  const tokens = new Int32Array(total); // [S]
  const parents = new Int32Array(total); // [S]
  const keep = new Int32Array(keepTotal); // [ΣK]
  const temperature = new Float32Array(b);
  const topP = new Float32Array(b).fill(1);
  const minP = new Float32Array(b);
  const repetition = new Float32Array(b).fill(1);
  const frequency = new Float32Array(b);
  const presence = new Float32Array(b);
  const samplingTopK = new Int32Array(b);
  const seed = new BigUint64Array(b);
  let node = 0;
  let kept = 0;
  ops.forEach((op, i) => {
    flags[i] = op.flags;
    nodeCount[i] = op.tree.tokens.length;
    keepCount[i] = op.keep.length;
    tokens.set(op.tree.tokens, node);
    parents.set(op.tree.parents, node);
    keep.set(op.keep, kept);
    node += op.tree.tokens.length;
    kept += op.keep.length;
    const s = op.sampling;
    if (s === undefined) return;
    temperature[i] = s.temperature;
    topP[i] = s.topP;
    minP[i] = s.minP;
    repetition[i] = s.repetitionPenalty;
    frequency[i] = s.frequencyPenalty;
    presence[i] = s.presencePenalty;
    samplingTopK[i] = s.topK;
    seed[i] = BigInt(s.seed);
  });
  const inputs: Tensor[] = [
    tensor(
      'session_id',
      'BYTES',
      ops.map((op) => encoder.encode(op.sessionId)),
    ),
    tensor('flags', 'INT32', flags),
    tensor('node_count', 'INT32', nodeCount),
    tensor('tokens', 'INT32', tokens),
    tensor('parents', 'INT32', parents),
    tensor('keep_count', 'INT32', keepCount),
    tensor('keep', 'INT32', keep),
  ];
  if (ops.some((op) => op.sampling !== undefined)) {
    inputs.push(
      tensor('temperature', 'FP32', temperature),
      tensor('top_k', 'INT32', samplingTopK),
      tensor('top_p', 'FP32', topP),
      tensor('min_p', 'FP32', minP),
      tensor('repetition_penalty', 'FP32', repetition),
      tensor('frequency_penalty', 'FP32', frequency),
      tensor('presence_penalty', 'FP32', presence),
      tensor('seed', 'UINT64', seed),
    );
  }
  const outputs = ['chosen', 'session_length'];
  if (computeTime) outputs.push('compute_ms');
  if (topK > 0) {
    inputs.push(tensor('return_top_k', 'INT32', Int32Array.of(topK)));
    outputs.push('topk_ids', 'topk_logprobs');
  }
  if (ops.some((op) => op.logprobs)) {
    inputs.push(tensor('return_logprobs', 'INT32', Int32Array.of(1)));
    outputs.push('chosen_logprobs');
  }
  if (hidden.size > 0) {
    inputs.push(tensor('hidden_layers', 'INT32', Int32Array.from([...hidden].sort((x, y) => x - y))));
    outputs.push('hidden');
  }
  if (skipLayers.length > 0) inputs.push(tensor('skip_layers', 'INT32', Int32Array.from(skipLayers)));
  return { model, inputs, outputs };
}

/** Cuts the answer to `encodeBatch(model, ops)` into one result per op, in order. */
export function decodeBatch(
  request: InferRequest,
  ops: readonly WireOp[],
  response: InferResponse,
): WireResult[] {
  const chosen = outputOf(response, 'chosen', 'INT32').data; // [S]
  const lengths = outputOf(response, 'session_length', 'INT32').data; // [B]
  const total = ops.reduce((sum, op) => sum + op.tree.tokens.length, 0);
  assertShape(chosen.length === total && lengths.length === ops.length, 'chosen/session_length', response);
  const wantsTopK = request.outputs?.includes('topk_ids') === true;
  const ids = wantsTopK ? outputOf(response, 'topk_ids', 'INT32') : undefined; // [S, K]
  const logprobs = wantsTopK ? outputOf(response, 'topk_logprobs', 'FP32') : undefined; // [S, K]
  const width = ids?.shape[1] ?? 0;
  const chosenLogprobs = request.outputs?.includes('chosen_logprobs')
    ? outputOf(response, 'chosen_logprobs', 'FP32').data // [S]
    : undefined;
  if (chosenLogprobs) assertShape(chosenLogprobs.length === total, 'chosen_logprobs', response);
  const hiddenInput = request.inputs.find((t) => t.name === 'hidden_layers');
  const hiddenLayers = hiddenInput ? Array.from(hiddenInput.data as Int32Array) : [];
  const hidden = hiddenLayers.length > 0 ? outputOf(response, 'hidden', 'FP32') : undefined; // [Hn, S, H]
  const hiddenSize = hidden?.shape[2] ?? 0;
  if (hidden)
    assertShape(hidden.data.length === hiddenLayers.length * total * hiddenSize, 'hidden', response);
  // Only timing: an answer without a usable `compute_ms` still verifies, its passes report no wait.
  const computeTensor = request.outputs?.includes('compute_ms')
    ? optionalOutputOf(response, 'compute_ms', 'FP32')
    : undefined;
  const compute = computeTensor?.data.length === ops.length ? computeTensor.data : undefined; // [B]

  let start = 0;
  return ops.map((op, i) => {
    const n = op.tree.tokens.length;
    const end = start + n;
    const pass: {
      chosen: Int32Array;
      topKIds?: Int32Array;
      topKLogprobs?: Float32Array;
      chosenLogprobs?: Float32Array;
      hidden?: Map<number, Float32Array>;
    } = { chosen: chosen.subarray(start, end) };
    if (op.logprobs && chosenLogprobs) pass.chosenLogprobs = chosenLogprobs.subarray(start, end);
    if (op.topK > 0 && ids && logprobs) {
      pass.topKIds = columns(ids.data, start, end, width, op.topK);
      pass.topKLogprobs = columns(logprobs.data, start, end, width, op.topK);
    }
    if (op.hiddenLayers.length > 0 && hidden) {
      pass.hidden = new Map();
      for (const layer of op.hiddenLayers) {
        const base = hiddenLayers.indexOf(layer) * total * hiddenSize;
        pass.hidden.set(layer, hidden.data.subarray(base + start * hiddenSize, base + end * hiddenSize));
      }
    }
    start = end;
    return compute
      ? { pass, sessionLength: lengths[i]!, computeMs: compute[i]! }
      : { pass, sessionLength: lengths[i]! };
  });
}

/** Rows [start, end) of a [rows, width] matrix, keeping the first `k` columns. */
function columns<T extends Int32Array | Float32Array>(
  data: T,
  start: number,
  end: number,
  width: number,
  k: number,
): T {
  if (k === width) return data.subarray(start * width, end * width) as T;
  const out = new (data.constructor as new (n: number) => T)((end - start) * k);
  for (let r = start; r < end; r++) out.set(data.subarray(r * width, r * width + k), (r - start) * k);
  return out;
}

function assertShape(ok: boolean, what: string, response: InferResponse): void {
  if (!ok) {
    const shapes = response.outputs.map((o) => `${o.name}[${o.shape.join(',')}]`).join(' ');
    throw new CanopyError('CANOPY_ERR_UPSTREAM_PROTOCOL', `'${what}' does not match the request (${shapes})`);
  }
}

/**
 * The KServe v2 (open inference protocol) operations canopy uses, as one
 * interface that the HTTP and the gRPC client both implement, so the Triton
 * target never knows which transport carries its requests.
 *
 * Every method throws CanopyError: CANOPY_ERR_UPSTREAM_UNREACHABLE,
 * _UPSTREAM_TIMEOUT, _CANCELLED (the caller's signal fired), _UPSTREAM_NOT_READY,
 * _UPSTREAM_PROTOCOL (an answer that breaks the protocol) or _UPSTREAM_ERROR
 * (the server's own message), see upstream-errors.ts.
 */
import { CanopyError } from '../../../kernels/errors.js';
import type { Datatype, Tensor } from './codec.js';

export type Transport = 'http' | 'grpc';

export interface RequestOptions {
  readonly signal?: AbortSignal;
  /** Overrides the client's default timeout for this call; 0 = none. */
  readonly timeoutMs?: number;
}

/** Request-level parameters (KServe `parameters`): string, integer, float or boolean values. */
export type InferParameters = Readonly<Record<string, string | number | boolean>>;

export interface InferRequest {
  readonly model: string;
  readonly version?: string;
  /** Echoed back in the response. */
  readonly id?: string;
  readonly inputs: readonly Tensor[];
  /** Outputs to return; all the model declares when omitted. */
  readonly outputs?: readonly string[];
  readonly parameters?: InferParameters;
}

export interface InferResponse {
  readonly model: string;
  readonly version?: string;
  readonly id?: string;
  readonly outputs: readonly Tensor[];
  readonly parameters?: InferParameters;
}

export interface ServerMetadata {
  readonly name: string;
  readonly version: string;
  readonly extensions: readonly string[];
}

export interface TensorMetadata {
  readonly name: string;
  readonly datatype: Datatype;
  /** -1 marks a variable-size dimension. */
  readonly shape: readonly number[];
}

export interface ModelMetadata {
  readonly name: string;
  readonly versions: readonly string[];
  readonly platform: string;
  readonly inputs: readonly TensorMetadata[];
  readonly outputs: readonly TensorMetadata[];
}

export interface ModelConfigTensor {
  readonly name: string;
  readonly datatype: Datatype;
  readonly dims: readonly number[];
  /** Inputs only: the model runs without it. */
  readonly optional: boolean;
}

/** The part of Triton's ModelConfig (model_config.proto) canopy reads. */
export interface ModelConfig {
  readonly name: string;
  readonly platform: string;
  readonly backend: string;
  readonly maxBatchSize: number;
  readonly inputs: readonly ModelConfigTensor[];
  readonly outputs: readonly ModelConfigTensor[];
  /** `parameters { key: "k" value: { string_value: "v" } }` of config.pbtxt. */
  readonly parameters: Readonly<Record<string, string>>;
}

/** Cumulative counters of one model version (Triton statistics extension); durations in ns. */
export interface ModelStatistics {
  readonly name: string;
  readonly version: string;
  readonly inferenceCount: number;
  readonly executionCount: number;
  readonly success: Duration;
  readonly fail: Duration;
  readonly queue: Duration;
  readonly computeInput: Duration;
  readonly computeInfer: Duration;
  readonly computeOutput: Duration;
}

export interface Duration {
  readonly count: number;
  readonly ns: number;
}

export interface RepositoryModel {
  readonly name: string;
  readonly version: string;
  readonly state: string;
  readonly reason: string;
}

export interface KServeClient {
  readonly transport: Transport;
  /** Where it connects, as given (for messages and logs). */
  readonly url: string;
  serverLive(options?: RequestOptions): Promise<boolean>;
  serverReady(options?: RequestOptions): Promise<boolean>;
  modelReady(model: string, version?: string, options?: RequestOptions): Promise<boolean>;
  serverMetadata(options?: RequestOptions): Promise<ServerMetadata>;
  modelMetadata(model: string, version?: string, options?: RequestOptions): Promise<ModelMetadata>;
  modelConfig(model: string, version?: string, options?: RequestOptions): Promise<ModelConfig>;
  modelStatistics(model: string, version?: string, options?: RequestOptions): Promise<ModelStatistics[]>;
  repositoryIndex(options?: RequestOptions): Promise<RepositoryModel[]>;
  infer(request: InferRequest, options?: RequestOptions): Promise<InferResponse>;
  /** Ends pooled connections; pending calls finish first. Idempotent. */
  close(): Promise<void>;
}

/** Output `name` when the response has it with `datatype`: for outputs a caller can do without. */
export function optionalOutputOf<D extends Datatype>(
  response: InferResponse,
  name: string,
  datatype: D,
): Tensor<D> | undefined {
  const found = response.outputs.find((o) => o.name === name);
  return found?.datatype === datatype ? (found as Tensor<D>) : undefined;
}

/** Finds an output by name and datatype; a missing or mistyped one breaks the protocol. */
export function outputOf<D extends Datatype>(response: InferResponse, name: string, datatype: D): Tensor<D> {
  const found = response.outputs.find((o) => o.name === name);
  if (found === undefined || found.datatype !== datatype) {
    throw new CanopyError(
      'CANOPY_ERR_UPSTREAM_PROTOCOL',
      found === undefined
        ? `the response of model '${response.model}' has no output '${name}'`
        : `output '${name}' is ${found.datatype}, expected ${datatype}`,
    );
  }
  return found as Tensor<D>;
}

/**
 * The Triton target and the KServe v2 clients it runs on. The only module
 * other folders import from adapters/targets/triton/.
 */
export {
  type Datatype,
  elementCount,
  type Tensor,
  type TensorData,
  type TensorDataOf,
  tensor,
  tensorFromBytes,
  tensorToBytes,
} from './codec.js';
export { type ConnectOptions, createKServeClient } from './connect.js';
export {
  createGrpcClient,
  type GrpcClientOptions,
  type GrpcKServeClient,
  kserveProtoPath,
  PROTO_OPTIONS,
} from './grpc.js';
export type { InferStream } from './grpc-stream.js';
export { createHttpClient, type HttpClientOptions } from './http.js';
export {
  type InferRequest,
  type InferResponse,
  type KServeClient,
  type ModelConfig,
  type ModelMetadata,
  type ModelStatistics,
  optionalOutputOf,
  outputOf,
  type RequestOptions,
  type ServerMetadata,
  type Transport,
} from './kserve-client.js';
export type { TritonTargetSession } from './session.js';
export {
  createTritonTarget,
  type TritonStepItem,
  type TritonTarget,
  type TritonTargetOptions,
} from './target.js';
export type { TargetInfoOverrides } from './target-info.js';

/**
 * The embedded target: a converted model (docs/model-format.md) running in
 * process under onnxruntime-node. The baseline every benchmark compares
 * against (a one-node tree per step is plain decoding) and the verifier of
 * every speculative step when no Triton server is used.
 */
import { CanopyError } from '../../../kernels/errors.js';
import { loadManifest, type ModelManifest } from '../../model-store/index.js';
import type { OpenOptions, Target, TargetInfo, TargetSession } from '../../target.js';
import type { SessionShape } from './checks.js';
import { ModelRunner } from './model-runner.js';
import { EmbeddedSession } from './session.js';

export interface EmbeddedTargetOptions {
  /** A prepared model's name (in the canopy cache) or its directory. */
  readonly model: string;
  /** onnxruntime intra-op threads (default 2). */
  readonly threads?: number;
  /**
   * Let onnxruntime's threads busy-wait between ops (its own default). Off by
   * default: on a small machine shared with other busy processes, spinning
   * threads halved decoding speed in our measurements.
   */
  readonly spinning?: boolean;
}

/** Counters for measuring the adapter's own overhead (bench/target-costs.ts). */
export interface EmbeddedTargetStats {
  readonly passes: number;
  /** Milliseconds spent inside onnxruntime's run. */
  readonly ortMs: number;
}

export interface EmbeddedTarget extends Target {
  readonly dir: string;
  readonly manifest: ModelManifest;
  stats(): EmbeddedTargetStats;
}

/** Largest top-k a pass may ask for. */
const MAX_TOP_K = 256;

export async function createEmbeddedTarget(options: EmbeddedTargetOptions): Promise<EmbeddedTarget> {
  const { dir, manifest } = loadManifest(options.model);
  const runner = await ModelRunner.load(dir, manifest, {
    threads: options.threads ?? 2,
    spinning: options.spinning ?? false,
  });
  const info: TargetInfo = Object.freeze({
    model: manifest.name,
    vocabSize: manifest.vocabSize,
    eosTokenIds: Object.freeze([...manifest.eosTokenIds]),
    maxContext: manifest.maxContext,
    numLayers: manifest.numLayers,
    hiddenSize: manifest.hiddenSize,
    capabilities: Object.freeze({
      maxTopK: Math.min(MAX_TOP_K, manifest.vocabSize),
      hiddenStates: true,
      skipLayers: runner.canSkipLayers,
      logprobs: true,
    }),
  });
  const shape: SessionShape = {
    vocabSize: manifest.vocabSize,
    numLayers: manifest.numLayers,
    numKvHeads: manifest.numKvHeads,
    headDim: manifest.headDim,
    maxContext: manifest.maxContext,
    maxTopK: info.capabilities.maxTopK,
  };
  const sessions = new Set<EmbeddedSession>();
  let disposed = false;

  return {
    info,
    dir,
    manifest,
    async open(prompt: Int32Array, open: OpenOptions): Promise<TargetSession> {
      if (disposed) throw new CanopyError('CANOPY_ERR_SHUTTING_DOWN', 'the embedded target was disposed');
      const session = await EmbeddedSession.open(
        runner,
        shape,
        prompt,
        open.sampling,
        open.signal,
        (s) => sessions.delete(s),
        { promptTopK: open.promptTopK, promptHiddenLayers: open.promptHiddenLayers },
      );
      sessions.add(session);
      return session;
    },
    async dispose(): Promise<void> {
      if (disposed) return;
      disposed = true;
      await Promise.all([...sessions].map((s) => s.close()));
      await runner.release();
    },
    stats: () => ({ passes: runner.passes, ortMs: runner.ortMs }),
  };
}

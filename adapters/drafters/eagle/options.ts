import { z } from 'zod';

/** Options of the `eagle` drafter. */
export const eagleOptionsSchema = z
  .strictObject({
    /** Path of a head graph (`eagle.onnx`, with `eagle.json` beside it); default: see head-file.ts. */
    head: z.string().min(1).optional(),
    /** Deepest draft node. */
    maxDepth: z.number().int().min(1).max(16).default(6),
    /** Frontier nodes expanded per level (EAGLE-2's top-k). */
    width: z.number().int().min(1).max(32).default(8),
    /** Children kept per expanded node. */
    branch: z.number().int().min(1).max(32).default(8),
    /** Children below this head probability are dropped. */
    minScore: z.number().gt(0).lt(1).default(0.005),
    /**
     * Nodes whose path score (the head's estimate that the target reaches them) is below this are
     * not expanded: a head pass costs a few per cent of a verify pass on a CPU.
     */
    minPathScore: z.number().min(0).lt(1).default(0.02),
    /** Most nodes per draft, root included (the engine's budget caps it too). */
    maxNodes: z.number().int().min(2).max(256).default(48),
    /**
     * Prompt rows the head reads at the start of a request (the last ones, from the
     * target's prefill; 0 = none: the head's context starts at the prompt's last token).
     */
    promptRows: z.number().int().min(0).max(8192).default(0),
    /** onnxruntime intra-op threads for the head (in process). */
    threads: z.number().int().min(1).max(64).default(2),
    /**
     * Run the head on Triton's canopy_eagle model instead of in process
     * (docs/eagle.md, "The head on Triton"); the head's files are still read here.
     */
    triton: z
      .strictObject({
        /** `http://host:port` or `grpc://host:port`. */
        url: z.string().regex(/^(https?|grpcs?):\/\/[^\s/]+/, 'must be http(s):// or grpc(s):// with a host'),
        model: z.string().min(1).default('canopy_eagle'),
        /** Per-call timeout, ms. */
        timeoutMs: z.number().int().min(1).max(600_000).default(30_000),
      })
      .optional(),
  })
  .readonly();

export type EagleOptions = Readonly<z.output<typeof eagleOptionsSchema>>;

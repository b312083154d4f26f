import { z } from 'zod';

const ratio = z.number().gt(0).lt(1);

/** Options of the `layer-skip` (self-speculative) drafter. Defaults are documented in docs/layer-skip.md. */
export const layerSkipOptionsSchema = z
  .strictObject({
    /** A fixed set of blocks to skip; turns the search off. Checked against the model in `create`. */
    skipLayers: z.array(z.number().int().min(0)).max(1024).optional(),
    /** Deepest draft node, i.e. most scratch passes per step. */
    maxDepth: z.number().int().min(1).max(32).default(6),
    /** Candidates read per drafted node (top-k of the layer-skipped pass). */
    topK: z.number().int().min(1).max(8).default(3),
    /** Below this top-1 probability a node also gets its runner-up candidates (the tree splits). */
    splitBelow: ratio.default(0.6),
    /** Candidates below this probability are never drafted. */
    minProbability: ratio.default(0.05),
    /**
     * Early exit (Kangaroo): no further pass when the best new path's calibrated
     * probability falls below this, or below what a pass costs in tokens, whichever is higher.
     */
    stopBelow: ratio.default(0.2),
    /** Most nodes added per pass (the tree's width per depth). */
    maxWidth: z.number().int().min(1).max(16).default(4),
    /**
     * `auto`: draft only while it pays (or within the exploration allowance);
     * `always`: draft every step (experiments and tests).
     */
    gate: z.enum(['auto', 'always']).default('auto'),
    /** Most wall time, as a share of what the model's requests took, that drafting may lose while exploring. */
    maxRegret: z.number().min(0).max(1).default(0.02),
    search: z
      .strictObject({
        /** Distinct skip sets the search may try per model (0: keep the prior). */
        candidates: z.number().int().min(0).max(1024).default(48),
        /** Verified nodes that judge one candidate. */
        nodesPerCandidate: z.number().int().min(1).max(4096).default(8),
        /** Share of the skippable blocks (all but the first and last) a candidate skips: [min, max]. */
        skipRatio: z.tuple([ratio, ratio]).default([0.15, 0.6]),
        /** Seed of the search's random choices. */
        seed: z.number().int().min(0).default(0),
      })
      .prefault({}),
  })
  .superRefine((o, ctx) => {
    const [lo, hi] = o.search.skipRatio;
    if (lo > hi)
      ctx.addIssue({ code: 'custom', message: 'min must not exceed max', path: ['search', 'skipRatio'] });
    if (o.skipLayers && new Set(o.skipLayers).size !== o.skipLayers.length) {
      ctx.addIssue({ code: 'custom', message: 'layers must be distinct', path: ['skipLayers'] });
    }
  });

export type LayerSkipOptions = Readonly<z.output<typeof layerSkipOptionsSchema>>;

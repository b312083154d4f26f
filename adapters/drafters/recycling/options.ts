import { z } from 'zod';
import { priorTemplate, templateProblem } from './template.js';

const DEFAULT_K = 8;
const DEFAULT_TEMPLATE_NODES = 64;
const DEFAULT_TEMPLATE_DEPTH = 8;

const defaultTrees = new Map<number, number[][]>();

/** The default template for k, derived once: options may be parsed per request. Frozen by the parser. */
function defaultTree(k: number): number[][] {
  let tree = defaultTrees.get(k);
  if (!tree) {
    tree = priorTemplate(DEFAULT_TEMPLATE_NODES, k, DEFAULT_TEMPLATE_DEPTH);
    defaultTrees.set(k, tree);
  }
  return tree;
}

/** Options of the `recycling` (Token Recycling) drafter. */
export const recyclingOptionsSchema = z
  .strictObject({
    /** Next tokens kept per token (the matrix's width); also the top-k asked of the target. */
    k: z.number().int().min(1).max(32).default(DEFAULT_K),
    /**
     * Static tree template as rank paths (see template.ts). Default: the 64
     * paths with the highest geometric rank prior, up to depth 8.
     */
    tree: z
      .array(z.array(z.number().int().min(0)).max(32))
      .min(1)
      .max(1024)
      .optional(),
  })
  .transform((o) => ({ k: o.k, tree: o.tree ?? defaultTree(o.k) }))
  .superRefine((o, ctx) => {
    const problem = templateProblem(o.tree, o.k);
    if (problem) ctx.addIssue({ code: 'custom', message: problem, path: ['tree'] });
  });

export type RecyclingOptions = Readonly<z.output<typeof recyclingOptionsSchema>>;

export const DEFAULT_RECYCLING_K = DEFAULT_K;

import { z } from 'zod';
import { priorTemplate, templateProblem } from './template.js';

const DEFAULT_K = 8;
const DEFAULT_TEMPLATE_NODES = 64;
const DEFAULT_TEMPLATE_DEPTH = 8;
const DEFAULT_PAIR_ROWS = 65536;

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
     * Tokens of context a row is keyed by: 2 looks children up by (parent,
     * node) token pair first and falls back to the node's own row (1).
     */
    order: z.union([z.literal(1), z.literal(2)]).default(2),
    /** Rows of the pair table (a power of two, 1024..4194304); memory is rows × (8k + 8) bytes. */
    pairRows: z
      .number()
      .int()
      .min(1024)
      .max(4194304)
      .refine((n) => (n & (n - 1)) === 0, 'must be a power of two')
      .default(DEFAULT_PAIR_ROWS),
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
  .transform((o) => ({ k: o.k, order: o.order, pairRows: o.pairRows, tree: o.tree ?? defaultTree(o.k) }))
  .superRefine((o, ctx) => {
    const problem = templateProblem(o.tree, o.k);
    if (problem) ctx.addIssue({ code: 'custom', message: problem, path: ['tree'] });
  });

export type RecyclingOptions = Readonly<z.output<typeof recyclingOptionsSchema>>;

export const DEFAULT_RECYCLING_K = DEFAULT_K;

import { z } from 'zod';

/** Options of the `ngram` (prompt lookup) drafter. */
export const ngramOptionsSchema = z
  .strictObject({
    /** Shortest suffix of the context that may match. */
    minN: z.number().int().min(1).max(16).default(1),
    /** Longest suffix tried first; longer matches are more reliable. */
    maxN: z.number().int().min(1).max(16).default(4),
    /** Most earlier occurrences whose continuations become branches. */
    maxMatches: z.number().int().min(1).max(64).default(8),
    /** Deepest draft node (tokens past the root). */
    maxDepth: z.number().int().min(1).max(64).default(16),
  })
  .refine((o) => o.minN <= o.maxN, { message: 'minN must not exceed maxN', path: ['minN'] });

export type NgramOptions = Readonly<z.output<typeof ngramOptionsSchema>>;

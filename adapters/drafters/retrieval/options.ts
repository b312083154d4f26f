import { z } from 'zod';

const tokenId = z.number().int().min(0);

/** Options of the `retrieval` (suffix index: REST / SuffixDecoding) drafter. */
export const retrievalOptionsSchema = z
  .strictObject({
    /** Documents to retrieve from, as token ids (tokenized by whoever builds the options). */
    corpus: z.strictObject({ tokens: z.array(z.array(tokenId)) }).optional(),
    /** A JSONL file with one JSON array of token ids per line, read when the factory is built. */
    corpusFile: z.string().min(1).optional(),
    /** Refuses corpora larger than this many tokens (the index takes ~120-150 bytes per token). */
    maxCorpusTokens: z
      .number()
      .int()
      .min(1)
      .max(2 ** 24)
      .default(2 ** 20),
    /** Past outputs kept, in tokens (0 = do not learn from past outputs). The oldest are evicted. */
    historyTokens: z
      .number()
      .int()
      .min(0)
      .max(2 ** 24)
      .default(2 ** 17),
    /** History is kept in this many indexes; eviction drops the oldest whole. */
    historyShards: z.number().int().min(1).max(16).default(4),
    /** Shortest context suffix that must occur for a draft (1: what followed the root token elsewhere). */
    minMatch: z.number().int().min(1).max(64).default(1),
    /** Longest context suffix looked for (the matching window). */
    maxMatch: z.number().int().min(1).max(256).default(32),
    /** Deepest draft node. */
    maxDepth: z.number().int().min(1).max(64).default(8),
    /** Continuations whose empirical probability given their parent is below this are pruned. */
    minScore: z.number().min(0).max(1).default(0.05),
  })
  .refine((o) => o.minMatch <= o.maxMatch, {
    message: 'minMatch must not exceed maxMatch',
    path: ['minMatch'],
  });

export type RetrievalOptions = Readonly<z.output<typeof retrievalOptionsSchema>>;

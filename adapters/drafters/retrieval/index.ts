/**
 * `retrieval`: drafts from a suffix index over a user corpus and over past
 * outputs of the same model (REST, He et al. 2023; SuffixDecoding, Oliaro et
 * al. 2024), as a frequency-weighted tree of continuations pruned to its
 * likely branches (RASD).
 */
import { CanopyError } from '../../../kernels/errors.js';
import type {
  DrafterCapabilities,
  DrafterDefinition,
  DrafterEnvironment,
  DrafterFactory,
} from '../../drafter.js';
import { parseDrafterOptions } from '../parse-options.js';
import { readCorpusFile } from './corpus-file.js';
import { type RetrievalOptions, retrievalOptionsSchema } from './options.js';
import { RetrievalSession } from './session.js';
import { RetrievalStore } from './store.js';

export type { RetrievalOptions } from './options.js';

const capabilities: DrafterCapabilities = Object.freeze({
  tree: true,
  probabilities: false,
  needsTopK: 0,
  needsHiddenLayers: Object.freeze([]) as readonly number[],
  needsTarget: false,
});

function invalid(message: string, details: Record<string, unknown>): CanopyError {
  return new CanopyError('CANOPY_ERR_INVALID_DRAFTER_OPTIONS', `drafter 'retrieval' options: ${message}`, {
    details: { drafter: 'retrieval', ...details },
  });
}

/** The corpus from options and file, checked against the vocabulary and the size limit. */
async function loadCorpus(options: RetrievalOptions, vocabSize: number): Promise<ArrayLike<number>[]> {
  const documents: ArrayLike<number>[] = [...(options.corpus?.tokens ?? [])];
  if (options.corpusFile !== undefined) documents.push(...(await readCorpusFile(options.corpusFile)));
  let total = 0;
  for (let d = 0; d < documents.length; d++) {
    const doc = documents[d];
    total += doc.length;
    for (let i = 0; i < doc.length; i++) {
      if (doc[i] >= vocabSize) {
        throw invalid(`corpus document ${d} has token ${doc[i]} outside the vocabulary [0, ${vocabSize})`, {
          document: d,
          token: doc[i],
          vocabSize,
        });
      }
    }
  }
  if (total > options.maxCorpusTokens) {
    throw invalid(`the corpus has ${total} tokens, more than maxCorpusTokens = ${options.maxCorpusTokens}`, {
      corpusTokens: total,
      maxCorpusTokens: options.maxCorpusTokens,
    });
  }
  return documents;
}

export const retrievalDrafter: DrafterDefinition<RetrievalOptions> = Object.freeze({
  name: 'retrieval',
  capabilities,
  parseOptions: (raw: unknown): RetrievalOptions =>
    parseDrafterOptions('retrieval', retrievalOptionsSchema, raw),
  async create(options: RetrievalOptions, env: DrafterEnvironment): Promise<DrafterFactory> {
    const corpus = await loadCorpus(options, env.target.vocabSize);
    let store: RetrievalStore | null = new RetrievalStore(
      corpus,
      options.historyTokens,
      options.historyShards,
    );
    const empty = new RetrievalStore([], 0, 1);
    return {
      name: 'retrieval',
      capabilities,
      open: (request) => new RetrievalSession(store ?? empty, options, request.prompt),
      dispose() {
        store = null;
      },
    };
  },
});

/**
 * The built-in drafters. They register in the engine's registry exactly like
 * third-party drafters do.
 */
import type { DrafterDefinition } from '../drafter.js';
import { eagleDrafter } from './eagle/index.js';
import { layerSkipDrafter } from './layer-skip/index.js';
import { ngramDrafter } from './ngram/index.js';
import { recyclingDrafter } from './recycling/index.js';
import { retrievalDrafter } from './retrieval/index.js';

export type { EagleOptions } from './eagle/index.js';
export type { LayerSkipFactory, LayerSkipOptions, LayerSkipReport } from './layer-skip/index.js';
export type { NgramOptions } from './ngram/index.js';
export type { RecyclingOptions } from './recycling/index.js';
export type { RetrievalOptions } from './retrieval/index.js';
export { eagleDrafter, layerSkipDrafter, ngramDrafter, recyclingDrafter, retrievalDrafter };

export const builtinDrafters: readonly DrafterDefinition<unknown>[] = Object.freeze([
  ngramDrafter,
  recyclingDrafter,
  retrievalDrafter,
  layerSkipDrafter,
  eagleDrafter,
]);

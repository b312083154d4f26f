/**
 * GGML tensor types as they appear in a GGUF file: the numeric id, the name
 * llama.cpp prints, and the block layout (elements per block, bytes per block).
 *
 * Only the types listed here can be read; a tensor of any other id makes the
 * converter fail with CANOPY_ERR_UNSUPPORTED_QUANTIZATION naming the id.
 */

export interface GgmlTypeInfo {
  readonly id: number;
  readonly name: string;
  /** Elements per block (1 for plain float types). */
  readonly blockSize: number;
  /** Bytes per block. */
  readonly typeSize: number;
}

/** Super-block size of the K-quants. */
export const QK_K = 256;

const TYPES: readonly GgmlTypeInfo[] = [
  { id: 0, name: 'F32', blockSize: 1, typeSize: 4 },
  { id: 1, name: 'F16', blockSize: 1, typeSize: 2 },
  { id: 2, name: 'Q4_0', blockSize: 32, typeSize: 18 },
  { id: 3, name: 'Q4_1', blockSize: 32, typeSize: 20 },
  { id: 6, name: 'Q5_0', blockSize: 32, typeSize: 22 },
  { id: 7, name: 'Q5_1', blockSize: 32, typeSize: 24 },
  { id: 8, name: 'Q8_0', blockSize: 32, typeSize: 34 },
  { id: 10, name: 'Q2_K', blockSize: QK_K, typeSize: 84 },
  { id: 11, name: 'Q3_K', blockSize: QK_K, typeSize: 110 },
  { id: 12, name: 'Q4_K', blockSize: QK_K, typeSize: 144 },
  { id: 13, name: 'Q5_K', blockSize: QK_K, typeSize: 176 },
  { id: 14, name: 'Q6_K', blockSize: QK_K, typeSize: 210 },
  { id: 30, name: 'BF16', blockSize: 1, typeSize: 2 },
];

/** Names of ids that exist in GGML but that canopy cannot read, for error messages. */
const OTHER_NAMES: Readonly<Record<number, string>> = {
  9: 'Q8_1',
  15: 'Q8_K',
  16: 'IQ2_XXS',
  17: 'IQ2_XS',
  18: 'IQ3_XXS',
  19: 'IQ1_S',
  20: 'IQ4_NL',
  21: 'IQ3_S',
  22: 'IQ2_S',
  23: 'IQ4_XS',
  24: 'I8',
  25: 'I16',
  26: 'I32',
  27: 'I64',
  28: 'F64',
  29: 'IQ1_M',
  34: 'TQ1_0',
  35: 'TQ2_0',
  39: 'MXFP4',
};

const BY_ID = new Map(TYPES.map((t) => [t.id, t]));

export const GgmlType = {
  F32: 0,
  F16: 1,
  Q4_0: 2,
  Q4_1: 3,
  Q5_0: 6,
  Q5_1: 7,
  Q8_0: 8,
  Q2_K: 10,
  Q3_K: 11,
  Q4_K: 12,
  Q5_K: 13,
  Q6_K: 14,
  BF16: 30,
} as const;

/** The layout of a known type, or undefined. */
export function ggmlTypeInfo(id: number): GgmlTypeInfo | undefined {
  return BY_ID.get(id);
}

/** A printable name for any type id, known or not. */
export function ggmlTypeName(id: number): string {
  return BY_ID.get(id)?.name ?? OTHER_NAMES[id] ?? `type ${id}`;
}

/** Bytes taken by `elements` values of a known type (elements must fill whole blocks). */
export function ggmlByteSize(info: GgmlTypeInfo, elements: number): number {
  return (elements / info.blockSize) * info.typeSize;
}

/**
 * Dequantizers: raw GGML tensor bytes → float32, element order unchanged.
 * Plain floats (F32, F16, BF16) and the 32-element block quants (Q4_0, Q4_1,
 * Q5_0, Q5_1, Q8_0) live here; the 256-element K-quants in dequantize-k.ts.
 *
 * Block layouts follow ggml's `block_q*` structs: an f16 scale `d` (and for
 * the `_1` kinds an f16 offset `m`), then the packed quants. In the 4- and
 * 5-bit kinds byte j holds element j in its low nibble and element j + 16 in
 * its high nibble.
 */
import { CanopyError } from '../../kernels/errors.js';
import { dequantizeKQuant } from './dequantize-k.js';
import { GgmlType, ggmlTypeInfo, ggmlTypeName } from './ggml-types.js';
import { readF16 } from './half-float.js';

const half = readF16;

function dequantQ4(b: Uint8Array, out: Float32Array, hasMin: boolean): void {
  const size = hasMin ? 20 : 18;
  const qs = hasMin ? 4 : 2;
  // Symmetric kinds centre the quants (as ggml does, in integers, before scaling).
  const off = hasMin ? 0 : 8;
  for (let blk = 0, o = 0; o < out.length; blk += size, o += 32) {
    const d = half(b, blk);
    const m = hasMin ? half(b, blk + 2) : 0;
    for (let j = 0; j < 16; j++) {
      const q = b[blk + qs + j];
      out[o + j] = ((q & 0x0f) - off) * d + m;
      out[o + j + 16] = ((q >> 4) - off) * d + m;
    }
  }
}

function dequantQ5(b: Uint8Array, out: Float32Array, hasMin: boolean): void {
  const size = hasMin ? 24 : 22;
  const hOff = hasMin ? 4 : 2;
  const off = hasMin ? 0 : 16;
  for (let blk = 0, o = 0; o < out.length; blk += size, o += 32) {
    const d = half(b, blk);
    const m = hasMin ? half(b, blk + 2) : 0;
    // The fifth bits: bit j of the u32 for element j, bit j + 16 for element j + 16.
    const qh =
      (b[blk + hOff] | (b[blk + hOff + 1] << 8) | (b[blk + hOff + 2] << 16) | (b[blk + hOff + 3] << 24)) >>>
      0;
    const qs = blk + hOff + 4;
    for (let j = 0; j < 16; j++) {
      const q = b[qs + j];
      const lo = (q & 0x0f) | (((qh >>> j) & 1) << 4);
      const hi = (q >> 4) | (((qh >>> (j + 16)) & 1) << 4);
      out[o + j] = (lo - off) * d + m;
      out[o + j + 16] = (hi - off) * d + m;
    }
  }
}

function dequantQ8(b: Uint8Array, out: Float32Array): void {
  for (let blk = 0, o = 0; o < out.length; blk += 34, o += 32) {
    const d = half(b, blk);
    for (let j = 0; j < 32; j++) out[o + j] = ((b[blk + 2 + j] << 24) >> 24) * d;
  }
}

function convertF16(b: Uint8Array, out: Float32Array): void {
  for (let i = 0; i < out.length; i++) out[i] = half(b, 2 * i);
}

function convertBF16(b: Uint8Array, out: Float32Array): void {
  // bf16 is the top half of a float32: place the two bytes above two zero bytes.
  const bits = new Uint32Array(out.buffer, out.byteOffset, out.length);
  for (let i = 0; i < out.length; i++) bits[i] = (b[2 * i] << 16) | (b[2 * i + 1] << 24);
}

function convertF32(b: Uint8Array, out: Float32Array): void {
  new Uint8Array(out.buffer, out.byteOffset, out.byteLength).set(b.subarray(0, out.byteLength));
}

/** Whether `dequantize` can read tensors of this GGML type. */
export function canDequantize(type: number): boolean {
  return ggmlTypeInfo(type) !== undefined;
}

/**
 * Dequantizes `elements` values of GGML type `type` from `bytes` into `out`
 * (allocated when not given). Throws CANOPY_ERR_UNSUPPORTED_QUANTIZATION for
 * unknown types.
 */
export function dequantize(
  type: number,
  bytes: Uint8Array,
  elements: number,
  out: Float32Array = new Float32Array(elements),
): Float32Array {
  const info = ggmlTypeInfo(type);
  if (!info) {
    throw new CanopyError(
      'CANOPY_ERR_UNSUPPORTED_QUANTIZATION',
      `GGML tensor type ${ggmlTypeName(type)} is not supported (supported: F32, F16, BF16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q2_K…Q6_K)`,
      { details: { type: ggmlTypeName(type) } },
    );
  }
  if (elements % info.blockSize !== 0 || bytes.length < (elements / info.blockSize) * info.typeSize) {
    throw new CanopyError(
      'CANOPY_ERR_GGUF_INVALID',
      `${elements} ${info.name} values do not fit ${bytes.length} bytes in whole blocks`,
    );
  }
  const target = out.length === elements ? out : out.subarray(0, elements);
  switch (type) {
    case GgmlType.F32:
      convertF32(bytes, target);
      break;
    case GgmlType.F16:
      convertF16(bytes, target);
      break;
    case GgmlType.BF16:
      convertBF16(bytes, target);
      break;
    case GgmlType.Q4_0:
      dequantQ4(bytes, target, false);
      break;
    case GgmlType.Q4_1:
      dequantQ4(bytes, target, true);
      break;
    case GgmlType.Q5_0:
      dequantQ5(bytes, target, false);
      break;
    case GgmlType.Q5_1:
      dequantQ5(bytes, target, true);
      break;
    case GgmlType.Q8_0:
      dequantQ8(bytes, target);
      break;
    default:
      dequantizeKQuant(type, bytes, target);
  }
  return target;
}

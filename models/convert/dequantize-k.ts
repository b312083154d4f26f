/**
 * Dequantizers for ggml's K-quants: 256-element super-blocks split into
 * sub-blocks of 16 or 32 elements, each with its own small integer scale
 * (and minimum), themselves scaled by the super-block's f16 `d` (and `dmin`).
 *
 * Layouts (bytes, in struct order):
 * - Q2_K 84:  scales[16] (lo nibble scale, hi nibble min), qs[64], d, dmin
 * - Q3_K 110: hmask[32], qs[64], scales[12] (6-bit, packed), d
 * - Q4_K 144: d, dmin, scales[12] (6-bit scales and mins, packed), qs[128]
 * - Q5_K 176: d, dmin, scales[12], qh[32], qs[128]
 * - Q6_K 210: ql[128], qh[64], scales[16] (int8), d
 */
import { CanopyError } from '../../kernels/errors.js';
import { GgmlType, ggmlTypeName } from './ggml-types.js';
import { readF16 as half } from './half-float.js';

/** The j-th 6-bit (scale, min) pair of Q4_K/Q5_K's 12 packed scale bytes. */
function scaleMin(b: Uint8Array, s: number, j: number, out: Int32Array): void {
  if (j < 4) {
    out[0] = b[s + j] & 63;
    out[1] = b[s + j + 4] & 63;
  } else {
    out[0] = (b[s + j + 4] & 0x0f) | ((b[s + j - 4] >> 6) << 4);
    out[1] = (b[s + j + 4] >> 4) | ((b[s + j] >> 6) << 4);
  }
}

function q2k(b: Uint8Array, out: Float32Array): void {
  for (let blk = 0, o = 0; o < out.length; blk += 84) {
    const d = half(b, blk + 80);
    const dmin = half(b, blk + 82);
    let is = 0;
    for (let n = 0; n < 256; n += 128) {
      const q = blk + 16 + n / 4;
      for (let shift = 0; shift < 8; shift += 2) {
        for (let half16 = 0; half16 < 32; half16 += 16) {
          const sc = b[blk + is++];
          const dl = d * (sc & 0x0f);
          const ml = dmin * (sc >> 4);
          for (let l = 0; l < 16; l++) out[o++] = dl * ((b[q + half16 + l] >> shift) & 3) - ml;
        }
      }
    }
  }
}

function q3k(b: Uint8Array, out: Float32Array): void {
  const aux = new Uint32Array(4);
  const scales = new Int8Array(aux.buffer);
  for (let blk = 0, o = 0; o < out.length; blk += 110) {
    const d = half(b, blk + 108);
    const s = blk + 96;
    const word = (i: number) =>
      (b[s + i] | (b[s + i + 1] << 8) | (b[s + i + 2] << 16) | (b[s + i + 3] << 24)) >>> 0;
    const a0 = word(0);
    const a1 = word(4);
    const tmp = word(8);
    // Unpack sixteen 6-bit scales: low 4 bits from bytes 0..7, high 2 bits from bytes 8..11.
    aux[0] = (a0 & 0x0f0f0f0f) | (((tmp >>> 0) & 0x03030303) << 4);
    aux[1] = (a1 & 0x0f0f0f0f) | (((tmp >>> 2) & 0x03030303) << 4);
    aux[2] = ((a0 >>> 4) & 0x0f0f0f0f) | (((tmp >>> 4) & 0x03030303) << 4);
    aux[3] = ((a1 >>> 4) & 0x0f0f0f0f) | (((tmp >>> 6) & 0x03030303) << 4);
    let is = 0;
    let m = 1;
    for (let n = 0; n < 256; n += 128) {
      const q = blk + 32 + n / 4;
      for (let shift = 0; shift < 8; shift += 2, m <<= 1) {
        for (let half16 = 0; half16 < 32; half16 += 16) {
          const dl = d * (scales[is++] - 32);
          for (let l = 0; l < 16; l++) {
            const hm = b[blk + half16 + l] & m ? 0 : 4;
            out[o++] = dl * (((b[q + half16 + l] >> shift) & 3) - hm);
          }
        }
      }
    }
  }
}

function q45k(b: Uint8Array, out: Float32Array, five: boolean): void {
  const size = five ? 176 : 144;
  const sm = new Int32Array(2);
  for (let blk = 0, o = 0; o < out.length; blk += size) {
    const d = half(b, blk);
    const dmin = half(b, blk + 2);
    const qh = blk + 16;
    let q = blk + (five ? 48 : 16);
    for (let j = 0, is = 0; j < 256; j += 64, is += 2, q += 32) {
      scaleMin(b, blk + 4, is, sm);
      const d1 = d * sm[0];
      const m1 = dmin * sm[1];
      scaleMin(b, blk + 4, is + 1, sm);
      const d2 = d * sm[0];
      const m2 = dmin * sm[1];
      // Q5_K: bit (is) of qh[l] is the fifth bit of the low nibbles, bit (is + 1) of the high ones.
      for (let l = 0; l < 32; l++) {
        const hi = five ? ((b[qh + l] >> is) & 1) << 4 : 0;
        out[o + l] = d1 * ((b[q + l] & 0x0f) + hi) - m1;
      }
      for (let l = 0; l < 32; l++) {
        const hi = five ? ((b[qh + l] >> (is + 1)) & 1) << 4 : 0;
        out[o + 32 + l] = d2 * ((b[q + l] >> 4) + hi) - m2;
      }
      o += 64;
    }
  }
}

function q6k(b: Uint8Array, out: Float32Array): void {
  for (let blk = 0, o = 0; o < out.length; blk += 210) {
    const d = half(b, blk + 208);
    for (let n = 0; n < 2; n++) {
      const ql = blk + 64 * n;
      const qh = blk + 128 + 32 * n;
      const sc = blk + 192 + 8 * n;
      for (let l = 0; l < 32; l++) {
        const is = l >> 4;
        const h = b[qh + l];
        const q1 = ((b[ql + l] & 0x0f) | ((h & 3) << 4)) - 32;
        const q2 = ((b[ql + l + 32] & 0x0f) | (((h >> 2) & 3) << 4)) - 32;
        const q3 = ((b[ql + l] >> 4) | (((h >> 4) & 3) << 4)) - 32;
        const q4 = ((b[ql + l + 32] >> 4) | (((h >> 6) & 3) << 4)) - 32;
        const s = (i: number) => (b[sc + is + i] << 24) >> 24;
        out[o + l] = d * s(0) * q1;
        out[o + l + 32] = d * s(2) * q2;
        out[o + l + 64] = d * s(4) * q3;
        out[o + l + 96] = d * s(6) * q4;
      }
      o += 128;
    }
  }
}

/** Dequantizes whole K-quant super-blocks of `type` into `out`. */
export function dequantizeKQuant(type: number, b: Uint8Array, out: Float32Array): void {
  switch (type) {
    case GgmlType.Q2_K:
      q2k(b, out);
      break;
    case GgmlType.Q3_K:
      q3k(b, out);
      break;
    case GgmlType.Q4_K:
      q45k(b, out, false);
      break;
    case GgmlType.Q5_K:
      q45k(b, out, true);
      break;
    case GgmlType.Q6_K:
      q6k(b, out);
      break;
    default:
      throw new CanopyError(
        'CANOPY_ERR_UNSUPPORTED_QUANTIZATION',
        `no dequantizer for ${ggmlTypeName(type)}`,
      );
  }
}

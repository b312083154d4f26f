import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { isCanopyError } from '../../../kernels/errors.js';
import { dequantize } from '../../../models/convert/dequantize.js';
import { GgmlType } from '../../../models/convert/ggml-types.js';
import { f32ToF16 } from '../../../models/convert/half-float.js';

function f16(v: number): number[] {
  const h = f32ToF16(v);
  return [h & 0xff, h >> 8];
}

/** Nibble-packs 32 quants the ggml way: byte j = q[j] | q[j + 16] << 4. */
function nibbles(q: number[]): number[] {
  return Array.from({ length: 16 }, (_, j) => (q[j] & 15) | ((q[j + 16] & 15) << 4));
}

const ramp = Array.from({ length: 32 }, (_, i) => i % 16);

describe('dequantize, hand-made blocks', () => {
  it('reads Q8_0 as signed bytes times the scale', () => {
    const qs = Array.from({ length: 32 }, (_, i) => i - 16);
    const block = Uint8Array.from([...f16(0.5), ...qs.map((q) => q & 0xff)]);
    expect(Array.from(dequantize(GgmlType.Q8_0, block, 32))).toEqual(qs.map((q) => q * 0.5));
  });

  it('centres Q4_0 quants on 8', () => {
    const block = Uint8Array.from([...f16(0.25), ...nibbles(ramp)]);
    expect(Array.from(dequantize(GgmlType.Q4_0, block, 32))).toEqual(ramp.map((q) => (q - 8) * 0.25));
  });

  it('adds the minimum in Q4_1', () => {
    const block = Uint8Array.from([...f16(2), ...f16(-3), ...nibbles(ramp)]);
    expect(Array.from(dequantize(GgmlType.Q4_1, block, 32))).toEqual(ramp.map((q) => q * 2 - 3));
  });

  it('takes the fifth bit of Q5_0 from qh, element j at bit j', () => {
    const q = Array.from({ length: 32 }, (_, i) => (i * 7) % 32);
    let qh = 0;
    for (let j = 0; j < 32; j++) if (q[j] & 16) qh |= 1 << j;
    const qhBytes = [qh & 0xff, (qh >>> 8) & 0xff, (qh >>> 16) & 0xff, (qh >>> 24) & 0xff];
    const block = Uint8Array.from([...f16(1), ...qhBytes, ...nibbles(q)]);
    expect(Array.from(dequantize(GgmlType.Q5_0, block, 32))).toEqual(q.map((v) => v - 16));
    const block1 = Uint8Array.from([...f16(0.5), ...f16(1), ...qhBytes, ...nibbles(q)]);
    expect(Array.from(dequantize(GgmlType.Q5_1, block1, 32))).toEqual(q.map((v) => v * 0.5 + 1));
  });

  it('converts F16 and BF16 bit patterns', () => {
    const h = Uint8Array.from([0x00, 0x3c, 0x00, 0xc0, 0x01, 0x00, 0x00, 0x7c]);
    expect(Array.from(dequantize(GgmlType.F16, h, 4))).toEqual([1, -2, 2 ** -24, Number.POSITIVE_INFINITY]);
    const bf = Uint8Array.from([0x80, 0x3f, 0x40, 0xc0]);
    expect(Array.from(dequantize(GgmlType.BF16, bf, 2))).toEqual([1, -3]);
  });

  it('reads Q4_K scales and minimums from the packed 6-bit table', () => {
    // Sub-block s gets scale s + 1 and min 2s (j < 4 in the low 6 bits, j >= 4 split nibble/top bits).
    const sc = Array.from({ length: 8 }, (_, s) => s + 1);
    const mn = Array.from({ length: 8 }, (_, s) => 2 * s);
    const packed = new Array(12).fill(0);
    for (let j = 0; j < 4; j++) {
      packed[j] = sc[j] | ((sc[j + 4] >> 4) << 6);
      packed[j + 4] = mn[j] | ((mn[j + 4] >> 4) << 6);
      packed[j + 8] = (sc[j + 4] & 15) | ((mn[j + 4] & 15) << 4);
    }
    const qs = Array.from({ length: 128 }, (_, i) => (i % 16) | ((15 - (i % 16)) << 4));
    const block = Uint8Array.from([...f16(0.5), ...f16(0.25), ...packed, ...qs]);
    const out = dequantize(GgmlType.Q4_K, block, 256);
    for (let chunk = 0; chunk < 4; chunk++) {
      for (let l = 0; l < 32; l++) {
        const lo = qs[chunk * 32 + l] & 15;
        const hi = qs[chunk * 32 + l] >> 4;
        expect(out[chunk * 64 + l]).toBeCloseTo(0.5 * sc[2 * chunk] * lo - 0.25 * mn[2 * chunk], 6);
        expect(out[chunk * 64 + 32 + l]).toBeCloseTo(
          0.5 * sc[2 * chunk + 1] * hi - 0.25 * mn[2 * chunk + 1],
          6,
        );
      }
    }
  });

  it('names an unsupported type in its error', () => {
    try {
      dequantize(20, new Uint8Array(64), 32);
      expect.unreachable();
    } catch (e) {
      expect(isCanopyError(e, 'CANOPY_ERR_UNSUPPORTED_QUANTIZATION')).toBe(true);
      expect((e as Error).message).toContain('IQ4_NL');
    }
  });
});

interface Fixture {
  type: keyof typeof GgmlType;
  hex: string;
  values: number[];
}

// Blocks of random bytes (with sane f16 scales) decoded by gguf-py's independent
// implementation (see "generator" in the file).
const fixtures = JSON.parse(
  readFileSync(new URL('./fixtures/dequant-gguf-py.json', import.meta.url), 'utf8'),
) as { blocks: Fixture[] };

describe('dequantize agrees with gguf-py', () => {
  it.each(fixtures.blocks.map((f) => [f.type, f] as const))('%s', (_name, f) => {
    const bytes = Uint8Array.from(Buffer.from(f.hex, 'hex'));
    const out = dequantize(GgmlType[f.type], bytes, f.values.length);
    let worst = 0;
    for (let i = 0; i < out.length; i++) {
      worst = Math.max(worst, Math.abs(out[i] - f.values[i]) / Math.max(1e-3, Math.abs(f.values[i])));
    }
    expect(worst).toBeLessThan(1e-6);
  });
});

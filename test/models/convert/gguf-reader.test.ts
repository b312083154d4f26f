import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { isCanopyError } from '../../../kernels/errors.js';
import { dequantize } from '../../../models/convert/dequantize.js';
import { GgmlType } from '../../../models/convert/ggml-types.js';
import { openGguf } from '../../../models/convert/gguf-reader.js';
import { writeGguf } from '../../../models/convert/gguf-writer.js';

const dir = mkdtempSync(join(tmpdir(), 'canopy-gguf-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const ramp = (n: number, scale = 1) => Float32Array.from({ length: n }, (_, i) => (i - n / 2) * scale);

function sample(path: string): void {
  writeGguf(
    path,
    [
      ['general.architecture', { type: 'string', value: 'llama' }],
      ['test.u32', { type: 'u32', value: 4000000000 }],
      ['test.i32', { type: 'i32', value: -7 }],
      ['test.f32', { type: 'f32', value: 0.5 }],
      ['test.bool', { type: 'bool', value: true }],
      ['test.strings', { type: 'strings', value: ['a', 'ü', ''] }],
      ['test.i32s', { type: 'i32s', value: [1, -2, 3] }],
      ['test.f32s', { type: 'f32s', value: [0.25, -1] }],
    ],
    [
      { name: 'f32', dims: [3, 2], type: GgmlType.F32, data: ramp(6) },
      { name: 'f16', dims: [5], type: GgmlType.F16, data: ramp(5, 0.5) },
      { name: 'q8', dims: [32, 2], type: GgmlType.Q8_0, data: ramp(64, 0.01) },
    ],
  );
}

describe('GGUF reader', () => {
  it('reads back metadata of every type and tensors at their offsets', () => {
    const path = join(dir, 'sample.gguf');
    sample(path);
    const f = openGguf(path);
    try {
      expect(f.version).toBe(3);
      expect(f.metadata.get('general.architecture')).toBe('llama');
      expect(f.metadata.get('general.alignment')).toBe(32);
      expect(f.metadata.get('test.u32')).toBe(4000000000);
      expect(f.metadata.get('test.i32')).toBe(-7);
      expect(f.metadata.get('test.f32')).toBe(0.5);
      expect(f.metadata.get('test.bool')).toBe(true);
      expect(f.metadata.get('test.strings')).toEqual(['a', 'ü', '']);
      expect(Array.from(f.metadata.get('test.i32s') as Int32Array)).toEqual([1, -2, 3]);
      expect(Array.from(f.metadata.get('test.f32s') as Float32Array)).toEqual([0.25, -1]);

      const t = f.tensors.get('f32')!;
      expect(t.dims).toEqual([3, 2]);
      expect(t.offset % 32).toBe(0);
      expect(Array.from(dequantize(t.type, f.readTensorBytes(t), t.elements))).toEqual(Array.from(ramp(6)));
      const h = f.tensors.get('f16')!;
      expect(Array.from(dequantize(h.type, f.readTensorBytes(h), h.elements))).toEqual(
        Array.from(ramp(5, 0.5)),
      );
      const q = f.tensors.get('q8')!;
      expect(q.byteSize).toBe(2 * 34);
      const back = dequantize(q.type, f.readTensorBytes(q), q.elements);
      const want = ramp(64, 0.01);
      for (let i = 0; i < 64; i++) expect(Math.abs(back[i] - want[i])).toBeLessThan(0.0021);
    } finally {
      f.close();
    }
  });

  it('refuses a file without the GGUF magic', () => {
    const path = join(dir, 'not.gguf');
    writeFileSync(path, Buffer.alloc(64, 1));
    expect(() => openGguf(path)).toThrow(expect.objectContaining({ code: 'CANOPY_ERR_GGUF_INVALID' }));
  });

  it('refuses a truncated file', () => {
    const path = join(dir, 'sample.gguf');
    sample(path);
    const cut = join(dir, 'cut.gguf');
    const bytes = readFileSync(path);
    writeFileSync(cut, bytes.subarray(0, bytes.length - 40));
    try {
      openGguf(cut).close();
      expect.unreachable();
    } catch (e) {
      expect(isCanopyError(e, 'CANOPY_ERR_GGUF_INVALID')).toBe(true);
      expect((e as Error).message).toMatch(/q8/);
    }
  });
});

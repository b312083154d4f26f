/**
 * What a CLI command prints, captured per test: console.log (and, when asked,
 * process.stdout) into `out`, console.error (and process.stderr) into `err`.
 * The arrays are emptied before each test; empty them mid-test with `.length = 0`.
 */
import { afterEach, beforeEach, vi } from 'vitest';

export function captureOutput(streams: { stdout?: boolean; stderr?: boolean } = {}): {
  readonly out: string[];
  readonly err: string[];
} {
  const out: string[] = [];
  const err: string[] = [];
  const into = (lines: string[]) => (s: string | Uint8Array) => {
    lines.push(String(s));
    return true;
  };
  beforeEach(() => {
    out.length = 0;
    err.length = 0;
    vi.spyOn(console, 'log').mockImplementation((...a) => void out.push(a.join(' ')));
    vi.spyOn(console, 'error').mockImplementation((...a) => void err.push(a.join(' ')));
    if (streams.stdout) vi.spyOn(process.stdout, 'write').mockImplementation(into(out) as never);
    if (streams.stderr) vi.spyOn(process.stderr, 'write').mockImplementation(into(err) as never);
  });
  afterEach(() => vi.restoreAllMocks());
  return { out, err };
}

/** Progress on a non-terminal stream: start, a line at most every 30 s, done. */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createProgress } from '../../../plugins/cli/progress.js';

afterEach(() => vi.useRealTimers());

describe('createProgress without a terminal', () => {
  it('prints a start line, throttled progress lines and a done line', () => {
    vi.useFakeTimers();
    const lines: string[] = [];
    const stream = { isTTY: false, write: (s: string) => lines.push(s) } as unknown as NodeJS.WriteStream;
    const progress = createProgress('bench: ', stream);
    for (let done = 0; done < 100; done++) {
      progress.update({ step: 'generations', done, total: 100, unit: 'steps' });
      vi.advanceTimersByTime(1_000);
    }
    progress.update({ step: 'generations', done: 100, total: 100, unit: 'steps' });
    progress.finish();
    expect(lines[0]).toBe('bench: generations…\n');
    const middle = lines.slice(1, -1);
    // 100 s of work: a line at 30, 60 and 90 s.
    expect(middle).toEqual([
      'bench: generations: 30% (30 / 100) 30s\n',
      'bench: generations: 60% (60 / 100) 60s\n',
      'bench: generations: 90% (90 / 100) 90s\n',
    ]);
    expect(lines.at(-1)).toBe('bench: generations: done in 100.0s\n');
  });
});

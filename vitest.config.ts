import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Model-backed suites share one CPU budget; run files one at a time so timings stay sane.
    fileParallelism: false,
    testTimeout: 60_000,
    hookTimeout: 600_000,
    pool: 'forks',
  },
});

import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // Most test files wait on the network, timers and child processes more than they compute:
    // four at a time on two cores took the suite from 160 s to 80 s (docs/BENCHMARKS.md).
    maxWorkers: 4,
    setupFiles: ['test/setup.ts'],
    globalSetup: ['test/global-setup.ts'],
  },
});

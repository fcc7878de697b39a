import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // Integration tests each run their own Temporal dev server; on 2 cores run files one at a time.
    fileParallelism: false,
    reporters: ['default'],
    setupFiles: ['test/setup.ts'],
    env: { SWEEP_LOG_LEVEL: 'warn' },
  },
});

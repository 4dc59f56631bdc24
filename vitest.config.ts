import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['src/**/*.test.ts', 'packages/*/test/**/*.test.ts'],
    // Integration tests start real PostgreSQL instances and mount loop filesystems; on a
    // 2-core machine running files one at a time keeps timings honest and avoids port/IO storms.
    fileParallelism: false,
    testTimeout: 120_000,
    hookTimeout: 180_000,
    reporters: ['default', './test/summary-reporter.ts'],
  },
});

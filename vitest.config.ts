import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/setup/redis.ts', 'test/setup/mongo.ts'],
    testTimeout: 20_000,
    hookTimeout: 60_000,
    // End-to-end suites start real server processes; two cores do not want many at once.
    maxWorkers: 2,
  },
});

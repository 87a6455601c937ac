import { defineConfig } from 'vitest/config';

/** Load tests that measure under load: run last, one at a time, with nothing else on the 2 cores. */
const LOAD = ['test/e2e/topology.test.ts', 'test/e2e/backpressure.test.ts', 'test/e2e/bench-smoke.test.ts'];

export default defineConfig({
  test: {
    testTimeout: 20_000,
    hookTimeout: 60_000,
    projects: [
      {
        extends: true,
        test: {
          name: 'main',
          include: ['test/**/*.test.ts'],
          exclude: LOAD,
          globalSetup: ['test/setup/redis.ts', 'test/setup/mongo.ts'],
          // End-to-end suites start real server processes; two cores do not want many at once.
          maxWorkers: 2,
          sequence: { groupOrder: 0 },
        },
      },
      {
        extends: true,
        test: {
          name: 'load',
          include: LOAD,
          fileParallelism: false,
          sequence: { groupOrder: 1 },
        },
      },
    ],
  },
});

import { defineConfig } from 'vitest/config';

/** Load tests that measure under load: run last, one at a time, with nothing else on the 2 cores. */
const LOAD = ['test/e2e/topology.test.ts', 'test/e2e/backpressure.test.ts', 'test/e2e/bench-smoke.test.ts', 'test/e2e/chaos-smoke.test.ts'];

// Projects run in `sequence.groupOrder` order, lowest first, one group after the other. Every
// selected project's global setup runs before the first group, so `npm test` starts Redis and
// MongoDB up front; `npm run test:unit` (`--project unit`) selects only `unit` and starts nothing.
export default defineConfig({
  // tsconfig.json's `paths`: @parley/client is its sources here (its package.json exports the build).
  resolve: { tsconfigPaths: true },
  test: {
    testTimeout: 20_000,
    hookTimeout: 60_000,
    projects: [
      {
        extends: true,
        test: {
          // In-process only: no Redis, no MongoDB, no browser, no server process. Seconds.
          name: 'unit',
          include: ['test/unit/**/*.test.ts', 'packages/*/test/**/*.test.ts'],
          sequence: { groupOrder: 0 },
        },
      },
      {
        extends: true,
        test: {
          name: 'main',
          include: ['test/**/*.test.ts'],
          exclude: ['test/unit/**', ...LOAD],
          globalSetup: ['test/setup/redis.ts', 'test/setup/mongo.ts'],
          // End-to-end suites start real server processes; two cores do not want many at once.
          maxWorkers: 2,
          sequence: { groupOrder: 1 },
        },
      },
      {
        extends: true,
        test: {
          name: 'load',
          include: LOAD,
          fileParallelism: false,
          sequence: { groupOrder: 2 },
        },
      },
    ],
  },
});

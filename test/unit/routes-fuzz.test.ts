/**
 * Random REST requests against the in-process app on the memory stores (test/e2e/fuzz-rest.ts has
 * the generator and the oracle): no 5xx, every error in the documented shape and code, every
 * success in its route's shape, groups answering only their members, and every group's members at
 * the end exactly those its answers announced. `FUZZ_SEED=<seed>` replays a failing run.
 */
import { afterAll, expect, it } from 'vitest';
import { fuzzSeed } from '../e2e/fuzz.ts';
import { RestFuzz } from '../e2e/fuzz-rest.ts';
import { startApp, stopApps } from '../fixtures/app.ts';

afterAll(stopApps);

it('answers 4,000 random REST requests per the protocol, and groups keep exactly the members they announced', async () => {
  const seed = fuzzSeed();
  const app = await startApp();
  const fuzz = new RestFuzz(seed, 4, 'fz');
  const report = await fuzz.run(async (req) => {
    const res = await app.request(req.path, { method: req.method, headers: req.headers, ...(req.body === undefined ? {} : { body: req.body }) });
    return { status: res.status, text: await res.text() };
  }, 1000);
  expect(report.failures, `seed ${seed}`).toEqual([]);
  // The run reached the interesting answers, not only refusals.
  for (const status of ['200', '201', '204', '400', '401', '403', '413']) expect(report.byStatus[status] ?? 0, `${status} (seed ${seed})`).toBeGreaterThan(0);
});

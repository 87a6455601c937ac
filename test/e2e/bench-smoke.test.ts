/**
 * The benchmark's smoke size, end to end, as `npm run bench -- <scenario> smoke` runs it: the whole
 * stack per target, the load generator driving the scenario through HAProxy, the merged results and
 * the regenerated report. chat runs with both load generators on both targets: the lean Go driver
 * (bench/driver, the default) and k6 (`--driver k6`), each built from its Go module; history and storm
 * run with the lean driver. Written into a temporary folder, so bench/RESULTS.md is not touched.
 * Figures are not asserted (the machine is shared); correctness is: every user connected, every message
 * delivered to every member exactly once, every threshold but latency's passed, and the efficiency
 * figures recorded.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { buildDriver, testDriver } from '../../bench/driver/build.ts';
import { buildK6 } from '../../bench/k6/build.ts';
import { writeReport } from '../../bench/report.ts';
import { bench } from '../../bench/run.ts';

const dir = mkdtempSync(join(tmpdir(), 'parley-bench-'));
const lines: string[] = [];
const log = (l: string) => lines.push(l);

afterAll(() => rmSync(dir, { recursive: true, force: true }));

type Step = { acked: number; expected: number; delivered: number; lost: number; duplicated: number; latencyMs: { count: number } | null };
type Run = {
  target: string;
  error?: string;
  thresholds: Record<string, boolean>;
  connections: { wanted: number; opened: number; failed: number; gaps: number };
  steps: Step[];
  resources: { processes: { kind: string; rssLoadedKB: number | null; cpuAvgPct: number | null }[] };
  driver: { name: string; cpuPct: number };
  efficiency: { serverCpuMsPerKDelivery: number | null; rssKBPerConn: number | null };
  extra: Record<string, unknown>;
};

/** The k6 thresholds that failed, but for latency (timing is not asserted: the machine is shared). */
function correctness(r: Run): Record<string, boolean> {
  return Object.fromEntries(Object.entries(r.thresholds).filter(([k, passed]) => !passed && !k.startsWith('delivery_latency')));
}

function checkRun(r: Run, driver: 'lean' | 'k6' = 'lean') {
  expect(r.error, `${r.target}: ${r.error ?? ''}\n${lines.join('\n')}`).toBeUndefined();
  expect(r.connections.opened).toBe(r.connections.wanted);
  expect(r.connections.failed).toBe(0);
  expect(r.connections.gaps).toBe(0);
  for (const s of r.steps) {
    expect(s.acked).toBeGreaterThan(0);
    expect(s.delivered).toBe(s.expected);
    expect(s.lost).toBe(0);
    expect(s.duplicated).toBe(0);
    expect(s.latencyMs?.count ?? 0).toBeGreaterThan(0);
  }
  const kinds = new Set(r.resources.processes.filter((p) => p.rssLoadedKB !== null).map((p) => p.kind));
  for (const k of ['instance', 'haproxy', 'redis', driver === 'k6' ? 'k6' : 'driver']) expect(kinds, `sampled ${k}`).toContain(k);
  expect(r.driver.name).toBe(driver);
  expect(r.driver.cpuPct).toBeGreaterThan(0);
  expect(r.efficiency.serverCpuMsPerKDelivery).toBeGreaterThan(0);
  expect(typeof r.efficiency.rssKBPerConn).toBe('number');
}

describe('npm run bench -- <scenario> smoke', () => {
  it('builds the pinned k6 and the lean driver', async () => {
    const bin = await buildK6(log);
    expect(existsSync(bin)).toBe(true);
    expect(existsSync(await buildDriver(log))).toBe(true);
    expect(await testDriver()).toMatch(/^ok\s/m);
  }, 900_000);

  it('chat, lean driver: parley and the Socket.IO peer, every message to every member once', async () => {
    const { file, result } = await bench('chat', 'smoke', { resultsDir: dir, log });
    const runs = result.runs as Run[];
    expect(runs.map((r) => r.target)).toEqual(['parley', 'socketio']);
    for (const r of runs) {
      checkRun(r);
      expect(correctness(r), `${r.target} thresholds\n${lines.join('\n')}`).toEqual({});
    }
    expect(JSON.parse(readFileSync(file, 'utf8'))).toMatchObject({ scenario: 'chat', size: 'smoke', params: { users: 200, roomSize: 10, driver: 'lean' } });
  }, 240_000);

  it('chat, k6: parley and the Socket.IO peer, the same; the report shows both drivers', async () => {
    let { file, result } = await bench('chat', 'smoke', { resultsDir: dir, log, driver: 'k6' });
    // Now and then k6 loses one socket whose handshake completed before its script saw the first frame
    // (bench/NOTES.md, "Connections that never opened"); the lean driver's run above has no such excuse.
    // Such a run is repeated once.
    if ((result.runs as Run[]).some((r) => r.connections.opened === r.connections.wanted - 1)) {
      log('k6 opened all but one socket: running the k6 smoke once more');
      ({ file, result } = await bench('chat', 'smoke', { resultsDir: dir, log, driver: 'k6' }));
    }
    expect(file).toMatch(/-chat-smoke-k6\.json$/);
    const runs = result.runs as Run[];
    expect(runs.map((r) => r.target)).toEqual(['parley', 'socketio']);
    for (const r of runs) {
      checkRun(r, 'k6');
      expect(correctness(r), `${r.target} thresholds\n${lines.join('\n')}`).toEqual({});
    }

    const out = await writeReport({ resultsDir: dir, out: join(dir, 'RESULTS.md'), plotsDir: join(dir, 'plots') });
    const md = readFileSync(out.out, 'utf8');
    expect(md).toContain('## chat · smoke\n');
    expect(md).toContain('## chat · smoke · k6\n');
    expect(md).toContain('## Efficiency');
    expect(md).toMatch(/socketio/);
    expect(out.plots.length).toBeGreaterThan(0);
  }, 240_000);

  it('history (parley): users away catch up over REST with nothing missing', async () => {
    const { result } = await bench('history', 'smoke', { resultsDir: dir, log, target: 'parley' });
    const r = (result.runs as Run[])[0] as Run;
    checkRun(r);
    expect(correctness(r)).toEqual({});
    expect(Object.keys(r.thresholds)).toContain('history_missing{count==0}');
    expect(r.extra['away']).toBe(100);
    expect(r.extra['back']).toBe(100);
    expect(r.extra['missing']).toBe(0);
    expect(r.extra['restFailed']).toBe(0);
    // Every room lost half its members while the rest kept posting: each user back had messages to fetch.
    expect(r.extra['restRequests']).toBeGreaterThanOrEqual(100);
  }, 180_000);

  it('storm (parley): one instance killed, its users back and resumed with nothing lost', async () => {
    const { result } = await bench('storm', 'smoke', { resultsDir: dir, log, target: 'parley' });
    const r = (result.runs as Run[])[0] as Run;
    checkRun(r);
    expect(correctness(r)).toEqual({});
    expect(r.extra['killed']).toBe('chat-2');
    expect(r.extra['dropped']).toBeGreaterThan(0);
    expect(r.extra['back']).toBe(r.extra['dropped']);
    expect(r.extra['unrecovered']).toBe(0);
    expect(r.extra['notBack']).toBe(0);
  }, 180_000);
});

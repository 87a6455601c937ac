/**
 * bench/report.ts against small hand-made result files: the newest file per scenario and size wins,
 * the Targets table reaches the right verdicts, parley/socketio ratios are computed the right way
 * round, a failed run and a missing target show up as such, NOTES.md is copied in, and the four plots
 * are real PNGs of a readable size. The efficiency figures lead, as parley/socketio ratios; every table
 * of a run carries its date, command and the driver's CPU; a k6 run of the same size keeps its own
 * section while the targets read the lean driver's. No stack, no load: the result files are the input.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeReport } from '../../bench/report.ts';

const lat = (p50: number, p99: number) => ({
  count: 1000,
  mean: p50,
  p50,
  p90: p50 * 2,
  p95: p50 * 3,
  p99,
  p999: p99 * 2,
  max: p99 * 4,
});
const step = (rate: number, roomSize: number, p50: number, p99: number, lost = 0) => ({
  rate,
  seconds: 10,
  sent: rate * 10,
  acked: rate * 10,
  sendFailed: 0,
  expected: rate * 10 * roomSize,
  delivered: rate * 10 * roomSize - lost,
  lost,
  duplicated: 0,
  messagesPerSec: rate,
  deliveriesPerSec: rate * roomSize,
  latencyMs: lat(p50, p99),
  ackMs: { p50, p99 },
});
const run = (target: string, users: number, steps: unknown[], memPerConnKB: number, cpuMs = 50, driver = { name: 'lean', cpuPct: 12.5 }) => ({
  target,
  driver,
  efficiency: { serverCpuMsPerKDelivery: cpuMs, rssKBPerConn: memPerConnKB },
  k6ThresholdsPassed: true,
  thresholds: {},
  connections: { wanted: users, opened: users, failed: 0, closedEarly: 0, connectMs: { p50: 2, p99: 30, max: 60 } },
  steps,
  resources: {
    processes: [
      {
        name: 'chat-1',
        kind: 'instance',
        rssBaselineKB: 80_000,
        rssLoadedKB: 80_000 + users * memPerConnKB,
        rssPeakKB: 200_000,
        cpuAvgPct: 40,
        cpuMaxPct: 90,
      },
      {
        name: 'redis-7000',
        kind: 'redis',
        rssBaselineKB: 7_000,
        rssLoadedKB: 9_000,
        rssPeakKB: 9_500,
        cpuAvgPct: 10,
        cpuMaxPct: 20,
      },
    ],
    memPerConnKB,
  },
  extra: {},
});
const file = (date: string, scenario: string, size: string, users: number, runs: unknown[], driver = 'lean') => ({
  schema: 1,
  scenario,
  size,
  date,
  commit: 'abc1234',
  command: `npm run bench -- ${scenario} ${size}${driver === 'k6' ? ' --driver k6' : ''}`,
  machine: { cpus: 2, memGiB: 24, node: 'v20.20.2', ...(driver === 'k6' ? { k6: 'v1.8.1' } : { driver: 'parley-driver 1.0.0' }), haproxy: '2.6.12', redis: '7.0.15' },
  params: { users, roomSize: 10, driver },
  runs,
});
const k6 = { name: 'k6', cpuPct: 150 };

const fixtures = {
  // Superseded by the next file: its 99 ms p50 must not appear anywhere.
  '2026-11-20-chat-10k.json': file('2026-11-20T10:00:00Z', 'chat', '10k', 10_000, [
    run('parley', 10_000, [step(1000, 10, 99, 99)], 9),
  ]),
  '2026-11-23-chat-10k.json': file('2026-11-23T10:00:00Z', 'chat', '10k', 10_000, [
    run('parley', 10_000, [step(1000, 10, 1.5, 7.2)], 5.5, 40),
    run('socketio', 10_000, [step(1000, 10, 3, 36)], 22, 80),
  ]),
  // k6 on the same size, later: its own section; the targets still read the lean driver's run.
  '2026-11-23-chat-10k-k6.json': file('2026-11-23T13:00:00Z', 'chat', '10k', 10_000, [
    run('parley', 10_000, [step(1000, 10, 800, 5000)], 5.5, 45, k6),
    run('socketio', 10_000, [step(1000, 10, 400, 1500)], 22, 90, k6),
  ], 'k6'),
  '2026-11-23-chat-fanout.json': file('2026-11-23T11:00:00Z', 'chat', 'fanout', 10_000, [
    run('parley', 10_000, [step(200, 100, 2, 10), step(600, 100, 5, 80), step(900, 100, 9, 150)], 6),
    run('socketio', 10_000, [step(200, 100, 4, 60), step(600, 100, 20, 400, 12), step(900, 100, 40, 900, 50)], 20),
  ]),
  // From before the runner recorded the efficiency figures: the report works them out from the samples.
  // Sending runs from 3 + 1 + 1 s to 15 s: (50 + 10) % of a core for 10 s = 6,000 CPU-ms over 10,000 deliveries.
  '2026-11-22-history-1k.json': {
    ...file('2026-11-22T10:00:00Z', 'history', '1k', 1000, [], 'k6'),
    params: { users: 1000, roomSize: 10, rampS: 1, settleS: 1, steps: [{ rate: 100, seconds: 10 }] },
    runs: [
      (() => {
        const r = run('parley', 1000, [step(100, 10, 1, 5)], 4) as Record<string, unknown> & { resources: { processes: unknown[]; samples?: unknown[] } };
        delete r.driver;
        delete r.efficiency;
        r.resources.processes.push({ name: 'k6-1', kind: 'k6', rssBaselineKB: 0, rssLoadedKB: 50_000, cpuAvgPct: 80 });
        r.resources.samples = Array.from({ length: 18 }, (_, t) => ({ t, rssKB: {}, cpuPct: { 'chat-1': 50, 'redis-7000': 10, 'k6-1': 80 } }));
        return r;
      })(),
    ],
  },
  '2026-11-23-storm-1k.json': file('2026-11-23T12:00:00Z', 'storm', '1k', 1000, [
    {
      ...run('parley', 1000, [step(100, 10, 1, 5)], 5),
      extra: { killed: 'chat-2', reconnectMs: { p50: 310, p99: 1900, max: 2400 }, resumedLost: 0 },
    },
    { target: 'socketio', error: 'peer exited with code 1' },
  ]),
};

let dir: string;
let md: string;
let plots: string[];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'parley-bench-report-'));
  mkdirSync(join(dir, 'results'));
  for (const [name, body] of Object.entries(fixtures)) writeFileSync(join(dir, 'results', name), JSON.stringify(body));
  // A chaos run's results share the folder (bench/CHAOS.md reports them).
  writeFileSync(join(dir, 'results', '2026-11-27-chaos-smoke.json'), JSON.stringify({ size: 'smoke', seed: 1, messages: 10, invariants: [] }));
  writeFileSync(join(dir, 'NOTES.md'), '# Where the time goes\n\nRedis pub/sub is the first wall.\n');
  const out = await writeReport({ resultsDir: join(dir, 'results'), out: join(dir, 'RESULTS.md') });
  md = readFileSync(out.out, 'utf8');
  plots = out.plots;
}, 60_000);

afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The cells of the markdown table row whose first cell starts with `label`. */
function row(label: string, after = ''): string[] {
  const text = after ? md.slice(md.indexOf(after)) : md;
  const line = text.split('\n').find((l) => l.startsWith(`| ${label}`));
  expect(line, `row ${label}`).toBeDefined();
  return (line as string).split(' | ').map((c) => c.replace(/^\| |\s*\|$/g, '').trim());
}

describe('bench report', () => {
  it('reports only the newest file for a scenario and size', () => {
    expect(md).toContain('1 older result file(s) superseded');
    expect(md).not.toContain('99.0 ms');
    expect(md).toContain('## chat · 10k');
    expect(md.match(/^## chat · 10k$/gm)).toHaveLength(1);
    expect(md.match(/^## chat · 10k · k6$/gm)).toHaveLength(1);
  });

  it('leaves the chaos runs in the same folder out', () => {
    expect(md).not.toContain('chaos');
  });

  it('leads with the efficiency figures as parley/socketio ratios, with date, command and driver CPU', () => {
    expect(md.indexOf('## Efficiency')).toBeGreaterThan(0);
    expect(md.indexOf('## Efficiency')).toBeLessThan(md.indexOf('## Machine'));
    expect(row('chat 10k', '## Efficiency')).toEqual([
      'chat 10k',
      '2026-11-23T10:00:00Z',
      '`npm run bench -- chat 10k`',
      'lean 12.5 % / 12.5 %',
      '40.0',
      '80.0',
      '0.50×',
      '5.50',
      '22.00',
      '0.25×',
    ]);
    expect(row('chat 10k (k6)', '## Efficiency')).toEqual(expect.arrayContaining(['`npm run bench -- chat 10k --driver k6`', 'k6 150.0 % / 150.0 %', '0.50×']));
    // A file from before the figures were recorded: dashes, not zeros.
    expect(row('chat 10k (k6)', '## Efficiency')).not.toContain('0.0');
  });

  it('works the efficiency figures out from the samples of a file from before they were recorded', () => {
    expect(row('history 1k (k6) †', '## Efficiency')).toEqual(expect.arrayContaining(['k6 80.0 %', '600.0', '4.00']));
    expect(md).toContain('† A run from before the runner recorded');
  });

  it('captions every table of a run with its date, command and driver CPU', () => {
    const section = md.slice(md.indexOf('## chat · fanout'), md.indexOf('## history'));
    const tables = section.split('\n').filter((l) => /^\| --- \|/.test(l) || /^\| ---/.test(l)).length;
    const captions = section.split('\n').filter((l) => l === '_2026-11-23T11:00:00Z · `npm run bench -- chat fanout` · driver CPU (parley / socketio, % of one core): lean 12.5 % / 12.5 %_').length;
    expect(tables).toBeGreaterThanOrEqual(4);
    expect(captions).toBe(tables);
    expect(row('server CPU-ms per 1,000 deliveries', '## chat · 10k · k6')).toEqual(expect.arrayContaining(['45.0', '90.0', '0.50×', 'parley (lower)']));
    expect(row('20,000 concurrent users')).toHaveLength(5);
    expect(row('10,000 users, rooms of 10')[4]).toBe('2026-11-23T10:00:00Z · lean 12.5 % / 12.5 %');
  });

  it('reaches the right verdict for each target', () => {
    expect(row('20,000 concurrent users')).toContain('**not measured yet**');
    expect(row('10,000 users, rooms of 10')).toEqual(expect.arrayContaining(['p50 1.50 ms at 1,000 msg/s', 'met']));
    expect(row('… p99 ≤ 20 ms')).toEqual(expect.arrayContaining(['p99 7.20 ms at 1,000 msg/s', 'met']));
    expect(row('… stretch')).toContain('**not met**');
    // 600 msg/s × rooms of 100 is the best step within p99 ≤ 100 ms: 60,000 deliveries/s, short of 72,000.
    const fan = row('Fan-out, rooms of 100');
    expect(fan[1]).toContain('60,000 deliveries/s at 600 msg/s');
    expect(fan[2]).toBe('**not met**');
    expect(fan[3]).toContain('(results/2026-11-23-chat-fanout.json)');
    // The peer's best step within p99 ≤ 100 ms and no loss is 200 msg/s: 20,000 deliveries/s.
    expect(row('≥ 2× the Socket.IO')).toEqual(
      expect.arrayContaining(['3.00× (parley 60,000 vs socketio 20,000 deliveries/s)', 'met']),
    );
    expect(row('Server memory ≤ 10 KB')[2]).toBe('met');
    expect(row('Less memory per connection')[1]).toContain('parley 5.50 vs socketio 22.00 KB/conn (0.25×');
  });

  it('puts parley and socketio side by side with the ratio and who did better', () => {
    const section = '## chat · 10k';
    expect(row('delivery latency p99 (ms)', section)).toEqual([
      'delivery latency p99 (ms)',
      '7.20',
      '36.0',
      '0.20×',
      'parley (lower)',
    ]);
    expect(row('delivery latency p50 (ms)', section)).toEqual([
      'delivery latency p50 (ms)',
      '1.50',
      '3.00',
      '0.50×',
      'parley (lower)',
    ]);
    expect(row('memory per connection (KB)', section)).toEqual([
      'memory per connection (KB)',
      '5.50',
      '22.00',
      '0.25×',
      'parley (lower)',
    ]);
    expect(row('delivered', section)).toEqual(['delivered', '100,000', '100,000', '1.00×', '—']);
    expect(row('best deliveries/s with p99 ≤ 100 ms', '## chat · fanout')).toEqual([
      'best deliveries/s with p99 ≤ 100 ms, none lost',
      '60,000',
      '20,000',
      '3.00×',
      'parley (higher)',
    ]);
    expect(row('900', '#### Rate steps')).toEqual([
      '900',
      '90,000',
      '90,000',
      '1.00×',
      '9.00',
      '40.0',
      '150.0',
      '900.0',
      '0.17×',
      '0 / 0',
      '50 / 0',
    ]);
  });

  it('shows a failed run and renders extra fields', () => {
    expect(md).toContain('> The socketio run failed: peer exited with code 1');
    expect(row('reconnect p99 (ms)', '## storm · 1k')).toEqual(['reconnect p99 (ms)', '1,900.0', '—', '—', '—']);
    expect(row('instance killed', '## storm · 1k')).toEqual(['instance killed', 'chat-2', '—', '—', '—']);
  });

  it('copies NOTES.md in verbatim', () => {
    expect(md).toContain('## Notes\n\n# Where the time goes\n\nRedis pub/sub is the first wall.\n');
  });

  it('writes the four plots as PNGs about 900 px wide, linked relative to RESULTS.md', () => {
    const names = [
      'latency-vs-connections.png',
      'latency-vs-throughput.png',
      'deliveries.png',
      'memory-per-connection.png',
    ];
    expect(plots.map((p) => p.split('/').pop())).toEqual(names);
    for (const name of names) {
      const path = join(dir, 'results', 'plots', name);
      expect(existsSync(path)).toBe(true);
      const png = readFileSync(path);
      expect(png.subarray(0, 8)).toEqual(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]));
      const [width, height] = [png.readUInt32BE(16), png.readUInt32BE(20)];
      expect(width).toBe(900);
      expect(height).toBeGreaterThan(300);
      expect(height).toBeLessThan(900);
      expect(md).toContain(`](results/plots/${name})`);
    }
  });
});

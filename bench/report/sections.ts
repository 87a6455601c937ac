/** One section per scenario and size: comparison, rate-step and process tables. */
import { caption, commandOf, DASH, esc, fmt, fmtInt, fmtMB, fmtMs, fmtNum, fmtRate, opt, table } from './format.ts';
import {
  arr,
  bestStep,
  byName,
  isObj,
  KINDS,
  num,
  obj,
  ok,
  type Proc,
  rank,
  type ResultFile,
  type Run,
  runOf,
  type Step,
  TARGETS,
  total,
} from './load.ts';

type Better = 'lower' | 'higher';
type Metric = {
  label: string;
  better?: Better;
  get: (r: Run) => number | string | undefined;
  f: (n: number) => string;
};

const stepMetrics = (single: boolean): Metric[] => {
  const step = (r: Run) => (single ? r.steps[0] : undefined);
  const sum = (key: string) => (r: Run) => total(r, key);
  const rows: Metric[] = [
    { label: 'sent', get: sum('sent'), f: fmtInt },
    { label: 'acked', get: sum('acked'), f: fmtInt },
    { label: 'send failed', better: 'lower', get: sum('sendFailed'), f: fmtInt },
    { label: 'expected deliveries', get: sum('expected'), f: fmtInt },
    { label: 'delivered', get: sum('delivered'), f: fmtInt },
    { label: 'lost', better: 'lower', get: sum('lost'), f: fmtInt },
    { label: 'duplicated', better: 'lower', get: sum('duplicated'), f: fmtInt },
  ];
  if (!single) {
    const best = (r: Run) => bestStep(r);
    return [
      ...rows,
      {
        label: 'best deliveries/s with p99 ≤ 100 ms, none lost',
        better: 'higher',
        get: (r) => best(r)?.n.deliveriesPerSec,
        f: fmtRate,
      },
      { label: '… at msg/s wanted', get: (r) => best(r)?.n.rate, f: fmtInt },
      { label: '… p99 there (ms)', get: (r) => best(r)?.latencyMs.p99, f: fmtMs },
    ];
  }
  return [
    { label: 'rate wanted (msg/s)', get: (r) => step(r)?.n.rate, f: fmtInt },
    ...rows,
    { label: 'messages/s', better: 'higher', get: (r) => step(r)?.n.messagesPerSec, f: fmtRate },
    { label: 'deliveries/s', better: 'higher', get: (r) => step(r)?.n.deliveriesPerSec, f: fmtRate },
    ...(['p50', 'p90', 'p95', 'p99', 'p999', 'max', 'mean'] as const).map(
      (k): Metric => ({
        label: `delivery latency ${k} (ms)`,
        better: 'lower',
        get: (r) => step(r)?.latencyMs[k],
        f: fmtMs,
      }),
    ),
    ...(['p50', 'p99'] as const).map((k): Metric => ({
      label: `ack ${k} (ms)`,
      better: 'lower',
      get: (r) => step(r)?.ackMs[k],
      f: fmtMs,
    })),
    // Split at the server's stamp on each message: sender → server, server → member.
    ...(['p50', 'p99'] as const).flatMap((k): Metric[] => [
      { label: `… sender → server stamp ${k} (ms)`, better: 'lower', get: (r) => step(r)?.toServerMs[k], f: fmtMs },
      { label: `… server stamp → member ${k} (ms)`, better: 'lower', get: (r) => step(r)?.fromServerMs[k], f: fmtMs },
    ]),
    // parley's own histogram (store in Redis → write to the sockets); its bucket bounds, so "at most".
    ...(['p50', 'p99'] as const).map((k): Metric => ({
      label: `delivery ${k} inside the instances, at most (ms)`,
      get: (r) => step(r)?.serverLatencyMs[k],
      f: fmtMs,
    })),
  ];
};

/** What the run cost, apart from the load generator's speed (bench/load.ts `efficiency`). */
export const EFFICIENCY_METRICS: Metric[] = [
  { label: 'server CPU-ms per 1,000 deliveries (instances + Redis + workers)', better: 'lower', get: (r) => r.eff['serverCpuMsPerKDelivery'], f: (n) => fmt(n, 1) },
  { label: 'instances\' RSS growth per connected user (KB)', better: 'lower', get: (r) => r.eff['rssKBPerConn'], f: (n) => fmt(n, 2) },
  { label: 'driver CPU while sending (% of one core)', get: (r) => r.driverCpuPct, f: (n) => fmt(n, 1) },
];

const CONN_METRICS: Metric[] = [
  { label: 'connections wanted', get: (r) => r.conn.wanted, f: fmtInt },
  { label: 'connections opened', better: 'higher', get: (r) => r.conn.opened, f: fmtInt },
  { label: 'connections failed', better: 'lower', get: (r) => r.conn.failed, f: fmtInt },
  { label: 'closed early', better: 'lower', get: (r) => r.conn.closedEarly, f: fmtInt },
  ...(['p50', 'p99', 'max'] as const).map((k): Metric => ({
    label: `connect ${k} (ms)`,
    better: 'lower',
    get: (r) => r.connectMs[k],
    f: fmtMs,
  })),
];

const EXTRA_LABELS: Record<string, string> = {
  catchupMs: 'catch-up',
  restRequests: 'REST requests',
  restFailed: 'REST requests failed',
  missing: 'messages missing after catch-up',
  killed: 'instance killed',
  affected: 'clients affected',
  reconnectMs: 'reconnect',
  reconnectFailed: 'reconnects failed',
  resumedLost: 'messages lost across the reconnect',
};

/** `extra` flattened to one metric per leaf; fields named …Ms are latencies, …Failed/missing/…Lost counts to keep at 0. */
function extraMetrics(runs: Run[]): Metric[] {
  const paths = new Map<string, string[]>();
  const walk = (v: unknown, path: string[]) => {
    if (isObj(v)) { for (const [k, x] of Object.entries(v)) walk(x, [...path, k]); }
    else if (typeof v === 'number' || typeof v === 'string' || typeof v === 'boolean') paths.set(path.join('.'), path);
  };
  for (const r of runs) walk(r.extra, []);
  return [...paths.values()].map((path): Metric => {
    const [head = '', ...rest] = path;
    const ms = /Ms$/.test(head);
    const label = `${EXTRA_LABELS[head] ?? head}${rest.length ? ` ${rest.join(' ')}` : ''}${ms ? ' (ms)' : ''}`;
    const better: Better | undefined = ms || /(Failed|Lost|missing|errors?)$/i.test(head) ? 'lower' : undefined;
    const get = (r: Run) => {
      let v: unknown = r.extra;
      for (const k of path) v = obj(v)[k];
      return typeof v === 'boolean' ? (v ? 'yes' : 'no') : typeof v === 'string' ? v : num(v);
    };
    return { label, ...(better ? { better } : {}), get, f: ms ? fmtMs : fmtNum };
  });
}

function resourceMetrics(runs: Run[]): Metric[] {
  const kinds = [...new Set(runs.flatMap((r) => r.procs.map((p) => p.kind)))].sort((a, b) =>
    rank(KINDS, a) - rank(KINDS, b) || byName(a, b)
  );
  const sum = (r: Run, kind: string, key: string) => {
    const xs = r.procs.filter((p) => p.kind === kind).map((p) => p.n[key]).filter((x): x is number => x !== undefined);
    return xs.length ? xs.reduce((a, b) => a + b, 0) : undefined;
  };
  return [
    { label: 'memory per connection (KB)', better: 'lower', get: (r) => r.memPerConnKB, f: (n) => fmt(n, 2) },
    { label: '… of it V8 heap used, before GC (KB)', better: 'lower', get: (r) => r.heapPerConnKB['heapUsed'], f: (n) => fmt(n, 2) },
    { label: '… V8 heap committed (KB)', better: 'lower', get: (r) => r.heapPerConnKB['heapTotal'], f: (n) => fmt(n, 2) },
    ...kinds.flatMap((k): Metric[] => [
      { label: `${k} RSS loaded, sum (MB)`, better: 'lower', get: (r) => sum(r, k, 'rssLoadedKB'), f: fmtMB },
      { label: `${k} CPU avg, sum (%)`, better: 'lower', get: (r) => sum(r, k, 'cpuAvgPct'), f: (n) => fmt(n, 1) },
    ]),
    {
      label: 'thresholds passed',
      get: (r) => (r.passed === undefined ? undefined : r.passed ? 'yes' : 'no'),
      f: String,
    },
  ];
}

/** parley/socketio, and who did better given the metric's direction. */
function compare(m: Metric, p: Run | undefined, s: Run | undefined): [string, string] {
  const [a, b] = [ok(p) ? m.get(p) : undefined, ok(s) ? m.get(s) : undefined];
  if (typeof a !== 'number' || typeof b !== 'number') return [DASH, DASH];
  const ratio = b !== 0 ? `${fmt(a / b, 2)}×` : DASH;
  if (!m.better) return [ratio, DASH];
  if (a === b) return [ratio, 'same'];
  const parleyWins = m.better === 'lower' ? a < b : a > b;
  return [ratio, `${parleyWins ? 'parley' : 'socketio'} (${m.better})`];
}

function targetsIn(f: ResultFile): string[] {
  const extra = f.runs.map((r) => r.target).filter((t) => !TARGETS.includes(t)).sort(byName);
  return [...TARGETS, ...new Set(extra)];
}

export function comparisonTable(f: ResultFile, metrics: Metric[]): string {
  const targets = targetsIn(f);
  const runs = targets.map((t) => runOf(f, t));
  const rows = metrics
    .filter((m) => runs.some((r) => ok(r) && m.get(r) !== undefined))
    .map((m) => {
      const cells = runs.map((r) => {
        const v = ok(r) ? m.get(r) : undefined;
        return v === undefined ? DASH : typeof v === 'number' ? m.f(v) : esc(v);
      });
      return [m.label, ...cells, ...compare(m, runs[0], runs[1])];
    });
  if (rows.length === 0) return '';
  return table(['', ...targets, 'parley/socketio', 'better'], rows, [
    '---',
    ...targets.map(() => '---:'),
    '---:',
    '---',
  ]);
}

function stepsTable(f: ResultFile): string[] {
  const [p, s] = [runOf(f, 'parley'), runOf(f, 'socketio')];
  const n = Math.max(ok(p) ? p.steps.length : 0, ok(s) ? s.steps.length : 0);
  const rows: string[][] = [];
  for (let i = 0; i < n; i++) {
    const [a, b] = [ok(p) ? p.steps[i] : undefined, ok(s) ? s.steps[i] : undefined];
    const rate = [a?.n.rate, b?.n.rate].filter((x): x is number => x !== undefined);
    const pair = (
      g: (x: Step) => number | undefined,
      fm: (n: number) => string,
    ) => [opt(a && g(a), fm), opt(b && g(b), fm)];
    const lostDup = (x: Step | undefined) => (x ? `${opt(x.n.lost, fmtInt)} / ${opt(x.n.duplicated, fmtInt)}` : DASH);
    const dp = a?.n.deliveriesPerSec;
    const ds = b?.n.deliveriesPerSec;
    rows.push([
      rate.length ? [...new Set(rate)].map(fmtInt).join(' / ') : DASH,
      ...pair((x) => x.n.deliveriesPerSec, fmtRate),
      dp !== undefined && ds ? `${fmt(dp / ds, 2)}×` : DASH,
      ...pair((x) => x.latencyMs.p50, fmtMs),
      ...pair((x) => x.latencyMs.p99, fmtMs),
      a?.latencyMs.p99 !== undefined && b?.latencyMs.p99 ? `${fmt(a.latencyMs.p99 / b.latencyMs.p99, 2)}×` : DASH,
      lostDup(a),
      lostDup(b),
    ]);
  }
  return [
    '#### Rate steps',
    '',
    'Deliveries/s: higher is better; p99: lower is better. Ratios are parley/socketio.',
    '',
    table(
      [
        'msg/s wanted',
        'parley deliveries/s',
        'socketio deliveries/s',
        'deliveries parley/socketio',
        'parley p50 ms',
        'socketio p50 ms',
        'parley p99 ms',
        'socketio p99 ms',
        'p99 parley/socketio',
        'parley lost / dup',
        'socketio lost / dup',
      ],
      rows,
    ),
    '',
  ];
}

function stepDetail(r: Run): string {
  const rows = r.steps.map((s) => [
    opt(s.n.rate, fmtInt),
    opt(s.n.seconds, fmtNum),
    ...(['sent', 'acked', 'sendFailed', 'expected', 'delivered', 'lost', 'duplicated'] as const).map((k) =>
      opt(s.n[k], fmtInt)
    ),
    opt(s.n.messagesPerSec, fmtRate),
    opt(s.n.deliveriesPerSec, fmtRate),
    ...(['p50', 'p90', 'p99', 'p999', 'max'] as const).map((k) => opt(s.latencyMs[k], fmtMs)),
    opt(s.ackMs.p99, fmtMs),
  ]);
  const head = [
    'msg/s wanted',
    's',
    'sent',
    'acked',
    'send failed',
    'expected',
    'delivered',
    'lost',
    'dup',
    'msg/s',
    'deliveries/s',
    'p50 ms',
    'p90 ms',
    'p99 ms',
    'p99.9 ms',
    'max ms',
    'ack p99 ms',
  ];
  return table(head, rows);
}

/** One row per process name, both targets side by side (RSS baseline → loaded, peak; CPU avg / max). */
function processTable(f: ResultFile): string | undefined {
  const runs = targetsIn(f).map((t) => runOf(f, t)).filter((r): r is Run => ok(r) && r.procs.length > 0);
  if (runs.length === 0) return undefined;
  const key = (p: Proc) => `${p.kind}\0${p.name}`;
  const procs = new Map<string, Proc>();
  for (const r of runs) for (const p of r.procs) if (!procs.has(key(p))) procs.set(key(p), p);
  const order = [...procs.values()].sort((a, b) =>
    rank(KINDS, a.kind) - rank(KINDS, b.kind) || byName(a.kind, b.kind) || byName(a.name, b.name)
  );
  const rows = order.map((p) => [
    esc(p.name),
    esc(p.kind),
    ...runs.flatMap((r) => {
      const q = r.procs.find((x) => key(x) === key(p));
      if (!q) return [DASH, DASH];
      const rss = `${opt(q.n.rssBaselineKB, fmtMB)} → ${opt(q.n.rssLoadedKB, fmtMB)} (${opt(q.n.rssPeakKB, fmtMB)})`;
      return [rss, `${opt(q.n.cpuAvgPct, (n) => fmt(n, 1))} / ${opt(q.n.cpuMaxPct, (n) => fmt(n, 1))}`];
    }),
  ]);
  const head = [
    'process',
    'kind',
    ...runs.flatMap((r) => [`${r.target} RSS MB: baseline → loaded (peak)`, `${r.target} CPU %: avg / max`]),
  ];
  return table(head, rows, ['---', '---', ...runs.flatMap(() => ['---:', '---:'])]);
}

const PARAM_LABELS: [string, string, (n: number) => string][] = [
  ['users', 'users', fmtInt],
  ['roomSize', 'room size', fmtInt],
  ['rooms', 'rooms', fmtInt],
  ['instances', 'chat instances', fmtInt],
  ['haproxy', 'HAProxy processes', fmtInt],
  ['driverProcesses', 'driver processes', fmtInt],
  ['k6Processes', 'k6 processes', fmtInt],
  ['vus', 'k6 VUs', fmtInt],
  ['rampS', 'ramp s', fmtNum],
  ['heartbeatS', 'heartbeat s', fmtNum],
];

function paramsLine(params: Record<string, unknown>): string {
  const parts: string[] = [];
  for (const [key, label, f] of PARAM_LABELS) {
    if (num(params[key]) !== undefined) parts.push(`${label} ${f(num(params[key]) as number)}`);
  }
  const steps = arr(params.steps).map((s) =>
    `${opt(num(obj(s).rate), fmtInt)} msg/s × ${opt(num(obj(s).seconds), fmtNum)} s`
  );
  if (steps.length) parts.push(`steps: ${steps.join(', ')}`);
  for (const [k, v] of Object.entries(params)) {
    if (k === 'steps' || PARAM_LABELS.some(([key]) => key === k)) continue;
    if (typeof v === 'number' || typeof v === 'string' || typeof v === 'boolean') parts.push(`${k} ${esc(String(v))}`);
  }
  return parts.join(' · ');
}

export function sectionMarkdown(f: ResultFile, source: string): string[] {
  const md = [`## ${f.scenario} · ${f.size}${f.driver === 'k6' ? ' · k6' : ''}`, ''];
  const meta = [
    `File: ${source}`,
    f.date && `date ${f.date}`,
    f.commit && `commit \`${f.commit}\``,
    `\`${commandOf(f)}\``,
  ];
  md.push(meta.filter(Boolean).join(' · '), '');
  const params = paramsLine(f.params);
  if (params) md.push(`Parameters: ${params}.`, '');
  for (const t of targetsIn(f)) {
    const r = runOf(f, t);
    if (!r && TARGETS.includes(t)) md.push(`> No ${t} run in this file.`, '');
    else if (r?.error !== undefined) md.push(`> The ${t} run failed: ${esc(r.error)}`, '');
  }
  const okRuns = f.runs.filter(ok);
  if (okRuns.length === 0) return md;
  const multi = okRuns.some((r) => r.steps.length > 1);
  md.push(
    caption(f),
    '',
    comparisonTable(f, [...EFFICIENCY_METRICS, ...CONN_METRICS, ...stepMetrics(!multi), ...extraMetrics(okRuns), ...resourceMetrics(okRuns)]),
    '',
  );
  if (multi) {
    md.push(...stepsTable(f).flatMap((l) => (l === '#### Rate steps' ? [l, '', caption(f)] : [l])));
    for (const r of okRuns) if (r.steps.length) md.push(`Steps, ${r.target}:`, '', caption(f), '', stepDetail(r), '');
  }
  const failing = okRuns.flatMap((r) =>
    Object.entries(r.thresholds).filter(([, v]) => !v).map(([k]) => `${r.target}: \`${esc(k)}\``)
  );
  if (failing.length) md.push(`${f.driver === 'k6' ? 'k6' : 'Driver'} thresholds not met: ${failing.join(', ')}.`, '');
  const procs = processTable(f);
  if (procs) md.push('Processes (CPU % is of one core):', '', caption(f), '', procs, '');
  return md;
}

/**
 * Reading bench result files (bench/results/*.json) and picking the newest per scenario and size, plus the
 * queries the report runs on them. Loading: every field is optional; wrong types read as missing.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, sep } from 'node:path';
import { cpuMs, SERVER_KINDS } from '../load.ts';

export type Nums = Record<string, number>;
export type Step = { n: Nums; latencyMs: Nums; ackMs: Nums; serverLatencyMs: Nums; toServerMs: Nums; fromServerMs: Nums };
export type Proc = { name: string; kind: string; n: Nums };
export type Run = {
  target: string;
  error?: string;
  passed?: boolean;
  thresholds: Record<string, boolean>;
  conn: Nums;
  connectMs: Nums;
  steps: Step[];
  procs: Proc[];
  memPerConnKB?: number;
  /** V8's heap used / committed and memory outside it (KB per connection), at the same moment as memPerConnKB. */
  heapPerConnKB: Nums;
  extra: Record<string, unknown>;
  /** The load generator's CPU while sending (% of one core, all its processes). */
  driverCpuPct?: number;
  /** serverCpuMsPerKDelivery, rssKBPerConn: what the run cost the servers. */
  eff: Nums;
  /** The driver CPU and efficiency were worked out by the report from the run's samples (older files). */
  derived?: boolean;
};
export type ResultFile = {
  name: string;
  path: string;
  scenario: string;
  size: string;
  date?: string;
  commit?: string;
  command?: string;
  machine: Record<string, string | number>;
  params: Record<string, unknown>;
  /** The load generator: `lean` (bench/driver) or `k6`; files from before the driver existed are k6's. */
  driver: string;
  runs: Run[];
};

export const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
export const obj = (v: unknown): Record<string, unknown> => (isObj(v) ? v : {});
export const arr = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);
export const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);
function nums(v: unknown): Nums {
  const out: Nums = {};
  for (const [k, x] of Object.entries(obj(v))) if (num(x) !== undefined) out[k] = x as number;
  return out;
}

/**
 * The efficiency figures of a file from before the runner recorded them, from what it did record: the
 * per-second CPU samples over the sending phase (it starts 3 s + ramp + settle after the first sample),
 * the deliveries, and the instances' RSS baseline and loaded figures.
 */
function derive(run: Run, r: Record<string, unknown>, params: Record<string, unknown>): Run {
  const samples = arr(obj(r.resources).samples).map((x) => ({ t: num(obj(x).t) ?? 0, cpuPct: nums(obj(x).cpuPct) }));
  const [ramp, settle] = [num(params.rampS), num(params.settleS)];
  const sendS = arr(params.steps).reduce<number>((a, x) => a + (num(obj(x).seconds) ?? 0), 0);
  if (samples.length < 2 || ramp === undefined || settle === undefined || sendS <= 0) return run;
  const from = 3 + ramp + settle;
  const names = (kinds: string[]) => run.procs.filter((p) => kinds.includes(p.kind)).map((p) => p.name);
  const delivered = total(run, 'delivered');
  const opened = run.conn.opened;
  const killed = typeof run.extra.killed === 'string' ? run.extra.killed : undefined;
  const grown = run.procs.filter((p) => p.kind === 'instance' && p.name !== killed).reduce((a, p) => a + (p.n.rssLoadedKB ?? 0) - (p.n.rssBaselineKB ?? 0), 0);
  const eff: Nums = {};
  if (delivered) eff.serverCpuMsPerKDelivery = Math.round((cpuMs(samples, names(SERVER_KINDS), from, from + sendS) / delivered) * 1000 * 100) / 100;
  if (opened) eff.rssKBPerConn = Math.round((grown / opened) * 100) / 100;
  const driverCpuPct = Math.round((cpuMs(samples, names(['k6', 'driver']), from, from + sendS) / (sendS * 1000)) * 1000) / 10;
  return { ...run, eff, driverCpuPct, derived: true };
}

function readRun(v: unknown, params: Record<string, unknown>): Run {
  const run = readRunFields(v);
  return run.error === undefined && run.driverCpuPct === undefined && Object.keys(run.eff).length === 0 ? derive(run, obj(v), params) : run;
}

function readRunFields(v: unknown): Run {
  const r = obj(v);
  const res = obj(r.resources);
  const thresholds: Record<string, boolean> = {};
  for (const [k, x] of Object.entries(obj(r.thresholds))) if (typeof x === 'boolean') thresholds[k] = x;
  const error = r.error === undefined || r.error === null
    ? undefined
    : typeof r.error === 'string'
    ? r.error
    : JSON.stringify(r.error);
  return {
    target: str(r.target) ?? 'unknown',
    ...(error !== undefined ? { error } : {}),
    ...(typeof r.k6ThresholdsPassed === 'boolean' ? { passed: r.k6ThresholdsPassed } : {}),
    thresholds,
    conn: nums(r.connections),
    connectMs: nums(obj(r.connections).connectMs),
    steps: arr(r.steps).map((s) => ({ n: nums(s), latencyMs: nums(obj(s).latencyMs), ackMs: nums(obj(s).ackMs), serverLatencyMs: nums(obj(s).serverLatencyMs), toServerMs: nums(obj(s).toServerMs), fromServerMs: nums(obj(s).fromServerMs) })),
    procs: arr(res.processes).map((p) => ({
      name: str(obj(p).name) ?? '?',
      kind: str(obj(p).kind) ?? 'other',
      n: nums(p),
    })),
    ...(num(res.memPerConnKB) !== undefined ? { memPerConnKB: num(res.memPerConnKB) as number } : {}),
    heapPerConnKB: nums(res.heapPerConnKB),
    extra: obj(r.extra),
    ...(num(obj(r.driver).cpuPct) !== undefined ? { driverCpuPct: num(obj(r.driver).cpuPct) as number } : {}),
    eff: nums(r.efficiency),
  };
}

function readFile(path: string): ResultFile {
  const j = obj(JSON.parse(readFileSync(path, 'utf8')));
  const name = path.split(sep).pop() ?? path;
  const fromName = /^\d{4}-\d{2}-\d{2}-([^-]+)-(.+)\.json$/.exec(name);
  const machine: Record<string, string | number> = {};
  for (const [k, x] of Object.entries(obj(j.machine))) {
    if (typeof x === 'string' || num(x) !== undefined) machine[k] = x as string | number;
  }
  const f: ResultFile = {
    name,
    path,
    scenario: str(j.scenario) ?? fromName?.[1] ?? '?',
    size: str(j.size) ?? fromName?.[2] ?? '?',
    machine,
    params: obj(j.params),
    driver: str(obj(j.params).driver) ?? 'k6',
    runs: arr(j.runs).map((r) => readRun(r, obj(j.params))),
  };
  for (const k of ['date', 'commit', 'command'] as const) if (str(j[k])) f[k] = str(j[k]);
  return f;
}

const SCENARIOS = ['chat', 'history', 'storm'];
export const TARGETS = ['parley', 'socketio'];
export const KINDS = ['instance', 'haproxy', 'redis', 'worker', 'mongo', 'driver', 'k6'];
export const DRIVERS = ['lean', 'k6'];
export const rank = (list: string[], x: string) => (list.includes(x) ? list.indexOf(x) : list.length);
export const byName = (a: string, b: string) => a.localeCompare(b, 'en', { numeric: true });

/** Users a size stands for: params.users, else "10k" → 10000, "smoke" → 0; named sizes (fanout) last. */
export function sizeUsers(f: ResultFile): number {
  const users = num(f.params.users);
  if (users !== undefined) return users;
  const k = /^(\d+(?:\.\d+)?)k$/.exec(f.size);
  return k ? Number(k[1]) * 1000 : f.size === 'smoke' ? 0 : Infinity;
}

function sectionOrder(a: ResultFile, b: ResultFile): number {
  return (
    rank(SCENARIOS, a.scenario) - rank(SCENARIOS, b.scenario) ||
    byName(a.scenario, b.scenario) ||
    sizeUsers(a) - sizeUsers(b) ||
    byName(a.size, b.size) ||
    rank(DRIVERS, a.driver) - rank(DRIVERS, b.driver)
  );
}

/** The newest file per (scenario, size, driver), in report order. Newest = latest `date`, then latest file name. */
export function loadResults(dir: string): { files: ResultFile[]; superseded: number; unreadable: string[] } {
  // Chaos runs (`<date>-chaos-<size>.json`) share the folder; bench/CHAOS.md reports them.
  const names = existsSync(dir) ? readdirSync(dir).filter((n) => n.endsWith('.json') && !/^\d{4}-\d\d-\d\d-chaos-/.test(n)).sort() : [];
  const newest = new Map<string, ResultFile>();
  const unreadable: string[] = [];
  for (const n of names) {
    let f: ResultFile;
    try {
      f = readFile(join(dir, n));
    } catch {
      unreadable.push(n);
      continue;
    }
    const key = `${f.scenario}\0${f.size}\0${f.driver}`;
    const old = newest.get(key);
    if (!old || (f.date ?? '') > (old.date ?? '') || ((f.date ?? '') === (old.date ?? '') && f.name > old.name)) {
      newest.set(key, f);
    }
  }
  const files = [...newest.values()].sort(sectionOrder);
  return { files, superseded: names.length - unreadable.length - files.length, unreadable };
}

/** One file per (scenario, size): the lean driver's when there is one, else k6's (for targets and plots). */
export function preferred(files: ResultFile[]): ResultFile[] {
  const lean = new Set(files.filter((f) => f.driver === 'lean').map((f) => `${f.scenario}\0${f.size}`));
  return files.filter((f) => f.driver === 'lean' || !lean.has(`${f.scenario}\0${f.size}`));
}

export const runOf = (f: ResultFile | undefined, target: string) => f?.runs.find((r) => r.target === target);
export const ok = (r: Run | undefined): r is Run => r !== undefined && r.error === undefined;
/** Sum of a step field over all steps; undefined when no step has it. */
export function total(r: Run | undefined, key: string): number | undefined {
  const xs = (r?.steps ?? []).map((s) => s.n[key]).filter((x): x is number => x !== undefined);
  return xs.length ? xs.reduce((a, b) => a + b, 0) : undefined;
}
/** The step with the most deliveries/s among those with p99 ≤ 100 ms and nothing lost. */
export function bestStep(r: Run | undefined): Step | undefined {
  let best: Step | undefined;
  for (const s of r?.steps ?? []) {
    const d = s.n.deliveriesPerSec;
    const p99 = s.latencyMs.p99;
    if (d === undefined || p99 === undefined || p99 > 100 || s.n.lost !== 0) continue;
    if (!best || d > (best.n.deliveriesPerSec ?? 0)) best = s;
  }
  return best;
}
export const opened = (r: Run | undefined) => r?.conn.opened ?? r?.conn.wanted;

/**
 * The load side of a benchmark run: the lean Go driver (bench/driver/, the default) or k6
 * (bench/k6/<scenario>.js, `--driver k6`), in as many processes as the sockets need, each printing one
 * `BENCH {json}` result line per VU (the driver: one per process) that bench/run.ts merges; and the
 * efficiency figures of a run, which do not depend on the load generator's own speed.
 */
import { spawn } from 'node:child_process';
import { openSync, readFileSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Hist } from './stats.ts';

const ROOT = resolve(import.meta.dirname, '..');

export type Driver = 'lean' | 'k6';
export const DRIVERS: readonly Driver[] = ['lean', 'k6'];

/**
 * Sockets per load process, under the 20,000 open files a process may hold: k6 keeps room for its own
 * files and VUs; the driver needs one file per socket and a few for REST and its runtime.
 */
export const SOCKETS_PER_PROCESS: Record<Driver, number> = { k6: 9000, lean: 18_000 };

export const processesFor = (driver: Driver, users: number) => Math.max(1, Math.ceil(users / SOCKETS_PER_PROCESS[driver]));

export type VuResult = {
  proto: string;
  wanted: number;
  opened: number;
  failed: number;
  closedEarly: number;
  closeCodes: Record<string, number>;
  errors?: Record<string, number>;
  serverErrors: Record<string, number>;
  hbSent: number;
  hbOk: number;
  connectHist: Hist;
  /** Per room: members here that joined, and acked messages per step sent from here. */
  rooms?: Record<string, { members: number; acked: number[] }>;
  /** Messages never received by a member that got later ones (holes left at the end). */
  gaps: number;
  steps: { sent: number; acked: number; delivered: number; dup: number; reordered: number; hist: Hist; ackHist: Hist; inHist?: Hist; outHist?: Hist }[];
  extra?: Record<string, unknown>;
};

export type LoadProcess = { name: string; kind: 'k6' | 'driver'; pid: number; exit: Promise<number> };

/** One running load: its processes, and what they printed once they have exited. */
export type Load = { processes: LoadProcess[]; results: () => VuResult[]; thresholds: () => Record<string, boolean> };

function spawnLogged(bin: string, args: string[], env: NodeJS.ProcessEnv, logFile: string | null): { pid: number; exit: Promise<number> } {
  const out = logFile ? openSync(logFile, 'w') : 'ignore';
  const child = spawn(bin, args, { cwd: ROOT, env, stdio: ['ignore', out, 'inherit'] });
  const exit = new Promise<number>((done, fail) => {
    child.on('error', fail);
    child.on('exit', (code) => done(code ?? -1));
  });
  return { pid: child.pid ?? 0, exit };
}

const lines = (file: string, prefix: string): string[] => {
  try {
    return readFileSync(file, 'utf8').split('\n').filter((l) => l.startsWith(prefix)).map((l) => l.slice(prefix.length));
  } catch {
    return [];
  }
};

/** Threshold outcomes from k6's summary export: `metric{expr}` → passed. */
function k6Thresholds(summaryFile: string): Record<string, boolean> {
  const out: Record<string, boolean> = {};
  try {
    const s = JSON.parse(readFileSync(summaryFile, 'utf8')) as { metrics: Record<string, { thresholds?: Record<string, boolean> }> };
    for (const [m, v] of Object.entries(s.metrics)) {
      // The legacy export records `true` for a threshold that FAILED.
      for (const [expr, failed] of Object.entries(v.thresholds ?? {})) out[`${m}{${expr}}`] = !failed;
    }
  } catch {
    // no summary: k6 died
  }
  return out;
}

const andAll = (maps: Record<string, boolean>[]) => {
  const th: Record<string, boolean> = {};
  for (const m of maps) for (const [k, v] of Object.entries(m)) th[k] = (th[k] ?? true) && v;
  return th;
};

/**
 * Starts the load: one process per entry of `envs` (the settings bench/k6/chat.js documents), logging
 * into `logDir`. k6 writes its result lines to its log file; the driver to its standard output.
 */
export function startLoad(driver: Driver, bin: string, scenario: string, envs: Record<string, string>[], logDir: string): Load {
  const logs: string[] = [];
  const summaries: string[] = [];
  const processes = envs.map((env, i): LoadProcess => {
    const name = `${driver === 'k6' ? 'k6' : 'driver'}-${i + 1}`;
    const logFile = join(logDir, `${name}.log`);
    rmSync(logFile, { force: true }); // k6 appends to an existing log file
    logs.push(logFile);
    if (driver === 'k6') {
      const summaryFile = join(logDir, `${name}-summary.json`);
      rmSync(summaryFile, { force: true });
      summaries.push(summaryFile);
      const args = ['run', '--quiet', '--no-usage-report', '--log-format', 'raw', '--log-output', `file=${logFile}`, '--summary-export', summaryFile];
      for (const [k, v] of Object.entries(env)) args.push('-e', `${k}=${v}`);
      args.push(join(ROOT, 'bench', 'k6', `${scenario}.js`));
      return { name, kind: 'k6', ...spawnLogged(bin, args, process.env, null) };
    }
    return { name, kind: 'driver', ...spawnLogged(bin, [scenario], { ...process.env, ...env }, logFile) };
  });
  return {
    processes,
    results: () => logs.flatMap((f) => lines(f, 'BENCH ').map((l) => JSON.parse(l) as VuResult)),
    thresholds: () =>
      driver === 'k6' ? andAll(summaries.map(k6Thresholds)) : andAll(logs.map((f) => Object.assign({}, ...lines(f, 'THRESHOLDS ').map((l) => JSON.parse(l) as Record<string, boolean>)))),
  };
}

// ---- efficiency

type Sample = { t: number; cpuPct: Record<string, number> };
type Proc = { name: string; kind: string };

/** The server side whose CPU a delivery costs: the chat instances, Redis and the workers. */
export const SERVER_KINDS = ['instance', 'redis', 'worker'];

/** CPU-ms of the named processes between t0 and t1 (seconds of the sampler), from the per-second samples. */
export function cpuMs(samples: Sample[], names: string[], t0: number, t1: number): number {
  let ms = 0;
  for (let i = 1; i < samples.length; i++) {
    const s = samples[i] as Sample;
    const prev = samples[i - 1] as Sample;
    // A sample's CPU % is the average since the previous one: count the part of that interval in [t0, t1].
    const overlap = Math.min(s.t, t1) - Math.max(prev.t, t0);
    if (overlap <= 0) continue;
    for (const n of names) ms += ((s.cpuPct[n] ?? 0) / 100) * overlap * 1000;
  }
  return ms;
}

/**
 * What a run costs, apart from how fast the load generator is: the driver's own CPU while sending (% of one
 * core, summed over its processes), the servers' CPU per 1,000 deliveries in the same window, and the
 * instances' RSS growth per connected user (the quiet window after the ramp against the baseline).
 */
export function efficiency(opts: { samples: Sample[]; procs: Proc[]; driver: Driver; sendFrom: number; sendTo: number; deliveries: number; rssGrownKB: number; opened: number }) {
  const { samples, procs, sendFrom, sendTo } = opts;
  const secs = Math.max(0.001, sendTo - sendFrom);
  const names = (kinds: string[]) => procs.filter((p) => kinds.includes(p.kind)).map((p) => p.name);
  const round = (x: number, d = 10) => Math.round(x * d) / d;
  const driverMs = cpuMs(samples, names(['k6', 'driver']), sendFrom, sendTo);
  const serverMs = cpuMs(samples, names(SERVER_KINDS), sendFrom, sendTo);
  return {
    driver: { name: opts.driver, cpuPct: round((driverMs / (secs * 1000)) * 100) },
    efficiency: {
      serverCpuMsPerKDelivery: opts.deliveries > 0 ? round((serverMs / opts.deliveries) * 1000, 100) : null,
      rssKBPerConn: opts.opened > 0 ? round(opts.rssGrownKB / opts.opened, 100) : null,
    },
  };
}

/**
 * One benchmark run on the whole topology, for parley and for the Socket.IO peer in turn:
 *
 *   npm run bench -- <scenario> <size> [--target both|parley|socketio] [--driver lean|k6] [--base-port 21000]
 *                    [--keep] [--presence N] [--archive N] [--profile] [--results dir] [--no-report]
 *   npm run bench -- list
 *
 * --profile runs every chat instance with `node --cpu-prof` into .stack-bench-<target>/profiles/
 * (summarize with `npx tsx bench/profile.ts <files>`); --presence/--archive set parley's workers
 * (default: 1 presence worker, no archive worker: here the archive's MongoDB is FerretDB on SQLite,
 * whose writes take a large share of the 2 cores the chat path is measured on; bench/NOTES.md has the
 * figures with it); --keep leaves the stack up afterwards. --driver picks the load generator: the lean Go
 * driver (bench/driver/, the default: one goroutine per socket, a fraction of k6's CPU per frame) or k6
 * running bench/k6/<scenario>.js; both run the same scenarios with the same accounting.
 *
 * For each target it starts the stack (infra/stack.ts: Redis Cluster, HAProxy, chat instances, and for
 * parley the MongoDB-compatible server and both workers), samples the RSS and CPU of every process once a
 * second, runs the scenario in as many load processes as the sockets need (bench/load.ts), stops the
 * stack, and merges what every process printed. The run is written to
 * bench/results/<date>-<scenario>-<size>[-k6].json and bench/RESULTS.md is regenerated from all result
 * files (bench/report.ts).
 */
import { execFileSync } from 'node:child_process';
import { cpus, totalmem } from 'node:os';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { down, status, up } from '../infra/stack.ts';
import { buildDriver, driverVersion } from './driver/build.ts';
import { buildK6, k6Version } from './k6/build.ts';
import { type Driver, DRIVERS, efficiency, processesFor, startLoad, type VuResult } from './load.ts';
import { SIZES, type Scenario, type Size } from './sizes.ts';
import { mergeHist, summarize, type Hist, type Summary } from './stats.ts';

const ROOT = resolve(import.meta.dirname, '..');
const RESULTS = join(ROOT, 'bench', 'results');
/** Sockets per VU: one VU is one JavaScript runtime; several share a process's cores. */
const SOCKETS_PER_VU = 1250;

type Target = 'parley' | 'socketio';
type ProcInfo = { name: string; kind: string; pid: number };
type Sample = { t: number; rssKB: Record<string, number>; cpuPct: Record<string, number> };

// ---- /proc sampling

const TICK = 100; // USER_HZ on Linux
function readProc(pid: number): { rssKB: number; cpuTicks: number } | undefined {
  try {
    const st = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = st.slice(st.lastIndexOf(')') + 2).split(' ');
    const cpuTicks = Number(f[11]) + Number(f[12]); // utime + stime
    const rss = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return { rssKB: rss ? Number(rss[1]) : 0, cpuTicks };
  } catch {
    return undefined;
  }
}

class Sampler {
  samples: Sample[] = [];
  private last = new Map<number, { ticks: number; at: number }>();
  private timer: NodeJS.Timeout | undefined;
  private readonly t0 = Date.now();
  constructor(private procs: ProcInfo[]) {}
  add(p: ProcInfo) {
    this.procs.push(p);
  }
  sample(): Sample {
    const now = Date.now();
    const s: Sample = { t: (now - this.t0) / 1000, rssKB: {}, cpuPct: {} };
    for (const p of this.procs) {
      const r = readProc(p.pid);
      if (!r) continue;
      s.rssKB[p.name] = r.rssKB;
      const prev = this.last.get(p.pid);
      if (prev) s.cpuPct[p.name] = Math.round(((r.cpuTicks - prev.ticks) / TICK / ((now - prev.at) / 1000)) * 1000) / 10;
      this.last.set(p.pid, { ticks: r.cpuTicks, at: now });
    }
    this.samples.push(s);
    return s;
  }
  start(everyMs = 1000) {
    this.sample();
    this.timer = setInterval(() => this.sample(), everyMs);
  }
  stop() {
    clearInterval(this.timer);
  }
  /** Seconds since the sampler was made. */
  now(): number {
    return (Date.now() - this.t0) / 1000;
  }
}

const median = (xs: number[]) => {
  if (xs.length === 0) return 0;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor((s.length - 1) / 2)] as number;
};

/** V8's view of one instance's memory, in KB: heap used, heap committed, and memory outside the heap (Buffers). */
type HeapKB = { heapUsed: number; heapTotal: number; external: number };

/** Reads it from parley's `/metrics` (prom-client's process gauges) or the peer's `/health`. */
async function heapOf(target: Target, url: string): Promise<HeapKB | undefined> {
  try {
    if (target === 'socketio') {
      const m = ((await (await fetch(`${url}/health`)).json()) as { memory?: { heapUsed: number; heapTotal: number; external: number } }).memory;
      return m ? { heapUsed: m.heapUsed / 1024, heapTotal: m.heapTotal / 1024, external: m.external / 1024 } : undefined;
    }
    const text = await (await fetch(`${url}/metrics`)).text();
    const gauge = (name: string) => Number(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)`, 'm').exec(text)?.[1] ?? NaN) / 1024;
    const h = { heapUsed: gauge('nodejs_heap_size_used_bytes'), heapTotal: gauge('nodejs_heap_size_total_bytes'), external: gauge('nodejs_external_memory_bytes') };
    return Object.values(h).every(Number.isFinite) ? h : undefined;
  } catch {
    return undefined;
  }
}

/**
 * parley's own delivery latency (`parley_delivery_latency_seconds`: from the message's store time in
 * Redis to its write to the local sockets), summed over the instances, as a histogram keyed by the
 * bucket's upper bound in ms. The k6 figure minus this one is the time spent outside the servers
 * (sender → balancer → instance → Redis, and socket → balancer → k6's event loop).
 */
async function serverLatency(urls: readonly string[]): Promise<Hist | undefined> {
  const cumulative = new Map<string, number>();
  try {
    for (const url of urls) {
      const text = await (await fetch(`${url}/metrics`)).text();
      for (const m of text.matchAll(/^parley_delivery_latency_seconds_bucket\{le="([^"]+)"[^}]*\} (\S+)/gm)) {
        cumulative.set(m[1] as string, (cumulative.get(m[1] as string) ?? 0) + Number(m[2]));
      }
    }
  } catch {
    return undefined;
  }
  const bounds = [...cumulative.keys()].filter((b) => b !== '+Inf').sort((a, b) => Number(a) - Number(b));
  const h: Hist = {};
  let below = 0;
  for (const b of bounds) {
    const c = cumulative.get(b) ?? 0;
    if (c > below) h[String(Number(b) * 1000)] = c - below;
    below = c;
  }
  const over = (cumulative.get('+Inf') ?? below) - below;
  if (over > 0) h['Infinity'] = over;
  return h;
}

/** `after - before`, bucket by bucket. */
const histDiff = (after: Hist, before: Hist): Hist => Object.fromEntries(Object.entries(after).map(([k, n]) => [k, n - (before[k] ?? 0)]).filter(([, n]) => (n as number) > 0));

/** The sum over instances of `after - before`, per field, divided by `conns`: KB per connection. */
function heapPerConn(before: (HeapKB | undefined)[], after: (HeapKB | undefined)[], conns: number): HeapKB | null {
  if (conns <= 0 || before.some((b) => !b) || after.some((a) => !a) || before.length !== after.length) return null;
  const per = (k: keyof HeapKB) => Math.round((after.reduce((t, a, i) => t + (a as HeapKB)[k] - (before[i] as HeapKB)[k], 0) / conns) * 100) / 100;
  return { heapUsed: per('heapUsed'), heapTotal: per('heapTotal'), external: per('external') };
}

// ---- one target

/** Every process of the stack that is alive, by name; workers of both kinds count as "worker". */
async function procsOf(dir: string): Promise<ProcInfo[]> {
  const s = await status({ dir });
  return s.processes
    .filter((p) => p.pid !== null && p.alive)
    .map((p) => ({ name: p.name, kind: p.kind === 'presence' || p.kind === 'archive' ? 'worker' : p.kind, pid: p.pid as number }));
}

async function runTarget(target: Target, scenario: Scenario, size: Size, opts: { basePort: number; keep: boolean; driver: Driver; bin: string; run: string; workers: { presence: number; archive: number }; profile: boolean; log: (l: string) => void }) {
  const { log } = opts;
  const dir = join(ROOT, `.stack-bench-${target}`);
  await down({ dir }).catch(() => undefined);
  const started = Date.now();
  // A port of the stack may be held for a while by someone else's client socket (the Redis Cluster bus, at
  // base + 10,020, is inside the kernel's ephemeral range for base ports above 22,700): try again for 90 s.
  const start = () =>
    up({
      app: target,
      dir,
      basePort: opts.basePort,
      instances: size.instances,
      haproxy: size.haproxy,
      ...(opts.profile ? { nodeArgs: ['--cpu-prof', `--cpu-prof-dir=${join(dir, 'profiles')}`] } : {}),
      presence: target === 'parley' ? opts.workers.presence : 0,
      archive: target === 'parley' ? opts.workers.archive : 0,
      env: {
        LOG_LEVEL: 'warn',
        MAX_CONNECTIONS: String(Math.max(15_000, Math.ceil(size.users / size.instances) * 2)),
        ...(size.serverEnv ?? {}),
      },
      log: (l) => log(`  ${l}`),
    });
  let ep: Awaited<ReturnType<typeof up>> | undefined;
  for (let attempt = 1; !ep; attempt++) {
    try {
      ep = await start();
    } catch (err) {
      if (attempt >= 30 || !/ports already in use/.test((err as Error).message)) throw err;
      log(`  ${(err as Error).message}; trying again in 3 s`);
      await down({ dir }).catch(() => undefined);
      await new Promise((r) => setTimeout(r, 3000));
    }
  }
  log(`  stack up in ${((Date.now() - started) / 1000).toFixed(1)} s: ${ep.instances.length} instances behind ${ep.haproxy.length} HAProxy process(es) at ${ep.balancer}`);
  const procs = await procsOf(dir);
  const sampler = new Sampler(procs);
  try {
    sampler.start();
    await new Promise((r) => setTimeout(r, 3000));
    const baseline = new Map<string, number>();
    for (const p of procs) baseline.set(p.name, median(sampler.samples.map((s) => s.rssKB[p.name] ?? 0).filter((v) => v > 0)));
    const heapBefore = await Promise.all(ep.instances.map((i) => heapOf(target, i.url)));

    const nProcs = processesFor(opts.driver, size.users);
    const perProc = Math.ceil(size.users / nProcs);
    const rampEnd = Date.now() + size.rampS * 1000;
    const startAt = rampEnd + size.settleS * 1000;
    const tRampEnd = sampler.now() + size.rampS;
    const tStart = tRampEnd + size.settleS;
    const sendS = size.steps.reduce((a, s) => a + s.seconds, 0);
    const envs: Record<string, string>[] = [];
    for (let i = 0; i < nProcs; i++) {
      const users = Math.min(perProc, size.users - i * perProc);
      envs.push({
        PROTO: target,
        BASE: ep.balancer,
        RUN: opts.run,
        PROC: String(i),
        USERS: String(users),
        TOTAL_USERS: String(size.users),
        USER_OFFSET: String(i * perProc),
        ROOM_SIZE: String(size.roomSize),
        VUS: String(Math.max(1, Math.ceil(users / (size.socketsPerVu ?? SOCKETS_PER_VU)))),
        RAMP_S: String(size.rampS),
        START_AT: String(startAt),
        STEPS: size.steps.map((s) => `${(s.rate * users) / size.users}:${s.seconds}`).join(','),
        SAMPLE_EVERY: String(size.sampleEvery ?? 1),
        P99_MS: String(size.p99Ms),
        ...(size.k6Env ?? {}),
      });
    }
    const load = startLoad(opts.driver, opts.bin, scenario, envs, join(dir, 'logs'));
    const runs = load.processes;
    for (const r of runs) sampler.add({ name: r.name, kind: r.kind, pid: r.pid });
    log(`  ${nProcs} ${opts.driver === 'k6' ? 'k6' : 'driver'} process(es), ${size.users} users; ramp ${size.rampS} s, then ${size.steps.map((s) => `${s.rate} msg/s × ${s.seconds} s`).join(', ')}`);

    // The instances' heap in the middle of the settle window, when the RSS for memory per connection is read.
    let heapLoaded: (HeapKB | undefined)[] = [];
    const heapTimer = setTimeout(() => {
      void Promise.all(ep.instances.map((i) => heapOf(target, i.url))).then((h) => (heapLoaded = h));
    }, Math.max(0, rampEnd - Date.now() + (size.settleS * 1000) / 2));

    // parley's own delivery histogram at the start and the end of every step.
    const serverSnaps: (Hist | undefined)[] = [];
    const snapTimers: NodeJS.Timeout[] = [];
    if (target === 'parley') {
      let at = startAt;
      for (let i = 0; i <= size.steps.length; i++) {
        const k = i;
        snapTimers.push(setTimeout(() => void serverLatency(ep.instances.map((x) => x.url)).then((h) => (serverSnaps[k] = h)), Math.max(0, at - Date.now())));
        at += (size.steps[i]?.seconds ?? 0) * 1000;
      }
    }

    // Scenario hooks (storm: kill one instance while the load runs).
    let killed: string | undefined;
    if (size.killAfterS !== undefined) {
      const victim = ep.instances[1] ?? ep.instances[0];
      if (!victim) throw new Error('no instance to kill');
      setTimeout(() => {
        try {
          process.kill(victim.pid, 'SIGKILL');
          killed = victim.id;
          log(`  killed ${victim.id} (pid ${victim.pid}) with SIGKILL`);
        } catch (err) {
          log(`  could not kill ${victim.id}: ${(err as Error).message}`);
        }
      }, Math.max(0, startAt - Date.now() + size.killAfterS * 1000));
    }
    const codes = await Promise.all(runs.map((r) => r.exit));
    sampler.stop();
    clearTimeout(heapTimer);
    for (const t of snapTimers) clearTimeout(t);

    const vus = load.results();
    const th = load.thresholds();
    const opened = vus.reduce((a, v) => a + v.opened, 0);

    // Memory: instances once every socket is open and idle (the settle window), against the baseline.
    const settle = sampler.samples.filter((s) => s.t >= tRampEnd + 1 && s.t < tStart);
    const sendPhase = sampler.samples.filter((s) => s.t >= tStart);
    const processes = procs.map((p) => { // the sampler's list: the stack's processes, then the load's
      const rss = (ss: Sample[]) => ss.map((s) => s.rssKB[p.name]).filter((v): v is number => v !== undefined && v > 0);
      const cpu = sendPhase.map((s) => s.cpuPct[p.name]).filter((v): v is number => v !== undefined);
      return {
        name: p.name,
        kind: p.kind,
        rssBaselineKB: baseline.get(p.name) ?? null,
        rssLoadedKB: median(rss(settle)) || null,
        rssPeakKB: Math.max(0, ...rss(sampler.samples)) || null,
        cpuAvgPct: cpu.length ? Math.round((cpu.reduce((a, b) => a + b, 0) / cpu.length) * 10) / 10 : null,
        cpuMaxPct: cpu.length ? Math.max(...cpu) : null,
      };
    });
    const grown = processes.filter((p) => p.kind === 'instance' && p.name !== killed).reduce((a, p) => a + ((p.rssLoadedKB ?? 0) - (p.rssBaselineKB ?? 0)), 0);
    // Every member that joined a room should get every acked message of that room.
    const rooms = new Map<string, { members: number; acked: number[] }>();
    for (const v of vus) {
      for (const [room, r] of Object.entries(v.rooms ?? {})) {
        const t = rooms.get(room) ?? { members: 0, acked: size.steps.map(() => 0) };
        t.members += r.members;
        r.acked.forEach((n, i) => (t.acked[i] = (t.acked[i] ?? 0) + n));
        rooms.set(room, t);
      }
    }
    const steps = size.steps.map((s, i) => {
      const per = vus.map((v) => v.steps[i]).filter((x): x is VuResult['steps'][number] => x !== undefined);
      const sum = (f: (x: VuResult['steps'][number]) => number) => per.reduce((a, x) => a + f(x), 0);
      const acked = sum((x) => x.acked);
      const deliveredN = sum((x) => x.delivered);
      const expected = [...rooms.values()].reduce((a, r) => a + (r.acked[i] ?? 0) * r.members, 0);
      const hist = mergeHist(per.map((x) => x.hist));
      return {
        rate: s.rate,
        seconds: s.seconds,
        sent: sum((x) => x.sent),
        acked,
        sendFailed: sum((x) => x.sent) - acked,
        expected,
        delivered: deliveredN,
        lost: Math.max(0, expected - deliveredN),
        duplicated: sum((x) => x.dup),
        reordered: sum((x) => x.reordered),
        messagesPerSec: Math.round((acked / s.seconds) * 10) / 10,
        deliveriesPerSec: Math.round(deliveredN / s.seconds),
        latencyMs: summarize(hist),
        // parley only: the same deliveries measured inside the instances (bucket bounds, so "at most").
        serverLatencyMs: serverSnaps[i] && serverSnaps[i + 1] ? summarize(histDiff(serverSnaps[i + 1] as Hist, serverSnaps[i] as Hist)) : null,
        ackMs: summarize(mergeHist(per.map((x) => x.ackHist))),
        // The same live deliveries split at the server's stamp on the message (parley: its store time in
        // Redis; the peer: when it took the message): sender → server, and server → member.
        toServerMs: summarize(mergeHist(per.map((x) => x.inHist ?? {}))),
        fromServerMs: summarize(mergeHist(per.map((x) => x.outHist ?? {}))),
      };
    });
    const extra: Record<string, unknown> = {};
    for (const v of vus) {
      for (const [k, val] of Object.entries(v.extra ?? {})) {
        if (typeof val === 'number') extra[k] = ((extra[k] as number | undefined) ?? 0) + val;
        else if (val && typeof val === 'object') extra[k] = mergeHist([(extra[k] as Hist | undefined) ?? {}, val as Hist]);
      }
    }
    for (const [k, v] of Object.entries(extra)) if (v && typeof v === 'object') extra[k] = summarize(v as Hist);
    if (killed) extra['killed'] = killed;
    return {
      target,
      ...efficiency({
        samples: sampler.samples,
        procs,
        driver: opts.driver,
        sendFrom: tStart,
        sendTo: tStart + sendS,
        deliveries: steps.reduce((a, s) => a + s.delivered, 0),
        rssGrownKB: grown,
        opened,
      }),
      // The load processes' exit codes (99: a threshold failed); the field names date from k6-only runs.
      k6ExitCodes: codes,
      k6ThresholdsPassed: codes.every((c) => c === 0),
      thresholds: th,
      connections: {
        wanted: size.users,
        opened,
        failed: size.users - opened,
        closedEarly: vus.reduce((a, v) => a + v.closedEarly, 0),
        gaps: vus.reduce((a, v) => a + (v.gaps ?? 0), 0),
        closeCodes: vus.reduce<Record<string, number>>((a, v) => {
          for (const [c, n] of Object.entries(v.closeCodes)) a[c] = (a[c] ?? 0) + n;
          return a;
        }, {}),
        errors: vus.reduce<Record<string, number>>((a, v) => {
          for (const [c, n] of Object.entries(v.errors ?? {})) a[c] = (a[c] ?? 0) + n;
          return a;
        }, {}),
        serverErrors: vus.reduce<Record<string, number>>((a, v) => {
          for (const [c, n] of Object.entries(v.serverErrors)) a[c] = (a[c] ?? 0) + n;
          return a;
        }, {}),
        heartbeats: { sent: vus.reduce((a, v) => a + v.hbSent, 0), answered: vus.reduce((a, v) => a + v.hbOk, 0) },
        connectMs: summarize(mergeHist(vus.map((v) => v.connectHist))),
      },
      steps,
      resources: {
        processes,
        // Below 10,000 connections (2,500 per instance) the growth is lost in the instances' own noise (JIT, heap sizing, GC timing).
        memPerConnKB: size.users >= 10_000 && opened > 0 ? Math.round((grown / opened) * 100) / 100 : null,
        // Where that memory is, by V8: heap used, heap committed, and outside the heap (Buffers).
        heapPerConnKB: size.users >= 10_000 && !killed ? heapPerConn(heapBefore, heapLoaded, opened) : null,
        samples: sampler.samples,
      },
      extra,
    };
  } finally {
    sampler.stop();
    if (!opts.keep) await down({ dir }).catch((err: Error) => log(`  stack down: ${err.message}`));
  }
}

// ---- main

function version(cmd: string, args: string[], re: RegExp): string | null {
  try {
    return re.exec(execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }))?.[1] ?? null;
  } catch {
    return null;
  }
}

export async function bench(scenario: Scenario, sizeName: string, opts: { target?: 'both' | Target; driver?: Driver; basePort?: number; keep?: boolean; presence?: number; archive?: number; profile?: boolean; log?: (l: string) => void; resultsDir?: string; report?: boolean } = {}) {
  const log = opts.log ?? ((l: string) => console.log(l));
  const size = SIZES[scenario]?.[sizeName];
  if (!size) throw new Error(`unknown size ${scenario} ${sizeName}; sizes: ${Object.keys(SIZES[scenario] ?? {}).join(', ')}`);
  const driver = opts.driver ?? 'lean';
  if (!DRIVERS.includes(driver)) throw new Error(`unknown driver ${driver}; drivers: ${DRIVERS.join(', ')}`);
  const bin = driver === 'k6' ? await buildK6(log) : await buildDriver(log);
  const targets: Target[] = opts.target === 'parley' || opts.target === 'socketio' ? [opts.target] : ['parley', 'socketio'];
  const date = new Date();
  const run = date.getTime().toString(36).slice(-6);
  const result = {
    schema: 1,
    scenario,
    size: sizeName,
    date: date.toISOString().replace(/\.\d+Z$/, 'Z'),
    commit: version('git', ['-C', ROOT, 'rev-parse', '--short', 'HEAD'], /(\S+)/),
    command: `npm run bench -- ${scenario} ${sizeName}${opts.target && opts.target !== 'both' ? ` --target ${opts.target}` : ''}${driver === 'k6' ? ' --driver k6' : ''}`,
    machine: {
      cpus: cpus().length,
      memGiB: Math.round(totalmem() / 2 ** 30),
      node: process.version,
      ...(driver === 'k6' ? { k6: await k6Version(bin) } : { driver: `parley-driver ${(await driverVersion(bin)) ?? '?'}` }),
      haproxy: version('/usr/sbin/haproxy', ['-v'], /version (\S+)/) ?? version('haproxy', ['-v'], /version (\S+)/),
      redis: version('redis-server', ['--version'], /v=(\S+)/),
    },
    params: {
      users: size.users,
      roomSize: size.roomSize,
      rooms: Math.floor(size.users / size.roomSize),
      instances: size.instances,
      haproxy: size.haproxy,
      driver,
      ...(driver === 'k6' ? { k6Processes: processesFor(driver, size.users), socketsPerVu: size.socketsPerVu ?? SOCKETS_PER_VU } : { driverProcesses: processesFor(driver, size.users) }),
      rampS: size.rampS,
      settleS: size.settleS,
      heartbeatS: Number(size.k6Env?.['HEARTBEAT_S'] ?? 30),
      drainS: Number(size.k6Env?.['DRAIN_S'] ?? 3),
      steps: size.steps,
      ...(size.killAfterS !== undefined ? { killAfterS: size.killAfterS } : {}),
      parleyWorkers: { presence: opts.presence ?? 1, archive: opts.archive ?? 0 },
      ...(size.note ? { note: size.note } : {}),
    },
    runs: [] as unknown[],
  };
  for (const [i, target] of targets.entries()) {
    log(`${scenario} ${sizeName}: ${target}`);
    try {
      // Below 32768 with the Redis Cluster bus (base + 10,020 …): the kernel hands out ephemeral ports
      // from 32768 up, and 20,000 client sockets take many of them.
      result.runs.push(await runTarget(target, scenario, size, { basePort: (opts.basePort ?? 21000) + i * 500, keep: opts.keep ?? false, driver, bin, run: `${run}${i}`, workers: { presence: opts.presence ?? 1, archive: opts.archive ?? 0 }, profile: opts.profile ?? false, log }));
    } catch (err) {
      log(`  failed: ${(err as Error).message}`);
      result.runs.push({ target, error: (err as Error).message });
    }
  }
  const dir = opts.resultsDir ?? RESULTS;
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `${result.date.slice(0, 10)}-${scenario}-${sizeName}${driver === 'k6' ? '-k6' : ''}.json`);
  writeFileSync(file, `${JSON.stringify(result, null, 1)}\n`);
  log(`wrote ${file}`);
  return { file, result };
}

function printRun(r: Record<string, unknown>, log: (l: string) => void) {
  if (r['error']) return log(`  ${r['target']}: error: ${r['error']}`);
  const c = r['connections'] as { opened: number; wanted: number; closedEarly: number; connectMs: Summary };
  const d = r['driver'] as { name: string; cpuPct: number };
  const e = r['efficiency'] as { serverCpuMsPerKDelivery: number | null; rssKBPerConn: number | null };
  const perConn = (r['resources'] as { memPerConnKB: number | null }).memPerConnKB;
  // Not measured below 10,000 users: the growth is lost in the instances' own noise.
  const memory = perConn === null ? 'memory per connection not measured below 10,000 users' : `${perConn} KB/conn`;
  log(`  ${r['target']}: ${c.opened}/${c.wanted} connected (${c.closedEarly} closed early), thresholds ${r['k6ThresholdsPassed'] ? 'passed' : 'FAILED'}, ${memory}`);
  log(`    driver ${d.name} at ${d.cpuPct} % CPU; servers ${e.serverCpuMsPerKDelivery ?? 'n/a'} CPU-ms per 1,000 deliveries, instances ${e.rssKBPerConn === null ? 'n/a' : `${e.rssKBPerConn} KB`} RSS per connection`);
  for (const s of r['steps'] as { rate: number; deliveriesPerSec: number; lost: number; duplicated: number; latencyMs: Summary }[]) {
    log(`    ${s.rate} msg/s: ${s.deliveriesPerSec} deliveries/s, p50 ${s.latencyMs?.p50} ms, p99 ${s.latencyMs?.p99} ms, max ${s.latencyMs?.max} ms, lost ${s.lost}, duplicated ${s.duplicated}`);
  }
  const extra = r['extra'] as Record<string, unknown> | undefined;
  if (extra && Object.keys(extra).length > 0) log(`    ${JSON.stringify(extra)}`);
}

if (process.argv[1] && resolve(process.argv[1]) === resolve(import.meta.filename)) {
  const args = process.argv.slice(2);
  const flag = (name: string) => {
    const i = args.indexOf(name);
    if (i < 0) return undefined;
    const v = args[i + 1];
    args.splice(i, 2);
    return v;
  };
  const keep = args.includes('--keep');
  if (keep) args.splice(args.indexOf('--keep'), 1);
  const profile = args.includes('--profile');
  if (profile) args.splice(args.indexOf('--profile'), 1);
  const noReport = args.includes('--no-report');
  if (noReport) args.splice(args.indexOf('--no-report'), 1);
  const target = flag('--target') as 'both' | Target | undefined;
  const driver = flag('--driver') as Driver | undefined;
  const basePort = flag('--base-port');
  const resultsDir = flag('--results');
  const presence = flag('--presence');
  const archive = flag('--archive');
  const [scenario, sizeName] = args;
  if (scenario === 'list' || !scenario || !sizeName) {
    for (const [sc, sizes] of Object.entries(SIZES)) for (const [n, s] of Object.entries(sizes)) console.log(`${sc} ${n}: ${s.note ?? ''}`);
    process.exit(scenario === 'list' ? 0 : 2);
  }
  bench(scenario as Scenario, sizeName, { target, driver, keep, profile, presence: presence === undefined ? undefined : Number(presence), archive: archive === undefined ? undefined : Number(archive), basePort: basePort ? Number(basePort) : undefined, resultsDir: resultsDir ? resolve(resultsDir) : undefined })
    .then(async ({ result }) => {
      for (const r of result.runs) printRun(r as Record<string, unknown>, console.log);
      if (!noReport) {
        const { writeReport } = await import('./report.ts');
        const out = await writeReport(resultsDir ? { resultsDir: resolve(resultsDir), out: join(resolve(resultsDir), 'RESULTS.md'), plotsDir: join(resolve(resultsDir), 'plots') } : {});
        console.log(`wrote ${out.out}`);
      }
      const bad = result.runs.some((r) => (r as { error?: string }).error);
      process.exit(bad ? 1 : 0);
    })
    .catch((err: Error) => {
      console.error(err.stack ?? err.message);
      process.exit(1);
    });
}

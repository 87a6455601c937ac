/**
 * Idle-memory benchmark: the server's RSS per idle WebSocket connection.
 *
 *   npx tsx bench/memory/idle.ts [--conns 10000] [--runtime node|deno] [--entry src/main.node.ts]
 *     [--bare] [--join] [--rooms 100] [--procs 1] [--warmup 500] [--settle-ms 5000] [--samples 5]
 *     [--repeat 1] [--all] [--label NAME] [--timeout-s 600]
 *
 * One run: start the server as a direct child (`node --expose-gc --import tsx --import probe.mjs
 * <entry>` — its pid is the listening process) on a free loopback port with MAX_CONNECTIONS above
 * the count, HEARTBEAT_MS=30000 and LOG_LEVEL=warn; warm up (open and close `--warmup` clients,
 * wait 2 s); baseline = median of `--samples` VmRSS readings 1 s apart; open N clients from
 * `clients.ts` child process(es) in batches of 500 (64 handshakes in flight), each waiting for
 * `hello` (and `joined` with --join, room r<i%100>); wait `--settle-ms`; sample VmRSS the same way.
 * KB/conn = (RSS − baseline) / N. Also reported: heapUsed from GET /metrics (no forced GC) and,
 * through the probe, heapUsed and RSS right after a forced full GC at both points.
 *
 * `--bare` measures bench/memory/bare-ws.ts (plain `ws`, no Hono) instead. `--all` runs parley and
 * bare ws, each without and with joins, and writes bench/memory/RESULTS.md (between markers).
 * Prints one JSON line per run and a table.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import {
  HERE,
  type Server,
  ask,
  closeClients,
  median,
  openClients,
  rss,
  scrape,
  sleep,
  startServer,
  stopChild,
} from './lib.ts';

type Opts = {
  conns: number;
  runtime: 'node' | 'deno';
  entry: string | null;
  bare: boolean;
  join: boolean;
  rooms: number;
  procs: number;
  warmup: number;
  settleMs: number;
  samples: number;
  repeat: number;
  all: boolean;
  label: string | null;
  timeoutS: number;
};

function parseArgs(argv: string[]): Opts {
  const o: Opts = {
    conns: 10_000,
    runtime: 'node',
    entry: null,
    bare: false,
    join: false,
    rooms: 100,
    procs: 1,
    warmup: 500,
    settleMs: 5000,
    samples: 5,
    repeat: 1,
    all: false,
    label: null,
    timeoutS: 600,
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const next = () => argv[++i] ?? '';
    if (a === '--conns') o.conns = Number(next());
    else if (a === '--runtime') o.runtime = next() as Opts['runtime'];
    else if (a === '--entry') o.entry = next();
    else if (a === '--bare') o.bare = true;
    else if (a === '--join') o.join = true;
    else if (a === '--rooms') o.rooms = Number(next());
    else if (a === '--procs') o.procs = Number(next());
    else if (a === '--warmup') o.warmup = Number(next());
    else if (a === '--settle-ms') o.settleMs = Number(next());
    else if (a === '--samples') o.samples = Number(next());
    else if (a === '--repeat') o.repeat = Number(next());
    else if (a === '--all') o.all = true;
    else if (a === '--label') o.label = next();
    else if (a === '--timeout-s') o.timeoutS = Number(next());
    else throw new Error(`unknown argument ${a}`);
  }
  if (o.runtime !== 'node' && o.runtime !== 'deno') throw new Error('--runtime: node or deno');
  if (o.conns + o.warmup > 19_000 * o.procs) throw new Error('too many connections per load-generator process (fd limit); raise --procs');
  return o;
}

type Point = {
  /** Median VmRSS of the samples, bytes. */
  rss: number;
  rssSamples: number[];
  /** heapUsed as GET /metrics reports it (no forced GC); null when the server has no /metrics. */
  heapUsedProm: number | null;
  /** process.memoryUsage() right after a forced full GC (node only). */
  gc: { rss: number; heapUsed: number; external: number; arrayBuffers: number } | null;
};

type Run = {
  label: string;
  runtime: string;
  entry: string;
  join: boolean;
  conns: number;
  ready: number;
  failed: number;
  rampMs: number;
  serverConnections: number | null;
  baseline: Point;
  loaded: Point;
  kbPerConn: number;
  kbPerConnAfterGc: number | null;
  heapKbPerConn: number | null;
  heapKbPerConnProm: number | null;
};

async function samplePoint(srv: Server, samples: number): Promise<Point> {
  const rssSamples: number[] = [];
  for (let i = 0; i < samples; i++) {
    if (i) await sleep(1000);
    rssSamples.push(rss(srv.pid));
  }
  const prom = await scrape(srv.port);
  let gc: Point['gc'] = null;
  if (srv.runtime === 'node') {
    const m = await ask<{ type: string; rss: number; heapUsed: number; external: number; arrayBuffers: number }>(
      srv.proc,
      { cmd: 'mem', gc: true },
      'mem',
    );
    await sleep(500);
    gc = { rss: rss(srv.pid), heapUsed: m.heapUsed, external: m.external, arrayBuffers: m.arrayBuffers };
  }
  return { rss: median(rssSamples), rssSamples, heapUsedProm: prom?.nodejs_heap_size_used_bytes ?? null, gc };
}

async function measure(o: Opts, bare: boolean, join: boolean): Promise<Run> {
  const entry = bare ? 'bench/memory/bare-ws.ts' : (o.entry ?? (o.runtime === 'deno' ? 'src/main.deno.ts' : 'src/main.node.ts'));
  const label = o.label ?? `${bare ? 'bare ws' : 'parley'}${o.runtime === 'deno' ? ' (deno)' : ''}${join ? ' +join' : ''}`;
  const srv = await startServer({
    runtime: o.runtime,
    entry,
    env: {
      MAX_CONNECTIONS: String(o.conns + o.warmup + 1000),
      HEARTBEAT_MS: '30000',
      LOG_LEVEL: 'warn',
      NODE_ENV: 'development',
      AUTH_MODE: 'dev',
    },
  });
  const timeoutMs = Math.max(60_000, o.conns * 20);
  let clients: Awaited<ReturnType<typeof openClients>> | null = null;
  try {
    // Warm-up: the code paths of accept, hello, join and close are compiled and pooled.
    if (o.warmup > 0) {
      const w = await openClients({ port: srv.port, conns: o.warmup, join, rooms: o.rooms, procs: 1, prefix: 'w', timeoutMs });
      if (w.failed) throw new Error(`warm-up: ${w.failed} of ${o.warmup} clients failed`);
      await closeClients(w, true);
    }
    await scrape(srv.port); // the /metrics path too
    await sleep(2000);
    const baseline = await samplePoint(srv, o.samples);

    clients = await openClients({ port: srv.port, conns: o.conns, join, rooms: o.rooms, procs: o.procs, prefix: 'u', timeoutMs });
    await sleep(o.settleMs);
    const loaded = await samplePoint(srv, o.samples);
    const prom = await scrape(srv.port);
    const n = o.conns;
    const run: Run = {
      label,
      runtime: o.runtime,
      entry,
      join,
      conns: n,
      ready: clients.ready,
      failed: clients.failed,
      rampMs: clients.ms,
      serverConnections: prom?.parley_connections ?? null,
      baseline,
      loaded,
      kbPerConn: (loaded.rss - baseline.rss) / n / 1024,
      kbPerConnAfterGc: loaded.gc && baseline.gc ? (loaded.gc.rss - baseline.gc.rss) / n / 1024 : null,
      heapKbPerConn: loaded.gc && baseline.gc ? (loaded.gc.heapUsed - baseline.gc.heapUsed) / n / 1024 : null,
      heapKbPerConnProm:
        loaded.heapUsedProm !== null && baseline.heapUsedProm !== null ? (loaded.heapUsedProm - baseline.heapUsedProm) / n / 1024 : null,
    };
    if (run.failed) console.error(`warning: ${run.failed} of ${n} clients failed`);
    return run;
  } catch (err) {
    console.error(srv.tail());
    throw err;
  } finally {
    if (clients) await closeClients(clients, false);
    await stopChild(srv.proc);
  }
}

const mb = (b: number) => (b / 1048576).toFixed(1);
const f2 = (x: number | null) => (x === null ? '—' : x.toFixed(2));

function table(runs: Run[]): string {
  const rows = [
    '| run | N | ready | ramp s | baseline RSS MB | loaded RSS MB | **KB/conn** | KB/conn after GC | heap KB/conn (GC) | heap KB/conn (/metrics) |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
  ];
  for (const r of runs) {
    rows.push(
      `| ${r.label} | ${r.conns} | ${r.ready} | ${(r.rampMs / 1000).toFixed(1)} | ${mb(r.baseline.rss)} | ${mb(r.loaded.rss)} | **${f2(r.kbPerConn)}** | ${f2(r.kbPerConnAfterGc)} | ${f2(r.heapKbPerConn)} | ${f2(r.heapKbPerConnProm)} |`,
    );
  }
  return rows.join('\n');
}

/** Per configuration (label): the median over repeats, with the range. */
function summary(runs: Run[]): string {
  const rows = [
    '| run | N | repeats | **KB/conn (median)** | range | heap KB/conn after GC (median) | baseline RSS MB (median) |',
    '|---|---:|---:|---:|---|---:|---:|',
  ];
  const labels = [...new Set(runs.map((r) => r.label))];
  for (const label of labels) {
    const rs = runs.filter((r) => r.label === label);
    const kb = rs.map((r) => r.kbPerConn);
    const heap = rs.flatMap((r) => (r.heapKbPerConn === null ? [] : [r.heapKbPerConn]));
    rows.push(
      `| ${label} | ${rs[0]?.conns} | ${rs.length} | **${median(kb).toFixed(2)}** | ${Math.min(...kb).toFixed(2)}–${Math.max(...kb).toFixed(2)} | ${heap.length ? median(heap).toFixed(2) : '—'} | ${mb(median(rs.map((r) => r.baseline.rss)))} |`,
    );
  }
  return rows.join('\n');
}

async function main(): Promise<void> {
  const o = parseArgs(process.argv.slice(2));
  const kill = setTimeout(() => {
    console.error(`timed out after ${o.timeoutS} s`);
    process.exit(2);
  }, o.timeoutS * 1000);
  kill.unref();

  const configs: [boolean, boolean][] = o.all
    ? [
        [false, false],
        [false, true],
        [true, false],
        [true, true],
      ]
    : [[o.bare, o.join]];
  const runs: Run[] = [];
  for (const [bare, join] of configs) {
    for (let i = 0; i < o.repeat; i++) {
      const r = await measure(o, bare, join);
      console.log(JSON.stringify(r));
      runs.push(r);
    }
  }
  console.log(`\n${table(runs)}`);
  if (o.repeat > 1) console.log(`\n${summary(runs)}`);

  if (o.all) {
    const cmd = `npx tsx bench/memory/idle.ts ${process.argv.slice(2).join(' ')}`;
    const section = [
      '<!-- idle:begin (generated by idle.ts --all) -->',
      `Command: \`${cmd}\`  `,
      `Date: ${new Date().toISOString()} · node ${process.version} · ${(await import('node:os')).cpus().length} cores`,
      '',
      ...(o.repeat > 1 ? [summary(runs), '', 'All runs:', ''] : []),
      table(runs),
      '',
      'KB/conn = (median loaded VmRSS − median baseline VmRSS) / N, 5 samples 1 s apart, no forced GC.',
      '"after GC" columns: RSS / heapUsed right after a forced full GC (probe.mjs) at both points.',
      '<!-- idle:end -->',
    ].join('\n');
    const path = resolve(HERE, 'RESULTS.md');
    let text = existsSync(path) ? readFileSync(path, 'utf8') : '# Idle WebSocket memory\n\n<!-- idle:begin -->\n<!-- idle:end -->\n';
    text = text.replace(/<!-- idle:begin[\s\S]*?<!-- idle:end -->/, section);
    writeFileSync(path, text);
    console.log(`\nwrote ${path}`);
  }
}

main()
  .then(() => process.exit(0))
  .catch((err) => {
    console.error(err);
    process.exit(1);
  });

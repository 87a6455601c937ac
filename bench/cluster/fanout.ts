/**
 * Fan-out benchmark across two chat instances on a real Redis Cluster.
 *
 *   npx tsx bench/cluster/fanout.ts [--rate 1000] [--seconds 10] [--members 20] [--rooms 1]
 *                                   [--mode steady|max] [--senders 4] [--window 50] [--warmup 1]
 *                                   [--repeat 1] [--write]
 *
 * Starts its own 6-node cluster (`up({ basePort: 7600 })`, torn down at the end) and two Node chat
 * instances (children of this process). The WebSocket clients run in this process: `members` per room,
 * alternating between the two instances, all joined. `senders` clients per room (alternating instances)
 * send; every message's text carries its send time (performance.timeOrigin + performance.now(), the same
 * clock the receivers read), so latency = receive time − send time for every delivery.
 *
 *  - steady: a total of `--rate` messages/s for `--seconds` (after `--warmup` s that are not measured).
 *  - max:    every sender keeps `--window` sends in flight (next send on each ack) for `--seconds`.
 *
 * Checks: delivered = sent × members, no duplicates, no seq gaps per receiver (every receiver's last seq
 * ends at the room's last seq). CPU: /proc/<pid>/stat utime+stime of both servers and the six redis
 * nodes, and process.cpuUsage() of this (load generator) process, over the measured window.
 *
 * `--write` replaces this configuration's section of bench/cluster/RESULTS.md.
 */
import { execFileSync } from 'node:child_process';
import { cpus } from 'node:os';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';
import { down, up } from '../../infra/redis/cluster.ts';
import { startServer, type Server } from '../../test/e2e/server.ts';

const HERE = dirname(fileURLToPath(import.meta.url));
const BASE_PORT = 7600;
const now = () => performance.timeOrigin + performance.now();
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

// ---------------------------------------------------------------- options

type Mode = 'steady' | 'max';
type Opts = {
  rate: number;
  seconds: number;
  members: number;
  rooms: number;
  mode: Mode;
  senders: number;
  window: number;
  warmup: number;
  repeat: number;
  drainMs: number;
  write: boolean;
};

function parseArgs(argv: string[]): Opts {
  const o: Opts = { rate: 1000, seconds: 10, members: 20, rooms: 1, mode: 'steady', senders: 4, window: 50, warmup: 1, repeat: 1, drainMs: 10_000, write: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string;
    const val = () => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${a}: missing value`);
      return v;
    };
    const num = () => {
      const n = Number(val());
      if (!Number.isFinite(n) || n < 0) throw new Error(`${a}: expected a number`);
      return n;
    };
    switch (a) {
      case '--rate': o.rate = num(); break;
      case '--seconds': o.seconds = num(); break;
      case '--members': o.members = num(); break;
      case '--rooms': o.rooms = num(); break;
      case '--senders': o.senders = num(); break;
      case '--window': o.window = num(); break;
      case '--warmup': o.warmup = num(); break;
      case '--repeat': o.repeat = num(); break;
      case '--drain-ms': o.drainMs = num(); break;
      case '--write': o.write = true; break;
      case '--mode': {
        const m = val();
        if (m !== 'steady' && m !== 'max') throw new Error('--mode: steady|max');
        o.mode = m;
        break;
      }
      default:
        throw new Error(`unknown option ${a}`);
    }
  }
  if (o.members < 2) throw new Error('--members: at least 2 (one per instance)');
  o.senders = Math.max(1, Math.min(o.senders, o.members));
  return o;
}

// ---------------------------------------------------------------- stats

/** A growable array of doubles. */
class Samples {
  a = new Float64Array(1 << 16);
  n = 0;
  push(x: number): void {
    if (this.n === this.a.length) {
      const b = new Float64Array(this.a.length * 2);
      b.set(this.a);
      this.a = b;
    }
    this.a[this.n++] = x;
  }
  pct(): Pct {
    const s = this.a.slice(0, this.n).sort();
    const at = (p: number) => (s.length ? (s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)] as number) : Number.NaN);
    return { n: s.length, p50: at(50), p90: at(90), p99: at(99), max: s.length ? (s[s.length - 1] as number) : Number.NaN };
  }
}
type Pct = { n: number; p50: number; p90: number; p99: number; max: number };

const CLK_TCK = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;
  } catch {
    return 100;
  }
})();

/** Busy and total jiffies of the whole box (all cores), from /proc/stat. */
function boxCpu(): { busy: number; total: number } {
  const f = (readFileSync('/proc/stat', 'utf8').split('\n')[0] as string).trim().split(/\s+/).slice(1).map(Number);
  const total = f.reduce((a, b) => a + b, 0);
  const idle = (f[3] ?? 0) + (f[4] ?? 0);
  return { busy: total - idle, total };
}

/** utime+stime of a process in seconds. */
function cpuOf(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) / CLK_TCK; // fields 14 and 15 (1-based) after pid and comm
  } catch {
    return Number.NaN;
  }
}

// ---------------------------------------------------------------- clients

type Msg = { type: string; room?: string; seq?: number; from?: string; text?: string; cid?: string; code?: string; message?: string; events?: Msg[] };

type Run = {
  label: string;
  mode: Mode;
  members: number;
  rooms: number;
  senders: number;
  rate: number | null;
  window: number | null;
  seconds: number;
  wallS: number;
  sent: number;
  acked: number;
  expected: number;
  delivered: number;
  lost: number;
  duplicates: number;
  gaps: number;
  tailMismatch: number;
  errors: Record<string, number>;
  ackedPerS: number;
  deliveriesPerS: number;
  latency: Pct;
  latencySame: Pct;
  latencyCross: Pct;
  ack: Pct;
  cpu: { server0: number; server1: number; redis: number; redisMax: number; bench: number; box: number };
};

class Bench {
  readonly errors: Record<string, number> = {};
  measuring = false;
  /** Per measured message: send time and sender instance. */
  readonly sentAt = new Map<string, { t: number; inst: number; acked: boolean }>();
  readonly lat = new Samples();
  readonly latSame = new Samples();
  readonly latCross = new Samples();
  readonly ackLat = new Samples();
  delivered = 0;
  duplicates = 0;
  gaps = 0;
  acked = 0;
  sent = 0;
  /** Measured deliveries, for the drain wait. */
  deliveredMeasured = 0;
  lastDelivery = 0;
  roomLast = new Map<string, number>();
}

class Member {
  ws!: WebSocket;
  lastSeq = -1;
  inFlight = 0;
  onAck: (() => void) | null = null;
  private joinedWait: ((seq: number) => void) | null = null;

  constructor(
    readonly b: Bench,
    readonly user: string,
    readonly room: string,
    readonly inst: number,
    readonly instOfUser: Map<string, number>,
  ) {}

  async open(wsUrl: string): Promise<void> {
    await new Promise<void>((res, rej) => {
      const ws = new WebSocket(`${wsUrl}?user=${this.user}`, { perMessageDeflate: false });
      this.ws = ws;
      const t = setTimeout(() => rej(new Error(`${this.user}: no hello`)), 10_000);
      ws.once('error', rej);
      ws.on('message', (data) => {
        const f = JSON.parse(data.toString()) as Msg;
        if (f.type === 'hello') {
          clearTimeout(t);
          res();
          return;
        }
        if (f.type === 'batch' && f.events) for (const e of f.events) this.handle(e);
        else this.handle(f);
      });
    });
    const seq = await new Promise<number>((res, rej) => {
      const t = setTimeout(() => rej(new Error(`${this.user}: no joined`)), 10_000);
      this.joinedWait = (s) => {
        clearTimeout(t);
        res(s);
      };
      this.ws.send(JSON.stringify({ type: 'join', room: this.room }));
    });
    this.lastSeq = seq;
  }

  send(cid: string, measured: boolean): void {
    const t = now();
    if (measured) this.b.sentAt.set(cid, { t, inst: this.inst, acked: false });
    this.inFlight++;
    this.ws.send(`{"type":"send","room":"${this.room}","text":"t=${t.toFixed(3)} ${cid}","cid":"${cid}"}`);
  }

  private handle(e: Msg): void {
    const b = this.b;
    switch (e.type) {
      case 'message': {
        const t = now();
        const seq = e.seq as number;
        if (this.lastSeq >= 0) {
          if (seq <= this.lastSeq) {
            b.duplicates++;
            return;
          }
          if (seq > this.lastSeq + 1) b.gaps += seq - this.lastSeq - 1;
        }
        this.lastSeq = seq;
        if ((b.roomLast.get(this.room) ?? 0) < seq) b.roomLast.set(this.room, seq);
        b.delivered++;
        b.lastDelivery = t;
        const text = e.text as string;
        const cid = text.slice(text.indexOf(' ') + 1);
        if (cid.startsWith('w')) return; // warm-up
        b.deliveredMeasured++;
        const sentT = Number(text.slice(2, text.indexOf(' ')));
        const d = t - sentT;
        b.lat.push(d);
        const from = this.instOfUser.get(e.from as string);
        (from === this.inst ? b.latSame : b.latCross).push(d);
        return;
      }
      case 'ack': {
        this.inFlight--;
        const s = b.sentAt.get(e.cid as string);
        if (s && !s.acked) {
          s.acked = true;
          b.acked++;
          b.ackLat.push(now() - s.t);
        }
        this.onAck?.();
        return;
      }
      case 'joined':
        this.joinedWait?.((e as { seq?: number }).seq ?? 0);
        this.joinedWait = null;
        return;
      case 'error': {
        const k = e.code ?? 'unknown';
        b.errors[k] = (b.errors[k] ?? 0) + 1;
        if (e.cid) {
          this.inFlight--;
          this.onAck?.();
        }
        return;
      }
      default:
        return; // presence, typing, heartbeat
    }
  }
}

async function pool<T>(items: T[], limit: number, fn: (x: T) => Promise<void>): Promise<void> {
  let i = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (i < items.length) await fn(items[i++] as T);
    }),
  );
}

// ---------------------------------------------------------------- one run

async function once(o: Opts, servers: Server[], redisPids: number[], runNo: number): Promise<Run> {
  const b = new Bench();
  const tag = `${Date.now().toString(36)}${runNo}`;
  const instOfUser = new Map<string, number>();
  const members: Member[] = [];
  const senders: Member[] = [];
  for (let r = 0; r < o.rooms; r++) {
    const room = `fan-${tag}-${r}`;
    const roomMembers: Member[] = [];
    for (let i = 0; i < o.members; i++) {
      const user = `u${tag}-${r}-${i}`;
      const inst = i % 2;
      instOfUser.set(user, inst);
      const m = new Member(b, user, room, inst, instOfUser);
      members.push(m);
      roomMembers.push(m);
    }
    senders.push(...roomMembers.slice(0, o.senders)); // alternating instances
  }
  await pool(members, 32, (m) => m.open((servers[m.inst] as Server).wsUrl));
  await sleep(300); // let presence settle

  let n = 0;
  const nextCid = (prefix: string) => `${prefix}${(n++).toString(36)}`;

  // warm-up: steady pacing at the target (or 1000/s in max mode), not measured
  const warmRate = o.mode === 'steady' ? o.rate : 1000;
  if (o.warmup > 0) await paced(senders, warmRate, o.warmup * 1000, () => nextCid('w'), false);
  await waitQuiet(b, 500, 5000);

  const cpu0 = servers.map((s) => cpuOf(s.pid));
  const redis0 = redisPids.map(cpuOf);
  const box0 = boxCpu();
  const bench0 = process.cpuUsage();
  const t0 = now();
  b.measuring = true;
  if (o.mode === 'steady') {
    b.sent = await paced(senders, o.rate, o.seconds * 1000, () => nextCid('m'), true);
  } else {
    b.sent = await windowed(senders, o.window, o.seconds * 1000, () => nextCid('m'));
  }
  const tSendEnd = now();
  // drain: until every measured delivery arrived, or nothing moved for a while
  const expected = b.sent * o.members;
  const deadline = Date.now() + o.drainMs;
  while (Date.now() < deadline && (b.deliveredMeasured < expected || b.acked < b.sent)) {
    if (now() - Math.max(b.lastDelivery, tSendEnd) > 3000) break;
    await sleep(20);
  }
  const tEnd = Math.max(b.lastDelivery, tSendEnd);
  const wallS = (tEnd - t0) / 1000;
  const sendS = (tSendEnd - t0) / 1000;
  const cpu1 = servers.map((s) => cpuOf(s.pid));
  const redis1 = redisPids.map(cpuOf);
  const box1 = boxCpu();
  const bench1 = process.cpuUsage(bench0);
  const wallNow = (now() - t0) / 1000;

  // every receiver must end at its room's last seq
  let tailMismatch = 0;
  for (const m of members) if (m.lastSeq !== (b.roomLast.get(m.room) ?? 0)) tailMismatch++;

  await Promise.all(
    members.map(
      (m) =>
        new Promise<void>((r) => {
          if (m.ws.readyState === WebSocket.CLOSED) return r();
          m.ws.once('close', () => r());
          m.ws.close(1000);
          setTimeout(() => {
            m.ws.terminate();
            r();
          }, 2000);
        }),
    ),
  );

  const pctOf = (x: number) => (100 * x) / wallNow;
  const uniq = b.deliveredMeasured;
  return {
    label: o.mode === 'steady' ? `steady ${o.rate}/s` : `max (window ${o.window})`,
    mode: o.mode,
    members: o.members,
    rooms: o.rooms,
    senders: senders.length,
    rate: o.mode === 'steady' ? o.rate : null,
    window: o.mode === 'max' ? o.window : null,
    seconds: o.seconds,
    wallS,
    sent: b.sent,
    acked: b.acked,
    expected,
    delivered: uniq,
    lost: expected - uniq,
    duplicates: b.duplicates,
    gaps: b.gaps,
    tailMismatch,
    errors: b.errors,
    ackedPerS: b.acked / sendS,
    deliveriesPerS: uniq / wallS,
    latency: b.lat.pct(),
    latencySame: b.latSame.pct(),
    latencyCross: b.latCross.pct(),
    ack: b.ackLat.pct(),
    cpu: {
      server0: pctOf((cpu1[0] as number) - (cpu0[0] as number)),
      server1: pctOf((cpu1[1] as number) - (cpu0[1] as number)),
      redis: pctOf(redis1.reduce((s, x, i) => s + x - (redis0[i] as number), 0)),
      redisMax: pctOf(Math.max(...redis1.map((x, i) => x - (redis0[i] as number)))),
      bench: pctOf((bench1.user + bench1.system) / 1e6),
      box: (100 * cpus().length * (box1.busy - box0.busy)) / (box1.total - box0.total),
    },
  };
}

/** Sends at `rate`/s in total, round-robin over `senders`, for `ms`. Returns the number sent. */
async function paced(senders: Member[], rate: number, ms: number, cid: () => string, measured: boolean): Promise<number> {
  const t0 = performance.now();
  let sent = 0;
  let k = 0;
  const total = Math.round((rate * ms) / 1000);
  while (sent < total) {
    const due = Math.min(total, Math.floor(((performance.now() - t0) * rate) / 1000) + 1);
    while (sent < due) {
      (senders[k++ % senders.length] as Member).send(cid(), measured);
      sent++;
    }
    await new Promise<void>((r) => setTimeout(r, 1));
  }
  return sent;
}

/** Every sender keeps `window` sends in flight (a new send per ack) for `ms`. */
async function windowed(senders: Member[], window: number, ms: number, cid: () => string): Promise<number> {
  const end = performance.now() + ms;
  let sent = 0;
  for (const s of senders) {
    s.onAck = () => {
      if (performance.now() < end) {
        s.send(cid(), true);
        sent++;
      }
    };
  }
  for (const s of senders) {
    for (let i = 0; i < window; i++) {
      s.send(cid(), true);
      sent++;
    }
  }
  await sleep(ms);
  for (const s of senders) s.onAck = null;
  return sent;
}

async function waitQuiet(b: Bench, quietMs: number, maxMs: number): Promise<void> {
  const deadline = Date.now() + maxMs;
  while (Date.now() < deadline && now() - b.lastDelivery < quietMs) await sleep(20);
}

// ---------------------------------------------------------------- output

const f1 = (x: number) => (Number.isFinite(x) ? x.toFixed(1) : '—');
const f2 = (x: number) => (Number.isFinite(x) ? x.toFixed(2) : '—');
const med = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
};

const other = (r: Run) => r.cpu.box - r.cpu.server0 - r.cpu.server1 - r.cpu.redis - r.cpu.bench;

function runsTable(runs: Run[]): string {
  const rows = [
    '| # | sent | acked | delivered / expected | lost | dup | gaps | errors | acked/s | deliveries/s | p50 ms | p90 | p99 | max | same p50/p99 | cross p50/p99 | ack p50/p99 | CPU % srv0 / srv1 / redis 6 nodes (busiest) / bench / whole box / other processes |',
    '|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|---|---|---|---|',
  ];
  runs.forEach((r, i) => {
    const errs = Object.entries(r.errors).map(([k, v]) => `${k}:${v}`).join(' ') || '0';
    rows.push(
      `| ${i + 1} | ${r.sent} | ${r.acked} | ${r.delivered} / ${r.expected} | ${r.lost} | ${r.duplicates} | ${r.gaps + r.tailMismatch} | ${errs} | ${Math.round(r.ackedPerS)} | ${Math.round(r.deliveriesPerS)} | ${f2(r.latency.p50)} | ${f2(r.latency.p90)} | ${f2(r.latency.p99)} | ${f1(r.latency.max)} | ${f2(r.latencySame.p50)} / ${f2(r.latencySame.p99)} | ${f2(r.latencyCross.p50)} / ${f2(r.latencyCross.p99)} | ${f2(r.ack.p50)} / ${f2(r.ack.p99)} | ${Math.round(r.cpu.server0)} / ${Math.round(r.cpu.server1)} / ${Math.round(r.cpu.redis)} (${Math.round(r.cpu.redisMax)}) / ${Math.round(r.cpu.bench)} / ${Math.round(r.cpu.box)} / ${Math.round(other(r))} |`,
    );
  });
  return rows.join('\n');
}

function summaryTable(runs: Run[]): string {
  const row = (name: string, xs: number[], fmt: (x: number) => string) => `| ${name} | **${fmt(med(xs))}** | ${fmt(Math.min(...xs))} – ${fmt(Math.max(...xs))} |`;
  const i0 = (x: number) => String(Math.round(x));
  return [
    `| metric (${runs.length} runs) | median | range |`,
    '|---|---:|---|',
    row('acked msg/s', runs.map((r) => r.ackedPerS), i0),
    row('deliveries/s', runs.map((r) => r.deliveriesPerS), i0),
    row('latency p50 ms', runs.map((r) => r.latency.p50), f2),
    row('latency p90 ms', runs.map((r) => r.latency.p90), f2),
    row('latency p99 ms', runs.map((r) => r.latency.p99), f2),
    row('latency max ms', runs.map((r) => r.latency.max), f1),
    row('same-instance p50 ms', runs.map((r) => r.latencySame.p50), f2),
    row('same-instance p99 ms', runs.map((r) => r.latencySame.p99), f2),
    row('cross-instance p50 ms', runs.map((r) => r.latencyCross.p50), f2),
    row('cross-instance p99 ms', runs.map((r) => r.latencyCross.p99), f2),
    row('ack p50 ms', runs.map((r) => r.ack.p50), f2),
    row('ack p99 ms', runs.map((r) => r.ack.p99), f2),
    row('CPU % server 0', runs.map((r) => r.cpu.server0), i0),
    row('CPU % server 1', runs.map((r) => r.cpu.server1), i0),
    row('CPU % redis (6 nodes)', runs.map((r) => r.cpu.redis), i0),
    row('CPU % busiest redis node', runs.map((r) => r.cpu.redisMax), i0),
    row('CPU % bench (clients)', runs.map((r) => r.cpu.bench), i0),
    row(`CPU % whole box (of ${cpus().length * 100})`, runs.map((r) => r.cpu.box), i0),
    row('CPU % other processes on the box (noise)', runs.map(other), i0),
    row('lost + dup + gaps (must be 0)', runs.map((r) => r.lost + r.duplicates + r.gaps + r.tailMismatch), i0),
  ].join('\n');
}

// ---------------------------------------------------------------- main

async function main(): Promise<void> {
  const o = parseArgs(process.argv.slice(2));
  const budget = (o.warmup + o.seconds + 25) * o.repeat + 60;
  const kill = setTimeout(() => {
    console.error(`timed out after ${budget} s`);
    void cleanup().finally(() => process.exit(2));
  }, budget * 1000);
  kill.unref();

  const servers: Server[] = [];
  let clusterUp = false;
  const cleanup = async () => {
    await Promise.allSettled(servers.map((s) => s.stop()));
    if (clusterUp) await down({ basePort: BASE_PORT });
  };
  const runs: Run[] = [];
  try {
    const cluster = await up({ basePort: BASE_PORT });
    clusterUp = true;
    const redisPids = cluster.ports.map((p) => Number(readFileSync(join(cluster.dir, String(p), 'redis.pid'), 'utf8').trim()));
    const env = (id: string) => ({ REDIS_CLUSTER_NODES: cluster.nodes.join(','), LOG_LEVEL: 'warn', SEND_RATE: '100000', SEND_BURST: '100000', INSTANCE_ID: id });
    servers.push(...(await Promise.all([startServer('node', env('bench-a')), startServer('node', env('bench-b'))])));
    for (let i = 0; i < o.repeat; i++) {
      const r = await once(o, servers, redisPids, i);
      runs.push(r);
      console.log(JSON.stringify(r));
    }
  } catch (err) {
    for (const s of servers) console.error(s.output().slice(-3000));
    throw err;
  } finally {
    await cleanup();
  }

  const cmd = `npx tsx bench/cluster/fanout.ts ${process.argv.slice(2).join(' ')}`.trim();
  const head = `${o.mode} · ${o.members} members × ${o.rooms} room(s) over 2 instances · ${runs[0]?.senders} senders · ${o.mode === 'steady' ? `${o.rate} msg/s` : `window ${o.window}/sender`} · ${o.seconds} s`;
  console.log(`\n${head}\n\n${runsTable(runs)}`);
  if (runs.length > 1) console.log(`\n${summaryTable(runs)}`);
  const bad = runs.filter((r) => r.lost || r.duplicates || r.gaps || r.tailMismatch);
  if (bad.length) console.log(`\nWARNING: ${bad.length} run(s) with losses, duplicates or gaps`);

  if (o.write) {
    const key = `${o.mode}-${o.members}x${o.rooms}${o.mode === 'steady' ? `-${o.rate}` : `-w${o.window}`}`;
    const section = [
      `<!-- ${key}:begin (generated by fanout.ts --write) -->`,
      `### ${head}`,
      '',
      `Command: \`${cmd}\`  `,
      `Date: ${new Date().toISOString()} · node ${process.version} · ${cpus().length} cores (${cpus()[0]?.model ?? '?'}) · servers, 6 redis nodes and the load generator share the box`,
      '',
      ...(runs.length > 1 ? [summaryTable(runs), '', 'All runs:', ''] : []),
      runsTable(runs),
      `<!-- ${key}:end -->`,
    ].join('\n');
    const path = resolve(HERE, 'RESULTS.md');
    let text = existsSync(path) ? readFileSync(path, 'utf8') : '# Cluster fan-out benchmark\n';
    const re = new RegExp(`<!-- ${key}:begin[\\s\\S]*?<!-- ${key}:end -->`);
    text = re.test(text) ? text.replace(re, section) : `${text.trimEnd()}\n\n${section}\n`;
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

/**
 * What the per-connection and per-user limits (docs/protocol.md §10) do against one abusive client.
 *
 *   npx tsx bench/limits/abuse.ts [--seconds 10] [--users 40] [--floods join,send,conn] [--keep]
 *
 * Starts its own stack with infra/stack.ts (`up`: 2 chat instances, HAProxy, a 6-node Redis Cluster,
 * the MongoDB-compatible server and the workers) on base port 22000, so: balancer 22000, Redis
 * 22020-22025 (bus 32020-32025), instances 22101-22102; the stack dir is a temp dir. `down` runs at
 * the end, on failure and on Ctrl-C too (`--keep` keeps the logs).
 *
 * `--users` normal users (rooms of 10) connect through HAProxy, each sending a message every 500 ms.
 * Latency = receive time − the time this process sent it (found by cid; one process, one clock),
 * counted by the phase the message was sent in. After a warm-up: a baseline window of `--seconds`,
 * then the same window with ONE abusive user (bench/limits/abuser.ts, a child process) flooding
 * joins, sends into the first normal room, and upgrades. Then sending stops and deliveries drain.
 *
 * Reports the abuser's view of its refusals, the instances' `parley_refused_total` and
 * `parley_errors_total` (sum of both /metrics) per window, the normal users' p50/p99/max, counts,
 * lost and duplicate deliveries, CPU per process kind, and warn/error lines in the server logs.
 * Appends the tables to bench/limits/RESULTS.md.
 */
import { type ChildProcess, fork } from 'node:child_process';
import { appendFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import WebSocket from 'ws';
import { down, status, up } from '../../infra/stack.ts';
import { Latency, diff, fmt, logFindings, now, open, scrape, sleep, table } from './lib.ts';

/** Apart from `npm run bench` (21000 and 21500) and the tests' stacks, so that they can run together. */
const BASE_PORT = 22_000;
const ROOM_SIZE = 10;
const SEND_EVERY_MS = 500;
const WARMUP_MS = 2000;
const DRAIN_MS = 3000;
const HERE = import.meta.dirname;

const args = process.argv.slice(2);
const opt = (name: string, def: number) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : def;
};
const seconds = opt('seconds', 10);
const users = opt('users', 40);
const keep = args.includes('--keep');
const floodsArg = args.indexOf('--floods');
const floods = floodsArg >= 0 ? (args[floodsArg + 1] as string) : 'join,send,conn';
if (!(seconds > 0) || !(users >= ROOM_SIZE) || users % ROOM_SIZE !== 0) throw new Error('--seconds > 0, --users a multiple of 10');

type Phase = 'warmup' | 'base' | 'abuse' | 'drain';
let phase: Phase = 'warmup';
const dir = mkdtempSync(join(tmpdir(), 'parley-limits-'));
const log = (s: string) => console.error(`[${new Date().toISOString().slice(11, 19)}] ${s}`);

// ---- normal users

type Member = { name: string; room: string; ws: WebSocket; got: Map<string, number> };
const sent = new Map<string, { t: number; phase: Phase; room: string }>();
const lat = { base: new Latency(), abuse: new Latency() };
/** The same deliveries split by room (the flooded one, the others) and by second of the window (send time). */
const byRoom = { base: { flooded: new Latency(), other: new Latency() }, abuse: { flooded: new Latency(), other: new Latency() } };
const perSecond = { base: [] as Latency[], abuse: [] as Latency[] };
const phaseStart = { base: 0, abuse: 0 };
const FLOODED = 'room-0';
const counts = { acks: 0, errors: {} as Record<string, number>, closes: 0, fromAbuser: 0 };
const loopDelay = { base: monitorEventLoopDelay({ resolution: 10 }), abuse: monitorEventLoopDelay({ resolution: 10 }) };

async function connectMember(url: string, name: string, room: string): Promise<Member> {
  const got = new Map<string, number>();
  const r = await open(`${url}?user=${name}`, (f) => {
    if (f.type === 'message') {
      const cid = f['cid'] as string | undefined;
      const s = cid === undefined ? undefined : sent.get(cid);
      if (s && f['room'] === room) {
        got.set(cid as string, (got.get(cid as string) ?? 0) + 1);
        if (got.get(cid as string) === 1 && (s.phase === 'base' || s.phase === 'abuse')) {
          const ms = now() - s.t;
          lat[s.phase].add(ms);
          byRoom[s.phase][room === FLOODED ? 'flooded' : 'other'].add(ms);
          (perSecond[s.phase][Math.floor((s.t - phaseStart[s.phase]) / 1000)] ??= new Latency()).add(ms);
        }
      } else if (f['from'] !== name) counts.fromAbuser++;
    } else if (f.type === 'ack') counts.acks++;
    else if (f.type === 'error') counts.errors[String(f['code'])] = (counts.errors[String(f['code'])] ?? 0) + 1;
  });
  if (!('ws' in r)) throw new Error(`${name}: upgrade refused: ${r.error}`);
  r.ws.on('close', () => phase !== 'drain' && counts.closes++);
  const joined = new Promise<void>((done) => r.ws.on('message', (d) => d.toString().includes('"joined"') && done()));
  r.ws.send(JSON.stringify({ type: 'join', room }));
  await joined;
  return { name, room, ws: r.ws, got };
}

function startSending(members: Member[]): () => void {
  const timers = members.map((m) => {
    let n = 0;
    const fire = () => {
      if (m.ws.readyState !== WebSocket.OPEN || phase === 'drain') return;
      const cid = `n-${m.name}-${n++}`;
      sent.set(cid, { t: now(), phase, room: m.room });
      m.ws.send(JSON.stringify({ type: 'send', room: m.room, text: `hi ${n}`, cid }));
    };
    let iv: NodeJS.Timeout | undefined;
    const t = setTimeout(() => (iv = setInterval(fire, SEND_EVERY_MS)), Math.random() * SEND_EVERY_MS);
    return () => (clearTimeout(t), clearInterval(iv));
  });
  return () => timers.forEach((stop) => stop());
}

/** Messages sent in `p`, deliveries expected (every member of the room, sender included), lost, duplicates. */
function delivery(members: Member[], p: Phase) {
  const byRoom = new Map<string, Member[]>();
  for (const m of members) byRoom.set(m.room, [...(byRoom.get(m.room) ?? []), m]);
  let msgs = 0, expected = 0, lost = 0, dups = 0;
  for (const [cid, s] of sent) {
    if (s.phase !== p) continue;
    msgs++;
    for (const m of byRoom.get(s.room) ?? []) {
      expected++;
      const c = m.got.get(cid) ?? 0;
      if (c === 0) lost++;
      dups += Math.max(0, c - 1);
    }
  }
  return { msgs, expected, lost, dups };
}

// ---- CPU of the stack's processes, per kind (/proc/<pid>/stat utime+stime)

const HZ = 100;
function cpuTicks(pid: number): number {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
    return Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14]); // utime stime cutime cstime
  } catch {
    return 0;
  }
}
type Procs = { kind: string; pid: number }[];
const cpuSnap = (procs: Procs) => ({ t: now(), ticks: procs.map((p) => cpuTicks(p.pid)), self: process.cpuUsage() });
function cpuPct(procs: Procs, a: ReturnType<typeof cpuSnap>, b: ReturnType<typeof cpuSnap>, abuser = 0): Record<string, number> {
  const secs = (b.t - a.t) / 1000;
  const out: Record<string, number> = {};
  procs.forEach((p, i) => (out[p.kind] = (out[p.kind] ?? 0) + (((b.ticks[i] ?? 0) - (a.ticks[i] ?? 0)) / HZ / secs) * 100));
  const self = b.self.user + b.self.system - a.self.user - a.self.system;
  out['load generator'] = self / 1e4 / secs;
  if (abuser) out['abuser process'] = (abuser / HZ / secs) * 100;
  return out;
}

// ---- the run

async function main(): Promise<string> {
  log(`stack up on base port ${BASE_PORT} (dir ${dir}) …`);
  const ep = await up({ basePort: BASE_PORT, dir, instances: 2, env: { LOG_LEVEL: 'warn' }, workerEnv: { LOG_LEVEL: 'warn' } });
  const wsUrl = `${ep.balancer.replace(/^http/, 'ws')}/ws`;
  const instances = ep.instances.map((i) => i.url);
  const procs: Procs = (await status({ dir })).processes.filter((p) => p.pid !== null).map((p) => ({ kind: p.kind, pid: p.pid as number }));

  const rooms = Array.from({ length: users / ROOM_SIZE }, (_, r) => `room-${r}`);
  const members: Member[] = [];
  for (let k = 0; k < users; k++) members.push(await connectMember(wsUrl, `u${k % rooms.length}-${Math.floor(k / rooms.length)}`, rooms[k % rooms.length] as string));
  log(`${members.length} normal users in ${rooms.length} rooms; warm-up ${WARMUP_MS} ms`);
  // The abuser is its own process, loaded now (tsx compiles it) and told to start at the abuse window.
  const abuser = (abuserProc = fork(join(HERE, 'abuser.ts'), [wsUrl, 'abuser', rooms[0] as string, floods], { execArgv: ['--import', 'tsx'], stdio: 'inherit' }));
  const abuserMsgs: unknown[] = [];
  let onAbuserMsg = () => undefined as void;
  abuser.on('message', (m) => (abuserMsgs.push(m), onAbuserMsg()));
  const abuserNext = (i: number) => new Promise<unknown>((done) => {
    const check = () => abuserMsgs.length > i && done(abuserMsgs[i]);
    onAbuserMsg = check;
    check();
  });
  await abuserNext(0); // 'ready'
  const stopSending = startSending(members);
  await sleep(WARMUP_MS);

  const m0 = await scrape(instances);
  const c0 = cpuSnap(procs);
  phase = 'base';
  phaseStart.base = now();
  loopDelay.base.enable();
  log(`baseline window ${seconds} s`);
  await sleep(seconds * 1000);
  loopDelay.base.disable();
  const m1 = await scrape(instances);
  const c1 = cpuSnap(procs);
  const loadBase = loadavg()[0] as number;

  phase = 'abuse';
  phaseStart.abuse = now();
  loopDelay.abuse.enable();
  log(`abuse window ${seconds} s (one abusive user: ${floods}; room ${rooms[0]})`);
  const ticks0 = cpuTicks(abuser.pid as number);
  abuser.send('go');
  await sleep(seconds * 1000);
  const abuserTicks = cpuTicks(abuser.pid as number) - ticks0;
  const load = { base: loadBase, abuse: loadavg()[0] as number };
  const c2 = cpuSnap(procs);
  phase = 'drain';
  loopDelay.abuse.disable();
  stopSending();
  abuser.send('stop');
  const a = (await Promise.race([abuserNext(1), sleep(15_000).then(() => null)])) as AbuserStats | null;
  if (!a) abuser.kill('SIGKILL');
  log(`draining ${DRAIN_MS} ms`);
  await sleep(DRAIN_MS);
  const m2 = await scrape(instances);
  for (const m of members) m.ws.terminate();
  const findings = logFindings(join(dir, 'logs'));

  // ---- report
  const d = { base: delivery(members, 'base'), abuse: delivery(members, 'abuse') };
  const s = { base: lat.base.summary(), abuse: lat.abuse.summary() };
  const ms = (v: number | undefined) => (v === undefined ? '–' : v.toFixed(1));
  const secs = (l: Latency[]) => Array.from(l, (x) => (x?.summary()?.p99 ?? 0).toFixed(0)).join(' · ');
  const evl = (h: ReturnType<typeof monitorEventLoopDelay>) => ms(Math.max(0, h.percentile(99) / 1e6 - 10)); // the histogram includes the 10 ms sampling interval
  const normal = table(['normal users', 'baseline', 'during abuse'], [
    ['messages sent (normal)', d.base.msgs, d.abuse.msgs],
    ['deliveries expected / received', `${d.base.expected} / ${s.base?.count ?? 0}`, `${d.abuse.expected} / ${s.abuse?.count ?? 0}`],
    ['lost / duplicate deliveries', `${d.base.lost} / ${d.base.dups}`, `${d.abuse.lost} / ${d.abuse.dups}`],
    ['delivery p50 ms', ms(s.base?.p50), ms(s.abuse?.p50)],
    ['delivery p99 ms', ms(s.base?.p99), ms(s.abuse?.p99)],
    ['delivery max ms', ms(s.base?.max), ms(s.abuse?.max)],
    [`p99 ms in ${FLOODED} (send-flooded) / other rooms`, `${ms(byRoom.base.flooded.summary()?.p99)} / ${ms(byRoom.base.other.summary()?.p99)}`, `${ms(byRoom.abuse.flooded.summary()?.p99)} / ${ms(byRoom.abuse.other.summary()?.p99)}`],
    ['p99 ms by second of the window', secs(perSecond.base), secs(perSecond.abuse)],
    ['load generator event-loop delay p99 ms', evl(loopDelay.base), evl(loopDelay.abuse)],
    ['box load average (1 min) at window end', load.base.toFixed(1), load.abuse.toFixed(1)],
  ]);
  const other = `Normal users, whole run: ${counts.acks} acks, error frames ${JSON.stringify(counts.errors)}, unexpected closes ${counts.closes}, abuser messages received ${counts.fromAbuser} (members of ${rooms[0]}).`;
  const ab = a ?? ({ joins: {}, sends: {}, closes: {}, upgrades: {}, otherErrors: {}, maxOpen: 0 } as unknown as AbuserStats);
  const upgrades = Object.entries(ab.upgrades);
  const abuserTable = table(['abusive user (client view)', 'count'], [
    ['joins sent', ab.joins.sent], ['… answered `joined`', ab.joins.joined], ['… `too_many_rooms`', ab.joins.too_many_rooms], ['… `rate_limited`', ab.joins.rate_limited], ['… other error', ab.joins.other],
    ['sends sent', ab.sends.sent], ['… acked', ab.sends.acked], ['… `rate_limited`', ab.sends.rate_limited], ['… other error', ab.sends.other],
    ['sockets closed by the server, by code', Object.entries(ab.closes).map(([c, n]) => `${c}: ${n}`).join(', ') || '0'],
    ...upgrades.map(([role, u]) => [`upgrades (${role}): accepted / 429 / other`, `${u.accepted} / ${u.refused429} / ${u.other}`]),
    ['most abuser sockets open at once', ab.maxOpen],
  ]);
  const keys = [...new Set([...Object.keys(diff(m0, m2))])].filter((k) => (m2[k] ?? 0) > 0).sort();
  const [db, da] = [diff(m0, m1), diff(m1, m2)];
  const serverTable = keys.length === 0 ? 'Server counters: no refusal and no error counted.' : table(['server counters (sum of 2 instances)', 'baseline', 'abuse + drain'], keys.map((k) => [`\`${k.replace(/^refused:/, 'parley_refused_total ').replace(/^errors:/, 'parley_errors_total ')}\``, fmt(db[k] ?? 0), fmt(da[k] ?? 0)]));
  const [cb, ca] = [cpuPct(procs, c0, c1), cpuPct(procs, c1, c2, abuserTicks)];
  const cpuTable = table(['CPU % of one core', 'baseline', 'during abuse'], [...new Set([...Object.keys(cb), ...Object.keys(ca)])].map((k) => [k, fmt(Math.round(cb[k] ?? 0)), fmt(Math.round(ca[k] ?? 0))]));
  const logs = findings.length === 0 ? 'Server logs: no warn or error line.' : `Server logs (warn/error lines, chat instances and workers):\n\n${findings.map((f) => `- ${f.level} ×${f.count}: ${f.msg}`).join('\n')}`;
  const cmd = `npx tsx bench/limits/abuse.ts ${args.join(' ')}`.trim();
  const head = `### Run ${new Date().toISOString()}\n\nCommand: \`${cmd}\` · ${users} normal users in ${rooms.length} rooms of ${ROOM_SIZE}, one message per user every ${SEND_EVERY_MS} ms · windows of ${seconds} s · abuser floods: ${floods} · node ${process.version} · ${cpus().length} cores (${cpus()[0]?.model.trim()}) shared by the 2 chat instances, 6 Redis nodes, HAProxy, the workers, the load generator and the abuser process`;
  return [head, normal, other, abuserTable, serverTable, cpuTable, logs].join('\n\n');
}

type AbuserStats = {
  joins: Record<'sent' | 'joined' | 'too_many_rooms' | 'rate_limited' | 'other', number>;
  sends: Record<'sent' | 'acked' | 'rate_limited' | 'other', number>;
  closes: Record<string, number>;
  upgrades: Record<string, { accepted: number; refused429: number; other: number }>;
  otherErrors: Record<string, number>;
  maxOpen: number;
};

let abuserProc: ChildProcess | undefined;
let stopping: Promise<void> | undefined;
const teardown = () => (stopping ??= (abuserProc?.exitCode === null && abuserProc.kill('SIGKILL'), down({ dir }).catch((e) => log(`down: ${(e as Error).message}`)).then(() => {
  if (keep) log(`logs kept in ${dir}/logs`);
  else rmSync(dir, { recursive: true, force: true });
})));
process.once('SIGINT', () => void teardown().finally(() => process.exit(130)));

main().then(
  async (report) => {
    await teardown();
    console.log(`\n${report}\n`);
    const out = join(HERE, 'RESULTS.md');
    if (!existsSync(out)) writeFileSync(out, '# Limits against one abusive client (bench/limits/abuse.ts)\n\n');
    appendFileSync(out, `${report}\n\n`);
    log(`appended to ${out}`);
    process.exit(0);
  },
  async (err: unknown) => {
    console.error(err);
    await teardown();
    process.exit(1);
  },
);

/**
 * `npm run chaos -- <smoke|medium|soak> [--seed N] [--base-port P] [--dir D] [--storm-s S] [--rate R]`: the whole stack
 * (infra/stack.ts) under chat traffic and a seeded schedule of faults, then every invariant checked
 * at the end of the storm and again after a quiet period. Writes the results file and
 * bench/CHAOS.md; exits 1 when an invariant is violated. The stack is always stopped at the end.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { down, up } from '../../infra/stack.ts';
import { checkAcks, checkArchive, checkReads, checkRemoved, checkStates, checkViews, type Verdict } from './checks.ts';
import { type FaultRecord, Faults } from './faults.ts';
import { presenceCheck, rssCheck } from './liveness.ts';
import { type ChaosResult, recovery, writeResults } from './report.ts';
import { FAULT_KINDS, type FaultKind, SIZES, rng } from './sizes.ts';
import { Traffic } from './traffic.ts';
import { INSTANCE_NODE_ARGS, Mongo, instanceMemory, memoryEnv, readLogs } from './truth.ts';

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
/**
 * The archive worker's full scan of the room logs, which archives rooms whose announcement was lost
 * (an instance killed between an append and its feed write). Its default is 5 minutes; the run's
 * checks wait for the archive, so it scans more often here.
 */
const ARCHIVE_SCAN_MS = 10_000;
const say = (line: string) => console.error(`chaos: ${line}`);

function args(argv: string[]) {
  const size = SIZES[argv[0] ?? 'smoke'];
  if (!size) throw new Error(`size: expected ${Object.keys(SIZES).join(', ')}, got ${argv[0]}`);
  const flag = (name: string) => {
    const i = argv.indexOf(name);
    return i < 0 ? undefined : argv[i + 1];
  };
  const seed = Number(flag('--seed') ?? Date.now() % 1_000_000);
  const basePort = Number(flag('--base-port') ?? process.env['PARLEY_STACK_BASE_PORT'] ?? 20000);
  // --storm-s bounds the storm (a run that must end in time stops early, and says so in its results);
  // --rate changes the offered actions per second.
  const stormS = flag('--storm-s');
  const rate = flag('--rate');
  const sized = { ...size, ...(stormS ? { stormMs: Number(stormS) * 1000 } : {}), ...(rate ? { rate: Number(rate) } : {}) };
  return { size: sized, seed, basePort, dir: flag('--dir') };
}

/** The seeded fault order: every kind once per round, in a shuffled order. */
function schedule(random: () => number): () => FaultKind {
  let round: FaultKind[] = [];
  return () => {
    if (round.length === 0) {
      round = [...FAULT_KINDS];
      for (let i = round.length - 1; i > 0; i--) {
        const j = Math.floor(random() * (i + 1));
        [round[i], round[j]] = [round[j] as FaultKind, round[i] as FaultKind];
      }
    }
    return round.shift() as FaultKind;
  };
}

async function checkAll(traffic: Traffic, baseUrl: string, mongo: Mongo, phase: string): Promise<(Verdict & { phase: string })[]> {
  const rooms = new Map<string, string>(traffic.publicRooms.map((r) => [r, 'chaos-checker']));
  for (const g of traffic.groups) rooms.set(g.room, g.owner.name);
  const logs = await readLogs(baseUrl, rooms);
  // The archive worker copies the logs behind them: wait (a while) until it holds every entry.
  const total = [...logs.values()].reduce((n, l) => n + l.entries.size, 0);
  let docs = await mongo.messages([...rooms.keys()]);
  for (const deadline = Date.now() + 30_000; Date.now() < deadline; docs = await mongo.messages([...rooms.keys()])) {
    if ([...docs.values()].reduce((n, d) => n + d.length, 0) >= total) break;
    await sleep(500);
  }
  const users = traffic.users;
  return [checkViews(users, logs, traffic.shared), checkAcks(users, logs), checkArchive(logs, docs), checkStates(users, logs, docs), checkReads(users), checkRemoved(users)]
    .map((v) => ({ ...v, phase }));
}

async function main(): Promise<number> {
  const { size, seed, basePort, dir: givenDir } = args(process.argv.slice(2));
  const dir = givenDir ?? mkdtempSync(join(tmpdir(), 'parley-chaos-'));
  // One generator per concern, so that the fault schedule replays from the seed whatever the traffic drew.
  const random = rng(seed);
  const started = Date.now();
  const env = { HEARTBEAT_MS: String(size.heartbeatMs), LOG_LEVEL: 'warn', SEND_RATE: '50', SEND_BURST: '100', ...memoryEnv(dir) };
  say(`${size.name}, seed ${seed}, stack on ${basePort} in ${dir}`);
  let stopping = false;
  // Ctrl-C ends the storm early; the checks and the stack's shutdown still run. A terminal's Ctrl-C
  // reaches this process twice (directly and relayed by tsx), so every SIGINT is caught here.
  process.on('SIGINT', () => {
    if (!stopping) say('SIGINT: ending the storm, then checking');
    stopping = true;
  });
  const workerEnv = { LOG_LEVEL: 'warn', ARCHIVE_SCAN_MS: String(ARCHIVE_SCAN_MS) };
  const ep = await up({ basePort, dir, instances: size.instances, env, workerEnv, nodeArgs: INSTANCE_NODE_ARGS, log: say });
  const mongo = new Mongo(ep.mongo);
  let passed = false;
  try {
    const traffic = new Traffic(size, ep.balancer, rng(seed + 1), seed.toString(36));
    await traffic.setup();
    traffic.start();
    say(`${size.users} users connected; warming up`);
    await sleep(5000);
    const instanceUrls = Object.fromEntries(ep.instances.map((x) => [x.id, x.url]));
    const rssBefore = await instanceMemory(dir, instanceUrls);

    const faults = new Faults(dir, ep, env, workerEnv, traffic.users, rng(seed + 2));
    const next = schedule(random);
    const timeline: FaultRecord[] = [];
    const stormStart = Date.now();
    const stormEnd = stormStart + size.stormMs;
    let at = stormStart;
    while (!stopping) {
      at += size.faultEveryMs[0] + random() * (size.faultEveryMs[1] - size.faultEveryMs[0]);
      if (at > stormEnd || (size.messages > 0 && traffic.texts() >= size.messages)) break;
      await sleep(at - Date.now());
      const kind = next();
      const ready = traffic.users.filter((u) => u.ready).length;
      say(`${((Date.now() - stormStart) / 1000).toFixed(1)} s: ${kind} (${traffic.acknowledged()} acknowledged so far, ${traffic.texts()} of them messages; ${ready} of ${traffic.users.length} users ready)`);
      const rec = await faults.inject(kind);
      timeline.push(rec);
      say(`  ${rec.target} back after ${(((rec.backAt ?? rec.at) - rec.at) / 1000).toFixed(1)} s${rec.error ? `: ${rec.error}` : ''}`);
    }
    await sleep(Math.max(0, Math.min(stormEnd, Date.now() + 3000) - Date.now()));
    traffic.stopActions();
    for (let d = Date.now() + 30_000; traffic.pendingCount() > 0 && Date.now() < d; ) await sleep(200);
    const lastFault = Math.max(stormStart, ...timeline.map((f) => f.backAt ?? f.at));
    const presence = await presenceCheck(traffic.users, ep.balancer, mongo, size.heartbeatMs, lastFault, rng(seed + 3));
    await sleep(3000);
    say('storm over: checking');
    const invariants = [...(await checkAll(traffic, ep.balancer, mongo, 'end')), { ...presence.verdict, phase: 'end' }];

    say(`quiet for ${size.quietMs / 1000} s`);
    await sleep(size.quietMs);
    const rssAfter = await instanceMemory(dir, instanceUrls);
    invariants.push(...(await checkAll(traffic, ep.balancer, mongo, 'after quiet')), { ...rssCheck(rssBefore, rssAfter), phase: 'after quiet' });
    traffic.stop();
    for (const u of traffic.users) u.drop(false);

    const acks = traffic.users.flatMap((u) => u.acks);
    const result: ChaosResult = {
      size: size.name,
      seed,
      date: new Date().toISOString().slice(0, 10),
      wallSeconds: Math.round((Date.now() - started) / 1000),
      offered: { rate: size.rate, stormS: size.stormMs / 1000, messages: size.messages },
      users: size.users,
      rooms: traffic.publicRooms.length + traffic.groups.length,
      messages: acks.length,
      texts: acks.filter((a) => a.kind === 'send').length,
      changes: acks.filter((a) => a.kind !== 'send').length,
      memberChanges: traffic.memberChanges,
      faults: timeline.map((f) => ({ ...f, t: (f.at - stormStart) / 1000, backMs: (f.backAt ?? f.at) - f.at })),
      recovery: recovery(traffic.users, timeline),
      invariants,
      memory: { before: rssBefore, after: rssAfter },
      presenceConvergedMs: presence.convergedMs,
    };
    const file = writeResults(result);
    for (const i of invariants) say(`${i.ok ? 'ok  ' : 'FAIL'} ${i.phase}: ${i.name} (${i.count} checked${i.ok ? '' : `, ${i.violations} violations: ${i.examples.slice(0, 3).join(' | ')}`})`);
    for (const r of result.recovery) say(`recovery ${r.kind}: p50 ${r.p50Ms} ms, p99 ${r.p99Ms} ms (${r.clients} clients)`);
    say(`${result.messages} acknowledged, ${timeline.length} faults, ${result.wallSeconds} s; ${file}`);
    passed = invariants.every((i) => i.ok) && timeline.every((f) => !f.error);
    return passed ? 0 : 1;
  } finally {
    await mongo.close().catch(() => undefined);
    say('stopping the stack');
    await down({ dir });
    // A failed run keeps its processes' logs: what the instances said is what explains a violation.
    if (!passed) say(`logs kept in ${dir}/logs`);
    else if (!givenDir && !process.env['PARLEY_CHAOS_KEEP']) rmSync(dir, { recursive: true, force: true });
  }
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(`chaos: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    process.exit(1);
  },
);

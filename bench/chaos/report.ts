/**
 * A chaos run's results: recovery times per fault kind, the results file
 * (`bench/results/<date>-chaos-<size>.json`) and the table in `bench/CHAOS.md`.
 */
import { writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Verdict } from './checks.ts';
import type { FaultRecord } from './faults.ts';
import type { ChaosUser } from './user.ts';

const BENCH = resolve(import.meta.dirname, '..');

export type Recovery = { kind: string; faults: number; clients: number; p50Ms: number; p99Ms: number; measures: string };
export type ChaosResult = {
  size: string;
  seed: number;
  date: string;
  wallSeconds: number;
  users: number;
  rooms: number;
  /** Acknowledged entries: text messages and edits, deletes and reactions. */
  messages: number;
  texts: number;
  changes: number;
  memberChanges: Record<string, number>;
  faults: (FaultRecord & { t: number; backMs: number })[];
  recovery: Recovery[];
  invariants: { name: string; ok: boolean; count: number; violations: number; examples: string[]; phase: string }[];
  rss: { before: Record<string, number>; after: Record<string, number> };
  presenceConvergedMs: number;
};

function pct(sorted: number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] as number;
}

/** Client-side time to be back for one fault: per user, or null when the fault did not touch it. */
function sample(u: ChaosUser, f: FaultRecord, until: number): number | null {
  if (f.kind === 'redis-failover') {
    let last = 0;
    for (const a of u.acks) if (a.sentAt >= f.at && a.sentAt < until && a.ackAt - a.sentAt > 1000) last = Math.max(last, a.ackAt);
    return last > 0 ? last - f.at : null;
  }
  const close = u.closes.findIndex((t) => t >= f.at && t < until);
  if (close < 0) return null;
  const back = u.resumes.find((t) => t >= (u.closes[close] as number));
  return back === undefined ? null : back - f.at;
}

const MEASURES: Record<string, string> = {
  'instance-kill': 'disconnected users: kill to all rooms resumed',
  'instance-drain': 'disconnected users: SIGTERM to all rooms resumed',
  'reconnect-storm': 'disconnected users: disconnect to all rooms resumed',
  'redis-failover': 'users with a send stalled > 1 s: kill to its ack',
};

export function recovery(users: ChaosUser[], faults: FaultRecord[]): Recovery[] {
  const kinds = [...new Set(faults.map((f) => f.kind))];
  return kinds.map((kind) => {
    const own = faults.filter((f) => f.kind === kind);
    const samples: number[] = [];
    for (const f of own) {
      const next = faults.find((g) => g.at > f.at)?.at ?? Infinity;
      const until = Math.min(next, (f.backAt ?? f.at) + 5000);
      if (MEASURES[kind] === undefined) samples.push((f.backAt ?? f.at) - f.at);
      else for (const u of users) {
        const s = sample(u, f, until);
        if (s !== null) samples.push(s);
      }
    }
    samples.sort((a, b) => a - b);
    const clients = MEASURES[kind] === undefined ? 0 : samples.length;
    return { kind, faults: own.length, clients, p50Ms: pct(samples, 50), p99Ms: pct(samples, 99), measures: MEASURES[kind] ?? 'the process back (healthy) after the fault; clients unaffected' };
  });
}

export function writeResults(r: ChaosResult): string {
  const file = join(BENCH, 'results', `${r.date}-chaos-${r.size}.json`);
  writeFileSync(file, `${JSON.stringify(r, null, 2)}\n`);
  writeFileSync(join(BENCH, 'CHAOS.md'), markdown(r, file));
  return file;
}

export function markdown(r: ChaosResult, file: string): string {
  const rows = (list: string[][]) => list.map((l) => `| ${l.join(' | ')} |`).join('\n');
  return `# Chaos runs

\`npm run chaos -- <smoke|medium|soak> [--seed N] [--base-port P]\` (bench/chaos/) brings up the whole
stack, drives chat users through instance kills and drains, a Redis master failover, worker kills,
a MongoDB restart and reconnect storms, with group membership changes, edits, deletes and
reactions throughout, and checks every invariant at the end of the storm and again after a quiet
period. Each run writes \`bench/results/<date>-chaos-<size>.json\`; this page shows the latest.

## Latest: ${r.size}, ${r.date}, seed ${r.seed}

${r.messages.toLocaleString('en')} acknowledged entries (${r.texts.toLocaleString('en')} messages, ${r.changes.toLocaleString('en')} edits, deletes and reactions),
${r.users} users in ${r.rooms} rooms, ${r.faults.length} faults, ${Object.entries(r.memberChanges).map(([k, v]) => `${v} ${k}`).join(', ')} group
membership changes; ${r.wallSeconds} s wall time. Results: \`${file.slice(file.indexOf('bench/'))}\`.

| invariant | phase | checked | violations | verdict |
|---|---|---:|---:|---|
${rows(r.invariants.map((i) => [i.name, i.phase, String(i.count), String(i.violations), i.ok ? 'holds' : '**violated**']))}

Recovery per fault kind:

| fault | faults | clients measured | p50 | p99 | what is measured |
|---|---:|---:|---:|---:|---|
${rows(r.recovery.map((x) => [x.kind, String(x.faults), String(x.clients), `${(x.p50Ms / 1000).toFixed(2)} s`, `${(x.p99Ms / 1000).toFixed(2)} s`, x.measures]))}

Fault timeline (seconds from the start of the storm):

| t | fault | target | back after |
|---:|---|---|---:|
${rows(r.faults.map((f) => [f.t.toFixed(1), f.kind, f.target + (f.error ? ` (error: ${f.error})` : ''), `${(f.backMs / 1000).toFixed(1)} s`]))}
`;
}

export type { Verdict };

/**
 * A chaos run's results: recovery times per fault kind and the results file
 * (`bench/results/<date>-chaos-<size>.json`), after which `bench/CHAOS.md` is rewritten (page.ts).
 */
import { writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Verdict } from './checks.ts';
import type { FaultRecord } from './faults.ts';
import type { InstanceMemory } from './truth.ts';
import { writePage } from './page.ts';
import type { ChaosUser } from './user.ts';

const BENCH = resolve(import.meta.dirname, '..');

export type Recovery = { kind: string; faults: number; clients: number; p50Ms: number; p99Ms: number; measures: string };
export type ChaosResult = {
  size: string;
  seed: number;
  date: string;
  wallSeconds: number;
  /** What was asked: actions per second offered, the storm's limit, and the messages to stop at (0: none). */
  offered?: { rate: number; stormS: number; messages: number };
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
  /** Each instance's memory after a full collection, before the storm and after the quiet period (older results: `rss`, KiB only). */
  memory?: { before: Record<string, InstanceMemory>; after: Record<string, InstanceMemory> };
  rss?: { before: Record<string, number>; after: Record<string, number> };
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
  writePage();
  return file;
}

export type { Verdict };

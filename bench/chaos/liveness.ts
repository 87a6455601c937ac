/**
 * The two invariants about the service's own state after the storm: presence (Redis and MongoDB)
 * converging to who is connected, and the instances' memory returning to where it was.
 */
import { Tally, type Verdict } from './checks.ts';
import { type InstanceMemory, type Mongo, redisStatuses } from './truth.ts';
import type { ChaosUser } from './user.ts';

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * Takes a tenth of the users offline for good, then polls both stores until each user's status is
 * the truth (online while its socket is open, offline once it left): it must be within two
 * heartbeat intervals of the later of the last fault and the departures. Then brings them back.
 */
export async function presenceCheck(users: ChaosUser[], baseUrl: string, mongo: Mongo, heartbeatMs: number, lastFault: number, random: () => number): Promise<{ verdict: Verdict; convergedMs: number }> {
  const t = new Tally('presence in Redis and MongoDB converges within two heartbeat intervals');
  const leaving = users.filter(() => random() < 0.1);
  for (const u of leaving) u.drop(false);
  const from = Math.max(Date.now(), lastFault);
  const names = users.map((u) => u.name);
  let wrong: string[] = [];
  let convergedMs = -1;
  for (const deadline = from + 4 * heartbeatMs + 15_000; Date.now() < deadline; await sleep(250)) {
    const [redis, stored] = await Promise.all([redisStatuses(baseUrl, names), mongo.statuses(names).catch(() => new Map<string, string>())]);
    wrong = [];
    for (const u of users) {
      if (u.wanted && !u.open) continue; // reconnecting right now: no truth to hold it to
      const truth = u.wanted ? 'online' : 'offline';
      if (redis.get(u.name) !== truth) wrong.push(`${u.name} ${truth} but Redis says ${redis.get(u.name)}`);
      if (stored.get(u.name) !== truth) wrong.push(`${u.name} ${truth} but MongoDB says ${stored.get(u.name) ?? 'nothing'}`);
    }
    if (wrong.length === 0) {
      convergedMs = Date.now() - from;
      break;
    }
  }
  t.count += 2 * users.length - 1; // every user's status in both stores
  t.check(convergedMs >= 0 && convergedMs <= 2 * heartbeatMs, () =>
    convergedMs < 0 ? `not converged; still wrong: ${wrong.slice(0, 5).join('; ')} (${wrong.length} in all)` : `converged after ${convergedMs} ms, more than ${2 * heartbeatMs} ms`);
  for (const u of leaving) u.connect();
  return { verdict: t.verdict(), convergedMs };
}

/**
 * The resident memory of the instances that lived through the storm, together, after the quiet
 * period within 10 % of before the storm. Kills, drains and storms move sockets between instances,
 * so one instance's figure says little; an instance restarted during the storm is a new process
 * with no "before", and is left out (the figures are keyed by name and pid, see `instanceMemory`).
 */
export function rssCheck(before: Record<string, InstanceMemory>, after: Record<string, InstanceMemory>): Verdict {
  const t = new Tally('instance memory back within 10 % after the quiet period');
  const lived = Object.keys(after).filter((k) => before[k] !== undefined);
  const sum = (r: Record<string, InstanceMemory>) => lived.reduce((n, k) => n + (r[k]?.rssKiB ?? 0), 0);
  const mib = (kb: number) => Math.round(kb / 1024);
  const one = (m: InstanceMemory | undefined) => (m ? `${mib(m.rssKiB)} MiB (heap ${mib(m.heapKiB)} MiB, ${m.connections} sockets)` : '?');
  // Nothing to compare proves nothing: the run spares one instance (faults.ts) for this check.
  if (lived.length === 0) t.check(false, () => 'no instance lived through the storm');
  if (lived.length === 0) return t.verdict();
  t.count += lived.length - 1;
  t.check(sum(after) <= sum(before) * 1.1, () =>
    `${mib(sum(before))} MiB before the storm, ${mib(sum(after))} MiB after (${lived.map((k) => `${k} ${one(before[k])} → ${one(after[k])}`).join(', ')})`);
  return t.verdict();
}

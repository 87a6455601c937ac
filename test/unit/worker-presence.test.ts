/**
 * The presence worker's own part (workers/presence-job.ts): a batch's events folded per user into
 * the latest, and written to the user store. Against the memory store: nothing here connects.
 */
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import type { PresenceEvent } from '../../src/redis/codecs/presence-events.ts';
import { MemoryUserStore } from '../../src/users/memory.ts';
import { PresenceWrites } from '../../workers/presence-job.ts';

async function counters(registry: Registry): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const m of await registry.getMetricsAsJSON()) out[m.name] = m.values.reduce((sum, v) => sum + v.value, 0);
  return out;
}

describe('presence worker: writes', () => {
  it('writes the latest event per user (of equal times the later one) and counts once acknowledged', async () => {
    const users = new MemoryUserStore();
    const registry = new Registry();
    const writes = new PresenceWrites(users, registry);
    const events: PresenceEvent[] = [
      { user: 'alice', status: 'online', ts: 100 },
      { user: 'bob', status: 'online', ts: 300 },
      { user: 'alice', status: 'offline', ts: 200 },
      { user: 'bob', status: 'offline', ts: 250 }, // older than bob's first: folded away
      { user: 'carol', status: 'online', ts: 50 },
      { user: 'carol', status: 'offline', ts: 50 }, // same time: the later event wins
    ];
    const acked = await writes.handle(events);
    expect(await users.get('alice')).toEqual({ user: 'alice', status: 'offline', lastSeen: 200, updatedAt: 200 });
    expect(await users.get('bob')).toEqual({ user: 'bob', status: 'online', lastSeen: 300, updatedAt: 300 });
    expect(await users.get('carol')).toEqual({ user: 'carol', status: 'offline', lastSeen: 50, updatedAt: 50 });
    expect(await counters(registry)).toMatchObject({ parley_worker_events_applied_total: 0, parley_worker_events_coalesced_total: 0 });
    acked();
    expect(await counters(registry)).toMatchObject({ parley_worker_events_applied_total: 3, parley_worker_events_coalesced_total: 3 });
  });

  it('never moves a user back on a later batch with older events, and handles an empty batch', async () => {
    const users = new MemoryUserStore();
    const writes = new PresenceWrites(users, new Registry());
    await writes.handle([{ user: 'alice', status: 'offline', ts: 2000 }]);
    await writes.handle([{ user: 'alice', status: 'online', ts: 1000 }]);
    await writes.handle([]);
    expect(await users.get('alice')).toMatchObject({ status: 'offline', lastSeen: 2000 });
  });
});

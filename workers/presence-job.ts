/**
 * The presence worker's job: reads the presence event streams with the consumer group `presence`,
 * folds each user's events of a round into the latest one, applies those to the user store
 * (guarded by time: an older event never overwrites a newer state) and acknowledges.
 *
 * Each partition is read by one worker at a time (`PartitionLeases`, shared out evenly among the
 * live workers), so one user's events are written by one worker at a time and in order; the
 * time guard covers what remains (a worker that lost its lease mid-batch, a takeover).
 *
 * Nothing is lost when a worker dies: what it read and did not acknowledge stays pending and is
 * taken over by another worker (or by itself when restarted under the same WORKER_ID). Applying
 * an event twice, or late, changes nothing, so a takeover that repeats work is harmless.
 */
import { Counter, Gauge, Histogram } from 'prom-client';
import { PRESENCE_PARTITIONS, presenceStreamKey } from '../src/presence/redis.ts';
import { type StreamEntry, GroupReader, PartitionLeases } from '../src/redis-streams.ts';
import { MongoUserStore } from '../src/users/mongo.ts';
import type { UserStore, UserTransition } from '../src/users/types.ts';
import { log } from '../src/log.ts';
import type { Job, WorkerContext } from './run.ts';

export const PRESENCE_GROUP = 'presence';

export class PresenceJob implements Job {
  readonly #reader: GroupReader;
  readonly #users: UserStore;
  readonly #ctx: WorkerContext;
  /** Entries read but not yet applied and acknowledged (kept across failed rounds). */
  #inHand: StreamEntry[] = [];
  readonly #leases: PartitionLeases;
  #renewTimer: ReturnType<typeof setInterval> | undefined;
  #nextClaim = 0;
  #nextBacklog = 0;
  #nextBalance = 0;
  readonly #m;

  constructor(ctx: WorkerContext, users: UserStore = new MongoUserStore(ctx.db)) {
    this.#ctx = ctx;
    this.#users = users;
    const streams = Array.from({ length: PRESENCE_PARTITIONS }, (_, p) => presenceStreamKey(p));
    this.#reader = new GroupReader(ctx.redis, streams, PRESENCE_GROUP, ctx.config.workerId);
    this.#leases = new PartitionLeases(ctx.redis, streams, PRESENCE_GROUP, ctx.config.workerId, ctx.config.leaseMs);
    const registers = [ctx.registry];
    this.#m = {
      read: new Counter({ name: 'parley_worker_events_read_total', help: 'Presence events read from the streams (new and taken over)', registers }),
      claimed: new Counter({ name: 'parley_worker_events_claimed_total', help: 'Events taken over from consumers presumed dead', registers }),
      applied: new Counter({ name: 'parley_worker_events_applied_total', help: 'Transitions written to the user store (one per user and batch)', registers }),
      coalesced: new Counter({ name: 'parley_worker_events_coalesced_total', help: 'Events folded into a later event of the same user in the same batch', registers }),
      malformed: new Counter({ name: 'parley_worker_events_malformed_total', help: 'Entries that were not presence events, or trimmed before being read (acknowledged, not applied)', registers }),
      partitions: new Gauge({ name: 'parley_worker_partitions', help: 'Stream partitions this worker holds', registers }),
      lag: new Gauge({ name: 'parley_worker_lag', help: 'Events in the streams not yet delivered to any worker', registers }),
      pending: new Gauge({ name: 'parley_worker_pending', help: 'Events delivered to workers and not yet acknowledged', registers }),
      batch: new Histogram({ name: 'parley_worker_batch_seconds', help: 'Time to apply and acknowledge one batch', buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10], registers }),
    };
  }

  async init(): Promise<void> {
    await this.#reader.init();
    // Restarted under the same name: what this consumer held before comes first.
    this.#inHand = await this.#reader.ownPending(this.#ctx.config.batch);
    this.#m.read.inc(this.#inHand.length);
    const forgotten = await this.#reader.forgetIdleConsumers(24 * 3600_000);
    // Leases are renewed on a timer too, so that a long batch does not lose them.
    this.#renewTimer = setInterval(() => {
      this.#leases.renew().catch(() => undefined);
    }, Math.max(100, Math.floor(this.#ctx.config.leaseMs / 3)));
    log.info('presence worker ready', { resumed: this.#inHand.length, forgottenConsumers: forgotten });
  }

  async close(): Promise<void> {
    clearInterval(this.#renewTimer);
    // Only with nothing in hand: otherwise the entries stay pending under this name, for a takeover.
    if (this.#inHand.length === 0) await this.#leases.releaseAll();
  }

  async round(): Promise<number> {
    const { config } = this.#ctx;
    const now = Date.now();
    if (now >= this.#nextBacklog) {
      this.#nextBacklog = now + 2000;
      const b = await this.#reader.backlog();
      this.#m.lag.set(b.lag);
      this.#m.pending.set(b.pending);
    }
    if (this.#inHand.length === 0) {
      if (now >= this.#nextBalance) {
        this.#nextBalance = now + Math.min(1000, Math.floor(config.leaseMs / 3));
        this.#m.partitions.set((await this.#leases.balance()).length);
      }
      const owned = this.#leases.owned;
      if (owned.length === 0) return 0;
      if (now >= this.#nextClaim) {
        this.#nextClaim = now + config.claimEveryMs;
        const claimed = await this.#reader.claim(config.claimIdleMs, config.batch, owned);
        if (claimed.length > 0) log.info('took over pending events', { count: claimed.length });
        this.#m.claimed.inc(claimed.length);
        this.#take(claimed);
      }
      this.#take(await this.#reader.read(config.batch, owned));
      if (this.#inHand.length === 0) return 0;
      // A short window to let more events of the same users arrive and fold into one write.
      if (config.coalesceMs > 0 && this.#inHand.length < config.batch) {
        await new Promise((resolve) => setTimeout(resolve, config.coalesceMs));
        this.#take(await this.#reader.read(config.batch, owned));
      }
    }
    const started = performance.now();
    const entries = this.#inHand;
    const { transitions, malformed } = coalesce(entries);
    await this.#users.apply(transitions);
    await this.#reader.ack(entries);
    this.#inHand = [];
    this.#m.applied.inc(transitions.length);
    this.#m.coalesced.inc(entries.length - malformed - transitions.length);
    this.#m.malformed.inc(malformed);
    this.#m.batch.observe((performance.now() - started) / 1000);
    return entries.length;
  }

  status(): Record<string, unknown> {
    return { inHand: this.#inHand.length, partitions: this.#leases.owned.length };
  }

  #take(entries: StreamEntry[]): void {
    this.#inHand.push(...entries);
    this.#m.read.inc(entries.length);
  }
}

/**
 * The latest transition per user among the entries (by time; of equal times the later entry),
 * and how many entries were not presence events.
 */
export function coalesce(entries: readonly StreamEntry[]): { transitions: UserTransition[]; malformed: number } {
  const latest = new Map<string, UserTransition>();
  let malformed = 0;
  for (const e of entries) {
    const t = transitionOf(e);
    if (!t) {
      malformed++;
      continue;
    }
    const prev = latest.get(t.user);
    if (!prev || t.at >= prev.at) latest.set(t.user, t);
  }
  return { transitions: [...latest.values()], malformed };
}

function transitionOf(e: StreamEntry): UserTransition | null {
  const f = e.fields;
  if (!f) return null;
  const at = Number(f['ts']);
  const user = f['user'];
  const status = f['status'];
  if (!user || (status !== 'online' && status !== 'offline') || !Number.isSafeInteger(at) || at <= 0) return null;
  return { user, status, at };
}

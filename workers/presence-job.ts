/**
 * The presence worker's job: reads the presence event streams (`src/redis/codecs/presence-events.ts`)
 * with the consumer group `presence` (the reading, leases and acknowledging: `stream-job.ts`), folds
 * each user's events of a batch into the latest one, and applies those to the user store (guarded by
 * time: an older event never overwrites a newer state).
 *
 * Each partition is read by one worker at a time (partition leases, shared out evenly among the
 * live workers), so one user's events are written by one worker at a time and in order; the time
 * guard covers what remains (a worker that lost its lease mid-batch, a takeover). Applying an event
 * twice, or late, changes nothing, so a takeover that repeats work is harmless.
 */
import { Counter, type Registry } from 'prom-client';
import * as PresenceEvents from '../src/redis/codecs/presence-events.ts';
import { MongoUserStore } from '../src/users/mongo.ts';
import type { UserStore, UserTransition } from '../src/users/types.ts';
import type { Job, WorkerContext } from './run.ts';
import { type StreamHandler, type StreamJobSpec, StreamJob } from './stream-job.ts';

const SPEC: StreamJobSpec<PresenceEvents.PresenceEvent> = {
  kind: 'presence',
  group: 'presence',
  codec: PresenceEvents,
  entries: 'events',
  coalesce: true,
  leases: { partitions: { name: 'parley_worker_partitions', help: 'Stream partitions this worker holds' } },
  metrics: {
    read: { name: 'parley_worker_events_read_total', help: 'Presence events read from the streams (new and taken over)' },
    claimed: { name: 'parley_worker_events_claimed_total', help: 'Events taken over from consumers presumed dead' },
    malformed: {
      name: 'parley_worker_events_malformed_total',
      help: 'Entries that were not presence events, or trimmed before being read (acknowledged, not applied)',
    },
    lag: { name: 'parley_worker_lag', help: 'Events in the streams not yet delivered to any worker' },
    pending: { name: 'parley_worker_pending', help: 'Events delivered to workers and not yet acknowledged' },
    batch: { name: 'parley_worker_batch_seconds', help: 'Time to apply and acknowledge one batch' },
  },
};

export function presenceJob(ctx: WorkerContext): Job {
  return new StreamJob(ctx, SPEC, new PresenceWrites(new MongoUserStore(ctx.db), ctx.registry));
}

/** The presence job's own part: a batch's events, folded per user, into the user store. */
export class PresenceWrites implements StreamHandler<PresenceEvents.PresenceEvent> {
  readonly #users: UserStore;
  readonly #applied: Counter;
  readonly #coalesced: Counter;

  constructor(users: UserStore, registry: Registry) {
    this.#users = users;
    const registers = [registry];
    this.#applied = new Counter({ name: 'parley_worker_events_applied_total', help: 'Transitions written to the user store (one per user and batch)', registers });
    this.#coalesced = new Counter({ name: 'parley_worker_events_coalesced_total', help: 'Events folded into a later event of the same user in the same batch', registers });
  }

  async handle(events: PresenceEvents.PresenceEvent[]): Promise<() => void> {
    const transitions = latestPerUser(events);
    await this.#users.apply(transitions);
    // Counted once acknowledged: a batch handled again after a failed acknowledgement counts once.
    return () => {
      this.#applied.inc(transitions.length);
      this.#coalesced.inc(events.length - transitions.length);
    };
  }
}

/** The latest transition per user among the events (by time; of equal times the later event). */
function latestPerUser(events: readonly PresenceEvents.PresenceEvent[]): UserTransition[] {
  const latest = new Map<string, UserTransition>();
  for (const { user, status, ts } of events) {
    const prev = latest.get(user);
    if (!prev || ts >= prev.at) latest.set(user, { user, status, at: ts });
  }
  return [...latest.values()];
}

/**
 * The job skeleton both workers share: reads a set of partition streams with a consumer group and
 * hands the decoded entries to the job's own part (`StreamHandler`), in batches.
 *
 * A round: refresh the backlog gauges (every 2 s); let the handler do its periodic work (`tick`);
 * then, with nothing in hand, rebalance the partition leases (when the job uses them), take over
 * entries other consumers left pending too long, read new ones and, when asked to, wait the
 * coalescing window for more; decode what is in hand with the stream's codec, hand the values to
 * the handler, and acknowledge once it is done. A round that fails keeps what it had in hand for
 * the next one: nothing is acknowledged before it is handled, so handlers must be idempotent.
 * Entries that do not decode (and entries trimmed while pending) are acknowledged and counted.
 *
 * Nothing is lost when a worker dies: what it read and did not acknowledge stays pending and is
 * taken over by another worker (or by itself when restarted under the same WORKER_ID).
 */
import { Counter, Gauge, Histogram } from 'prom-client';
import { log } from '../src/log.ts';
import type { StreamCodec } from '../src/redis/codecs/codec.ts';
import { GroupReader, PartitionLeases, type StreamEntry } from '../src/redis/streams.ts';
import type { WorkerKind } from './config.ts';
import type { Job, WorkerContext } from './run.ts';

/** A metric's name and help text. */
export type MetricName = { name: string; help: string };

/** What a stream job reads, and how it reports it. */
export type StreamJobSpec<T> = {
  /** The job's name in the log (the worker's kind, or another job the worker also runs). */
  kind: WorkerKind | 'reads';
  /** The consumer group, shared by every worker of the kind. */
  group: string;
  /** The streams and their entry format. */
  codec: StreamCodec<T>;
  /** What the entries are called in the log ("events", "feed entries"). */
  entries: string;
  /** Whether a round that found entries waits WORKER_COALESCE_MS for more before handling them. */
  coalesce: boolean;
  /**
   * With leases, each partition is read by one worker at a time (`PartitionLeases`, shared out
   * evenly among the live workers), renewed between batches and on a timer; `partitions` is the
   * gauge of those held. Without, every worker reads every partition.
   */
  leases?: { partitions: MetricName };
  metrics: {
    read: MetricName;
    claimed: MetricName;
    malformed: MetricName;
    lag: MetricName;
    pending: MetricName;
    batch: MetricName;
  };
};

/** The job's own part. */
export interface StreamHandler<T> {
  /** Once, after the consumer group exists and before anything is read; retried until it succeeds. */
  init?(): Promise<void>;
  /** At the start of every round, whatever is in hand (e.g. a periodic scan); `now` in ms. */
  tick?(now: number): Promise<void>;
  /**
   * Writes a batch's values (those of its entries that decoded; possibly none). Resolves once they
   * are written; may be given the same values again after a failure. What it resolves with, if
   * anything, is called once the batch is acknowledged (e.g. to count the batch exactly once).
   */
  handle(values: T[]): Promise<void | (() => void)>;
}

/** How often the backlog gauges are refreshed. */
const BACKLOG_EVERY_MS = 2000;
/** Consumers of the group that hold nothing and were idle this long are forgotten at start. */
const FORGET_CONSUMERS_AFTER_MS = 24 * 3600_000;
const BATCH_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

export class StreamJob<T> implements Job {
  readonly #ctx: WorkerContext;
  readonly #spec: StreamJobSpec<T>;
  readonly #handler: StreamHandler<T>;
  readonly #reader: GroupReader;
  readonly #leases: PartitionLeases | null;
  /** Entries read but not yet handled and acknowledged (kept across failed rounds). */
  #inHand: StreamEntry[] = [];
  #renewTimer: ReturnType<typeof setInterval> | undefined;
  #nextClaim = 0;
  #nextBacklog = 0;
  #nextBalance = 0;
  readonly #m;

  constructor(ctx: WorkerContext, spec: StreamJobSpec<T>, handler: StreamHandler<T>) {
    this.#ctx = ctx;
    this.#spec = spec;
    this.#handler = handler;
    const { config, redis } = ctx;
    const streams = spec.codec.STREAMS;
    this.#reader = new GroupReader(redis, streams, spec.group, config.workerId);
    this.#leases = spec.leases ? new PartitionLeases(redis, streams, spec.group, config.workerId, config.leaseMs) : null;
    const registers = [ctx.registry];
    const m = spec.metrics;
    this.#m = {
      read: new Counter({ ...m.read, registers }),
      claimed: new Counter({ ...m.claimed, registers }),
      malformed: new Counter({ ...m.malformed, registers }),
      partitions: spec.leases ? new Gauge({ ...spec.leases.partitions, registers }) : null,
      lag: new Gauge({ ...m.lag, registers }),
      pending: new Gauge({ ...m.pending, registers }),
      batch: new Histogram({ ...m.batch, buckets: BATCH_BUCKETS, registers }),
    };
  }

  async init(): Promise<void> {
    await this.#reader.init();
    await this.#handler.init?.();
    // Restarted under the same name: what this consumer held before comes first.
    this.#inHand = await this.#reader.ownPending(this.#ctx.config.batch);
    this.#m.read.inc(this.#inHand.length);
    const forgotten = await this.#reader.forgetIdleConsumers(FORGET_CONSUMERS_AFTER_MS);
    const leases = this.#leases;
    if (leases && this.#renewTimer === undefined) {
      // Leases are renewed on a timer too, so that a long batch does not lose them.
      this.#renewTimer = setInterval(() => {
        leases.renew().catch(() => undefined);
      }, Math.max(100, Math.floor(this.#ctx.config.leaseMs / 3)));
    }
    log.info(`${this.#spec.kind} worker ready`, { resumed: this.#inHand.length, forgottenConsumers: forgotten });
  }

  async round(): Promise<number> {
    const now = Date.now();
    if (now >= this.#nextBacklog) {
      this.#nextBacklog = now + BACKLOG_EVERY_MS;
      const b = await this.#reader.backlog();
      this.#m.lag.set(b.lag);
      this.#m.pending.set(b.pending);
    }
    await this.#handler.tick?.(now);
    if (this.#inHand.length === 0 && !(await this.#fill(now))) return 0;
    const started = performance.now();
    const entries = this.#inHand;
    const values: T[] = [];
    for (const e of entries) {
      const v = this.#spec.codec.decode(e.fields);
      if (v !== null) values.push(v);
    }
    const afterAck = await this.#handler.handle(values);
    await this.#reader.ack(entries);
    this.#inHand = [];
    afterAck?.();
    this.#m.malformed.inc(entries.length - values.length);
    this.#m.batch.observe((performance.now() - started) / 1000);
    return entries.length;
  }

  status(): Record<string, unknown> {
    return this.#leases ? { inHand: this.#inHand.length, partitions: this.#leases.owned.length } : { inHand: this.#inHand.length };
  }

  async close(): Promise<void> {
    clearInterval(this.#renewTimer);
    // Only with nothing in hand: otherwise the entries stay pending under this name, for a takeover.
    if (this.#leases && this.#inHand.length === 0) await this.#leases.releaseAll();
  }

  /** Takes over and reads entries (nothing is in hand); false when there are none. */
  async #fill(now: number): Promise<boolean> {
    const { config } = this.#ctx;
    let streams = this.#spec.codec.STREAMS;
    if (this.#leases) {
      if (now >= this.#nextBalance) {
        this.#nextBalance = now + Math.min(1000, Math.floor(config.leaseMs / 3));
        this.#m.partitions?.set((await this.#leases.balance()).length);
      }
      streams = this.#leases.owned;
      if (streams.length === 0) return false;
    }
    if (now >= this.#nextClaim) {
      this.#nextClaim = now + config.claimEveryMs;
      const claimed = await this.#reader.claim(config.claimIdleMs, config.batch, streams);
      if (claimed.length > 0) log.info(`took over pending ${this.#spec.entries}`, { count: claimed.length });
      this.#m.claimed.inc(claimed.length);
      this.#take(claimed);
    }
    this.#take(await this.#reader.read(config.batch, streams));
    if (this.#inHand.length === 0) return false;
    // A short window to let more entries arrive (e.g. events of the same users, folded into one write).
    if (this.#spec.coalesce && config.coalesceMs > 0 && this.#inHand.length < config.batch) {
      await new Promise((resolve) => setTimeout(resolve, config.coalesceMs));
      this.#take(await this.#reader.read(config.batch, streams));
    }
    return true;
  }

  #take(entries: StreamEntry[]): void {
    this.#inHand.push(...entries);
    this.#m.read.inc(entries.length);
  }
}

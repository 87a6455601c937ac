/**
 * The reads job, run by the presence worker next to its presence job: reads the read position
 * streams (`src/redis/codecs/read-positions.ts`) with the consumer group `reads` (the reading,
 * leases and acknowledging: `stream-job.ts`), folds a batch's positions to the furthest per user and
 * room, and writes them to `parley.reads`, never moving a stored position backwards (src/reads/mongo.ts).
 *
 * Each partition is read by one worker at a time (partition leases), so one user's positions are
 * written by one worker at a time; positions only move forward, so a batch applied twice, late or
 * out of order changes nothing.
 */
import { Counter, type Registry } from 'prom-client';
import { MongoReads } from '../src/reads/mongo.ts';
import type { DurableReads } from '../src/reads/types.ts';
import * as ReadPositions from '../src/redis/codecs/read-positions.ts';
import type { Job, WorkerContext } from './run.ts';
import { type StreamHandler, type StreamJobSpec, StreamJob } from './stream-job.ts';

const SPEC: StreamJobSpec<ReadPositions.ReadPosition> = {
  kind: 'reads',
  group: 'reads',
  codec: ReadPositions,
  entries: 'read positions',
  coalesce: true,
  leases: { partitions: { name: 'parley_reads_partitions', help: 'Read position stream partitions this worker holds' } },
  metrics: {
    read: { name: 'parley_reads_read_total', help: 'Read positions read from the streams (new and taken over)' },
    claimed: { name: 'parley_reads_claimed_total', help: 'Read positions taken over from consumers presumed dead' },
    malformed: { name: 'parley_reads_malformed_total', help: 'Entries that were not read positions, or trimmed before being read (acknowledged, not applied)' },
    lag: { name: 'parley_reads_lag', help: 'Read positions in the streams not yet delivered to any worker' },
    pending: { name: 'parley_reads_pending', help: 'Read positions delivered to workers and not yet acknowledged' },
    batch: { name: 'parley_reads_batch_seconds', help: 'Time to write and acknowledge one batch of read positions' },
  },
};

export function readsJob(ctx: WorkerContext): Job {
  return new StreamJob(ctx, SPEC, new ReadWrites(new MongoReads(ctx.db), ctx.registry));
}

/** The reads job's own part: a batch's positions into the durable copy. */
export class ReadWrites implements StreamHandler<ReadPositions.ReadPosition> {
  readonly #reads: DurableReads;
  readonly #applied: Counter;

  constructor(reads: DurableReads, registry: Registry) {
    this.#reads = reads;
    this.#applied = new Counter({ name: 'parley_reads_applied_total', help: 'Read positions handed to MongoDB (after folding per user and room)', registers: [registry] });
  }

  async handle(positions: ReadPositions.ReadPosition[]): Promise<() => void> {
    const furthest = new Map<string, ReadPositions.ReadPosition>();
    for (const p of positions) {
      const key = `${p.user} ${p.room}`;
      if ((furthest.get(key)?.seq ?? -1) < p.seq) furthest.set(key, p);
    }
    const batch = [...furthest.values()];
    await this.#reads.apply(batch);
    return () => this.#applied.inc(batch.length);
  }
}

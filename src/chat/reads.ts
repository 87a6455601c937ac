/**
 * Read state as users see it: marking a room read, the position a `joined` carries, unread counts
 * for the conversation list, and who has read how far (receipts). Positions Redis does not hold
 * (lost with its data) are looked up in the durable copy and put back (`seed`).
 */
import { log } from '../log.ts';
import type { Metrics } from '../metrics.ts';
import type { RoomKind } from '@parley/client/wire';
import type { DurableReads, MarkResult, ReadHandler, ReadState, UnreadCount } from '../reads/types.ts';
import { backendError } from './backend.ts';

import type { Latest } from '../rooms/types.ts';

/** A room in the conversation list: the user's position, the unread count, the room's last message. */
export type RoomRead = { lastRead: number; unread: number; latest: Latest };

export class ReadService {
  readonly #reads: ReadState;
  readonly #durable: DurableReads | null;
  readonly #groupMembers: (id: string) => Promise<string[]>;
  readonly #metrics: Metrics;

  constructor(reads: ReadState, durable: DurableReads | null, groupMembers: (id: string) => Promise<string[]>, metrics: Metrics) {
    this.#reads = reads;
    this.#durable = durable;
    this.#groupMembers = groupMembers;
    this.#metrics = metrics;
  }

  /**
   * `user` has read `room` (access already checked) up to `seq`: clamped, never backwards. Receipts
   * (the room's joined members hear of it) in direct rooms and groups only.
   */
  async mark(user: string, room: string, kind: RoomKind, seq: number): Promise<MarkResult> {
    const r = await this.#reads.mark(user, room, Math.min(seq, Number.MAX_SAFE_INTEGER), { receipts: kind.kind !== 'public' }).catch(backendError('read', room));
    this.#metrics.reads.inc({ outcome: r.moved ? 'moved' : 'unchanged' });
    return r;
  }

  /** The user's position in the room; 0 before any read. */
  async lastRead(user: string, room: string): Promise<number> {
    const [seq] = await this.#positions(room, [user]);
    return seq ?? 0;
  }

  /** Position, unread count and last message of each room, in the order asked (see `ReadState.unread`). */
  async unread(user: string, rooms: readonly string[]): Promise<RoomRead[]> {
    const counts = await this.#reads.unread(user, rooms).catch(backendError('unread'));
    const missing = rooms.filter((_, i) => counts[i]?.lastRead === null);
    const found = await this.#fromDurable(missing, (m) => this.#durable?.get(user, m), (room, seq) => ({ user, room, seq }));
    if (found.length > 0) {
      const again = await this.#reads.unread(user, found).catch(backendError('unread'));
      for (const [j, room] of found.entries()) {
        const i = rooms.indexOf(room);
        counts[i] = again[j] ?? (counts[i] as UnreadCount);
      }
    }
    return counts.map((c) => ({ lastRead: c.lastRead ?? 0, unread: c.unread, latest: c.latest }));
  }

  /**
   * Who has read the room how far, sorted by user: every member of a direct room or group (0 for
   * those who have not read it); in a public room only `user`.
   */
  async positions(user: string, room: string, kind: RoomKind): Promise<{ user: string; seq: number }[]> {
    const users = kind.kind === 'public' ? [user] : kind.kind === 'direct' ? [...kind.users] : (await this.#groupMembers(kind.id)).sort();
    const seqs = await this.#positions(room, users);
    return users.map((u, i) => ({ user: u, seq: seqs[i] ?? 0 }));
  }

  /** Delivers every later read event of `user`, from any instance (see `ReadState.watch`). */
  watch(user: string, handler: ReadHandler): Promise<() => Promise<void>> {
    return this.#reads.watch(user, handler);
  }

  async #positions(room: string, users: readonly string[]): Promise<(number | null)[]> {
    const seqs = await this.#reads.positions(room, users).catch(backendError('read positions', room));
    const missing = users.filter((_, i) => seqs[i] === null);
    if (missing.length === 0) return seqs;
    const found = new Map<string, number>();
    await this.#fromDurable(missing, (m) => this.#durable?.ofUsers(room, m), (u, seq) => {
      found.set(u, seq);
      return { user: u, room, seq };
    });
    return users.map((u, i) => seqs[i] ?? found.get(u) ?? null);
  }

  /**
   * Looks the missing positions up in the durable copy and stores them in the read state (0 where
   * there is none, so that the next look-up stays in Redis). Returns the keys found with a position.
   * Without a durable copy, or while it is down, answers none: a position is then 0 for now.
   */
  async #fromDurable(
    keys: readonly string[],
    lookUp: (keys: readonly string[]) => Promise<(number | null)[]> | undefined,
    entry: (key: string, seq: number) => { user: string; room: string; seq: number },
  ): Promise<string[]> {
    if (keys.length === 0 || !this.#durable) return [];
    let stored: (number | null)[];
    try {
      stored = (await lookUp(keys)) ?? [];
    } catch (err) {
      this.#metrics.readFallbacks.inc({ outcome: 'failed' }, keys.length);
      log.warn('durable read positions unavailable', { err });
      return [];
    }
    const entries = keys.map((k, i) => entry(k, stored[i] ?? 0));
    const found = keys.filter((_, i) => (stored[i] ?? 0) > 0);
    this.#metrics.readFallbacks.inc({ outcome: 'found' }, found.length);
    this.#metrics.readFallbacks.inc({ outcome: 'none' }, keys.length - found.length);
    await this.#reads.seed(entries).catch((err: unknown) => log.warn('seeding read positions failed', { err }));
    return found;
  }
}

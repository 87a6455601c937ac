/**
 * The room log as the archive worker reads it (workers/archive-job.ts): what each room's log holds
 * beyond its archived position (`parley:{<room>}:archived`, see `roomKeys`), recording how far it
 * got, and every room with a log. The chat instances announce rooms with new messages on the
 * archive feed (`ArchiveFeed`, src/archive/redis.ts); this is the other end.
 */
import type { Cluster } from 'ioredis';
import type { Message } from '@parley/client/wire';
import * as RoomLogEntries from '../redis/codecs/room-log.ts';
import { unavailable } from '../redis/connection.ts';
import { runScript } from '../redis/script.ts';
import { ADVANCE, RANGE, roomKeys } from './redis-scripts.ts';
import { readStates, STATES, statesKeys } from './redis-changes.ts';
import type { MessageState } from './types.ts';

export type Unarchived = {
  epoch: string;
  /** Where copying resumes: one past the archived position of this epoch, else 1. */
  start: number;
  /** Ascending, from `start` on or later when the log no longer holds `start`. */
  messages: Message[];
};

/** What the archive worker reads and records in Redis. */
export class RoomLogSource {
  readonly #redis: Cluster;

  constructor(redis: Cluster) {
    this.#redis = redis;
  }

  /** Up to `count` messages of the room not yet archived; null when the room has no log. */
  async unarchived(room: string, count: number): Promise<Unarchived | null> {
    const k = roomKeys(room);
    const reply = await runScript(this.#redis, RANGE, [k.epoch, k.log, k.archived, k.erased, k.seq], [count]).catch(unavailable);
    if (!Array.isArray(reply) || typeof reply[0] !== 'string' || reply[0] === '') return null;
    const [epoch, start, ...raw] = reply as [string, number, ...unknown[]];
    const messages: Message[] = [];
    for (const r of raw) {
      const m = RoomLogEntries.decodeMessage(r);
      if (m && m.epoch === epoch) messages.push(m);
    }
    return { epoch, start: Number(start), messages };
  }

  /** v1.1: the current state of each of `seqs` (text messages) of the room's epoch `epoch`, where one exists. */
  async states(room: string, epoch: string, seqs: readonly number[]): Promise<Map<number, MessageState>> {
    return readStates(seqs, (args) => runScript(this.#redis, STATES, statesKeys(room), [epoch, ...args]).catch(unavailable));
  }

  /** Records that the room is archived up to `seq` of `epoch` (never moves back). */
  async advance(room: string, epoch: string, seq: number): Promise<void> {
    await runScript(this.#redis, ADVANCE, [roomKeys(room).archived], [epoch, seq]).catch(unavailable);
  }

  /** Every room with a log, from a scan of every master; calls `onRooms` per batch found. */
  async scanRooms(onRooms: (rooms: string[]) => Promise<void>): Promise<void> {
    for (const node of this.#redis.nodes('master')) {
      let cursor = '0';
      do {
        const [next, keys] = await node.scan(cursor, 'MATCH', RoomLogEntries.KEY_PATTERN, 'COUNT', 1000, 'TYPE', 'stream').catch(unavailable);
        cursor = next;
        const rooms = keys.map(RoomLogEntries.roomOfKey).filter((r): r is string => r !== null);
        if (rooms.length > 0) await onRooms(rooms);
      } while (cursor !== '0');
    }
  }
}

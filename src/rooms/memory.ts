/** In-process room log: the embedded default, and the reference the Redis log is tested against. */
import type { Message } from '@parley/client/wire';
import { type AppendInput, type AppendResult, type Latest, NotAGroupMember, type Position, type ReadQuery, type ReadResult, type RoomHandler, type RoomLog, type Signal } from './types.ts';
import { newEpoch, pageOf } from './page.ts';

export type MemoryRoomLogOptions = {
  /** Messages kept per room (the hot window). */
  hotWindow: number;
  /** How long a `(room, from, cid)` is remembered for idempotent resends. */
  idempotencyTtlMs: number;
  now?: () => number;
  /**
   * Group membership (`MemoryGroups.isMember`), asked in the same synchronous step as a group
   * room's append. Without it, group rooms take appends from anyone (the seam's own tests).
   */
  isMember?: (room: string, user: string) => boolean;
  /**
   * Told of every new message in the same synchronous step as its append (the read state's index,
   * `MemoryReadState.appended`); must not throw.
   */
  onAppend?: (message: Message) => void;
};

type Room = {
  epoch: string;
  seq: number;
  /** Gapless: `log[i].seq === log[0].seq + i`. */
  log: Message[];
  /** `from \n cid` → the first result, in insertion (= time) order for pruning. */
  sent: Map<string, { message: Message; at: number }>;
  subs: Set<RoomHandler>;
};

/** Idempotency records kept per room at most, whatever the TTL. */
const MAX_IDEMPOTENCY_RECORDS = 100_000;
/**
 * Rooms that were only looked at (no message, no subscriber) kept at most, so that reading
 * arbitrary room names cannot grow memory without bound. Forgetting one loses only its epoch.
 */
const MAX_EMPTY_ROOMS = 10_000;

export class MemoryRoomLog implements RoomLog {
  readonly #rooms = new Map<string, Room>();
  /** Names of rooms created by a read, oldest first, until their first message. */
  readonly #empty = new Set<string>();
  readonly #opts: Required<Omit<MemoryRoomLogOptions, 'isMember' | 'onAppend'>>;
  readonly #isMember: ((room: string, user: string) => boolean) | undefined;
  readonly #onAppend: ((message: Message) => void) | undefined;
  #closed = false;

  constructor(opts: MemoryRoomLogOptions) {
    const { isMember, onAppend, ...rest } = opts;
    this.#opts = { now: Date.now, ...rest };
    this.#isMember = isMember;
    this.#onAppend = onAppend;
  }

  async append(roomName: string, input: AppendInput): Promise<AppendResult> {
    this.#check();
    // Same synchronous step as the append below: a removal is either before both or after both.
    if (this.#isMember && roomName.startsWith('grp:') && !this.#isMember(roomName, input.from)) {
      throw new NotAGroupMember(`${input.from} is not a member of ${roomName}`);
    }
    const room = this.#room(roomName);
    const now = this.#opts.now();
    const key = input.cid === undefined ? undefined : `${input.from}\n${input.cid}`;
    if (key !== undefined) {
      this.#prune(room, now);
      const seen = room.sent.get(key);
      if (seen) return { message: seen.message, duplicate: true };
    }
    const message: Message = {
      room: roomName,
      epoch: room.epoch,
      seq: ++room.seq,
      from: input.from,
      text: input.text,
      ts: now,
    };
    if (input.cid !== undefined) message.cid = input.cid;
    room.log.push(message);
    if (message.seq === 1) this.#empty.delete(roomName);
    // Trim in steps, like XADD MAXLEN ~, so appends stay O(1) amortised.
    if (room.log.length > this.#opts.hotWindow + 64) room.log.splice(0, room.log.length - this.#opts.hotWindow);
    if (key !== undefined) room.sent.set(key, { message, at: now });
    this.#onAppend?.(message);
    this.#deliver(room, { type: 'message', message });
    return { message, duplicate: false };
  }

  async head(roomName: string): Promise<Position> {
    const room = this.#room(roomName);
    return { epoch: room.epoch, seq: room.seq };
  }

  async latest(rooms: readonly string[]): Promise<Latest[]> {
    this.#check();
    return rooms.map((name) => {
      const room = this.#rooms.get(name);
      const message = room?.log[room.log.length - 1];
      return message ? { seq: room.seq, message } : { seq: room?.seq ?? 0 };
    });
  }

  async read(roomName: string, query: ReadQuery): Promise<ReadResult> {
    const room = this.#room(roomName);
    const oldest = room.log[0]?.seq ?? room.seq + 1;
    const page = pageOf(room.seq, oldest, query, (from, to) =>
      room.log.slice(from - oldest, to - oldest + 1),
    );
    return { epoch: room.epoch, seq: room.seq, oldest, ...page };
  }

  async signal(roomName: string, event: Signal): Promise<void> {
    this.#check();
    if (event.type === 'typing' && this.#isMember && roomName.startsWith('grp:') && !this.#isMember(roomName, event.user)) {
      throw new NotAGroupMember(`${event.user} is not a member of ${roomName}`);
    }
    const room = this.#rooms.get(roomName);
    if (room) this.#deliver(room, event);
  }

  async subscribe(roomName: string, handler: RoomHandler): Promise<() => Promise<void>> {
    const room = this.#room(roomName);
    room.subs.add(handler);
    return async () => {
      room.subs.delete(handler);
    };
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#rooms.clear();
    this.#empty.clear();
  }

  #room(name: string): Room {
    this.#check();
    let room = this.#rooms.get(name);
    if (!room) {
      room = { epoch: newEpoch(), seq: 0, log: [], sent: new Map(), subs: new Set() };
      this.#rooms.set(name, room);
      this.#empty.add(name);
      if (this.#empty.size > MAX_EMPTY_ROOMS) this.#forgetEmpty();
    }
    return room;
  }

  #forgetEmpty(): void {
    for (const name of this.#empty) {
      if (this.#empty.size <= MAX_EMPTY_ROOMS) break;
      this.#empty.delete(name);
      const room = this.#rooms.get(name);
      if (room && room.seq === 0 && room.subs.size === 0) this.#rooms.delete(name);
    }
  }

  #prune(room: Room, now: number): void {
    const cutoff = now - this.#opts.idempotencyTtlMs;
    for (const [key, rec] of room.sent) {
      if (rec.at >= cutoff && room.sent.size <= MAX_IDEMPOTENCY_RECORDS) break;
      room.sent.delete(key);
    }
  }

  #deliver(room: Room, event: Parameters<RoomHandler>[0]): void {
    for (const handler of room.subs) {
      try {
        handler(event);
      } catch {
        // Handlers must not throw; one that does must not stop delivery to the others.
      }
    }
  }

  #check(): void {
    if (this.#closed) throw new Error('room log is closed');
  }
}

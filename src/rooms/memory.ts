/** In-process room log: the embedded default, and the reference the Redis log is tested against. */
import type { GroupRole, Message } from '@parley/client/wire';
import { type AppendInput, type AppendResult, type ChangeInput, type ChangeResult, type Latest, type MessageState, NotAGroupMember, type Position, type ReadQuery, type ReadResult, type RoomHandler, type RoomLog, type Signal } from './types.ts';
import { newEpoch, pageOf } from './page.ts';
import { changeEntry, FoldedMessage, showState } from './state.ts';

export type MemoryRoomLogOptions = {
  /** Messages kept per room (the hot window). */
  hotWindow: number;
  /** How long a `(room, from, cid)` is remembered for idempotent resends. */
  idempotencyTtlMs: number;
  now?: () => number;
  /**
   * A user's role in a group room (`MemoryGroups.roleIn`; null: not a member), asked in the same
   * synchronous step as a group room's append. Without it, group rooms take appends from anyone
   * (the seam's own tests).
   */
  roleOf?: (room: string, user: string) => GroupRole | null;
  /**
   * Told of every new entry in the same synchronous step as its append, and for a delete of the
   * message it deleted (the read state's index, `MemoryReadState.appended`); must not throw.
   */
  onAppend?: (entry: Message, deleted?: Deleted) => void;
};

/** The message a delete entry deleted. */
export type Deleted = { seq: number; from: string };

type Room = {
  epoch: string;
  seq: number;
  /** Gapless: `log[i].seq === log[0].seq + i`. */
  log: Message[];
  /** v1.1: the state of each text message an edit, delete or reaction targeted, by seq. */
  states: Map<number, FoldedMessage>;
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
  readonly #opts: Required<Omit<MemoryRoomLogOptions, 'roleOf' | 'onAppend'>>;
  readonly #roleOf: ((room: string, user: string) => GroupRole | null) | undefined;
  readonly #onAppend: ((entry: Message, deleted?: Deleted) => void) | undefined;
  #closed = false;

  constructor(opts: MemoryRoomLogOptions) {
    const { roleOf, onAppend, ...rest } = opts;
    this.#opts = { now: Date.now, ...rest };
    this.#roleOf = roleOf;
    this.#onAppend = onAppend;
  }

  async append(roomName: string, input: AppendInput): Promise<AppendResult> {
    this.#check();
    // Same synchronous step as the append below: a removal is either before both or after both.
    this.#requireMember(roomName, input.from);
    const room = this.#room(roomName);
    const now = this.#opts.now();
    const seen = this.#seen(room, input.from, input.cid, now);
    if (seen) return { message: seen, duplicate: true };
    const message: Message = { room: roomName, epoch: room.epoch, seq: room.seq + 1, from: input.from, text: input.text, ts: now };
    if (input.cid !== undefined) message.cid = input.cid;
    this.#add(room, message, now);
    return { message, duplicate: false };
  }

  async change(roomName: string, input: ChangeInput): Promise<ChangeResult> {
    this.#check();
    const role = this.#requireMember(roomName, input.from);
    const room = this.#room(roomName);
    const now = this.#opts.now();
    const seen = this.#seen(room, input.from, input.cid, now);
    if (seen) return { outcome: 'duplicate', message: seen };
    const { target } = input;
    if (target < 1 || target > room.seq) return { outcome: 'not_found' };
    let state = room.states.get(target);
    if (!state) {
      const held = this.#at(room, target);
      if (held?.kind !== undefined) return { outcome: 'not_found' };
      const author = held?.from ?? input.archivedAuthor;
      if (author === undefined) return { outcome: 'in_archive', epoch: room.epoch };
      state = new FoldedMessage(author, target);
    }
    const verdict = state.check(room.epoch, input.from, input, role === 'owner' || role === 'admin', now);
    if (!('ok' in verdict)) return verdict;
    room.states.set(target, state);
    const entry = changeEntry({ room: roomName, epoch: room.epoch, seq: room.seq + 1, from: input.from, ts: now }, input, input.cid);
    state.apply(entry, input.from, input);
    if (input.kind === 'delete') this.#blank(room, [target, ...state.edits]);
    this.#add(room, entry, now, input.kind === 'delete' ? { seq: target, from: state.from } : undefined);
    return { outcome: 'appended', message: entry };
  }

  async states(roomName: string, epoch: string, seqs: readonly number[]): Promise<Map<number, MessageState>> {
    this.#check();
    const out = new Map<number, MessageState>();
    const room = this.#rooms.get(roomName);
    if (!room || room.epoch !== epoch) return out;
    for (const seq of seqs) {
      const state = room.states.get(seq);
      if (state) out.set(seq, state.view());
    }
    return out;
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
      room.log.slice(from - oldest, to - oldest + 1).map((m) => showState(m, room.states.get(m.seq)?.view())),
    );
    return { epoch: room.epoch, seq: room.seq, oldest, ...page };
  }

  async signal(roomName: string, event: Signal): Promise<void> {
    this.#check();
    if (event.type === 'typing') this.#requireMember(roomName, event.user);
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
      room = { epoch: newEpoch(), seq: 0, log: [], states: new Map(), sent: new Map(), subs: new Set() };
      this.#rooms.set(name, room);
      this.#empty.add(name);
      if (this.#empty.size > MAX_EMPTY_ROOMS) this.#forgetEmpty();
    }
    return room;
  }

  /** A group room's member's role (null elsewhere); throws `NotAGroupMember` for others. */
  #requireMember(roomName: string, user: string): GroupRole | null {
    if (!this.#roleOf || !roomName.startsWith('grp:')) return null;
    const role = this.#roleOf(roomName, user);
    if (role === null) throw new NotAGroupMember(`${user} is not a member of ${roomName}`);
    return role;
  }

  /** The entry first appended with `(from, cid)` within the idempotency window. */
  #seen(room: Room, from: string, cid: string | undefined, now: number): Message | undefined {
    if (cid === undefined) return undefined;
    this.#prune(room, now);
    return room.sent.get(`${from}\n${cid}`)?.message;
  }

  /** Appends `entry` (the room's next seq), remembers its cid, and publishes it. */
  #add(room: Room, entry: Message, now: number, deleted?: Deleted): void {
    room.seq = entry.seq;
    room.log.push(entry);
    if (entry.seq === 1) this.#empty.delete(entry.room);
    // Trim in steps, like XADD MAXLEN ~, so appends stay O(1) amortised.
    if (room.log.length > this.#opts.hotWindow + 64) room.log.splice(0, room.log.length - this.#opts.hotWindow);
    if (entry.cid !== undefined) room.sent.set(`${entry.from}\n${entry.cid}`, { message: entry, at: now });
    this.#onAppend?.(entry, deleted);
    this.#deliver(room, { type: 'message', message: entry });
  }

  /** The entry at `seq` while the hot log holds it. */
  #at(room: Room, seq: number): Message | undefined {
    const first = room.log[0]?.seq ?? room.seq + 1;
    return seq >= first ? room.log[seq - first] : undefined;
  }

  /**
   * A delete's erasure: the stored text of these entries is gone, and so is that of their idempotency
   * records, whether the hot log still holds the entries or not (a pass over the room's records).
   */
  #blank(room: Room, seqs: readonly number[]): void {
    const first = room.log[0]?.seq ?? room.seq + 1;
    for (const seq of seqs) {
      const held = this.#at(room, seq);
      if (held) room.log[seq - first] = { ...held, text: '' };
    }
    const erased = new Set(seqs);
    for (const rec of room.sent.values()) {
      if (erased.has(rec.message.seq) && rec.message.text !== '') rec.message = { ...rec.message, text: '' };
    }
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

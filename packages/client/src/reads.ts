/**
 * Read state on the client (protocol v1.1): per room the user's own read position and unread count,
 * and how far the other members have read (receipts). Kept from `joined.lastRead`, live messages,
 * `read` frames, `GET /v1/conversations` and `GET /v1/rooms/:room/reads`.
 */
import { LIMITS, type Message } from './wire.ts';

export type RoomReads = {
  /** The user's read position (0 before any read). */
  lastRead: number;
  /** Text messages of the others after `lastRead`, deleted ones not counted (exact up to 1000, then 1000). */
  unread: number;
  /** Seqs of the others' messages after `lastRead` that this client has seen, ascending. */
  seen: number[];
  /** The room's latest seq as far as the client knows. */
  latest: number;
  /** Other members' positions, from receipts and the reads route. */
  readers: Map<string, number>;
};

export type ReadsDeps = {
  me(): string | undefined;
  /** Called whenever a room's `lastRead` or `unread` changed. */
  changed(room: string, state: { lastRead: number; unread: number }): void;
};

export class ReadTracker {
  readonly #rooms = new Map<string, RoomReads>();
  readonly #deps: ReadsDeps;

  constructor(deps: ReadsDeps) {
    this.#deps = deps;
  }

  get(room: string): RoomReads | undefined {
    return this.#rooms.get(room);
  }

  /**
   * A `joined` answer: its `lastRead`, and the unread count from its messages when they cover
   * everything after it (else the count known before, if it is higher).
   */
  joined(room: string, lastRead: number | undefined, seq: number, messages: readonly Message[]): void {
    const r = this.#room(room);
    if (lastRead !== undefined) r.lastRead = Math.max(r.lastRead, lastRead);
    r.latest = Math.max(r.latest, seq);
    const me = this.#deps.me();
    const first = messages[0]?.seq ?? seq + 1;
    // Unread messages seen before (a resume): they still count, and a delete of one still uncounts it.
    const before = r.seen.filter((s) => s > r.lastRead && s < first);
    r.seen = [...before, ...messages.filter((m) => m.seq > r.lastRead && counts(m, me)).map((m) => m.seq)];
    const covered = first <= r.lastRead + 1;
    r.unread = covered ? r.seen.length : Math.max(r.unread, r.seen.length);
    if (seq <= r.lastRead) r.unread = 0;
    this.#changed(room, r);
  }

  /**
   * A live entry: one more unread for someone else's text message after the position; one less
   * when an unread message the client counted is deleted. Edits and reactions count for nothing.
   */
  message(m: Message): void {
    const r = this.#room(m.room);
    r.latest = Math.max(r.latest, m.seq);
    if (m.kind === 'delete') return this.#deleted(m.room, r, m.target);
    if (!counts(m, this.#deps.me())) return;
    if (m.seq <= r.lastRead || r.seen.includes(m.seq)) return;
    r.seen.push(m.seq);
    r.unread = Math.min(LIMITS.unreadCap, r.unread + 1);
    this.#changed(m.room, r);
  }

  /** A `read` frame: the user's own position moved, or another member's receipt. */
  read(room: string, user: string, seq: number): void {
    const r = this.#room(room);
    if (user !== this.#deps.me()) {
      r.readers.set(user, Math.max(r.readers.get(user) ?? 0, seq));
      return;
    }
    if (seq <= r.lastRead) return;
    r.lastRead = seq;
    const before = r.seen.length;
    r.seen = r.seen.filter((s) => s > seq);
    // Read up to the latest known message: nothing is left. Otherwise less what the client saw go.
    r.unread = seq >= r.latest ? 0 : Math.max(r.seen.length, r.unread - (before - r.seen.length));
    this.#changed(room, r);
  }

  /** A conversation list item: the server's position and count replace what the client knew. */
  listed(room: string, seq: number, lastRead: number, unread: number): void {
    const r = this.#room(room);
    r.latest = Math.max(r.latest, seq);
    if (lastRead < r.lastRead) return; // a read newer than the list already came
    r.lastRead = lastRead;
    r.unread = unread;
    r.seen = r.seen.filter((s) => s > lastRead);
    this.#changed(room, r);
  }

  /** Positions from `GET /v1/rooms/:room/reads`. */
  readers(room: string, reads: readonly { user: string; seq: number }[]): void {
    for (const { user, seq } of reads) this.read(room, user, seq);
  }

  /** Forgets a room (left for good, or removed from its group). */
  forget(room: string): void {
    this.#rooms.delete(room);
  }

  #deleted(room: string, r: RoomReads, target: number | undefined): void {
    const i = target === undefined ? -1 : r.seen.indexOf(target);
    if (i < 0) return;
    r.seen.splice(i, 1);
    r.unread = Math.max(0, r.unread - 1);
    this.#changed(room, r);
  }

  #room(room: string): RoomReads {
    let r = this.#rooms.get(room);
    if (!r) this.#rooms.set(room, (r = { lastRead: 0, unread: 0, seen: [], latest: 0, readers: new Map() }));
    return r;
  }

  #changed(room: string, r: RoomReads): void {
    this.#deps.changed(room, { lastRead: r.lastRead, unread: r.unread });
  }
}

/** Whether `m` counts as unread for `me`: another user's text message that is not deleted. */
const counts = (m: Message, me: string | undefined): boolean => m.kind === undefined && !m.deleted && m.from !== me;

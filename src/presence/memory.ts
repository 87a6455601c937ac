/** In-process presence with the same TTL logic as the distributed one. */
import type { Member } from '@parley/client/wire';
import { type ConnRef, ConnectionGone, type Presence, type Reaped, type UserPresence } from './types.ts';

export type MemoryPresenceOptions = {
  /** A connection not refreshed for this long is reaped. */
  ttlMs: number;
  now?: () => number;
};

/** `rooms` is created with the connection's first room: most have none or one. */
type Entry = { ref: ConnRef; expiresAt: number; rooms: Set<string> | null };

/** Barred users past which expired bars are swept. */
const MAX_BARRED = 100_000;
/** Users whose last-seen time is remembered at most; the oldest are forgotten first. */
const MAX_LAST_SEEN = 1_000_000;

export class MemoryPresence implements Presence {
  readonly #conns = new Map<string, Entry>();
  readonly #users = new Map<string, Set<string>>();
  /** room → user → that user's connection ids in the room */
  readonly #rooms = new Map<string, Map<string, Set<string>>>();
  readonly #lastSeen = new Map<string, number>();
  /** user → until when (ms) new connections are refused */
  readonly #barred = new Map<string, number>();
  readonly #ttlMs: number;
  readonly #now: () => number;

  constructor(opts: MemoryPresenceOptions) {
    this.#ttlMs = opts.ttlMs;
    this.#now = opts.now ?? Date.now;
  }

  async admit(conn: ConnRef, limit: number): Promise<{ first: boolean } | { barredMs: number } | null> {
    const barredMs = this.#barredFor(conn.user);
    if (barredMs > 0) return { barredMs };
    return this.#othersAlive(conn) >= limit ? null : this.connect(conn);
  }

  async connect(conn: ConnRef): Promise<{ first: boolean }> {
    let ids = this.#users.get(conn.user);
    if (!ids) this.#users.set(conn.user, (ids = new Set()));
    // Like Redis: connections that expired but were not reaped yet do not count.
    const first = this.#othersAlive(conn) === 0;
    ids.add(conn.id);
    const existing = this.#conns.get(conn.id);
    if (existing) existing.expiresAt = this.#now() + this.#ttlMs;
    else this.#conns.set(conn.id, { ref: conn, expiresAt: this.#now() + this.#ttlMs, rooms: null });
    return { first };
  }

  /** The user's live connections other than `conn`. */
  #othersAlive(conn: ConnRef): number {
    const now = this.#now();
    let live = 0;
    for (const id of this.#users.get(conn.user) ?? []) if (id !== conn.id && (this.#conns.get(id)?.expiresAt ?? 0) > now) live++;
    return live;
  }

  async refresh<C extends ConnRef>(conns: readonly C[]): Promise<C[]> {
    const expiresAt = this.#now() + this.#ttlMs;
    const unknown: C[] = [];
    for (const c of conns) {
      const entry = this.#conns.get(c.id);
      if (entry) entry.expiresAt = expiresAt;
      else unknown.push(c);
    }
    return unknown;
  }

  async disconnect(conn: ConnRef): Promise<{ last: boolean; lastSeen: number }> {
    const now = this.#now();
    const entry = this.#conns.get(conn.id);
    if (!entry) return { last: false, lastSeen: this.#lastSeen.get(conn.user) ?? now };
    return { last: this.#remove(entry, now).offline, lastSeen: now };
  }

  async join(room: string, conn: ConnRef): Promise<{ first: boolean }> {
    const entry = this.#conns.get(conn.id);
    if (!entry) throw new ConnectionGone(conn);
    let users = this.#rooms.get(room);
    if (!users) this.#rooms.set(room, (users = new Map()));
    let ids = users.get(conn.user);
    if (!ids) users.set(conn.user, (ids = new Set()));
    const first = ids.size === 0;
    ids.add(conn.id);
    (entry.rooms ??= new Set()).add(room);
    return { first };
  }

  async leave(room: string, conn: ConnRef): Promise<{ last: boolean }> {
    const entry = this.#conns.get(conn.id);
    if (!entry?.rooms?.has(room)) return { last: false };
    entry.rooms.delete(room);
    return { last: this.#leaveRoom(room, conn) };
  }

  async members(room: string): Promise<Member[]> {
    const users = this.#rooms.get(room);
    if (!users) return [];
    return [...users.keys()].sort().map((user) => ({ user, status: 'online' as const }));
  }

  async connections(user: string): Promise<number> {
    const now = this.#now();
    let n = 0;
    for (const id of this.#users.get(user) ?? []) if ((this.#conns.get(id)?.expiresAt ?? 0) > now) n++;
    return n;
  }

  async bar(user: string, ms: number): Promise<void> {
    const now = this.#now();
    if (this.#barred.size >= MAX_BARRED) for (const [u, until] of this.#barred) if (until <= now) this.#barred.delete(u);
    this.#barred.set(user, now + ms);
  }

  #barredFor(user: string): number {
    const left = (this.#barred.get(user) ?? 0) - this.#now();
    if (left > 0) return left;
    this.#barred.delete(user);
    return 0;
  }

  async status(user: string): Promise<UserPresence> {
    if ((this.#users.get(user)?.size ?? 0) > 0) return { user, status: 'online' };
    const lastSeen = this.#lastSeen.get(user);
    return lastSeen === undefined ? { user, status: 'offline' } : { user, status: 'offline', lastSeen };
  }

  async reap(): Promise<Reaped[]> {
    const now = this.#now();
    const reaped: Reaped[] = [];
    for (const entry of this.#conns.values()) {
      if (entry.expiresAt > now) continue;
      // lastSeen is when the connection was last known alive, not when it was noticed dead.
      const lastSeen = entry.expiresAt - this.#ttlMs;
      const { leftRooms, offline } = this.#remove(entry, lastSeen);
      reaped.push({ conn: entry.ref, leftRooms, offline, lastSeen });
    }
    return reaped;
  }

  async close(): Promise<void> {
    this.#conns.clear();
    this.#users.clear();
    this.#rooms.clear();
  }

  #remove(entry: Entry, lastSeen: number): { leftRooms: string[]; offline: boolean } {
    const { ref } = entry;
    this.#conns.delete(ref.id);
    const leftRooms: string[] = [];
    for (const room of entry.rooms ?? []) if (this.#leaveRoom(room, ref)) leftRooms.push(room);
    const ids = this.#users.get(ref.user);
    ids?.delete(ref.id);
    const offline = !ids || ids.size === 0;
    if (offline) {
      this.#users.delete(ref.user);
      this.#lastSeen.delete(ref.user); // re-insert to keep the map in recency order
      this.#lastSeen.set(ref.user, lastSeen);
      if (this.#lastSeen.size > MAX_LAST_SEEN) {
        const oldest = this.#lastSeen.keys().next().value;
        if (oldest !== undefined) this.#lastSeen.delete(oldest);
      }
    }
    return { leftRooms, offline };
  }

  /** Removes a connection from a room's index; true when its user has none left there. */
  #leaveRoom(room: string, conn: ConnRef): boolean {
    const users = this.#rooms.get(room);
    const ids = users?.get(conn.user);
    if (!users || !ids) return false;
    ids.delete(conn.id);
    if (ids.size > 0) return false;
    users.delete(conn.user);
    if (users.size === 0) this.#rooms.delete(room);
    return true;
  }
}

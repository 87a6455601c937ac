/**
 * Presence as users see it: who is in a room, a user's status and last-seen time, and the
 * `presence` frames that announce users coming online in a room and leaving it.
 */
import { AppError } from '../errors.ts';
import { log } from '../log.ts';
import type { Member, RoomKind } from '@parley/client/wire';
import { type ConnRef, ConnectionGone, type Presence, type UserPresence } from '../presence/types.ts';
import type { RoomLog } from '../rooms/types.ts';
import type { UserStore } from '../users/types.ts';
import { backendError } from './backend.ts';
import { paced } from './pace.ts';

/** A socket open on this instance, as a presence round sees it. */
export type LiveConn = ConnRef & { readonly closed: boolean; joinedRooms(): string[] };

/** Connections refreshed together in a presence round (see `round`). */
const PRESENCE_SLICE = 100;
/** Bars remembered locally at most; past that, a barred user's upgrades ask Redis each time. */
const MAX_KNOWN_BARRED = 10_000;

export class PresenceService {
  readonly #presence: Presence;
  readonly #users: UserStore | null;
  readonly #log: RoomLog;
  /** A group's members (for a group room's member list). */
  readonly #groupMembers: (id: string) => Promise<string[]>;
  /** user → until when (ms) this instance knows the user is barred: its reconnects cost no round trip. */
  readonly #barred = new Map<string, number>();

  constructor(presence: Presence, users: UserStore | null, log: RoomLog, groupMembers: (id: string) => Promise<string[]>) {
    this.#presence = presence;
    this.#users = users;
    this.#log = log;
    this.#groupMembers = groupMembers;
  }

  /**
   * Puts a socket in a room; `first` when it is the user's first connection there. A socket whose
   * presence entry is gone (closed meanwhile, or expired while the backend could not be reached)
   * is answered `unavailable`: it may join again once its entry is refreshed.
   */
  enter(room: string, conn: ConnRef): Promise<{ first: boolean }> {
    return this.#presence.join(room, conn).catch((err: unknown) => {
      if (err instanceof ConnectionGone) throw new AppError('unavailable', 'this connection is not registered yet; retry', 1);
      return backendError('join', room)(err);
    });
  }

  /** Undoes `enter` after a join that failed; never throws. */
  async forget(room: string, conn: ConnRef): Promise<void> {
    await this.#presence.leave(room, conn).catch(() => undefined);
  }

  /** Tells the room's other members that `user` is online there. */
  announceOnline(room: string, user: string): Promise<void> {
    return this.#log.signal(room, { type: 'presence', room, user, status: 'online' });
  }

  /** A socket left a room; announces `offline` when it was the user's last connection there. */
  async leave(room: string, conn: ConnRef, now: number): Promise<void> {
    const { last } = await this.#presence.leave(room, conn);
    if (last) await this.#announceOffline(room, conn.user, now);
  }

  /** A socket closed while in `rooms`: leaves them and announces the transitions. Never throws. */
  async disconnect(conn: ConnRef, rooms: readonly string[]): Promise<void> {
    try {
      const now = Date.now();
      const left = await Promise.all(rooms.map((room) => this.#presence.leave(room, conn)));
      // The user's own status first, then the rooms' `offline` frames: a client that asks
      // GET /v1/users/:user/presence on seeing one must not be told `online`.
      await this.#presence.disconnect(conn);
      await Promise.all(rooms.filter((_, i) => left[i]?.last).map((room) => this.#announceOffline(room, conn.user, now)));
    } catch (err) {
      log.warn('presence cleanup failed; the entry will expire', { conn: conn.id, err });
    }
  }

  /**
   * One presence round: refreshes the entries of this instance's live sockets and reaps those of
   * sockets nobody refreshes any more (an instance that died), announcing them offline. The
   * refreshes go out in slices of `PRESENCE_SLICE` connections spread over `spreadMs`: all at once,
   * a few thousand scripts reach Redis together every round, and the messages queued behind them
   * wait: in `npm run bench -- chat 5k` (1,250 connections per instance) delivery p99 was 816 ms with
   * the burst and 132 ms spread. Stops early once `stopped()`. Never throws.
   */
  async round(conns: readonly LiveConn[], spreadMs = 0, stopped: () => boolean = () => false): Promise<void> {
    try {
      const lost: LiveConn[] = [];
      await paced(conns, PRESENCE_SLICE, spreadMs, async (slice) => void lost.push(...(await this.#presence.refresh(slice))), stopped);
      if (stopped()) return;
      for (const r of await this.#presence.reap()) {
        for (const room of r.leftRooms) {
          await this.#log.signal(room, { type: 'presence', room, user: r.conn.user, status: 'offline', lastSeen: r.lastSeen });
        }
      }
      await this.#restore(lost);
    } catch (err) {
      log.warn('presence round failed', { err });
    }
  }

  /**
   * Registers again the sockets that are open here but whose presence entries are gone (see
   * `Presence.refresh`): their users are online, and in their rooms, again; the rooms hear of it
   * as of a join.
   */
  async #restore(lost: readonly LiveConn[]): Promise<void> {
    for (const conn of lost) {
      if (conn.closed) continue;
      log.info('presence entry lost; registering the connection again', { conn: conn.id, user: conn.user });
      await this.#presence.connect(conn);
      for (const room of conn.joinedRooms()) {
        const { first } = await this.#presence.join(room, conn);
        if (first) await this.announceOnline(room, conn.user);
      }
    }
  }

  /**
   * Whether `conn`'s user may open one more connection, and if so its registration: refused while
   * the user is barred after abuse (`barredMs` left), or when it has `limit` live connections on
   * every instance together (counted and registered in one step).
   */
  async admit(conn: ConnRef, limit: number): Promise<{ admitted: boolean; barredMs: number }> {
    const known = (this.#barred.get(conn.user) ?? 0) - Date.now();
    if (known > 0) return { admitted: false, barredMs: known };
    const answer = await this.#presence.admit(conn, limit).catch(backendError('admission'));
    if (answer && 'barredMs' in answer) {
      this.#remember(conn.user, answer.barredMs);
      return { admitted: false, barredMs: answer.barredMs };
    }
    return { admitted: answer !== null, barredMs: 0 };
  }

  /** Bars `user` from opening connections for `ms`, on every instance. Best effort. */
  bar(user: string, ms: number): void {
    this.#remember(user, ms);
    this.#presence.bar(user, ms).catch((err) => log.warn('bar failed', { user, err }));
  }

  #remember(user: string, ms: number): void {
    const now = Date.now();
    if (this.#barred.size >= MAX_KNOWN_BARRED) for (const [u, until] of this.#barred) if (until <= now) this.#barred.delete(u);
    if (this.#barred.size < MAX_KNOWN_BARRED) this.#barred.set(user, now + ms);
  }

  /**
   * A room's members: its users with a live connection there and, for a direct room, both of its
   * users whatever their status; for a group, every member with its status (and nobody else), or
   * for a group of more than `rosterMax` members only those in the room right now: the statuses of
   * absent members cost two reads each. Sorted by name.
   */
  async members(room: string, kind: RoomKind, rosterMax = Infinity): Promise<Member[]> {
    const live = await this.#presence.members(room).catch(backendError('members', room));
    if (kind.kind === 'group') {
      const users = await this.#groupMembers(kind.id);
      const inGroup = new Set(users);
      const here = new Set(live.map((m) => m.user));
      const absent = users.length > rosterMax ? [] : await this.statuses(users.filter((u) => !here.has(u)));
      return [...live.filter((m) => inGroup.has(m.user)), ...absent].sort(byUser);
    }
    if (kind.kind !== 'direct') return live;
    const here = new Set(live.map((m) => m.user));
    return [...live, ...(await this.statuses(kind.users.filter((u) => !here.has(u))))].sort(byUser);
  }

  /**
   * The status of each of `users` (see `status`), in the order asked: the live reads go out
   * together, and the offline users' last-seen times come from the user store in one read.
   */
  async statuses(users: readonly string[]): Promise<UserPresence[]> {
    if (users.length === 0) return [];
    const live = await Promise.all(users.map((u) => this.#presence.status(u))).catch(backendError('status'));
    const offline = live.filter((p) => p.status === 'offline');
    if (offline.length === 0 || !this.#users) return live;
    const stored = await this.#users.getMany(offline.map((p) => p.user)).catch((err: unknown) => {
      log.warn('user store unavailable; last-seen from presence only', { err });
      return null;
    });
    if (!stored) return live;
    const lastSeen = new Map(offline.map((p, i) => [p.user, Math.max(p.lastSeen ?? 0, stored[i]?.lastSeen ?? 0)]));
    return live.map((p) => {
      const seen = lastSeen.get(p.user);
      return p.status === 'online' || !seen ? p : { user: p.user, status: 'offline', lastSeen: seen };
    });
  }

  /**
   * A user's status: live from presence; for a user who is offline, the last-seen time is the later
   * of what presence still holds and what the durable user store holds (kept for good). The user
   * store is best effort here: when it is down, presence alone answers.
   */
  async status(user: string): Promise<UserPresence> {
    return (await this.statuses([user]))[0] as UserPresence;
  }

  #announceOffline(room: string, user: string, now: number): Promise<void> {
    return this.#log.signal(room, { type: 'presence', room, user, status: 'offline', lastSeen: now });
  }
}

const byUser = (a: { user: string }, b: { user: string }) => (a.user < b.user ? -1 : 1);

/**
 * Presence in Redis Cluster, with the TTL semantics of `memory.ts`. Keys (hash tag in braces):
 *
 * - `parley:{u:<user>}:conns` hash connId → expiresAt (ms); the user is online while one is unexpired.
 * - `parley:{u:<user>}:connrooms:<connId>` set of the connection's rooms, for disconnect and reap.
 * - `parley:{u:<user>}:seen` the last-seen time after the user went offline.
 * - `parley:{u:<user>}:at` the time of the user's last online/offline transition (see `stamp` in `redis-scripts.ts`).
 * - `parley:{u:<user>}:barred` present (with a TTL) while the user may open no connection, after abuse.
 * - `parley:{<room>}:members` hash `<user>|<connId>` → expiresAt.
 * - `parley:{exp:<k>}` (k < 16) sorted sets `[connId,user,instance]` by expiresAt: the expiry index,
 *   spread over the shards, from which `reap` claims due connections.
 * - `parley:presence:{p<n>}` (n < 8) streams of online/offline transitions for the presence worker:
 *   `src/redis/codecs/presence-events.ts`.
 *
 * A step that spans two slots is not atomic; each is ordered so that a crash between steps leaves
 * at worst an entry that expires or is pruned later, never a live one removed.
 */
import type { Cluster } from 'ioredis';
import { log } from '../log.ts';
import type { Member, PresenceStatus } from '@parley/client/wire';
import * as PresenceEvents from '../redis/codecs/presence-events.ts';
import { unavailable } from '../redis/connection.ts';
import { fnv1a } from '../redis/hash.ts';
import { runScript } from '../redis/script.ts';
import * as S from './redis-scripts.ts';
import { type ConnRef, ConnectionGone, type Presence, type Reaped, type UserPresence } from './types.ts';

/** Expiry index shards: enough to spread over the masters and to keep each claim small. */
const INDEX_SHARDS = 16;
/** Presence events kept per stream partition. */
const STREAM_MAXLEN = 100_000;
/** Waits before each new attempt at a presence event that failed: about 45 s in all. */
const EVENT_RETRY_MS = [500, 1000, 2000, 4000, 8000, 15_000, 15_000];
/** Connections claimed per index and batch; a reap takes a few batches at most per index. */
const CLAIM_BATCH = 500;
const CLAIM_BATCHES = 8;
/** Last-seen times outlive the connection this long; MongoDB (via the worker) keeps them for good. */
const SEEN_TTL_MS = 30 * 24 * 3600_000;

export type RedisPresenceOptions = {
  /** A connection not refreshed for this long is reaped. */
  ttlMs: number;
  /** Clock of this instance; expiry times of all instances are compared with each other. */
  now?: () => number;
};

export class RedisPresence implements Presence {
  readonly #redis: Cluster;
  readonly #ttlMs: number;
  readonly #now: () => number;
  /** Keys left behind by a crash expire after this without refreshes: far beyond any TTL in use. */
  readonly #safetyMs: number;

  constructor(redis: Cluster, opts: RedisPresenceOptions) {
    this.#redis = redis;
    this.#ttlMs = opts.ttlMs;
    this.#now = opts.now ?? Date.now;
    this.#safetyMs = Math.max(10 * opts.ttlMs, 60_000);
  }

  /** See `Presence.connect`. Throws `BackendUnavailable`. */
  async connect(conn: ConnRef): Promise<{ first: boolean }> {
    return (await this.#connect(conn, '')) as { first: boolean };
  }

  admit(conn: ConnRef, limit: number): Promise<{ first: boolean } | { barredMs: number } | null> {
    return this.#connect(conn, String(limit));
  }

  async #connect(conn: ConnRef, limit: string): Promise<{ first: boolean } | { barredMs: number } | null> {
    const now = this.#now();
    const expiresAt = now + this.#ttlMs;
    // Indexed before it is registered, so that nothing can fail between registering and writing
    // the online event. Registered and then left unindexed, the connection would count as live for
    // a TTL without an online event, and the user's next attempt (not `first`) would not write one
    // either: the worker would keep the user offline. The entry of a connection never registered
    // (the script failed) is dropped by the reaper, whose `REMOVE` finds nothing.
    await this.#redis.zadd(indexKey(conn.id), expiresAt, indexMember(conn)).catch(unavailable);
    const keys = [connsKey(conn.user), atKey(conn.user), barredKey(conn.user)];
    const reply = await runScript(this.#redis, S.CONNECT, keys, [conn.id, expiresAt, now, this.#safetyMs, SEEN_TTL_MS, limit]).catch(unavailable);
    const refused = Array.isArray(reply) && (reply[0] === 2 || reply[0] === 3);
    if (refused) await this.#redis.zrem(indexKey(conn.id), indexMember(conn)).catch(() => undefined); // else the reaper drops it
    if (refused && reply[0] === 3) return { barredMs: Math.max(1, Number(reply[1])) };
    if (refused) return null;
    const first = Array.isArray(reply) && reply[0] === 1;
    if (first) await this.#event(conn.user, 'online', Number(reply[1]));
    return { first };
  }

  /** See `Presence.refresh`. Unknown (disconnected or reaped) connections stay gone, and are returned. */
  async refresh<C extends ConnRef>(conns: readonly C[]): Promise<C[]> {
    const now = this.#now();
    const known = await Promise.all(conns.map((c) => this.#refreshOne(c, now))).catch(unavailable);
    return conns.filter((_, i) => !known[i]);
  }

  /**
   * False when the connection is not registered. A connection that lapsed (its refreshes came
   * late) while a removal took the user offline is alive again: that is written as the user's
   * online transition (see `S.REFRESH`).
   */
  async #refreshOne(c: ConnRef, now: number): Promise<boolean> {
    const expiresAt = now + this.#ttlMs;
    const reply = await runScript(this.#redis, S.REFRESH, [connsKey(c.user), connRoomsKey(c), seenKey(c.user), atKey(c.user)], [
      c.id, expiresAt, this.#safetyMs, now, SEEN_TTL_MS,
    ]);
    if (!Array.isArray(reply)) return false;
    // Written first: the transition is stamped, and a later refresh would not report it again.
    const back = Number(reply[0]);
    if (back > 0) await this.#event(c.user, 'online', back);
    // GT: never lower a score that a concurrent reaper put back (see `reap`). Not XX: an entry
    // missing from the index (claimed by a reaper before a late registration, or lost in a
    // failover) is put back, or the connection would never be reaped once its instance dies. One
    // put back for a connection removed meanwhile is dropped by the reaper.
    await Promise.all([
      this.#redis.zadd(indexKey(c.id), 'GT', expiresAt, indexMember(c)),
      ...strings(reply.slice(1)).map((room) =>
        runScript(this.#redis, S.TOUCH_ROOM, [membersKey(room)], [roomField(c), expiresAt, this.#safetyMs]),
      ),
    ]);
    return true;
  }

  /** See `Presence.disconnect`. Idempotent; a disconnect racing a reap is reported by one of them. */
  async disconnect(conn: ConnRef): Promise<{ last: boolean; lastSeen: number }> {
    const now = this.#now();
    const removed = await this.#remove(conn, now, String(now), '').catch(unavailable);
    if (removed.kind !== 'removed') {
      const seen = await this.#redis.get(seenKey(conn.user)).catch(unavailable);
      return { last: false, lastSeen: seen === null ? now : Number(seen) };
    }
    // The connection is gone whatever happens next: its offline transition is written even when a
    // room entry could not be removed (those expire on their own).
    const cleanup = Promise.all([
      this.#redis.zrem(indexKey(conn.id), indexMember(conn)),
      ...removed.rooms.map((room) => this.#leaveRoom(room, conn)),
    ]).then(() => null, (err: unknown) => err);
    if (removed.offline) await this.#event(conn.user, 'offline', removed.lastSeen);
    const failed = await cleanup;
    if (failed) unavailable(failed);
    return { last: removed.offline, lastSeen: removed.lastSeen };
  }

  /** See `Presence.join`. Throws when the connection is not registered (as memory does). */
  async join(room: string, conn: ConnRef): Promise<{ first: boolean }> {
    const now = this.#now();
    // Room entry first, then the connection's record of it: a disconnect in between then either
    // sees the room and removes the entry, or makes the second step fail and undo the first.
    const first = await runScript(this.#redis, S.JOIN, [membersKey(room)], [
      conn.user, conn.id, now + this.#ttlMs, now, this.#safetyMs, now - this.#safetyMs,
    ]).catch(unavailable);
    const known = await runScript(this.#redis, S.ADD_ROOM, [connsKey(conn.user), connRoomsKey(conn)], [conn.id, room, this.#safetyMs]).catch(unavailable);
    if (typeof known !== 'string') {
      await this.#leaveRoom(room, conn).catch(unavailable);
      throw new ConnectionGone(conn);
    }
    return { first: first === 1 };
  }

  /** See `Presence.leave`. */
  async leave(room: string, conn: ConnRef): Promise<{ last: boolean }> {
    const recorded = await runScript(this.#redis, S.DROP_ROOM, [connRoomsKey(conn)], [room]).catch(unavailable);
    if (recorded !== 1) return { last: false };
    return { last: await this.#leaveRoom(room, conn).catch(unavailable) };
  }

  /** See `Presence.members`. */
  async members(room: string): Promise<Member[]> {
    const users = await runScript(this.#redis, S.MEMBERS, [membersKey(room)], [this.#now()]).catch(unavailable);
    return strings(users).sort().map((user) => ({ user, status: 'online' as const }));
  }

  /** See `Presence.status`. */
  async connections(user: string): Promise<number> {
    const now = this.#now();
    const expiries = await this.#redis.hvals(connsKey(user)).catch(unavailable);
    return expiries.filter((e) => Number(e) > now).length;
  }

  async bar(user: string, ms: number): Promise<void> {
    await this.#redis.set(barredKey(user), '1', 'PX', ms).catch(unavailable);
  }

  async status(user: string): Promise<UserPresence> {
    const now = this.#now();
    const [expiries, seen] = await Promise.all([
      this.#redis.hvals(connsKey(user)),
      this.#redis.get(seenKey(user)),
    ]).catch(unavailable);
    if (expiries.some((e) => Number(e) > now)) return { user, status: 'online' };
    return seen === null ? { user, status: 'offline' } : { user, status: 'offline', lastSeen: Number(seen) };
  }

  /**
   * See `Presence.reap`. Each index is claimed atomically (read and remove in one script), so that
   * concurrent reapers on any instance report each connection once.
   */
  async reap(): Promise<Reaped[]> {
    const now = this.#now();
    const shards = await Promise.allSettled(Array.from({ length: INDEX_SHARDS }, (_, k) => this.#reapShard(k, now)));
    // What was claimed is reported even when another shard failed: claimed entries are out of the
    // index, and nobody else would announce them.
    const done = shards.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
    const failed = shards.find((s): s is PromiseRejectedResult => s.status === 'rejected');
    if (failed && done.length === 0) unavailable(failed.reason);
    if (failed) log.warn('presence: some expiry shards were not reaped', { err: failed.reason });
    return done.flat();
  }

  async #reapShard(k: number, now: number): Promise<Reaped[]> {
    const out: Reaped[] = [];
    for (let batch = 0; batch < CLAIM_BATCHES; batch++) {
      const due = strings(await runScript(this.#redis, S.CLAIM, [`parley:{exp:${k}}`], [now, CLAIM_BATCH]));
      const claims: Promise<Reaped | null>[] = [];
      for (let i = 0; i + 1 < due.length; i += 2) {
        const conn = parseMember(due[i] ?? '');
        if (conn) claims.push(this.#reapOne(conn, now, due[i + 1] ?? '0').catch((err: unknown) => this.#unclaim(conn, due[i + 1], err)));
        else log.warn('presence: dropped a malformed expiry entry', { entry: due[i] });
      }
      for (const r of await Promise.all(claims)) if (r) out.push(r);
      if (due.length < 2 * CLAIM_BATCH) break;
    }
    return out;
  }

  async #reapOne(conn: ConnRef, now: number, claimedAt: string): Promise<Reaped | null> {
    const removed = await this.#remove(conn, now, '', claimedAt);
    if (removed.kind === 'refreshed') {
      // Refreshed between the claim and now: its refresh found no index entry to move, so put it back.
      await this.#redis.zadd(indexKey(conn.id), 'GT', removed.expiresAt, indexMember(conn));
      return null;
    }
    if (removed.kind === 'unknown') return null; // disconnected meanwhile: the disconnect reported it
    // Written first: once removed, the connection is `unknown` to a later reap, which would not
    // write it if leaving a room failed below.
    if (removed.offline) await this.#event(conn.user, 'offline', removed.lastSeen);
    const left = await Promise.all(removed.rooms.map((room) => this.#leaveRoom(room, conn)));
    const leftRooms = removed.rooms.filter((_, i) => left[i]).sort();
    return { conn, leftRooms, offline: removed.offline, lastSeen: removed.lastSeen };
  }

  /** A claimed connection could not be removed: back into the index, for a later reap to retry. */
  async #unclaim(conn: ConnRef, score: string | undefined, err: unknown): Promise<null> {
    log.warn('presence: reaping a connection failed; retried later', { conn: conn.id, err });
    await this.#redis.zadd(indexKey(conn.id), 'NX', score ?? '0', indexMember(conn)).catch(() => undefined);
    return null;
  }

  /** Nothing to release: the connection is shared, and closed by whoever made it (deps.ts). */
  async close(): Promise<void> {}

  /** Removes the connection from its user (one script on the user's slot); see `S.REMOVE`. */
  async #remove(conn: ConnRef, now: number, lastSeen: string, claimedAt: string): Promise<Removal> {
    const reply = await runScript(this.#redis, S.REMOVE, [connsKey(conn.user), connRoomsKey(conn), seenKey(conn.user), atKey(conn.user)], [
      conn.id, now, lastSeen, this.#ttlMs, SEEN_TTL_MS, claimedAt,
    ]);
    const parts = Array.isArray(reply) ? reply.map((x: unknown) => (typeof x === 'number' ? x : String(x))) : [];
    if (parts[0] === 2) return { kind: 'refreshed', expiresAt: Number(parts[1]) };
    if (parts[0] !== 1) return { kind: 'unknown' };
    return { kind: 'removed', offline: parts[1] === 1, lastSeen: Number(parts[2]), rooms: parts.slice(3).map(String) };
  }

  /** Removes the room entry; true when the user has no connection left there. */
  async #leaveRoom(room: string, conn: ConnRef): Promise<boolean> {
    return (await runScript(this.#redis, S.LEAVE, [membersKey(room)], [conn.user, conn.id])) === 1;
  }

  /**
   * Appends a transition for the presence worker. The transition has happened, so a failure never
   * fails the caller: the write is tried again in the background (`EVENT_RETRY_MS`, longer than a
   * failover) and logged once given up. The worker applies an event only when it is newer than the
   * stored state, so one written late never undoes a later transition.
   */
  async #event(user: string, status: PresenceStatus, ts: number): Promise<void> {
    const fields = PresenceEvents.encode({ user, status, ts });
    const write = () => this.#redis.xadd(PresenceEvents.streamOf(user), 'MAXLEN', '~', STREAM_MAXLEN, '*', ...fields);
    const retry = (attempt: number, err: unknown): void => {
      const delay = EVENT_RETRY_MS[attempt];
      if (delay === undefined) return void log.warn('presence event not written', { user, status, attempts: attempt + 1, err });
      const timer = setTimeout(() => void write().catch((e: unknown) => retry(attempt + 1, e)), delay);
      (timer as { unref?: () => void }).unref?.();
    };
    await write().catch((err: unknown) => retry(0, err));
  }
}

type Removal =
  | { kind: 'unknown' }
  | { kind: 'refreshed'; expiresAt: number }
  | { kind: 'removed'; offline: boolean; lastSeen: number; rooms: string[] };

const connsKey = (user: string): string => `parley:{u:${user}}:conns`;
const connRoomsKey = (c: ConnRef): string => `parley:{u:${c.user}}:connrooms:${c.id}`;
const seenKey = (user: string): string => `parley:{u:${user}}:seen`;
const atKey = (user: string): string => `parley:{u:${user}}:at`;
const barredKey = (user: string): string => `parley:{u:${user}}:barred`;
const membersKey = (room: string): string => `parley:{${room}}:members`;
const indexKey = (connId: string): string => `parley:{exp:${fnv1a(connId) % INDEX_SHARDS}}`;
/** User names cannot contain `|` (wire.ts USER_RE), so the room scripts split at the first one. */
const roomField = (c: ConnRef): string => `${c.user}|${c.id}`;
/** JSON, so that any connection id or instance name survives the round trip. */
const indexMember = (c: ConnRef): string => JSON.stringify([c.id, c.user, c.instance]);

function parseMember(raw: string): ConnRef | null {
  try {
    const v: unknown = JSON.parse(raw);
    if (Array.isArray(v) && v.length === 3 && v.every((x) => typeof x === 'string')) {
      const [id, user, instance] = v as [string, string, string];
      return { id, user, instance };
    }
  } catch {
    // fall through: not ours
  }
  return null;
}

/** A script reply as strings; anything else is dropped. */
function strings(reply: unknown): string[] {
  return Array.isArray(reply) ? reply.filter((x): x is string => typeof x === 'string') : [];
}

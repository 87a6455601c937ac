/** The chat operations shared by the WebSocket and REST paths: access rules and posting. */
import type { Config } from './config.ts';
import type { Stores } from './deps.ts';
import { AppError, BackendUnavailable } from './errors.ts';
import { log } from './log.ts';
import type { Metrics } from './metrics.ts';
import { type Member, type RoomKind, mayAccess, parseRoom } from './protocol.ts';
import type { UserPresence } from './presence/types.ts';
import type { AppendResult } from './rooms/types.ts';

export class Chat {
  constructor(
    readonly config: Config,
    readonly stores: Stores,
    readonly metrics: Metrics,
  ) {}

  /** Checks a room name and that `user` may use it; throws `AppError` (invalid or forbidden). */
  access(user: string, room: string): RoomKind {
    const kind = parseRoom(room);
    if (!kind) throw new AppError('invalid_message', `"${room.slice(0, 80)}" is not a valid room name`);
    if (!mayAccess(kind, user)) throw new AppError('forbidden', 'only its two users may use a direct room');
    return kind;
  }

  /**
   * Appends a message (idempotent by `cid`) and records the conversation for everyone it concerns.
   * Throws `AppError` (`unavailable` when the backend is down, `internal` otherwise).
   */
  async post(user: string, room: string, kind: RoomKind, text: string, cid?: string): Promise<AppendResult> {
    const input = cid === undefined ? { from: user, text } : { from: user, text, cid };
    const result = await this.stores.log.append(room, input).catch(backendError('append', room));
    if (!result.duplicate) {
      this.metrics.appended.inc();
      const users = kind.kind === 'direct' ? kind.users : [user];
      // The conversation list is secondary: a failure here must not fail the post.
      for (const u of users) {
        this.stores.conversations.add(u, room).catch((err) => log.warn('conversation update failed', { room, err }));
      }
    }
    return result;
  }
}

/**
 * A room's members: its users with a live connection there and, for a direct room, both of its
 * users whatever their status. Sorted by name.
 */
export async function roomMembers(stores: Stores, room: string, kind: RoomKind): Promise<Member[]> {
  const members = await stores.presence.members(room);
  if (kind.kind === 'direct') {
    for (const u of kind.users) {
      if (!members.some((m) => m.user === u)) members.push(await userStatus(stores, u));
    }
    members.sort((a, b) => (a.user < b.user ? -1 : 1));
  }
  return members;
}

/**
 * A user's status: live from presence; for a user who is offline, the last-seen time is the later
 * of what presence still holds and what the durable user store holds (kept for good). The user
 * store is best effort here: when it is down, presence alone answers.
 */
export async function userStatus(stores: Stores, user: string): Promise<UserPresence> {
  const live = await stores.presence.status(user);
  if (live.status === 'online' || !stores.users) return live;
  const stored = await stores.users.get(user).catch((err: unknown) => {
    log.warn('user store unavailable; last-seen from presence only', { err });
    return null;
  });
  if (!stored) return live;
  return { user, status: 'offline', lastSeen: Math.max(live.lastSeen ?? 0, stored.lastSeen) };
}

/** Maps a store failure to the error a client sees, logging what is not the client's fault. */
export function backendError(op: string, room?: string): (err: unknown) => never {
  return (err) => {
    if (err instanceof AppError) throw err;
    if (err instanceof BackendUnavailable) {
      log.warn('backend unavailable', { op, room, err });
      throw new AppError('unavailable', 'a backend is unavailable; retry later', 2);
    }
    log.error('store failed', { op, room, err });
    throw new AppError('internal', 'internal error');
  };
}

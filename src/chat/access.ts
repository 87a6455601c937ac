/**
 * Who may use which room: a public room is open to every user, a direct room to its two users, a
 * group room to its members (asked of the groups store: `Chat.access`).
 */
import { AppError } from '../errors.ts';
import { type RoomKind, directRoom, mayAccess, parseRoom } from '@parley/client/wire';

/**
 * Checks a room name and what the name alone tells of access (direct rooms); throws `AppError`
 * (invalid or forbidden). A group room passes here: its membership is the groups store's.
 */
export function roomKind(user: string, room: string): RoomKind {
  const kind = parseRoom(room);
  if (!kind) throw new AppError('invalid_message', `"${room.slice(0, 80)}" is not a valid room name`);
  if (kind.kind === 'group') return kind;
  if (!mayAccess(kind, user)) throw new AppError('forbidden', 'only its two users may use a direct room');
  return kind;
}

/** The direct room of `user` with `other`; a direct room with oneself is refused. */
export function directRoomWith(user: string, other: string): string {
  if (other === user) throw new AppError('invalid_message', 'with: cannot open a direct room with yourself');
  return directRoom(user, other);
}

/** The users a room's activity concerns: both users of a direct room, else the acting user. */
export function concerned(kind: RoomKind, user: string): readonly string[] {
  return kind.kind === 'direct' ? kind.users : [user];
}

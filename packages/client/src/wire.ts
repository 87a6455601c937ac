/**
 * The wire contract (docs/protocol.md v1) without its validation: names, limits, codes and frame types.
 * Dependency-free, so that the typed client (and the browser demo) can use it as it is.
 */

export const LIMITS = {
  /** Largest inbound WebSocket frame, in bytes; larger closes with 1009. */
  frameBytes: 16 * 1024,
  textChars: 4000,
  /**
   * Largest REST body: room for 4000 characters even when a client's JSON escapes every one
   * as \uXXXX, which the WebSocket's 16 KiB frame cannot hold.
   */
  restBodyBytes: 64 * 1024,
  cidChars: 64,
  /** Messages returned by `joined` when nothing can be recovered. */
  joinLatest: 50,
  /**
   * Most messages a `join` with `since` recovers; a client further behind gets the latest and
   * pages the rest over REST, so that one frame stays a reasonable size.
   */
  recoverMax: 200,
  historyDefault: 50,
  historyMax: 200,
  /** v1.1: `unread` counts exactly up to this many messages, and says this many beyond. */
  unreadCap: 1000,
  /** v1.1: an `emoji` is 1..this many UTF-16 units. */
  emojiChars: 32,
  /** v1.1: distinct emoji one message may carry at once. */
  reactionsPerMessage: 20,
  /** v1.1: users listed per emoji in a message's `reactions` (the first to react). */
  reactionUsersShown: 20,
} as const;

/**
 * WebSocket subprotocols (`Sec-WebSocket-Protocol`), one per encoding of the same frames: JSON text
 * frames (the default, also for a socket that asks for no subprotocol) or binary MessagePack frames.
 */
export const SUBPROTOCOLS = {
  json: 'parley.v1.json',
  msgpack: 'parley.v1.msgpack',
} as const;
export type Encoding = keyof typeof SUBPROTOCOLS;

/**
 * WebSocket close codes: the ones the server sends, and the standard ones either side may see
 * (1001 a peer going away, 1005 a close without a code, 1006 a connection lost without a close,
 * 1007 a text frame that is not UTF-8).
 */
export const CLOSE = {
  normal: 1000,
  goingAway: 1001,
  noStatus: 1005,
  abnormal: 1006,
  invalidData: 1007,
  policy: 1008,
  tooLarge: 1009,
  internal: 1011,
  restart: 1012,
  overloaded: 1013,
  heartbeatTimeout: 4000,
  /** v1.1: the socket's token expired and no fresh one came within the grace. */
  tokenExpired: 4001,
  slowConsumer: 4008,
} as const;

export const ERROR_CODES = {
  invalid_message: 'invalid_message',
  unknown_type: 'unknown_type',
  not_member: 'not_member',
  forbidden: 'forbidden',
  rate_limited: 'rate_limited',
  unavailable: 'unavailable',
  internal: 'internal',
  // v1.1
  too_many_rooms: 'too_many_rooms',
  token_expired: 'token_expired',
  not_found: 'not_found',
} as const;
export type ErrorCode = keyof typeof ERROR_CODES;

export const USER_RE = /^[A-Za-z0-9_.-]{1,32}$/;
const PUBLIC_ROOM_RE = /^[A-Za-z0-9_-]{1,64}$/;
const DIRECT_ROOM_RE = /^dm:([A-Za-z0-9_.-]{1,32}):([A-Za-z0-9_.-]{1,32})$/;
/** v1.1: a private group's id; its room is `grp:<id>`. */
export const GROUP_ID_RE = /^[A-Za-z0-9_-]{1,64}$/;
const GROUP_ROOM_RE = /^grp:([A-Za-z0-9_-]{1,64})$/;

/** The room of a private group: `grp:<id>`. */
export const groupRoom = (id: string): string => `grp:${id}`;

export const isUserName = (s: string): boolean => USER_RE.test(s);

/** The direct room of two users: `dm:<a>:<b>` with the names sorted. */
export function directRoom(a: string, b: string): string {
  return a < b ? `dm:${a}:${b}` : `dm:${b}:${a}`;
}

export type RoomKind =
  | { kind: 'public' }
  | { kind: 'direct'; users: readonly [string, string] }
  /** v1.1: a private group; who may use it is the server's membership, not the name. */
  | { kind: 'group'; id: string };

/** Classifies a room name; `null` when it is not a valid room (including unsorted or self DMs). */
export function parseRoom(room: string): RoomKind | null {
  if (PUBLIC_ROOM_RE.test(room)) return { kind: 'public' };
  const g = GROUP_ROOM_RE.exec(room);
  if (g) return { kind: 'group', id: g[1] as string };
  const m = DIRECT_ROOM_RE.exec(room);
  if (!m) return null;
  const a = m[1] as string;
  const b = m[2] as string;
  if (!(a < b)) return null;
  return { kind: 'direct', users: [a, b] };
}

/**
 * Whether `user` may join, read and post in `room` (already known to be valid), as far as the name
 * tells: a group room needs membership, which only the server knows, so it answers false here.
 */
export function mayAccess(kind: RoomKind, user: string): boolean {
  if (kind.kind === 'group') return false;
  return kind.kind === 'public' || kind.users[0] === user || kind.users[1] === user;
}

/** v1.1: a group member's role. */
export type GroupRole = 'owner' | 'admin' | 'member';

/** v1.1: what an entry of the log does to an earlier text message (its `target`). Plain messages have none. */
export type ChangeKind = 'edit' | 'delete' | 'reaction';

/** v1.1: one emoji's reactions to a message: how many users, and the first 20 of them in the order they reacted. */
export type Reaction = { emoji: string; count: number; users: string[] };

/**
 * A stored entry of a room's log; the same shape on every route and frame. A plain text message has
 * no `kind`; v1.1 edits, deletes and reactions are entries too, at their own `seq`, naming the
 * message they change in `target`.
 */
export type Message = {
  room: string;
  epoch: string;
  seq: number;
  from: string;
  text: string;
  ts: number;
  cid?: string;
  /** v1.1: an edit, delete or reaction entry (absent: a text message). */
  kind?: ChangeKind;
  /** v1.1: the seq of the text message an edit, delete or reaction changes. */
  target?: number;
  /** v1.1: a reaction entry's emoji, and whether it was added (`true`) or taken back. */
  emoji?: string;
  on?: boolean;
  /**
   * v1.1, text messages in history and `joined` only: their state when read. `edited` is the time
   * of the latest edit (and `text` that edit's), `deleted` blanks `text`, `reactions` lists the
   * emoji in the order they were first used.
   */
  edited?: number;
  deleted?: true;
  reactions?: Reaction[];
  /**
   * v1.1, with the state above: the seq of the latest entry that state includes. An edit, delete or
   * reaction entry at or below it is already shown; apply only later ones.
   */
  rev?: number;
};

export type PresenceStatus = 'online' | 'offline';
export type Member = { user: string; status: PresenceStatus; lastSeen?: number };

export type ServerFrame =
  | { type: 'hello'; user: string; conn: string; instance: string; heartbeatMs: number }
  | {
      type: 'joined';
      room: string;
      epoch: string;
      seq: number;
      recovered: boolean;
      messages: Message[];
      members: Member[];
      /** v1.1: the user's read position in the room (0 before any `read`). */
      lastRead?: number;
    }
  | ({ type: 'message' } & Message)
  | { type: 'ack'; cid?: string; room: string; epoch: string; seq: number; ts: number }
  | { type: 'typing'; room: string; user: string }
  | { type: 'presence'; room: string; user: string; status: PresenceStatus; lastSeen?: number }
  | { type: 'heartbeat'; id?: number | string; success: true }
  | { type: 'left'; room: string; reason?: 'removed' }
  /** v1.1: a group's membership changed (`role` null: `user` was removed or left). */
  | { type: 'member'; room: string; user: string; role: 'member' | 'admin' | null; by: string }
  /** v1.1: `user` has read `room` up to `seq` (to that user's sockets, and as a receipt in direct rooms and groups). */
  | { type: 'read'; room: string; user: string; seq: number }
  | { type: 'error'; code: ErrorCode; message: string; cid?: string; room?: string }
  | { type: 'batch'; events: ServerFrame[] };

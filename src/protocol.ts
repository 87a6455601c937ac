/**
 * The wire contract (PROTOCOL.md v1): names, limits, client frames as valibot schemas and the
 * server frames as types. Everything that reaches the service from a client is validated here.
 */
import * as v from 'valibot';

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
} as const;

export const CLOSE = {
  normal: 1000,
  policy: 1008,
  tooLarge: 1009,
  internal: 1011,
  restart: 1012,
  overloaded: 1013,
  heartbeatTimeout: 4000,
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
} as const;
export type ErrorCode = keyof typeof ERROR_CODES;

const USER_RE = /^[A-Za-z0-9_.-]{1,32}$/;
const PUBLIC_ROOM_RE = /^[A-Za-z0-9_-]{1,64}$/;
const DIRECT_ROOM_RE = /^dm:([A-Za-z0-9_.-]{1,32}):([A-Za-z0-9_.-]{1,32})$/;

export const isUserName = (s: string): boolean => USER_RE.test(s);

/** The direct room of two users: `dm:<a>:<b>` with the names sorted. */
export function directRoom(a: string, b: string): string {
  return a < b ? `dm:${a}:${b}` : `dm:${b}:${a}`;
}

export type RoomKind =
  | { kind: 'public' }
  | { kind: 'direct'; users: readonly [string, string] };

/** Classifies a room name; `null` when it is not a valid room (including unsorted or self DMs). */
export function parseRoom(room: string): RoomKind | null {
  if (PUBLIC_ROOM_RE.test(room)) return { kind: 'public' };
  const m = DIRECT_ROOM_RE.exec(room);
  if (!m) return null;
  const a = m[1] as string;
  const b = m[2] as string;
  if (!(a < b)) return null;
  return { kind: 'direct', users: [a, b] };
}

/** Whether `user` may join, read and post in `room` (already known to be valid). */
export function mayAccess(kind: RoomKind, user: string): boolean {
  return kind.kind === 'public' || kind.users[0] === user || kind.users[1] === user;
}

const roomName = v.pipe(v.string(), v.minLength(1), v.maxLength(100));
const userName = v.pipe(v.string(), v.regex(USER_RE, 'not a valid user name'));
const cid = v.pipe(v.string(), v.minLength(1), v.maxLength(LIMITS.cidChars));
/** Message text: 1..4000 characters after trimming. */
export const messageText = v.pipe(
  v.string(),
  v.trim(),
  v.minLength(1, 'text is empty'),
  v.maxLength(LIMITS.textChars, `text is longer than ${LIMITS.textChars} characters`),
);
const seq = v.pipe(v.number(), v.integer(), v.minValue(0));

export const JoinFrame = v.union([
  v.object({
    type: v.literal('join'),
    room: roomName,
    since: v.optional(v.object({ epoch: v.pipe(v.string(), v.maxLength(64)), seq })),
  }),
  v.object({ type: v.literal('join'), with: userName }),
]);
export const LeaveFrame = v.object({ type: v.literal('leave'), room: roomName });
export const SendFrame = v.object({
  type: v.literal('send'),
  room: roomName,
  text: messageText,
  cid: v.optional(cid),
});
export const TypingFrame = v.object({ type: v.literal('typing'), room: roomName });
export const HeartbeatFrame = v.object({
  type: v.literal('heartbeat'),
  id: v.optional(v.union([v.number(), v.pipe(v.string(), v.maxLength(64))])),
});

export const CLIENT_FRAMES = {
  join: JoinFrame,
  leave: LeaveFrame,
  send: SendFrame,
  typing: TypingFrame,
  heartbeat: HeartbeatFrame,
} as const;
export type ClientFrameType = keyof typeof CLIENT_FRAMES;
export type ClientFrame = { [K in ClientFrameType]: v.InferOutput<(typeof CLIENT_FRAMES)[K]> }[ClientFrameType];

/** REST body of `POST /v1/rooms/:room/messages`. */
export const PostMessageBody = v.object({ text: messageText, cid: v.optional(cid) });

const int = (min: number, max: number) =>
  v.pipe(v.string(), v.regex(/^\d{1,15}$/, 'not a whole number'), v.transform(Number), v.minValue(min), v.maxValue(max));
/** REST query of `GET /v1/rooms/:room/messages`. */
export const HistoryQuery = v.object({
  after: v.optional(int(0, Number.MAX_SAFE_INTEGER)),
  before: v.optional(int(1, Number.MAX_SAFE_INTEGER)),
  limit: v.optional(int(1, LIMITS.historyMax)),
});

/** A stored message; the same shape on every route and frame. */
export type Message = {
  room: string;
  epoch: string;
  seq: number;
  from: string;
  text: string;
  ts: number;
  cid?: string;
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
    }
  | ({ type: 'message' } & Message)
  | { type: 'ack'; cid?: string; room: string; epoch: string; seq: number; ts: number }
  | { type: 'typing'; room: string; user: string }
  | { type: 'presence'; room: string; user: string; status: PresenceStatus; lastSeen?: number }
  | { type: 'heartbeat'; id?: number | string; success: true }
  | { type: 'left'; room: string }
  | { type: 'error'; code: ErrorCode; message: string; cid?: string }
  | { type: 'batch'; events: ServerFrame[] };

export type ParseResult =
  | { ok: true; frame: ClientFrame }
  | { ok: false; code: ErrorCode; message: string; cid?: string };

/** Parses one inbound text frame. Never throws. */
export function parseClientFrame(raw: string): ParseResult {
  let data: unknown;
  try {
    data = JSON.parse(raw);
  } catch {
    return { ok: false, code: 'invalid_message', message: 'frame is not JSON' };
  }
  if (typeof data !== 'object' || data === null || Array.isArray(data)) {
    return { ok: false, code: 'invalid_message', message: 'frame is not a JSON object' };
  }
  const obj = data as Record<string, unknown>;
  const cidOf = typeof obj['cid'] === 'string' && obj['cid'].length <= LIMITS.cidChars ? obj['cid'] : undefined;
  const type = obj['type'];
  if (typeof type !== 'string') {
    return withCid({ ok: false, code: 'invalid_message', message: 'field "type" is missing' }, cidOf);
  }
  if (!Object.hasOwn(CLIENT_FRAMES, type)) {
    return withCid({ ok: false, code: 'unknown_type', message: `unknown frame type "${type.slice(0, 32)}"` }, cidOf);
  }
  const result = v.safeParse(CLIENT_FRAMES[type as ClientFrameType], obj);
  if (!result.success) {
    return withCid({ ok: false, code: 'invalid_message', message: describeIssue(result.issues[0]) }, cidOf);
  }
  return { ok: true, frame: result.output as ClientFrame };
}

type Refusal = Extract<ParseResult, { ok: false }>;

function withCid(r: Refusal, cid: string | undefined): Refusal {
  if (cid !== undefined) r.cid = cid;
  return r;
}

/** One line naming the offending field, for error frames and REST errors. */
export function describeIssue(issue: v.BaseIssue<unknown> | undefined): string {
  if (!issue) return 'invalid';
  const path = issue.path?.map((p) => String(p.key)).join('.');
  return path ? `${path}: ${issue.message}` : issue.message;
}

/**
 * What clients send, validated at the edge: client frames and REST inputs as valibot schemas
 * (docs/protocol.md). Everything that reaches the service from a client is checked here. The names,
 * limits and codes themselves are the wire module's, `@parley/client/wire`, shared with clients.
 */
import * as v from 'valibot';
import { type ErrorCode, GROUP_ID_RE, LIMITS, USER_RE } from '@parley/client/wire';

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
/** v1.1: the user has read `room` up to `seq`. */
export const ReadFrame = v.object({ type: v.literal('read'), room: roomName, seq });
/** v1.1: the seq of the text message an edit, delete or reaction is about. */
const target = v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(Number.MAX_SAFE_INTEGER));
/** v1.1: an emoji, 1..32 UTF-16 units (any text: clients choose what they offer). */
const emoji = v.pipe(v.string(), v.minLength(1, 'emoji is empty'), v.maxLength(LIMITS.emojiChars, `emoji is longer than ${LIMITS.emojiChars} characters`));
/** v1.1: replaces the text of one's own message. */
export const EditFrame = v.object({ type: v.literal('edit'), room: roomName, seq: target, text: messageText, cid: v.optional(cid) });
/** v1.1: deletes a message (its author; in a group also the owner and admins). */
export const DeleteFrame = v.object({ type: v.literal('delete'), room: roomName, seq: target, cid: v.optional(cid) });
/** v1.1: adds (`on: true`) or takes back a reaction. */
export const ReactFrame = v.object({ type: v.literal('react'), room: roomName, seq: target, emoji, on: v.boolean(), cid: v.optional(cid) });
export const HeartbeatFrame = v.object({
  type: v.literal('heartbeat'),
  id: v.optional(v.union([v.number(), v.pipe(v.string(), v.maxLength(64))])),
});
/**
 * v1.1 authentication in a frame: the first frame of a socket opened without credentials in the
 * URL, or a re-authentication with a fresh token. Which field counts depends on `AUTH_MODE`
 * (`token` in jwt mode, `user` in dev mode); the other is ignored.
 */
export const AuthFrame = v.object({
  type: v.literal('auth'),
  token: v.optional(v.pipe(v.string(), v.minLength(1), v.maxLength(8192))),
  user: v.optional(userName),
});

export const CLIENT_FRAMES = {
  join: JoinFrame,
  leave: LeaveFrame,
  send: SendFrame,
  typing: TypingFrame,
  read: ReadFrame,
  edit: EditFrame,
  delete: DeleteFrame,
  react: ReactFrame,
  heartbeat: HeartbeatFrame,
  auth: AuthFrame,
} as const;
export type ClientFrameType = keyof typeof CLIENT_FRAMES;
export type ClientFrame = { [K in ClientFrameType]: v.InferOutput<(typeof CLIENT_FRAMES)[K]> }[ClientFrameType];

/** REST body of `POST /v1/rooms/:room/messages`. */
export const PostMessageBody = v.object({ text: messageText, cid: v.optional(cid) });

/** A group's id (`grp:<id>` is its room). */
export const groupId = v.pipe(v.string(), v.regex(GROUP_ID_RE, 'not a valid group id'));
/** A group's title: at most this many characters. */
export const GROUP_TITLE_CHARS = 200;
/** Members named in a create, at most (the owner makes one more; the service checks the total). */
const GROUP_MEMBERS_MAX = 1000;

/** REST body of `POST /v1/groups`. */
export const CreateGroupBody = v.object({
  id: v.optional(groupId),
  title: v.optional(v.pipe(v.string(), v.trim(), v.maxLength(GROUP_TITLE_CHARS, `title is longer than ${GROUP_TITLE_CHARS} characters`))),
  members: v.optional(v.pipe(v.array(userName), v.maxLength(GROUP_MEMBERS_MAX, `members: at most ${GROUP_MEMBERS_MAX}`))),
});

/** REST body of `PUT /v1/groups/:id/members/:user`. */
export const SetRoleBody = v.object({ role: v.picklist(['member', 'admin'], 'role: must be "member" or "admin"') });

/** A user name in a path. */
export const UserName = userName;

const int = (min: number, max: number, about: string) =>
  v.pipe(
    v.string(),
    v.regex(/^\d{1,15}$/, 'not a whole number'),
    v.description(`${about} (a whole number, ${min} to ${max})`),
    v.transform(Number),
    v.minValue(min),
    v.maxValue(max),
  );
/** REST query of `GET /v1/rooms/:room/messages`. */
export const HistoryQuery = v.object({
  after: v.optional(int(0, Number.MAX_SAFE_INTEGER, 'Messages after this seq, oldest first')),
  before: v.optional(int(1, Number.MAX_SAFE_INTEGER, 'Messages before this seq, the latest of them')),
  limit: v.optional(int(1, LIMITS.historyMax, `Messages at most; default ${LIMITS.historyDefault}`)),
});

export type ParseResult =
  /** `cid`: the frame's own when it carried a valid one, whatever its type (for its error frames). */
  | { ok: true; frame: ClientFrame; cid?: string }
  | { ok: false; code: ErrorCode; message: string; cid?: string };

/** Parses one inbound JSON text frame. Never throws. */
export function parseClientFrame(raw: string): ParseResult {
  let data: unknown;
  try {
    data = JSON.parse(raw);
  } catch {
    return { ok: false, code: 'invalid_message', message: 'frame is not JSON' };
  }
  return checkClientFrame(data);
}

/** Validates one decoded inbound frame, whatever its encoding (src/realtime/codec.ts). Never throws. */
export function checkClientFrame(data: unknown): ParseResult {
  if (typeof data !== 'object' || data === null || Array.isArray(data)) {
    return { ok: false, code: 'invalid_message', message: 'frame is not an object' };
  }
  const obj = data as Record<string, unknown>;
  const rawCid = obj['cid'];
  const cidOf = typeof rawCid === 'string' && rawCid.length >= 1 && rawCid.length <= LIMITS.cidChars ? rawCid : undefined;
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
  return cidOf === undefined ? { ok: true, frame: result.output as ClientFrame } : { ok: true, frame: result.output as ClientFrame, cid: cidOf };
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

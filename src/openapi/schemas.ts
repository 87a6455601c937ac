/**
 * The REST API's answers and path parameters as valibot schemas (docs/protocol.md, REST). The
 * answers are documentation: `/openapi.json` is generated from them, and the route tests check every
 * answer against that document. The path parameters are what the routes validate with. Request
 * bodies and the history query live with the other inputs in `src/protocol/inbound.ts`.
 */
import * as v from 'valibot';
import { GROUP_ID_RE, LIMITS, type Member as WireMember, type Message as WireMessage, USER_RE, parseRoom } from '@parley/client/wire';
import type { ConversationItem } from '../chat/conversations.ts';
import type { GroupView } from '../chat/groups.ts';
import { UserName, groupId } from '../protocol/inbound.ts';
import type { RestErrorCode } from '../errors.ts';

const inner = (re: RegExp) => re.source.replace(/^\^|\$$/g, '');
const user = inner(USER_RE);
const id = inner(GROUP_ID_RE);

/**
 * A room name: public `[A-Za-z0-9_-]{1,64}`, direct `dm:<a>:<b>` (the two user names sorted), group
 * `grp:<id>`. The pattern documents it; the check adds the sorted order.
 */
const roomName = v.pipe(
  v.string(),
  v.regex(new RegExp(`^(?:${id}|dm:${user}:${user}|grp:${id})$`), 'not a valid room name'),
  v.check((s) => parseRoom(s) !== null, 'not a valid room name'),
  v.description('A room: public `lobby`, direct `dm:<a>:<b>` (the two user names sorted), or group `grp:<id>`. Percent-encode the `:`s in a path.'),
);

const int = (min: number) => v.pipe(v.number(), v.integer(), v.minValue(min));
const seq = v.pipe(int(0), v.description('A position in the room log, gapless within an epoch'));
const epoch = v.pipe(v.string(), v.description("The log's epoch: when it changes, positions start afresh"));
const ts = v.pipe(int(0), v.description('Milliseconds since the Unix epoch'));
const userName = v.pipe(v.string(), v.regex(USER_RE));
const presenceStatus = v.picklist(['online', 'offline']);

// Path parameters.
export const RoomParams = v.object({ room: roomName });
export const UserParams = v.object({ user: UserName });
export const GroupParams = v.object({ id: groupId });
export const GroupMemberParams = v.object({ id: groupId, user: UserName });

// Answers. Clients ignore fields they do not know: fields may be added, never taken away.
const emoji = v.pipe(v.string(), v.minLength(1), v.maxLength(LIMITS.emojiChars));

export const Reaction = v.object({
  emoji,
  count: int(1),
  users: v.pipe(
    v.array(userName),
    v.maxLength(LIMITS.reactionUsersShown),
    v.description(`The first ${LIMITS.reactionUsersShown} users to react, in the order they reacted`),
  ),
});

export const Message = v.pipe(
  v.object({
    room: v.string(),
    epoch,
    seq,
    from: userName,
    text: v.string(),
    ts,
    cid: v.optional(v.pipe(v.string(), v.description("The sender's id for the message, echoed for its resends"))),
    kind: v.optional(v.pipe(v.picklist(['edit', 'delete', 'reaction']), v.description('Absent for a plain text message'))),
    target: v.optional(v.pipe(int(1), v.description('The message an edit, delete or reaction is about'))),
    emoji: v.optional(v.pipe(emoji, v.description("A reaction's emoji"))),
    on: v.optional(v.pipe(v.boolean(), v.description('A reaction added (true) or taken back'))),
    edited: v.optional(v.pipe(int(0), v.description('When the text was last edited (ms); `text` is the latest'))),
    deleted: v.optional(v.pipe(v.literal(true), v.description('Deleted: `text` is ""'))),
    reactions: v.optional(
      v.pipe(v.array(Reaction), v.maxLength(LIMITS.reactionsPerMessage), v.description('In the order the emoji were first used')),
    ),
    rev: v.optional(
      v.pipe(int(0), v.description('With the state above: the seq of the latest entry it includes; apply only later edits, deletes and reactions')),
    ),
  }),
  v.description('A room log entry, the same on every route and frame'),
);

export const HistoryPage = v.object({
  room: v.string(),
  epoch,
  messages: v.pipe(v.array(Message), v.description('Ascending by seq')),
  hasMore: v.pipe(v.boolean(), v.description('More messages lie beyond this page in the direction paged')),
});

export const Posted = v.object({ room: v.string(), epoch, seq, ts });

export const Member = v.object({ user: userName, status: presenceStatus, lastSeen: v.optional(ts) });
export const RoomPresence = v.object({ room: v.string(), members: v.pipe(v.array(Member), v.description('Sorted by name')) });
export const UserPresence = v.object({
  user: userName,
  status: presenceStatus,
  lastSeen: v.pipe(v.nullable(ts), v.description('When the user was last online (ms); null when never seen')),
});

export const Conversation = v.object({
  room: v.string(),
  seq: v.pipe(int(0), v.description("The room's latest position")),
  lastMessage: v.optional(Message),
  lastRead: v.pipe(int(0), v.description("The caller's read position, 0 before any read")),
  unread: v.pipe(int(0), v.maxValue(LIMITS.unreadCap), v.description(`Text messages from others after lastRead; exact up to ${LIMITS.unreadCap}`)),
});
export const Conversations = v.object({ items: v.pipe(v.array(Conversation), v.description('Most recently active first')) });

export const GroupMember = v.object({ user: userName, role: v.picklist(['owner', 'admin', 'member']) });
export const Group = v.object({
  room: v.pipe(v.string(), v.description('`grp:<id>`')),
  id: v.string(),
  title: v.string(),
  owner: userName,
  members: v.array(GroupMember),
});

export const ReadPosition = v.object({ user: userName, seq });
export const RoomReads = v.object({
  room: v.string(),
  reads: v.pipe(v.array(ReadPosition), v.description('Every member in direct rooms and groups, sorted; in public rooms only the caller')),
});

export const Health = v.object({ status: v.literal('ok'), instance: v.string() });
export const Readiness = v.object({ status: v.picklist(['ready', 'starting', 'draining', 'degraded', 'full']) });

const ERROR_CODES = [
  'invalid_request',
  'unauthorized',
  'forbidden',
  'not_found',
  'conflict',
  'too_large',
  'rate_limited',
  'unavailable',
  'internal',
] as const satisfies readonly RestErrorCode[];

/** Every refusal: `{"error":{"code","message"}}`. */
export const ErrorBody = v.object({
  error: v.object({ code: v.picklist(ERROR_CODES), message: v.pipe(v.string(), v.description('For people; may change')) }),
});

/** A refusal with one code, for a status that has one. */
export const errorWith = (code: RestErrorCode) =>
  v.object({ error: v.object({ code: v.literal(code), message: v.string() }) });

// The answers' schemas and the types the routes answer with name the same fields: a field added to
// one and not to the other fails the type check, so that the document cannot fall behind.
type SameKeys<A, B> = [keyof A] extends [keyof B] ? ([keyof B] extends [keyof A] ? true : false) : false;
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? SameKeys<A, B> : false) : false;
type Assert<T extends true> = T;
export type AnswersMatchTheirTypes = [
  Assert<Same<v.InferOutput<typeof Message>, WireMessage>>,
  Assert<Same<v.InferOutput<typeof Member>, WireMember>>,
  Assert<Same<v.InferOutput<typeof Group>, GroupView>>,
  Assert<Same<v.InferOutput<typeof Conversation>, ConversationItem>>,
];

/** The named schemas: `components/schemas` of the document, referenced wherever they are used. */
export const NAMED = {
  Message,
  Reaction,
  HistoryPage,
  Posted,
  Member,
  RoomPresence,
  UserPresence,
  Conversation,
  Conversations,
  Group,
  GroupMember,
  ReadPosition,
  RoomReads,
  Health,
  Readiness,
  Error: ErrorBody,
};

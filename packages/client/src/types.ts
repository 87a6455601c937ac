/**
 * Public types of the typed client: options, events, and the minimal WebSocket shape it needs.
 */
import type { Encoding, ErrorCode, GroupRole, Member, Message, PresenceStatus } from './wire.ts';

/**
 * The part of a WebSocket the client uses. Browser, Deno and `ws` (Node) sockets all fit.
 * Handlers take `never` so that every implementation's event type is assignable; the client reads
 * only `data` of message events and `code`/`reason` of close events, which all three provide.
 */
export interface WebSocketLike {
  readonly readyState: number;
  /** Set to `arraybuffer` for MessagePack, so that binary frames arrive as ArrayBuffers. */
  binaryType?: string;
  send(data: string | Uint8Array): void;
  close(code?: number, reason?: string): void;
  onopen: ((ev: never) => unknown) | null;
  onmessage: ((ev: never) => unknown) | null;
  onclose: ((ev: never) => unknown) | null;
  onerror: ((ev: never) => unknown) | null;
}

/** A WebSocket constructor: `globalThis.WebSocket`, or `WebSocket` from the `ws` package. */
export type WebSocketCtor = new (url: string, protocols?: string[]) => WebSocketLike;

/** Timers the client schedules with; injectable so tests control time. */
export interface Timers {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export type FetchLike = (url: string, init?: { method?: string; headers?: Record<string, string>; body?: string }) => Promise<{
  ok: boolean;
  status: number;
  json(): Promise<unknown>;
}>;

export type ClientOptions = {
  /** Base URL of the service, `http(s)://host:port`; the socket goes to `ws(s)://host:port/ws`. */
  url: string;
  /** Dev auth (`AUTH_MODE=dev`): the user name. Ignored when `token` is set. */
  user?: string;
  /**
   * JWT auth: the token, or a token provider: a function returning a token or a promise of one,
   * asked for a fresh one before every connect and request, and before the current token expires.
   */
  token?: string | (() => string | Promise<string>);
  /**
   * Put the credentials in the socket's URL (`?token=` / `?user=`), for servers older than protocol
   * v1.1. Default false: the socket's first frame carries them (URLs end up in access logs).
   */
  authInUrl?: boolean;
  /** Defaults to `globalThis.WebSocket`. Node 20 has none: pass `WebSocket` from `ws`. */
  WebSocket?: WebSocketCtor;
  /**
   * How frames travel (default `json`): `msgpack` asks for the subprotocol `parley.v1.msgpack` and
   * sends and receives binary MessagePack frames, fewer bytes for the same frames. Its codec
   * (`@msgpack/msgpack`) is imported when the client first connects, never for JSON.
   */
  encoding?: Encoding;
  /** Defaults to `globalThis.fetch`; used to fill gaps from the history route. */
  fetch?: FetchLike;
  /** Defaults to the global timers. */
  timers?: Timers;
  /** A number in [0, 1); defaults to `Math.random`. Used for backoff jitter and the cid prefix. */
  random?: () => number;
  /** How long to wait for a heartbeat answer before resending it (default 5000 ms). */
  retryDelay?: number;
  /** Resends of an unanswered heartbeat before the connection counts as broken (default 2). */
  maxRetries?: number;
  /** Heartbeat interval until `hello` says otherwise (default 30000 ms). */
  heartbeatMs?: number;
};

/** Client connection states, in the order a healthy session goes through them. */
export const CLIENT_STATE = {
  idle: 'idle',
  connecting: 'connecting',
  open: 'open',
  reconnecting: 'reconnecting',
  closed: 'closed',
} as const;
export type ClientState = keyof typeof CLIENT_STATE;

/** Errors the client itself reports, besides the server's error codes. */
export const CLIENT_ERROR = {
  /** A REST request failed (network, malformed answer, or an error status without a known code). */
  history_failed: 'history_failed',
  /** The token provider threw or rejected; the client tries again with the reconnect backoff. */
  token_failed: 'token_failed',
  /** The MessagePack codec could not be loaded (`encoding: 'msgpack'`); tried again with the reconnect backoff. */
  codec_failed: 'codec_failed',
  closed: 'closed',
  left: 'left',
} as const;
/** REST-only error codes (docs/protocol.md, REST errors) a request may be refused with. */
export const REST_ERROR = {
  invalid_request: 'invalid_request',
  unauthorized: 'unauthorized',
  /** v1.1 groups: the id is taken, the owner would leave or change role, or the group is full. */
  conflict: 'conflict',
  too_large: 'too_large',
} as const;
export type ClientErrorCode = ErrorCode | keyof typeof CLIENT_ERROR | keyof typeof REST_ERROR;

/** Why a send was rejected, or what went wrong (the `error` event). */
export class ClientError extends Error {
  constructor(
    readonly code: ClientErrorCode,
    message: string,
    readonly cid?: string,
  ) {
    super(message);
    this.name = 'ClientError';
  }
}

/** The server's `ack` for a send: where the message was stored. */
export type Ack = { cid: string; room: string; epoch: string; seq: number; ts: number };

export type JoinedEvent = {
  room: string;
  epoch: string;
  /** The room's latest seq when it was joined. */
  seq: number;
  recovered: boolean;
  /** True when this join resumed a room the client had joined before (after a reconnect). */
  resumed: boolean;
  /** On a first join: the latest ≤50 messages. On a resume they are also sent as `message` events. */
  messages: Message[];
  members: Member[];
  /** v1.1: the user's read position in the room (0 before any read). */
  lastRead: number;
};

/** v1.1: a private group as the REST routes answer it; `members` sorted by user name, the owner included. */
export type GroupMember = { user: string; role: GroupRole };
export type Group = { room: string; id: string; title: string; owner: string; members: GroupMember[] };

/** v1.1: a group's membership changed: `user` added or its role changed, or removed/left (`role` null); `by` made the change. */
export type MemberEvent = { room: string; user: string; role: 'member' | 'admin' | null; by: string };

export type ClientEvents = {
  /**
   * A new entry of a room's log, per room in seq order, each exactly once (history in `joined`
   * excluded): a text message, or (v1.1, with a `kind`) an edit, delete or reaction of one.
   */
  message: Message;
  /**
   * v1.1: the state of a text message the client holds changed (an edit, delete or reaction, or a
   * fresher read of it); `message` is its new state, as `messageState(room, seq)` returns it.
   */
  change: { room: string; message: Message };
  presence: { room: string; user: string; status: PresenceStatus; lastSeen?: number };
  typing: { room: string; user: string };
  joined: JoinedEvent;
  /**
   * The server confirmed a `leave`, or took the room away: `reason: "removed"` when the user was
   * removed from a group (the client then forgets the room, as `leave` does).
   */
  left: { room: string; reason?: string };
  /** v1.1: a group's membership changed (sent to the room's joined sockets). */
  member: MemberEvent;
  /**
   * v1.1: `user` has read `room` up to `seq`: the own user (from any of its sockets, joined to the
   * room or not), or another member of a direct room or group joined here (a receipt).
   */
  read: { room: string; user: string; seq: number };
  /** v1.1: the own read position or unread count of a room changed. */
  unread: { room: string; lastRead: number; unread: number };
  error: ClientError;
  /** The server's `hello`: the connection is usable. */
  open: { user: string; conn: string; instance: string; heartbeatMs: number };
  /** The socket closed; `reconnectInMs` is set when a reconnect is scheduled. */
  close: { code: number; reason: string; reconnectInMs?: number };
  /**
   * The room's log was reset (new epoch): positions held by the application are invalid. `messages`
   * are the latest of the new epoch; the application should replace what it shows with them.
   */
  reset: { room: string; epoch: string; previousEpoch: string; messages: Message[] };
  state: ClientState;
};

/**
 * One client connection as the hub and the session see it: its rooms, its send queue for this
 * turn, its rate-limit buckets and its liveness. Kept small: a server holds tens of thousands.
 */
import type { WSContext } from 'hono/ws';
import type { Encoding, OutFrame } from './codec.ts';

/** One client connection. Kept small: a server holds tens of thousands. */
export class Conn {
  /** Room names this socket has joined; created with the first (most sockets idle in none or one). */
  #rooms: Set<string> | null = null;
  /** Serialized events waiting for this turn's flush; null when none. */
  pending: OutFrame[] | null = null;
  /** What its frames are written as, both ways: chosen by the upgrade's subprotocol. */
  encoding: Encoding = 'json';
  /** Pings sent since the last sign of life. */
  missed = 0;
  sendTokens: number;
  sendAt: number;
  typingTokens: number;
  typingAt: number;
  joinTokens: number;
  joinAt: number;
  /** When the send buffer was first seen past the hard limit; 0 while it is not. */
  overSince = 0;
  /** When the hub last wrote to this socket (for the batch window). */
  lastWrite = 0;
  /** Allowance for refused frames before the socket is closed for abuse. */
  abuseTokens: number;
  abuseAt: number;
  closed = false;
  /** The server has closed the socket (abuse, heartbeat, frame size): its frames are ignored from now on. */
  closing = false;
  /** When the socket's token expires (ms since the epoch); 0: never (dev mode, or no `exp`). */
  expiresAt = 0;
  /** The token clock's one timer (see `TokenClock`), while armed. */
  expiry: ReturnType<typeof setTimeout> | undefined = undefined;

  constructor(
    readonly id: string,
    readonly user: string,
    /** The instance serving this connection (a `ConnRef` for presence). */
    readonly instance: string,
    readonly ws: WSContext,
    burst: { send: number; typing: number; join: number; abuse: number },
    now: number,
  ) {
    this.sendTokens = burst.send;
    this.typingTokens = burst.typing;
    this.joinTokens = burst.join;
    this.abuseTokens = burst.abuse;
    this.sendAt = this.typingAt = this.joinAt = this.abuseAt = now;
  }

  inRoom(room: string): boolean {
    return this.#rooms?.has(room) ?? false;
  }

  /** How many rooms this socket has joined (or is joining). */
  roomCount(): number {
    return this.#rooms?.size ?? 0;
  }

  /** The rooms this socket has joined, as a copy. */
  joinedRooms(): string[] {
    return this.#rooms ? [...this.#rooms] : [];
  }

  addRoom(room: string): void {
    (this.#rooms ??= new Set()).add(room);
  }

  /** False when the socket was not in the room. */
  removeRoom(room: string): boolean {
    return this.#rooms?.delete(room) ?? false;
  }
}

/**
 * The WebSocket test client: records every event (batches unwrapped, in order) and its close. It
 * speaks JSON or MessagePack (`useEncoding`), so that every suite runs in both encodings.
 */
import { decode, encode } from '@msgpack/msgpack';
import WebSocket from 'ws';
import type { Server } from './server.ts';

export type Encoding = 'json' | 'msgpack';
/** The subprotocol of each encoding (docs/protocol.md; JSON is also what a socket without one speaks). */
const SUBPROTOCOL = { json: undefined, msgpack: 'parley.v1.msgpack' } as const;
let encoding: Encoding = 'json';

/** The encoding of the sockets opened from now on (a suite picks it in its `beforeAll`). */
export function useEncoding(e: Encoding): void {
  encoding = e;
}

/** The encoding sockets are opened with now (for tests that open sockets of their own, e.g. the typed client). */
export const currentEncoding = (): Encoding => encoding;

// ---- server → client frames, as docs/protocol.md states them (deliberately not the server's own types)

export type Message = { room: string; epoch: string; seq: number; from: string; text: string; ts: number; cid?: string };
export type Member = { user: string; status: 'online' | 'offline'; lastSeen?: number };
export type Event =
  | { type: 'hello'; user: string; conn: string; instance: string; heartbeatMs: number }
  | { type: 'joined'; room: string; epoch: string; seq: number; recovered: boolean; messages: Message[]; members: Member[]; lastRead?: number }
  | ({ type: 'message' } & Message)
  | { type: 'ack'; cid?: string; room: string; epoch: string; seq: number; ts: number }
  | { type: 'typing'; room: string; user: string }
  | { type: 'presence'; room: string; user: string; status: 'online' | 'offline'; lastSeen?: number }
  | { type: 'heartbeat'; id?: number | string; success: boolean }
  | { type: 'left'; room: string; reason?: string }
  | { type: 'member'; room: string; user: string; role: 'member' | 'admin' | null; by: string }
  | { type: 'read'; room: string; user: string; seq: number }
  | { type: 'error'; code: string; message: string; cid?: string; room?: string };
export type EventType = Event['type'];
export type EventOf<T extends EventType> = Extract<Event, { type: T }>;

export type Closed = { code: number; reason: string };

const open = new Set<Client>();
/** Protocol violations seen by any client since the last `closeAllClients`. */
const violations: string[] = [];

/** Events for an error message, long texts cut short. */
const brief = (events: Event[]) => JSON.stringify(events, (k, v: unknown) => (k === 'text' && typeof v === 'string' && v.length > 20 ? `${v.slice(0, 20)}…(${v.length})` : v));

/** The upgrade was refused: what the server answered instead. */
export class UpgradeRefused extends Error {
  constructor(
    readonly status: number,
    readonly headers: Record<string, string | string[] | undefined>,
  ) {
    super(`upgrade refused with HTTP ${status}`);
  }
}

/** A test WebSocket client: records every event (batches unwrapped, in order) and its close. */
export class Client {
  /** Every event received, in order; `batch` frames are replaced by their events. */
  readonly events: Event[] = [];
  /** WebSocket frames received (a batch counts once). */
  frames = 0;
  /** Server frames that were not a JSON object with a `type`: each is a protocol violation. */
  readonly violations: string[] = [];
  closeInfo: Closed | undefined;
  readonly closed: Promise<Closed>;
  readonly #taken = new Set<number>();
  #wake: (() => void)[] = [];
  #hb = 0;

  private constructor(
    readonly ws: WebSocket,
    /** What this socket speaks: frames of the other kind from the server are protocol violations. */
    readonly encoding: Encoding,
  ) {
    open.add(this);
    ws.on('message', (data, isBinary) => this.#receive(data as Buffer, isBinary));
    this.closed = new Promise((resolve) =>
      ws.on('close', (code, reason) => {
        open.delete(this);
        this.closeInfo = { code, reason: reason.toString() };
        this.#notify();
        resolve(this.closeInfo);
      }),
    );
    ws.on('error', () => undefined); // surfaces as a close
  }

  /**
   * Opens a socket to `wsUrl` with `query` (e.g. `{ user: 'alice' }`), speaking `enc` (by default
   * the one `useEncoding` set), and waits for the first event; rejects with `UpgradeRefused` when
   * the server answers the upgrade with an HTTP status.
   */
  static async connect(wsUrl: string, query: Record<string, string>, opts: WebSocket.ClientOptions = {}, enc: Encoding = encoding): Promise<Client> {
    const client = await Client.open(wsUrl, query, opts, enc);
    // The first event must be hello; `next` takes it so that tests start from the next one.
    await client.next(() => true, 10_000);
    return client;
  }

  /**
   * Opens a socket and resolves once it is upgraded, without waiting for any event (for a socket
   * that authenticates with its first frame); rejects with `UpgradeRefused` like `connect`.
   */
  static open(wsUrl: string, query: Record<string, string> = {}, opts: WebSocket.ClientOptions = {}, enc: Encoding = encoding): Promise<Client> {
    const qs = new URLSearchParams(query).toString();
    const url = qs ? `${wsUrl}?${qs}` : wsUrl;
    const protocol = SUBPROTOCOL[enc];
    return new Promise((resolve, reject) => {
      // `ws` fails the handshake unless the server answers with the subprotocol asked for.
      const ws = protocol ? new WebSocket(url, [protocol], opts) : new WebSocket(url, opts);
      ws.once('unexpected-response', (_req, res) => {
        reject(new UpgradeRefused(res.statusCode ?? 0, res.headers));
        res.resume();
        ws.terminate();
      });
      ws.once('error', reject);
      ws.once('upgrade', () => resolve(new Client(ws, enc)));
    });
  }

  /** The `hello` this socket was greeted with (its first event). */
  get hello(): Event {
    const first = this.events[0];
    if (!first) throw new Error('no hello yet');
    return first;
  }

  /**
   * Sends a frame in the socket's encoding; false when the socket is not open. A string is JSON
   * text, sent as is on a JSON socket; on a MessagePack socket the value it parses to goes as
   * MessagePack, and a string that is not JSON as its bytes (which are no MessagePack either).
   */
  send(frame: object | string): boolean {
    if (this.ws.readyState !== WebSocket.OPEN) return false;
    if (this.encoding === 'json') this.ws.send(typeof frame === 'string' ? frame : JSON.stringify(frame));
    else this.ws.send(typeof frame === 'string' ? packJsonText(frame) : encode(frame));
    return true;
  }

  /** Sends `frame` as the other kind of frame: JSON bytes in a binary frame to a JSON socket, JSON text to a MessagePack one. */
  sendOtherKind(frame: object): void {
    const json = JSON.stringify(frame);
    this.ws.send(this.encoding === 'json' ? Buffer.from(json) : json);
  }

  /**
   * The first event not yet returned by `next` that matches `predicate`, waiting for it if needed.
   * Rejects after `timeoutMs`, or at once when the socket closes without it.
   */
  async next(predicate: (e: Event) => boolean, timeoutMs = 5000): Promise<Event> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const i = this.events.findIndex((e, idx) => !this.#taken.has(idx) && predicate(e));
      if (i >= 0) {
        this.#taken.add(i);
        return this.events[i] as Event;
      }
      const left = deadline - Date.now();
      if (this.closeInfo || left <= 0) {
        const why = this.closeInfo ? `socket closed with ${this.closeInfo.code}` : `timed out after ${timeoutMs} ms`;
        throw new Error(`${why} waiting for an event; last events: ${brief(this.events.slice(-8))}`);
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.#wake.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  /** `next` for one event type, typed. */
  nextOf<T extends EventType>(type: T, predicate: (e: EventOf<T>) => boolean = () => true, timeoutMs = 5000): Promise<EventOf<T>> {
    return this.next((e) => e.type === type && predicate(e as EventOf<T>), timeoutMs) as Promise<EventOf<T>>;
  }

  /** Every event received so far of one type. */
  all<T extends EventType>(type: T, predicate: (e: EventOf<T>) => boolean = () => true): EventOf<T>[] {
    return this.events.filter((e): e is EventOf<T> => e.type === type && predicate(e as EventOf<T>));
  }

  /** A heartbeat round trip: proves the socket is open and that everything sent before it was handled. */
  async heartbeat(timeoutMs = 5000): Promise<void> {
    const id = `hb-${++this.#hb}`;
    if (!this.send({ type: 'heartbeat', id })) throw new Error(`socket is not open (close ${this.closeInfo?.code})`);
    await this.nextOf('heartbeat', (e) => e.id === id, timeoutMs);
  }

  /** Joins `room` and returns the `joined` answer. */
  async join(room: string, since?: { epoch: string; seq: number }): Promise<EventOf<'joined'>> {
    this.send(since ? { type: 'join', room, since } : { type: 'join', room });
    return this.nextOf('joined', (e) => e.room === room);
  }

  /** Sends a message and returns its ack. */
  async post(room: string, text: string, cid: string): Promise<EventOf<'ack'>> {
    this.send({ type: 'send', room, text, cid });
    return this.nextOf('ack', (e) => e.cid === cid);
  }

  /** Closes (code 1000 unless told) and waits for the close to complete. */
  async close(code = 1000): Promise<Closed> {
    if (this.ws.readyState === WebSocket.CONNECTING || this.ws.readyState === WebSocket.OPEN) this.ws.close(code);
    return this.closed;
  }

  #receive(raw: Buffer, isBinary: boolean): void {
    this.frames++;
    if (isBinary !== (this.encoding === 'msgpack')) return this.#violation(`a ${isBinary ? 'binary' : 'text'} frame on a ${this.encoding} socket`);
    let data: unknown;
    try {
      data = isBinary ? decode(raw) : JSON.parse(raw.toString());
    } catch {
      this.#violation(raw.toString());
      return;
    }
    const frame = data as { type?: unknown; events?: unknown };
    if (frame.type === 'batch' && Array.isArray(frame.events)) {
      for (const e of frame.events as unknown[]) this.#record(e);
    } else this.#record(frame);
    this.#notify();
  }

  #record(e: unknown): void {
    if (typeof e === 'object' && e !== null && typeof (e as { type?: unknown }).type === 'string') this.events.push(e as Event);
    else this.#violation(JSON.stringify(e));
  }

  #violation(raw: string): void {
    this.violations.push(raw);
    violations.push(raw.slice(0, 200));
  }

  #notify(): void {
    const wake = this.#wake;
    this.#wake = [];
    for (const w of wake) w();
  }
}

function packJsonText(text: string): Uint8Array {
  try {
    return encode(JSON.parse(text));
  } catch {
    return Buffer.from(text);
  }
}

/** The close of `c`; rejects when it has not closed within `ms`. */
export function closeOf(c: Client, ms = 10_000): Promise<Closed> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`not closed within ${ms} ms; last events: ${brief(c.events.slice(-5))}`)), ms);
  });
  return Promise.race([c.closed, timeout]).finally(() => clearTimeout(timer));
}

/** Connects a dev-mode user. */
export const connect = (server: Server, user: string, opts?: WebSocket.ClientOptions) => Client.connect(server.wsUrl, { user }, opts);

/**
 * Opens a socket without credentials in the URL and authenticates with the first frame
 * (`{ user }` in dev mode, `{ token }` in jwt mode); resolves after `hello`, which it takes.
 */
export async function connectByFrame(server: Server, cred: { user: string } | { token: string }): Promise<Client> {
  const c = await Client.open(server.wsUrl);
  c.send({ type: 'auth', ...cred });
  await c.nextOf('hello');
  return c;
}

/** The HTTP answer to an upgrade that is expected to be refused. */
export async function refusedUpgrade(server: Server, query: Record<string, string>): Promise<UpgradeRefused> {
  try {
    const c = await Client.connect(server.wsUrl, query);
    await c.close();
  } catch (err) {
    if (err instanceof UpgradeRefused) return err;
    throw err;
  }
  throw new Error('the upgrade was accepted');
}

/** Terminates every client still open (for afterEach); throws if any saw a frame that breaks the protocol. */
export function closeAllClients(): void {
  for (const c of open) c.ws.terminate();
  open.clear();
  const seen = violations.splice(0);
  if (seen.length > 0) throw new Error(`server frames that are not objects with a type in the socket's encoding: ${seen.join(' | ')}`);
}

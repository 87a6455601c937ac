/**
 * A fake WebSocket for the client's unit tests: records what the client writes, and lets a test
 * open it, push server frames and close it. Every socket the client makes is kept in `all`.
 * Binary writes (MessagePack) are decoded into `sent` like text ones.
 */
import { decode } from '@msgpack/msgpack';
import { afterEach, beforeEach, vi } from 'vitest';

export type Frame = Record<string, unknown> & { type: string };

export class FakeSocket {
  static all: FakeSocket[] = [];
  readyState = 0;
  binaryType = 'blob';
  readonly sent: Frame[] = [];
  /** What the client wrote, as it wrote it: strings (JSON) or bytes (MessagePack). */
  readonly written: (string | Uint8Array)[] = [];
  closedWith: { code?: number; reason?: string } | null = null;
  onopen: ((ev: unknown) => unknown) | null = null;
  onmessage: ((ev: { data: unknown }) => unknown) | null = null;
  onclose: ((ev: { code: number; reason: string }) => unknown) | null = null;
  onerror: ((ev: unknown) => unknown) | null = null;

  constructor(
    readonly url: string,
    /** The subprotocols asked for; undefined when none were. */
    readonly protocols?: string[],
  ) {
    FakeSocket.all.push(this);
  }
  send(data: string | Uint8Array): void {
    this.written.push(data);
    this.sent.push((typeof data === 'string' ? JSON.parse(data) : decode(data)) as Frame);
  }
  close(code?: number, reason?: string): void {
    this.closedWith = { code, reason };
    this.readyState = 3;
  }
  /** The upgrade succeeded and the server said hello. */
  accept(heartbeatMs = 30_000, user = 'alice'): void {
    this.open();
    this.push({ type: 'hello', user, conn: 'c', instance: 'i', heartbeatMs });
  }
  /** The upgrade succeeded; nothing said yet. */
  open(): void {
    this.readyState = 1;
    this.onopen?.({});
  }
  push(frame: object): void {
    this.pushData(JSON.stringify(frame));
  }
  /** A WebSocket message with this `data` as it is (a string, an ArrayBuffer, bytes). */
  pushData(data: unknown): void {
    this.onmessage?.({ data });
  }
  serverClose(code: number, reason = ''): void {
    this.readyState = 3;
    this.onclose?.({ code, reason });
  }
  /** The frames the client wrote of the given types, in order. */
  frames(...types: string[]): Frame[] {
    return this.sent.filter((f) => types.includes(f.type));
  }
}

/** The socket the client opened last. */
export const sock = (): FakeSocket => FakeSocket.all.at(-1) as FakeSocket;

/** Lets promise chains (fake fetch, json) settle without moving fake time. */
export const settle = async (): Promise<void> => {
  for (let i = 0; i < 50; i++) await Promise.resolve();
};

/** For a test file: no sockets from earlier tests, and fake timers, in every test. */
export function fakeSocketsAndTimers(): void {
  beforeEach(() => {
    FakeSocket.all = [];
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });
}

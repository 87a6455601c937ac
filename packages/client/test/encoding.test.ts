/**
 * The client's `encoding` option against a fake WebSocket: which subprotocol the socket asks for,
 * and that frames go and come as MessagePack (binary) with `msgpack` and as JSON text otherwise.
 */
import { decode, encode } from '@msgpack/msgpack';
import { describe, expect, it } from 'vitest';
import { ParleyClient, type ClientOptions } from '../src/index.ts';

/** A socket that records its subprotocols, binaryType and what it was sent, decoded. */
class RecordingSocket {
  static last: RecordingSocket | undefined;
  readyState = 0;
  binaryType = 'blob';
  readonly sent: unknown[] = [];
  readonly raw: (string | Uint8Array)[] = [];
  onopen: ((ev: unknown) => unknown) | null = null;
  onmessage: ((ev: { data: unknown }) => unknown) | null = null;
  onclose: ((ev: { code: number; reason: string }) => unknown) | null = null;
  onerror: ((ev: unknown) => unknown) | null = null;

  constructor(
    readonly url: string,
    readonly protocols?: string[],
  ) {
    RecordingSocket.last = this;
  }
  send(data: string | Uint8Array): void {
    this.raw.push(data);
    this.sent.push(typeof data === 'string' ? JSON.parse(data) : decode(data));
  }
  close(): void {
    this.readyState = 3;
  }
  /** The upgrade succeeded; `data` is what the server's frames arrive as. */
  open(): void {
    this.readyState = 1;
    this.onopen?.({});
  }
  push(data: unknown): void {
    this.onmessage?.({ data });
  }
}

/** A client connected through a fresh socket, once its codec has loaded (MessagePack is imported). */
async function connected(opts: Partial<ClientOptions>): Promise<{ client: ParleyClient; socket: RecordingSocket }> {
  RecordingSocket.last = undefined;
  const client = new ParleyClient({ url: 'http://chat.test', user: 'alice', WebSocket: RecordingSocket, ...opts });
  client.connect();
  for (let i = 0; i < 100 && !RecordingSocket.last; i++) await new Promise((r) => setTimeout(r, 5));
  const socket = RecordingSocket.last as RecordingSocket | undefined;
  if (!socket) throw new Error('no socket was opened');
  socket.open();
  return { client, socket };
}

const hello = { type: 'hello', user: 'alice', conn: 'c', instance: 'i', heartbeatMs: 30_000 };
const message = (seq: number) => ({ type: 'message', room: 'lobby', epoch: 'e', seq, from: 'bob', text: `m${seq}`, ts: 1_700_000_000_000 + seq });
/** An ArrayBuffer of exactly the bytes, as browsers and Deno deliver binary frames with binaryType `arraybuffer`. */
const arrayBuffer = (b: Uint8Array) => b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength);

describe('encoding', () => {
  it('msgpack: asks for parley.v1.msgpack, writes binary frames and reads binary frames and batches', async () => {
    const { client, socket } = await connected({ encoding: 'msgpack' });
    expect(socket.protocols).toEqual(['parley.v1.msgpack']);
    expect(socket.binaryType).toBe('arraybuffer');
    expect(socket.raw[0]).toBeInstanceOf(Uint8Array);
    expect(socket.sent).toEqual([{ type: 'auth', user: 'alice' }]);

    const opened = new Promise((resolve) => client.on('open', resolve));
    socket.push(arrayBuffer(encode(hello)));
    expect(await opened).toMatchObject({ user: 'alice' });
    const seen: number[] = [];
    client.on('message', (m) => seen.push(m.seq));
    client.join('lobby');
    expect(socket.sent.at(-1)).toEqual({ type: 'join', room: 'lobby' });
    socket.push(arrayBuffer(encode({ type: 'joined', room: 'lobby', epoch: 'e', seq: 0, recovered: false, messages: [], members: [] })));
    socket.push(arrayBuffer(encode({ type: 'batch', events: [message(1), message(2)] })));
    socket.push(encode(message(3))); // a Uint8Array (Node's `ws` without binaryType) is read too
    socket.push(JSON.stringify(message(4))); // text on a MessagePack socket: not a frame
    socket.push(new Uint8Array([0xc1]).buffer); // not MessagePack
    expect(seen).toEqual([1, 2, 3]);
    client.close();
  });

  it('json (the default): asks for no subprotocol and writes and reads text', async () => {
    const { client, socket } = await connected({});
    expect(socket.protocols).toBeUndefined();
    expect(typeof socket.raw[0]).toBe('string');
    const opened = new Promise((resolve) => client.on('open', resolve));
    socket.push(arrayBuffer(encode(hello))); // binary on a JSON socket: not a frame
    expect(client.state).toBe('connecting');
    socket.push(JSON.stringify(hello));
    expect(await opened).toMatchObject({ user: 'alice' });
    client.close();
  });
});

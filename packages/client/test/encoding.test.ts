/**
 * The client's `encoding` option against the fake WebSocket: which subprotocol the socket asks for,
 * and that frames go and come as MessagePack (binary) with `msgpack` and as JSON text otherwise.
 */
import { encode } from '@msgpack/msgpack';
import { beforeEach, describe, expect, it } from 'vitest';
import { ParleyClient, type ClientOptions } from '../src/index.ts';
import { FakeSocket, sock } from './fake-socket.ts';

/** A client connected through a fresh socket, once its codec has loaded (MessagePack is imported). */
async function connected(opts: Partial<ClientOptions>): Promise<{ client: ParleyClient; socket: FakeSocket }> {
  const client = new ParleyClient({ url: 'http://chat.test', user: 'alice', WebSocket: FakeSocket, ...opts });
  client.connect();
  for (let i = 0; i < 100 && FakeSocket.all.length === 0; i++) await new Promise((r) => setTimeout(r, 5));
  const socket = sock();
  socket.open();
  return { client, socket };
}

const hello = { type: 'hello', user: 'alice', conn: 'c', instance: 'i', heartbeatMs: 30_000 };
const message = (seq: number) => ({ type: 'message', room: 'lobby', epoch: 'e', seq, from: 'bob', text: `m${seq}`, ts: 1_700_000_000_000 + seq });
/** An ArrayBuffer of exactly the bytes, as browsers and Deno deliver binary frames with binaryType `arraybuffer`. */
const arrayBuffer = (b: Uint8Array) => b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength);

beforeEach(() => {
  FakeSocket.all = [];
});

describe('encoding', () => {
  it('msgpack: asks for parley.v1.msgpack, writes binary frames and reads binary frames and batches', async () => {
    const { client, socket } = await connected({ encoding: 'msgpack' });
    expect(socket.protocols).toEqual(['parley.v1.msgpack']);
    expect(socket.binaryType).toBe('arraybuffer');
    expect(socket.written[0]).toBeInstanceOf(Uint8Array);
    expect(socket.sent).toEqual([{ type: 'auth', user: 'alice' }]);

    const opened = new Promise((resolve) => client.on('open', resolve));
    socket.pushData(arrayBuffer(encode(hello)));
    expect(await opened).toMatchObject({ user: 'alice' });
    const seen: number[] = [];
    client.on('message', (m) => seen.push(m.seq));
    client.join('lobby');
    expect(socket.sent.at(-1)).toEqual({ type: 'join', room: 'lobby' });
    socket.pushData(arrayBuffer(encode({ type: 'joined', room: 'lobby', epoch: 'e', seq: 0, recovered: false, messages: [], members: [] })));
    socket.pushData(arrayBuffer(encode({ type: 'batch', events: [message(1), message(2)] })));
    socket.pushData(encode(message(3))); // a Uint8Array (Node's `ws` without binaryType) is read too
    socket.pushData(JSON.stringify(message(4))); // text on a MessagePack socket: not a frame
    socket.pushData(new Uint8Array([0xc1]).buffer); // not MessagePack
    expect(seen).toEqual([1, 2, 3]);
    client.close();
  });

  it('json (the default): asks for no subprotocol and writes and reads text', async () => {
    const { client, socket } = await connected({});
    expect(socket.protocols).toBeUndefined();
    expect(typeof socket.written[0]).toBe('string');
    const opened = new Promise((resolve) => client.on('open', resolve));
    socket.pushData(arrayBuffer(encode(hello))); // binary on a JSON socket: not a frame
    expect(client.state).toBe('connecting');
    socket.pushData(JSON.stringify(hello));
    expect(await opened).toMatchObject({ user: 'alice' });
    client.close();
  });
});

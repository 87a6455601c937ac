/**
 * The two encodings (src/realtime/codec.ts): which subprotocol an upgrade gets, how inbound frames
 * of either kind are read, and that the hub encodes a room event once per encoding its members
 * speak, never once per socket, batches included, and counts it so in `parley_frames_encoded_total`
 * (test/e2e/encodings-cluster.test.ts: across instances). The hub is the real one; its feed and
 * sockets are fakes.
 */
import { Encoder, decode, encode } from '@msgpack/msgpack';
import type { WSContext } from 'hono/ws';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { LIMITS, type ServerFrame } from '@parley/client/wire';
import { type Metrics, createMetrics } from '../../src/metrics.ts';
import { OutFrame, TOO_LARGE, chooseProtocol, encodingOf, readClientFrame } from '../../src/realtime/codec.ts';
import { Conn } from '../../src/realtime/conn.ts';
import { Hub } from '../../src/realtime/hub.ts';
import type { Encoding } from '../../src/realtime/codec.ts';
import type { RoomEvent, RoomHandler } from '../../src/rooms/types.ts';

describe('the subprotocol an upgrade is answered with', () => {
  it('is the first of the client’s offers the server speaks', () => {
    expect(chooseProtocol('parley.v1.msgpack')).toBe('parley.v1.msgpack');
    expect(chooseProtocol('chat.v9, parley.v1.json , parley.v1.msgpack')).toBe('parley.v1.json');
    expect(chooseProtocol('chat.v9,parley.v1.msgpack')).toBe('parley.v1.msgpack');
  });

  it('is none (JSON, no header in the answer) without an offer or for offers it does not speak', () => {
    for (const header of [undefined, null, '', 'parley.v2', 'PARLEY.V1.MSGPACK']) {
      expect(chooseProtocol(header)).toBeUndefined();
      expect(encodingOf(header)).toBe('json');
    }
    expect(encodingOf('parley.v1.msgpack')).toBe('msgpack');
    expect(encodingOf('parley.v1.json')).toBe('json');
  });
});

describe('an inbound frame', () => {
  const heartbeat = { type: 'heartbeat', id: 7 };
  const buffer = (bytes: Uint8Array) => bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength);

  it('is read the same from JSON text and from MessagePack bytes (ArrayBuffer or view)', () => {
    const expected = { ok: true, frame: heartbeat };
    expect(readClientFrame('json', JSON.stringify(heartbeat))).toEqual(expected);
    expect(readClientFrame('msgpack', encode(heartbeat))).toEqual(expected);
    expect(readClientFrame('msgpack', buffer(encode(heartbeat)))).toEqual(expected);
    const send = { type: 'send', room: 'lobby', text: ' hi ', cid: 'c-1' };
    expect(readClientFrame('msgpack', encode(send))).toEqual({ ok: true, frame: { ...send, text: 'hi' }, cid: 'c-1' });
  });

  it('of the other kind is refused with invalid_message', () => {
    expect(readClientFrame('json', encode(heartbeat))).toMatchObject({ ok: false, code: 'invalid_message', message: expect.stringMatching(/text/) });
    expect(readClientFrame('msgpack', JSON.stringify(heartbeat))).toMatchObject({ ok: false, code: 'invalid_message', message: expect.stringMatching(/binary/) });
  });

  it('that does not decode, or is not an object, is refused with invalid_message; a valid one’s cid is kept', () => {
    const refused = { ok: false, code: 'invalid_message' };
    expect(readClientFrame('msgpack', new Uint8Array([0xc1]))).toMatchObject(refused); // never used
    expect(readClientFrame('msgpack', encode(heartbeat).subarray(0, 5))).toMatchObject(refused); // cut short
    expect(readClientFrame('msgpack', new Uint8Array([...encode(heartbeat), 0x01]))).toMatchObject(refused); // bytes after it
    expect(readClientFrame('msgpack', encode([heartbeat]))).toMatchObject(refused);
    expect(readClientFrame('msgpack', encode('heartbeat'))).toMatchObject(refused);
    expect(readClientFrame('msgpack', encode({ type: 'send', room: 'lobby', text: new Uint8Array([104, 105]), cid: 'c-2' }))).toMatchObject({ ...refused, cid: 'c-2' });
    // A map key __proto__ would set the object's prototype: refused by the decoder.
    const proto = new Uint8Array([0x81, 0xa9, ...new TextEncoder().encode('__proto__'), 0x80]);
    expect(readClientFrame('msgpack', proto)).toMatchObject(refused);
    // Headers that claim more items than a frame can hold are refused, not allocated for.
    expect(readClientFrame('msgpack', new Uint8Array([0xdd, 0xff, 0xff, 0xff, 0xff]))).toMatchObject(refused);
    expect(readClientFrame('msgpack', encode({ type: 'dance', cid: 'c-3' }))).toMatchObject({ ok: false, code: 'unknown_type', cid: 'c-3' });
  });

  it('past 16 KiB is too large in either encoding; one of exactly 16 KiB is read', () => {
    const frameOf = (bytes: number, enc: Encoding) => {
      const base = { type: 'heartbeat', id: '' };
      const overhead = enc === 'json' ? JSON.stringify(base).length : encode(base).byteLength + 2; // str8 → str16 header
      return { ...base, id: 'x'.repeat(bytes - overhead) };
    };
    for (const enc of ['json', 'msgpack'] as const) {
      const wire = (f: object) => (enc === 'json' ? JSON.stringify(f) : encode(f));
      const max = wire(frameOf(LIMITS.frameBytes, enc));
      expect(typeof max === 'string' ? max.length : max.byteLength).toBe(LIMITS.frameBytes);
      expect(readClientFrame(enc, max)).toMatchObject({ ok: false, code: 'invalid_message' }); // an id of more than 64 characters
      expect(readClientFrame(enc, wire(frameOf(LIMITS.frameBytes + 1, enc)))).toBe(TOO_LARGE);
    }
  });
});

describe('an outbound frame', () => {
  it('is the same frame in both encodings, a batch too, for any number of events', () => {
    const frames: ServerFrame[] = [
      { type: 'message', room: 'lobby', epoch: 'e', seq: 1, from: 'bob', text: 'hi ✓', ts: 1_732_300_000_000, cid: 'c-1' },
      { type: 'typing', room: 'lobby', user: 'bob' },
    ];
    const one = new OutFrame(frames[0] as ServerFrame);
    expect(decode(one.packed)).toEqual(JSON.parse(one.text));
    // The MessagePack array header takes 1, 3 or 5 bytes: below 16 items, below 65,536, beyond.
    for (const n of [2, 15, 16, 17, 65_535, 65_536]) {
      const events = Array.from({ length: n }, (_, i) => new OutFrame(frames[i % 2] as ServerFrame));
      const batch = OutFrame.batch(events);
      const json = JSON.parse(batch.text) as { type: string; events: unknown[] };
      const packed = decode(batch.packed) as typeof json;
      expect(json.events).toHaveLength(n);
      if (n < 100) expect(packed).toEqual(json);
      else expect([packed.type, packed.events.length, packed.events[0], packed.events.at(-1)]).toEqual([json.type, n, json.events[0], json.events.at(-1)]);
    }
  });

  it('leaves out fields that are undefined in MessagePack, as JSON does', () => {
    const f = new OutFrame({ type: 'error', code: 'internal', message: 'x', cid: undefined });
    expect(decode(f.packed)).toEqual({ type: 'error', code: 'internal', message: 'x' });
  });
});

describe('a room event to sockets of both encodings', () => {
  type Sent = { text?: string; binary?: Uint8Array };
  let handlers: Map<string, RoomHandler>;
  let hub: Hub;
  let metrics: Metrics;
  let n = 0;

  beforeEach(() => {
    vi.useFakeTimers();
    handlers = new Map();
    const feed = {
      async subscribe(room: string, handler: RoomHandler) {
        handlers.set(room, handler);
        return async () => void handlers.delete(room);
      },
    };
    const sent = (ws: WSContext) => ws as unknown as Sent[];
    metrics = createMetrics('test');
    hub = new Hub({
      feed,
      metrics,
      sendBuffer: { soft: 1 << 20, hard: 1 << 22 },
      sockets: {
        send: (ws, frame) => void sent(ws).push({ text: frame.text }),
        sendBinary: (ws, data) => void sent(ws).push({ binary: data }),
        ping: () => false,
        watchLiveness: () => undefined,
        terminate: () => undefined,
        bufferedAmount: () => 0,
      },
    });
  });
  afterEach(() => {
    vi.restoreAllMocks();
    vi.useRealTimers();
  });

  const member = async (encoding: Encoding, room = 'lobby') => {
    const sent: Sent[] = [];
    const conn = new Conn(`c${++n}`, `u${n}`, 'test-instance', sent as unknown as WSContext, { send: 10, typing: 10, join: 10, abuse: 10 }, Date.now());
    conn.encoding = encoding;
    hub.add(conn);
    await hub.beginJoin(conn, room);
    hub.finishJoin(conn, room, { type: 'joined', room, epoch: 'e', seq: 0, recovered: false, messages: [], members: [] });
    vi.advanceTimersByTime(0);
    sent.length = 0;
    return sent;
  };
  const message = (seq: number): RoomEvent => ({ type: 'message', message: { room: 'lobby', epoch: 'e', seq, from: 'bob', text: `m${seq}`, ts: 1_700_000_000_000 + seq } });
  const emit = (e: RoomEvent) => handlers.get('lobby')?.(e);
  /** `parley_frames_encoded_total{type="message"}` by encoding, as /metrics shows it. */
  const encodedMessages = async () => {
    const { values } = await metrics.framesEncoded.get();
    const of = (encoding: Encoding) => values.find((v) => v.labels.encoding === encoding && v.labels.type === 'message')?.value ?? 0;
    return { json: of('json'), msgpack: of('msgpack') };
  };

  it('is encoded once per encoding and the same bytes go to every socket of that encoding', async () => {
    const jsons = [await member('json'), await member('json'), await member('json')];
    const packs = [await member('msgpack'), await member('msgpack'), await member('msgpack')];
    const before = await encodedMessages();
    const encodes = vi.spyOn(Encoder.prototype, 'encode');
    const stringify = vi.spyOn(JSON, 'stringify');
    emit(message(1));
    vi.advanceTimersByTime(0);
    expect(encodes).toHaveBeenCalledTimes(1);
    expect(stringify).toHaveBeenCalledTimes(1);
    const after = await encodedMessages();
    expect({ json: after.json - before.json, msgpack: after.msgpack - before.msgpack }).toEqual({ json: 1, msgpack: 1 });
    const text = jsons[0]?.[0]?.text;
    expect(JSON.parse(text ?? '')).toMatchObject({ type: 'message', seq: 1, text: 'm1' });
    for (const s of jsons) expect(s).toEqual([{ text }]);
    const bytes = packs[0]?.[0]?.binary;
    expect(decode(bytes ?? new Uint8Array())).toEqual(JSON.parse(text ?? ''));
    for (const s of packs) expect(s[0]?.binary).toBe(bytes); // one buffer, shared
  });

  it('is never encoded as MessagePack for a room of JSON sockets only', async () => {
    const jsons = [await member('json'), await member('json')];
    const encodes = vi.spyOn(Encoder.prototype, 'encode');
    emit(message(1));
    vi.advanceTimersByTime(0);
    expect(encodes).not.toHaveBeenCalled();
    for (const s of jsons) expect(s).toHaveLength(1);
  });

  it('goes in the same batch to either kind of socket when several come in one turn', async () => {
    const json = await member('json');
    const pack = await member('msgpack');
    const before = await encodedMessages();
    const encodes = vi.spyOn(Encoder.prototype, 'encode');
    for (let seq = 1; seq <= 3; seq++) emit(message(seq));
    vi.advanceTimersByTime(0);
    expect(encodes).toHaveBeenCalledTimes(3); // the events; the batch is put together from their bytes
    const after = await encodedMessages();
    expect({ json: after.json - before.json, msgpack: after.msgpack - before.msgpack }).toEqual({ json: 3, msgpack: 3 });
    const fromJson = JSON.parse(json[0]?.text ?? '') as { type: string; events: { seq: number }[] };
    expect(fromJson.type).toBe('batch');
    expect(fromJson.events.map((e) => e.seq)).toEqual([1, 2, 3]);
    expect(pack).toHaveLength(1);
    expect(decode(pack[0]?.binary ?? new Uint8Array())).toEqual(fromJson);
  });
});

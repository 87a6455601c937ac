/**
 * The codecs of the Redis stream entry formats (src/redis/codecs/): keys and partitions, round
 * trips, and every malformed shape decoding to null. Pure: nothing here connects anywhere.
 */
import { describe, expect, it } from 'vitest';
import type { Message } from '@parley/client/wire';
import * as Feed from '../../src/redis/codecs/archive-feed.ts';
import type { StreamCodec } from '../../src/redis/codecs/codec.ts';
import * as PresenceEvents from '../../src/redis/codecs/presence-events.ts';
import * as ReadPositions from '../../src/redis/codecs/read-positions.ts';
import * as RoomLogEntries from '../../src/redis/codecs/room-log.ts';

/** A field list with one pair replaced, removed or added. */
const withField = (fields: string[], name: string, value: unknown): unknown[] => {
  const out: unknown[] = [...fields];
  const i = out.indexOf(name);
  if (i >= 0 && i % 2 === 0) out[i + 1] = value;
  else out.push(name, value);
  return out;
};
const withoutField = (fields: string[], name: string): string[] => {
  const i = fields.indexOf(name);
  return i >= 0 && i % 2 === 0 ? [...fields.slice(0, i), ...fields.slice(i + 2)] : fields;
};

/** Shapes that are no entry of any format. */
const NOT_FIELD_LISTS: unknown[] = [null, undefined, '', 'user', 42, {}, { user: 'alice' }, [], [['user', 'alice']]];

describe('presence events codec', () => {
  const codec: StreamCodec<PresenceEvents.PresenceEvent> = PresenceEvents;
  const event: PresenceEvents.PresenceEvent = { user: 'alice', status: 'offline', ts: 1_700_000_000_123 };
  const fields = PresenceEvents.encode(event);

  it('keeps its stream keys and partitions', () => {
    expect(PresenceEvents.STREAMS).toEqual(Array.from({ length: 8 }, (_, p) => `parley:presence:{p${p}}`));
    for (const user of ['alice', 'bob', 'carol', 'u-1', 'ü']) {
      const p = PresenceEvents.partitionOf(user);
      expect(Number.isInteger(p) && p >= 0 && p < PresenceEvents.PARTITIONS).toBe(true);
      expect(PresenceEvents.streamOf(user)).toBe(PresenceEvents.streamKey(p));
    }
    // Stable across processes and runtimes: the chat instances and the workers must agree.
    expect(PresenceEvents.partitionOf('alice')).toBe(PresenceEvents.partitionOf('alice'));
  });

  it('encodes the fields XADD writes', () => {
    expect(fields).toEqual(['user', 'alice', 'status', 'offline', 'ts', '1700000000123']);
  });

  it('round-trips, in any field order', () => {
    expect(codec.decode(fields)).toEqual(event);
    for (const status of ['online', 'offline'] as const) {
      for (const ts of [1, 2 ** 53 - 1]) {
        const e = { user: 'bob|x:y {z}', status, ts };
        expect(codec.decode(codec.encode(e))).toEqual(e);
      }
    }
    expect(codec.decode(['ts', '5', 'status', 'online', 'user', 'alice'])).toEqual({ user: 'alice', status: 'online', ts: 5 });
  });

  it('decodes every malformed shape to null', () => {
    const malformed: unknown[] = [
      ...NOT_FIELD_LISTS,
      // missing fields
      withoutField(fields, 'user'),
      withoutField(fields, 'status'),
      withoutField(fields, 'ts'),
      ['user', 'alice', 'status', 'offline', 'ts'],
      // extra, repeated or unknown fields
      [...fields, 'room', 'r'],
      [...fields, 'user', 'bob'],
      ['user', 'alice', 'user', 'bob', 'ts', '5'],
      ['user', 'alice', 'status', 'offline', 'at', '5'],
      // bad user
      withField(fields, 'user', ''),
      // bad status
      ...['away', 'Online', 'OFFLINE', '', ' online'].map((s) => withField(fields, 'status', s)),
      // ts not a positive integer in decimal
      ...['', '0', '-5', '1.5', '1e3', '0x10', ' 5', '5 ', '+5', '05', 'soon', 'NaN', 'Infinity', '9007199254740993', '99999999999999999'].map((t) =>
        withField(fields, 'ts', t),
      ),
      // wrong types
      withField(fields, 'ts', 5),
      withField(fields, 'user', null),
      withField(fields, 'status', ['online']),
      [Symbol('user'), 'alice', 'status', 'offline', 'ts', '5'],
    ];
    for (const m of malformed) expect(codec.decode(m), String(JSON.stringify(m))).toBeNull();
  });
});

describe('archive feed codec', () => {
  const codec: StreamCodec<Feed.FeedEntry> = Feed;

  it('keeps its stream keys and partitions', () => {
    expect(Feed.STREAMS).toEqual(Array.from({ length: 8 }, (_, p) => `parley:archive:{a${p}}`));
    for (const room of ['lobby', 'dm:alice:bob', 'r-1']) {
      const p = Feed.partitionOf(room);
      expect(Number.isInteger(p) && p >= 0 && p < Feed.PARTITIONS).toBe(true);
      expect(Feed.streamOf(room)).toBe(Feed.streamKey(p));
    }
  });

  it('encodes the fields XADD writes and round-trips', () => {
    expect(codec.encode({ room: 'lobby' })).toEqual(['room', 'lobby']);
    for (const room of ['lobby', 'dm:alice:bob', '{x}', ' ']) expect(codec.decode(codec.encode({ room }))).toEqual({ room });
  });

  it('decodes every malformed shape to null', () => {
    const malformed: unknown[] = [
      ...NOT_FIELD_LISTS,
      ['room'],
      ['room', ''],
      ['rooms', 'lobby'],
      ['room', 'lobby', 'room', 'other'],
      ['room', 'lobby', 'user', 'alice'],
      ['room', 5],
      ['room', null],
      [5, 'lobby'],
    ];
    for (const m of malformed) expect(codec.decode(m), String(JSON.stringify(m))).toBeNull();
  });
});

describe('room log codec', () => {
  const message: Message = { room: 'lobby', epoch: 'e00000000001', seq: 7, from: 'alice', text: 'hi "there" / ✓', ts: 1_700_000_000_000 };
  const withCid: Message = { ...message, cid: 'c-1' };

  it('keeps its keys and entry IDs', () => {
    expect(RoomLogEntries.streamKey('lobby')).toBe('parley:{lobby}:log');
    expect(RoomLogEntries.roomOfKey('parley:{lobby}:log')).toBe('lobby');
    expect(RoomLogEntries.roomOfKey('parley:{a}:b}:log')).toBe('a}:b');
    expect(RoomLogEntries.roomOfKey('parley:{lobby}:seq')).toBeNull();
    expect(RoomLogEntries.roomOfKey('parley:presence:{p1}')).toBeNull();
    expect(RoomLogEntries.entryId(7)).toBe('7-0');
  });

  it('encodes the fields the append script writes and round-trips, with and without cid', () => {
    const [name, json] = RoomLogEntries.encode(message);
    expect(name).toBe('m');
    // The key order of the append script's JSON.
    expect(Object.keys(JSON.parse(json as string))).toEqual(['room', 'epoch', 'seq', 'from', 'text', 'ts']);
    expect(Object.keys(JSON.parse(RoomLogEntries.encode(withCid)[1] as string))).toEqual(['room', 'epoch', 'seq', 'from', 'text', 'ts', 'cid']);
    expect(RoomLogEntries.decode(RoomLogEntries.encode(message))).toEqual(message);
    expect(RoomLogEntries.decode(RoomLogEntries.encode(withCid))).toEqual(withCid);
    // As the Lua JSON encoder writes it (escaped slash).
    expect(RoomLogEntries.decode(['m', '{"room":"r","epoch":"e","seq":1,"from":"a","text":"a\\/b","ts":5}'])).toEqual({
      room: 'r', epoch: 'e', seq: 1, from: 'a', text: 'a/b', ts: 5,
    });
  });

  it('decodes every malformed shape to null', () => {
    const json = (v: unknown) => ['m', JSON.stringify(v)];
    const malformed: unknown[] = [
      ...NOT_FIELD_LISTS,
      ['m'],
      ['x', JSON.stringify(message)],
      [...RoomLogEntries.encode(message), 'm', JSON.stringify(message)],
      [...RoomLogEntries.encode(message), 'x', 'y'],
      ['m', 'not json'],
      ['m', ''],
      ['m', 5],
      json(null),
      json([message]),
      json('message'),
      ...(['room', 'epoch', 'seq', 'from', 'text', 'ts'] as const).map((k) => {
        const { [k]: _, ...rest } = message;
        return json(rest);
      }),
      json({ ...message, seq: 0 }),
      json({ ...message, seq: -1 }),
      json({ ...message, seq: 1.5 }),
      json({ ...message, seq: '7' }),
      json({ ...message, ts: '5' }),
      json({ ...message, room: 5 }),
      json({ ...message, text: null }),
      json({ ...message, cid: 5 }),
    ];
    for (const m of malformed) expect(RoomLogEntries.decode(m), String(JSON.stringify(m))).toBeNull();
  });
});

describe('read positions codec', () => {
  const codec: StreamCodec<ReadPositions.ReadPosition> = ReadPositions;
  const position: ReadPositions.ReadPosition = { user: 'alice', room: 'dm:alice:bob', seq: 41 };
  const fields = ReadPositions.encode(position);

  it('keeps its stream keys, one partition per user', () => {
    expect(ReadPositions.STREAMS).toEqual(Array.from({ length: 8 }, (_, p) => `parley:reads:{p${p}}`));
    for (const user of ['alice', 'bob', 'u-1']) expect(ReadPositions.streamOf(user)).toBe(ReadPositions.streamKey(ReadPositions.partitionOf(user)));
  });

  it('round-trips, in any field order', () => {
    expect(fields).toEqual(['user', 'alice', 'room', 'dm:alice:bob', 'seq', '41']);
    expect(codec.decode(fields)).toEqual(position);
    expect(codec.decode(['seq', '1', 'room', 'grp:x', 'user', 'u'])).toEqual({ user: 'u', room: 'grp:x', seq: 1 });
  });

  it('decodes every malformed shape to null', () => {
    const malformed: unknown[] = [
      ...NOT_FIELD_LISTS,
      withField(fields, 'seq', '0'),
      withField(fields, 'seq', '-1'),
      withField(fields, 'seq', '1.5'),
      withField(fields, 'seq', '01'),
      withField(fields, 'seq', 7),
      withField(fields, 'user', ''),
      withField(fields, 'room', ''),
      withoutField(fields, 'room'),
      [...fields, 'extra', 'x'],
      [...withoutField(fields, 'seq'), 'user', 'bob'],
    ];
    for (const m of malformed) expect(codec.decode(m), JSON.stringify(m)).toBeNull();
  });
});

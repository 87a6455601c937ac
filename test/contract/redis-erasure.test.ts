/**
 * Deleted text is gone from Redis, not only hidden. After deletes, no key of the room's hash tag on
 * any master holds the deleted text in any form: each key's serialized value (DUMP, with RDB
 * compression off so that no text hides in a compressed blob) is searched for it. That covers the
 * log stream (whose nodes keep the bytes of an XDEL'ed entry until every entry of the node is gone),
 * the erased set, the state hash, and the idempotency records of the message and of its edits,
 * whether the hot log still holds their entries or not.
 */
import type { Cluster } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import { RedisRoomLog } from '../../src/rooms/redis.ts';
import { roomKeys } from '../../src/rooms/redis-scripts.ts';
import type { ChangeInput } from '../../src/rooms/types.ts';
import { onOwnConnection } from './redis-util.ts';
import { DEFAULT_ROOMLOG_OPTIONS } from './roomlog.ts';
import { Resources, uid } from './util.ts';

const nodes = () => inject('redisNodes');

/** Every key of `room`'s hash tag on every master, with its serialized value. */
async function dumpRoom(cluster: Cluster, room: string): Promise<Map<string, Buffer>> {
  const out = new Map<string, Buffer>();
  for (const node of cluster.nodes('master')) {
    let cursor = '0';
    do {
      const [next, keys] = await node.scan(cursor, 'MATCH', `${roomKeys(room).tag}*`, 'COUNT', 1000);
      cursor = next;
      for (const key of keys) {
        const value = await node.dumpBuffer(key);
        if (value) out.set(key, value);
      }
    } while (cursor !== '0');
  }
  return out;
}

/** The keys whose value holds any of `texts`. */
const holding = (dump: Map<string, Buffer>, texts: readonly string[]): string[] =>
  [...dump].filter(([, value]) => texts.some((t) => value.includes(t))).map(([key]) => key);

describe('deleted text on Redis Cluster', () => {
  const res = new Resources();
  let admin: Cluster;
  const compression = new Map<string, string>();

  beforeAll(async () => {
    admin = (await onOwnConnection(nodes(), () => ({ close: async () => undefined }))).cluster;
    for (const node of admin.nodes('master')) {
      const [, value] = (await node.config('GET', 'rdbcompression')) as [string, string];
      compression.set(`${node.options.host}:${node.options.port}`, value);
      await node.config('SET', 'rdbcompression', 'no');
    }
  });
  afterAll(async () => {
    for (const node of admin.nodes('master')) await node.config('SET', 'rdbcompression', compression.get(`${node.options.host}:${node.options.port}`) ?? 'yes');
    await admin.quit();
  });
  afterEach(() => res.cleanup());

  const logOn = async (hotWindow: number) =>
    res.track(await onOwnConnection(nodes(), (cluster) => new RedisRoomLog(cluster, { ...DEFAULT_ROOMLOG_OPTIONS, hotWindow }))).store;
  const appended = async (log: RedisRoomLog, room: string, input: ChangeInput) => {
    const r = await log.change(room, input);
    expect(r.outcome).toBe('appended');
  };

  it('leaves no trace of a deleted message and its edits held by the hot log, in any key of the room', async () => {
    const log = await logOn(DEFAULT_ROOMLOG_OPTIONS.hotWindow);
    const room = uid('room');
    const secrets = [uid('first-draft'), uid('second-draft')];
    const k = roomKeys(room);
    await log.append(room, { from: 'alice', text: secrets[0] as string, cid: 'a-1' });
    for (let i = 0; i < 5; i++) await log.append(room, { from: 'bob', text: `before ${i}`, cid: `b-${i}` });
    await appended(log, room, { kind: 'edit', target: 1, text: secrets[1] as string, from: 'alice', cid: 'a-2' });
    await appended(log, room, { kind: 'reaction', target: 1, emoji: '👀', on: true, from: 'bob' });
    for (let i = 0; i < 5; i++) await log.append(room, { from: 'bob', text: `after ${i}` });
    // The search finds the text where it is.
    expect(holding(await dumpRoom(admin, room), secrets).sort()).toEqual([k.cid('alice', 'a-1'), k.cid('alice', 'a-2'), k.log, k.state].sort());

    await appended(log, room, { kind: 'delete', target: 1, from: 'alice' });
    const dump = await dumpRoom(admin, room);
    expect([k.log, k.erased, k.state, k.cid('alice', 'a-1'), k.cid('alice', 'a-2')].filter((key) => !dump.has(key))).toEqual([]);
    expect(holding(dump, secrets)).toEqual([]);
    // The rest of the log is intact.
    const page = await log.read(room, { limit: 50 });
    expect(page.messages.map((m) => m.seq)).toEqual(Array.from({ length: 14 }, (_, i) => i + 1));
    expect(page.messages.filter((m) => m.kind === undefined).map((m) => m.text)).toEqual(['', ...[0, 1, 2, 3, 4].map((i) => `before ${i}`), ...[0, 1, 2, 3, 4].map((i) => `after ${i}`)]);
    expect((await log.append(room, { from: 'bob', text: 'x', cid: 'b-2' })).message).toMatchObject({ seq: 4, text: 'before 2' });
  });

  it('leaves no trace of deleted messages the hot log no longer holds, nor of their idempotency records', async () => {
    const log = await logOn(10);
    const room = uid('room');
    const secrets = [uid('edited-then-gone'), uid('edit-of-it'), uid('never-changed')];
    await log.append(room, { from: 'alice', text: secrets[0] as string, cid: 'a-1' });
    await appended(log, room, { kind: 'edit', target: 1, text: secrets[1] as string, from: 'alice', cid: 'a-2' });
    await log.append(room, { from: 'alice', text: secrets[2] as string, cid: 'a-3' });
    for (let i = 0; i < 300; i++) await log.append(room, { from: 'bob', text: `m${i}` });
    expect(holding(await dumpRoom(admin, room), secrets).sort()).toEqual([roomKeys(room).cid('alice', 'a-1'), roomKeys(room).cid('alice', 'a-2'), roomKeys(room).cid('alice', 'a-3'), roomKeys(room).state].sort());

    // Message 1 has a state (it was edited); message 3 only the archive knows, and the chat layer
    // passes its author and cid from there.
    await appended(log, room, { kind: 'delete', target: 1, from: 'alice' });
    expect(await log.change(room, { kind: 'delete', target: 3, from: 'alice' })).toMatchObject({ outcome: 'in_archive' });
    await appended(log, room, { kind: 'delete', target: 3, from: 'alice', archivedAuthor: 'alice', archivedCid: 'a-3' });
    expect(holding(await dumpRoom(admin, room), secrets)).toEqual([]);
    for (const [cid, seq] of [['a-1', 1], ['a-3', 3]] as const) {
      expect((await log.append(room, { from: 'alice', text: 'resent', cid })).message).toMatchObject({ seq, text: '' });
    }
  });
});

/**
 * The seam contracts against Redis Cluster: the real 6-node test cluster started by the global
 * setup (test/setup/redis.ts). Each factory call makes its own connection, closed by its cleanup.
 */
import type { WSContext } from 'hono/ws';
import type { Cluster } from 'ioredis';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { type Message, type ServerFrame, groupRoom } from '@parley/client/wire';
import { RedisGroups } from '../../src/groups/redis.ts';
import { createMetrics } from '../../src/metrics.ts';
import { Conn } from '../../src/realtime/conn.ts';
import { Hub } from '../../src/realtime/hub.ts';
import * as RoomLogEntries from '../../src/redis/codecs/room-log.ts';
import { RedisReadState } from '../../src/reads/redis.ts';
import { RedisRoomLog } from '../../src/rooms/redis.ts';
import { HEAD, roomKeys } from '../../src/rooms/redis-scripts.ts';
import type { RoomEvent } from '../../src/rooms/types.ts';
import { onOwnConnection, withCommand } from './redis-util.ts';
import { readStateContract } from './reads.ts';
import { DEFAULT_ROOMLOG_OPTIONS, roomLogContract } from './roomlog.ts';
import { Resources, uid, waitFor } from './util.ts';

const nodes = () => inject('redisNodes');

async function makeRoomLog(opts: { hotWindow: number; idempotencyTtlMs: number }) {
  const made = await onOwnConnection(nodes(), (cluster) => new RedisRoomLog(cluster, { hotWindow: opts.hotWindow, idempotencyTtlMs: opts.idempotencyTtlMs }));
  return { log: made.store, cluster: made.cluster, cleanup: made.cleanup };
}

/** Stores a message the way the append script does but publishes nothing: a lost publication. */
async function appendUnpublished(cluster: Cluster, r: string, epoch: string, text: string): Promise<Message> {
  const k = roomKeys(r);
  const seq = await cluster.incr(k.seq);
  const message: Message = { room: r, epoch, seq, from: 'bob', text, ts: Date.now() };
  await cluster.xadd(k.log, RoomLogEntries.entryId(seq), ...RoomLogEntries.encode(message));
  return message;
}

/**
 * A group of olga (owner) and amy, both joined on a real hub fed by `log`; each socket's frames
 * after its `joined`, as they are sent.
 */
async function groupOnHub(log: RedisRoomLog, cluster: Cluster) {
  const id = uid('g');
  const room = groupRoom(id);
  await new RedisGroups(cluster).create({ id, title: '', owner: 'olga', members: ['amy'] });
  const sent = new Map<WSContext, ServerFrame[]>();
  const hub = new Hub({
    feed: log,
    metrics: createMetrics('test'),
    sendBuffer: { soft: 1e6, hard: 1e7 },
    sockets: {
      send: (ws, frame) => {
        const f = JSON.parse(frame.text) as ServerFrame;
        sent.get(ws)?.push(...(f.type === 'batch' ? f.events : [f]).filter((e) => e.type !== 'joined'));
      },
      sendBinary: () => undefined,
      ping: () => false,
      watchLiveness: () => undefined,
      terminate: () => undefined,
      bufferedAmount: () => 0,
    },
  });
  const head = await log.head(room);
  const socket = async (user: string) => {
    const ws = {} as WSContext;
    sent.set(ws, []);
    const conn = new Conn(uid('c'), user, 'test', ws, { send: 9, typing: 9, join: 9, abuse: 9 }, Date.now());
    hub.add(conn);
    await hub.beginJoin(conn, room);
    hub.finishJoin(conn, room, { type: 'joined', room, epoch: head.epoch, seq: head.seq, recovered: true, messages: [], members: [] });
    return { conn, frames: sent.get(ws) as ServerFrame[] };
  };
  return { id, room, olga: await socket('olga'), amy: await socket('amy') };
}

readStateContract('redis cluster', async (_peerOf, windows) => {
  const made = await onOwnConnection(nodes(), (cluster) => new RedisReadState(cluster, windows ? { windows } : {}));
  const log = new RedisRoomLog(made.cluster, windows ? { ...DEFAULT_ROOMLOG_OPTIONS, windows } : DEFAULT_ROOMLOG_OPTIONS);
  return {
    reads: made.store,
    log,
    cleanup: async () => {
      await log.close();
      await made.cleanup();
    },
  };
});

describe('redis room log', () => {
  roomLogContract('redis cluster', (opts) => makeRoomLog(opts));

  describe('gap filling', () => {
    const res = new Resources();
    afterEach(() => res.cleanup());

    it('delivers a message pub/sub lost before the next one, in order, once', async () => {
      const { log, cluster } = res.track(await makeRoomLog(DEFAULT_ROOMLOG_OPTIONS));
      const r = uid('room');
      const events: RoomEvent[] = [];
      const stop = await log.subscribe(r, (e) => void events.push(e));
      const first = await log.append(r, { from: 'alice', text: 'one' });
      await waitFor(() => events.length === 1, 'the first message');
      const lost = await appendUnpublished(cluster, r, first.message.epoch, 'lost');
      const third = await log.append(r, { from: 'alice', text: 'three' });
      await waitFor(() => events.length >= 3, 'the lost and the next message');
      expect(events).toEqual([
        { type: 'message', message: first.message },
        { type: 'message', message: lost },
        { type: 'message', message: third.message },
      ]);
      expect(log.stats.gapFilled).toBe(1);
      await stop();
    });

    it('catches up from the log when the cluster connection re-subscribes', async () => {
      const { log, cluster } = res.track(await makeRoomLog(DEFAULT_ROOMLOG_OPTIONS));
      const r = uid('room');
      const events: RoomEvent[] = [];
      const stop = await log.subscribe(r, (e) => void events.push(e));
      const first = await log.append(r, { from: 'alice', text: 'one' });
      const lost = await appendUnpublished(cluster, r, first.message.epoch, 'lost');
      // What ioredis emits once it has re-subscribed after a failover or resharding.
      cluster.emit('subscribersReady');
      await waitFor(() => events.length >= 2, 'the message published while re-subscribing');
      expect(events).toEqual([
        { type: 'message', message: first.message },
        { type: 'message', message: lost },
      ]);
      await stop();
    });

    it('gives a member removed while pub/sub was re-subscribing its `left`, and not the next message of the group', async () => {
      const { log, cluster } = res.track(await makeRoomLog(DEFAULT_ROOMLOG_OPTIONS));
      const { room, olga, amy } = await groupOnHub(log, cluster);
      // Amy is removed while this instance's shard subscriber is re-connecting (a failover): the
      // groups store changes the roles, and the `member` event it publishes reaches nobody here.
      await cluster.hdel(roomKeys(room).groupRoles, 'amy');
      cluster.emit('subscribersReady');
      await log.append(room, { from: 'olga', text: 'after the removal' });
      await waitFor(() => olga.frames.some((f) => f.type === 'message'), "olga's message");
      expect(amy.frames).toEqual([{ type: 'left', room, reason: 'removed' }]);
      expect(amy.conn.inRoom(room)).toBe(false);
    });

    it('gives a member whose removal pub/sub lost with a message its `left` before the messages after the gap', async () => {
      const { log, cluster } = res.track(await makeRoomLog(DEFAULT_ROOMLOG_OPTIONS));
      const { room, olga, amy } = await groupOnHub(log, cluster);
      const { epoch } = await log.head(room);
      await cluster.hdel(roomKeys(room).groupRoles, 'amy');
      await appendUnpublished(cluster, room, epoch, 'lost');
      await log.append(room, { from: 'olga', text: 'after the gap' });
      await waitFor(() => olga.frames.filter((f) => f.type === 'message').length === 2, "olga's two messages");
      expect(amy.frames).toEqual([{ type: 'left', room, reason: 'removed' }]);
    });

    it('subscribes a group room again when ioredis re-subscribes, so a removal published after the catch-up still reaches the member', async () => {
      const { log, cluster } = res.track(await makeRoomLog(DEFAULT_ROOMLOG_OPTIONS));
      const { id, room, olga, amy } = await groupOnHub(log, cluster);
      // The shard's subscriber came back without this room: ioredis forgets a re-SSUBSCRIBE that
      // failed, and says `subscribersReady` before the others took effect.
      await cluster.sunsubscribe(roomKeys(room).channel);
      cluster.emit('subscribersReady');
      await log.subscribe(room, () => undefined); // answered once the re-subscription and catch-up are done
      await new RedisGroups(cluster).remove(id, 'olga', 'amy');
      await log.append(room, { from: 'olga', text: 'after the removal' });
      await waitFor(() => olga.frames.some((f) => f.type === 'message'), "olga's message");
      expect(amy.frames).toEqual([{ type: 'left', room, reason: 'removed' }]);
    });

    it('holds a group\'s messages after a gap until its members can be read, so a member whose removal pub/sub lost gets its `left` and none of them', async () => {
      let failReads = 0;
      const made = res.track(
        await onOwnConnection(nodes(), (cluster) => {
          // The room's head and members: the next `failReads` reads fail, as in a failover.
          const failing = withCommand(cluster, 'evalsha', (evalsha) => (sha, ...rest) =>
            sha === HEAD.sha && failReads-- > 0 ? Promise.reject(new Error('CLUSTERDOWN The cluster is down')) : evalsha(sha, ...rest),
          );
          return new RedisRoomLog(failing, DEFAULT_ROOMLOG_OPTIONS);
        }),
      );
      const { store: log, cluster } = made;
      const { room, olga, amy } = await groupOnHub(log, cluster);
      const { epoch } = await log.head(room);
      await cluster.hdel(roomKeys(room).groupRoles, 'amy');
      await appendUnpublished(cluster, room, epoch, 'lost');
      failReads = 2;
      await log.append(room, { from: 'olga', text: 'after the gap' });
      await waitFor(() => olga.frames.filter((f) => f.type === 'message').length === 2, "olga's two messages");
      expect(amy.frames).toEqual([{ type: 'left', room, reason: 'removed' }]);
      expect(log.stats.gapReadFailures).toBe(2);
    });

    it('keeps delivering to the other handlers when one throws', async () => {
      const { log } = res.track(await makeRoomLog(DEFAULT_ROOMLOG_OPTIONS));
      const r = uid('room');
      const seen: number[] = [];
      const stops = [
        await log.subscribe(r, () => {
          throw new Error('bad handler');
        }),
        await log.subscribe(r, (e) => void (e.type === 'message' && seen.push(e.message.seq))),
      ];
      await log.append(r, { from: 'alice', text: 'one' });
      await log.append(r, { from: 'alice', text: 'two' });
      await waitFor(() => seen.length === 2, 'both messages');
      expect(seen).toEqual([1, 2]);
      expect(log.stats.handlerErrors).toBe(2);
      for (const stop of stops) await stop();
    });
  });

  describe('a command that never answers', () => {
    const res = new Resources();
    afterEach(() => res.cleanup());

    it('turns a subscription that never got an answer into unavailable, and the next join of the room subscribes afresh and delivers', async () => {
      let hangNext = true;
      const made = res.track(
        await onOwnConnection(nodes(), (cluster) => {
          // ssubscribe, the first time: sent nowhere, answered never.
          const stuck = withCommand(cluster, 'ssubscribe', (ssubscribe) => (...args) => {
            if (!hangNext) return ssubscribe(...args);
            hangNext = false;
            return new Promise(() => undefined);
          });
          return new RedisRoomLog(stuck, { ...DEFAULT_ROOMLOG_OPTIONS, callDeadlineMs: 300 });
        }),
      );
      const log = made.store;
      const r = uid('room');
      const events: RoomEvent[] = [];
      await expect(log.subscribe(r, (e) => void events.push(e))).rejects.toThrow(/no answer within 300 ms/);
      const stop = await log.subscribe(r, (e) => void events.push(e));
      const sent = await log.append(r, { from: 'alice', text: 'after the stuck join' });
      await waitFor(() => events.length === 1, 'the message');
      expect(events).toEqual([{ type: 'message', message: sent.message }]);
      await stop();
    });
  });
});

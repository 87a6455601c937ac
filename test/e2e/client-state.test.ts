/**
 * The typed client's message state end to end (protocol v1.1): a client whose network goes away
 * misses a mix of messages, edits, deletes and reactions (and queues some of its own), comes back,
 * and then holds exactly the state a fresh `GET /v1/rooms/:room/messages` shows, as does a client
 * that never went away; its unread count is the server's. Both ways back are covered: the server
 * recovers what was missed in `joined`, or (more than 200 entries missed) the client pages the gap.
 * Against the embedded server and against Redis Cluster.
 */
import { ParleyClient } from '@parley/client';
import type { Message } from '@parley/client/wire';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { eventually, freePort, rest, startServer, uid, type Server } from './server.ts';

/** A network the test can cut: `cut()` drops every socket, and connects fail until `restore()`. */
function network(deadUrl: string) {
  const sockets = new Set<WebSocket>();
  const net = { down: false };
  class Flaky extends WebSocket {
    constructor(url: string) {
      super(net.down ? deadUrl : url);
      sockets.add(this);
      this.on('close', () => sockets.delete(this));
    }
  }
  return {
    WebSocket: Flaky,
    cut: () => {
      net.down = true;
      for (const s of sockets) s.terminate();
    },
    restore: () => (net.down = false),
  };
}

async function history(server: Server, user: string, room: string): Promise<Message[]> {
  const all: Message[] = [];
  for (let after = 0; ; ) {
    const page = (await rest(server, 'GET', `/v1/rooms/${room}/messages?after=${after}&limit=200`, { user })).json as { messages: Message[]; hasMore: boolean };
    all.push(...page.messages);
    if (!page.hasMore || page.messages.length === 0) return all;
    after = page.messages.at(-1)?.seq ?? after;
  }
}

for (const backend of ['memory', 'redis'] as const) {
  describe(`the typed client's room state after a reconnect (${backend})`, () => {
    let server: Server;
    let deadUrl = '';
    const clients: ParleyClient[] = [];
    beforeAll(async () => {
      const env: Record<string, string> = { HEARTBEAT_MS: '20000', SEND_RATE: '5000', SEND_BURST: '5000' };
      if (backend === 'redis') env['REDIS_CLUSTER_NODES'] = inject('redisNodes').join(',');
      server = await startServer('node', env);
      deadUrl = `ws://127.0.0.1:${await freePort()}/ws`;
    }, 60_000);
    afterAll(async () => {
      for (const c of clients) c.close();
      await server?.stop('SIGKILL');
    });

    /** A connected client of `user` in `room`, with a fixed backoff (no jitter). */
    async function joined(user: string, room: string, WS: unknown = WebSocket): Promise<ParleyClient> {
      const c = new ParleyClient({ url: server.url, user, WebSocket: WS as never, random: () => 0 });
      clients.push(c);
      const ready = new Promise((resolve) => c.on('joined', resolve));
      c.connect();
      c.join(room);
      await ready;
      return c;
    }

    /** Waits until `c` has every entry of `room` the server holds, then compares with a fresh read. */
    async function expectFreshState(c: ParleyClient, user: string, room: string): Promise<Message[]> {
      const fresh = await history(server, user, room);
      const head = fresh.at(-1)?.seq ?? 0;
      await eventually(() => expect(c.position(room)?.seq).toBe(head), 15_000);
      const texts = fresh.filter((m) => m.kind === undefined);
      expect(c.messages(room)).toEqual(texts);
      return texts;
    }

    it.each([
      ['recovered in joined', 12],
      ['paged from history', 260],
    ])('a client that was away holds what a fresh read shows (%s)', async (_how, filler) => {
      const room = uid('room');
      const [alice, bob, dan] = [uid('alice'), uid('bob'), uid('dan')];
      const net = network(deadUrl);
      const a = await joined(alice, room);
      const b = await joined(bob, room);
      const d = await joined(dan, room, net.WebSocket);
      const joins: { resumed: boolean; recovered: boolean }[] = [];
      d.on('joined', (j) => joins.push({ resumed: j.resumed, recovered: j.recovered }));

      const plan = await a.send(room, 'plan: meet at 9');
      const typo = await a.send(room, 'wrong room, sorry');
      const mine = await d.send(room, 'I bring snacks');
      await b.react(room, plan.seq, '👍');
      await b.react(room, mine.seq, '🎉');
      await d.react(room, mine.seq, '🎉');
      await expectFreshState(d, dan, room);

      net.cut();
      // While dan is away: a mix of everything, on messages he has and on new ones.
      await a.edit(room, plan.seq, 'plan: meet at 10');
      await a.deleteMessage(room, typo.seq);
      await b.react(room, plan.seq, '👍', false);
      await a.react(room, plan.seq, '❤️');
      await b.react(room, plan.seq, '👍');
      const late = await b.send(room, 'running late');
      await b.edit(room, late.seq, 'running late, 5 min');
      await a.react(room, late.seq, '😮');
      for (let i = 0; i < filler; i++) {
        const m = await a.send(room, `chatter ${i}`);
        if (i % 3 === 0) await b.react(room, m.seq, '😂');
        if (i % 5 === 0) await a.deleteMessage(room, m.seq);
      }
      const gone = await b.send(room, 'never mind');
      await b.deleteMessage(room, gone.seq);
      // dan acts while away: held, and sent by the same cid once he is back.
      const queued = [d.edit(room, mine.seq, 'I bring snacks and drinks'), d.react(room, late.seq, '👍'), d.react(room, mine.seq, '🎉', false)];

      net.restore();
      await Promise.all(queued);
      const texts = await expectFreshState(d, dan, room);
      await expectFreshState(a, alice, room);
      expect(joins.at(-1)).toEqual({ resumed: true, recovered: filler < 200 });

      expect(d.messageState(room, plan.seq)).toMatchObject({
        text: 'plan: meet at 10',
        reactions: [
          { emoji: '❤️', count: 1, users: [alice] },
          { emoji: '👍', count: 1, users: [bob] },
        ],
      });
      expect(d.messageState(room, typo.seq)).toMatchObject({ text: '', deleted: true });
      expect(d.messageState(room, mine.seq)).toMatchObject({ text: 'I bring snacks and drinks', edited: expect.any(Number) });
      expect(d.messageState(room, mine.seq)?.reactions).toEqual([{ emoji: '🎉', count: 1, users: [bob] }]);
      expect(texts.length).toBeGreaterThan(filler);
      // The unread count is the server's: others' text messages that are not deleted (dan read nothing).
      const items = (await rest(server, 'GET', '/v1/conversations', { user: dan })).json['items'] as { room: string; unread: number }[];
      expect(d.unread(room)).toBe(items.find((i) => i.room === room)?.unread);
    }, 90_000);
  });
}

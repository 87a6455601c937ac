/**
 * Both encodings across instances: JSON and MessagePack sockets on two instances (Node and Deno) on
 * one Redis Cluster share a room. Each instance encodes a message once per encoding its local
 * members speak, whatever their number, as its `parley_frames_encoded_total` shows, and every
 * socket decodes the same message. test/unit/encodings.test.ts shows the same of one in-process hub.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { down, up } from '../../infra/redis/cluster.ts';
import { Client, type Encoding, type EventOf, type Server, closeAllClients, eventually, startServer, uid } from './server.ts';

// A cluster of its own, like cluster.test.ts: these instances reap presence entries too.
const BASE_PORT = Number(process.env['PARLEY_TEST_ENCODINGS_CLUSTER_PORT'] ?? 7650);
let servers: Server[] = [];

beforeAll(async () => {
  const nodes = (await up({ basePort: BASE_PORT })).nodes.join(',');
  // HEARTBEAT_MS: long enough that the silent test clients on the Deno instance stay open.
  const env = { REDIS_CLUSTER_NODES: nodes, HEARTBEAT_MS: '5000', LOG_LEVEL: 'warn', SEND_RATE: '1000', SEND_BURST: '1000' };
  servers = await Promise.all([startServer('node', { ...env, INSTANCE_ID: 'inst-a' }), startServer('deno', { ...env, INSTANCE_ID: 'inst-b' })]);
}, 60_000);

afterEach(closeAllClients);

afterAll(async () => {
  await Promise.all(servers.map((s) => s.stop('SIGKILL')));
  await down({ basePort: BASE_PORT });
});

const A = (): Server => servers[0] as Server;
const B = (): Server => servers[1] as Server;

type Counts = Record<Encoding, number>;

/** `parley_frames_encoded_total{type="message"}` of one instance, by encoding, from its /metrics. */
async function encodedMessages(server: Server): Promise<Counts> {
  const text = await (await fetch(`${server.url}/metrics`)).text();
  const counts: Counts = { json: 0, msgpack: 0 };
  for (const [, labels = '', value = ''] of text.matchAll(/^parley_frames_encoded_total\{([^}]*)\} (\S+)$/gm)) {
    const l = new Map([...labels.matchAll(/(\w+)="([^"]*)"/g)].map(([, k = '', v = '']) => [k, v]));
    const encoding = l.get('encoding');
    if (l.get('type') === 'message' && (encoding === 'json' || encoding === 'msgpack')) counts[encoding] += Number(value);
  }
  return counts;
}

/** What each instance encoded while `act` ran: message frames, by encoding. */
async function encodedDuring(act: () => Promise<void>): Promise<Counts[]> {
  const before = await Promise.all(servers.map(encodedMessages));
  await act();
  const after = await Promise.all(servers.map(encodedMessages));
  return after.map((a, i) => ({ json: a.json - (before[i] as Counts).json, msgpack: a.msgpack - (before[i] as Counts).msgpack }));
}

/** A new user's socket on `server`, speaking `encoding`, joined to `room`. */
async function member(server: Server, encoding: Encoding, room: string): Promise<Client> {
  const c = await Client.connect(server.wsUrl, { user: uid(encoding) }, {}, encoding);
  await c.join(room);
  return c;
}

const messagesOf = (c: Client, room: string): EventOf<'message'>[] => c.all('message', (m) => m.room === room);
/** A message's fields, as every receiver must see them. */
const wire = (m: EventOf<'message'>) => ({ room: m.room, epoch: m.epoch, seq: m.seq, from: m.from, text: m.text, ts: m.ts, cid: m.cid });

describe('JSON and MessagePack sockets on two instances (Node, Deno) in one room', () => {
  it('each instance encodes a message once per encoding, and every socket decodes the same message', async () => {
    const room = uid('room');
    const encodings: Encoding[] = ['json', 'msgpack', 'json', 'msgpack'];
    const onA = await Promise.all(encodings.map((e) => member(A(), e, room)));
    const onB = await Promise.all(encodings.map((e) => member(B(), e, room)));
    const all = [...onA, ...onB];
    const sender = onA[0] as Client;
    const text = 'héllo ✓ 🎉 \u0000 "quoted" ' + 'x'.repeat(200);

    let ack: EventOf<'ack'> | undefined;
    const one = await encodedDuring(async () => {
      ack = await sender.post(room, text, 'one');
      for (const c of all) await eventually(() => expect(messagesOf(c, room)).toHaveLength(1));
    });
    expect(one).toEqual([
      { json: 1, msgpack: 1 },
      { json: 1, msgpack: 1 },
    ]);
    const expected = { room, epoch: ack?.epoch, seq: ack?.seq, from: (sender.hello as EventOf<'hello'>).user, text, ts: ack?.ts, cid: 'one' };
    for (const c of all) expect(messagesOf(c, room).map(wire)).toEqual([expected]);

    // Twenty at once from a MessagePack socket on the Deno instance: some go out batched, each
    // event still encoded once per encoding on each instance.
    const burst = 20;
    const packer = onB[1] as Client;
    const many = await encodedDuring(async () => {
      for (let i = 0; i < burst; i++) packer.send({ type: 'send', room, text: `burst ${i} ✓`, cid: `b${i}` });
      for (const c of all) await eventually(() => expect(messagesOf(c, room)).toHaveLength(1 + burst), 10_000);
    });
    expect(many).toEqual([
      { json: burst, msgpack: burst },
      { json: burst, msgpack: burst },
    ]);
    const reference = messagesOf(sender, room).map(wire);
    expect(reference.map((m) => m.seq)).toEqual(Array.from({ length: 1 + burst }, (_, i) => (ack?.seq ?? 0) + i));
    expect(reference.slice(1).map((m) => m.text)).toEqual(Array.from({ length: burst }, (_, i) => `burst ${i} ✓`));
    for (const c of all) {
      expect(messagesOf(c, room).map(wire)).toEqual(reference);
      expect(c.violations).toEqual([]);
    }
  }, 30_000);

  it('an instance encodes only in the encodings its own members of the room speak', async () => {
    const room = uid('room');
    const jsonOnA = [await member(A(), 'json', room), await member(A(), 'json', room)];
    const packedOnB = [await member(B(), 'msgpack', room), await member(B(), 'msgpack', room)];
    const counts = await encodedDuring(async () => {
      await (packedOnB[0] as Client).post(room, 'across', 'x-1');
      for (const c of [...jsonOnA, ...packedOnB]) await eventually(() => expect(messagesOf(c, room).map((m) => m.text)).toEqual(['across']));
    });
    expect(counts).toEqual([
      { json: 1, msgpack: 0 },
      { json: 0, msgpack: 1 },
    ]);
  }, 30_000);
});

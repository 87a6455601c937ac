/**
 * The subprotocol negotiation and sockets of both encodings side by side, end to end. The other
 * suites run whole in each encoding (ws.*.test.ts); this one is about the two meeting.
 */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { Client, type Runtime, type Server, eventually, suiteServer, uid } from './server.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** The subprotocol the server answers an upgrade that offers `header` with (browsers join offers with ", "). */
function answer(server: Server, header: string): Promise<string | undefined> {
  return new Promise((resolve, reject) => {
    // Offered through the header itself: `ws` would check the answer against an offer of its own
    // and fail the handshake, which is the client's business, not what this test asks.
    const ws = new WebSocket(`${server.wsUrl}?user=${uid('probe')}`, { headers: { 'Sec-WebSocket-Protocol': header } });
    ws.once('upgrade', (res) => resolve(res.headers['sec-websocket-protocol'] as string | undefined));
    ws.once('unexpected-response', (_req, res) => reject(new Error(`upgrade answered ${res.statusCode}`)));
    ws.on('error', () => undefined);
    ws.once('close', () => reject(new Error('closed before the upgrade')));
  });
}

export function wsEncodingSuite(runtime: Runtime): void {
  describe(`WebSocket encodings on ${runtime}`, () => {
    const server = suiteServer(runtime, { SEND_RATE: '1000', SEND_BURST: '1000' });

    it('answers the first subprotocol offered that it speaks, and none to offers it does not speak', async () => {
      expect(await answer(server(), 'parley.v1.msgpack')).toBe('parley.v1.msgpack');
      expect(await answer(server(), 'chat.v9, parley.v1.msgpack, parley.v1.json')).toBe('parley.v1.msgpack');
      expect(await answer(server(), 'parley.v1.json, parley.v1.msgpack')).toBe('parley.v1.json');
      expect(await answer(server(), 'parley.v2')).toBeUndefined();
    });

    it('delivers a room’s messages alike to JSON and MessagePack members, one by one and in batches', async () => {
      const room = uid('room');
      const json = await Client.connect(server().wsUrl, { user: uid('alice') }, {}, 'json');
      const packed = await Client.connect(server().wsUrl, { user: uid('bob') }, {}, 'msgpack');
      await json.join(room);
      await packed.join(room);
      await packed.post(room, 'one', 'p-1');
      // Sent without waiting: what arrives in one turn goes out as one batch frame.
      for (let i = 2; i <= 40; i++) json.send({ type: 'send', room, text: `message ${i} ✓`, cid: `j-${i}` });
      for (const c of [json, packed]) await eventually(() => expect(c.all('message')).toHaveLength(40), 10_000);
      expect(packed.all('message')).toEqual(json.all('message'));
      expect(packed.all('message').map((m) => m.seq)).toEqual(Array.from({ length: 40 }, (_, i) => i + 1));
      expect(packed.frames).toBeLessThan(packed.events.length); // some came batched
      expect(packed.violations).toEqual([]);
    });

    // On Deno only: the Node client speaks MessagePack throughout the suites (ws-auth's typed
    // client, client-pack).
    if (runtime === 'deno') it('lets the typed client speak MessagePack on Deno, in a room shared with a JSON user', async () => {
      const room = uid('deno');
      const deno = `${ROOT}node_modules/.bin/deno`;
      const { stdout } = await promisify(execFile)(deno, ['run', '--allow-net', '--allow-env', '--allow-read', 'test/e2e/deno-client.ts', server().url, room], { cwd: ROOT });
      expect(JSON.parse(stdout)).toEqual({ ack: 1, from: `${room}-json`, text: 'from Deno ✓', seq: 1 });
    }, 30_000);
  });
}

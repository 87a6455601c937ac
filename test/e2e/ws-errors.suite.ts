/**
 * Refused frames, the frame size limit and the rate limits, end to end. Part of `wsSuite`:
 * runs against every runtime.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type Runtime, type Server, closeAllClients, closeOf, connect, eventually, startServer, uid } from './server.ts';

export function wsErrorsSuite(runtime: Runtime): void {
  describe(`WebSocket errors on ${runtime}`, () => {
    let server: Server;
    beforeAll(async () => {
      server = await startServer(runtime, { SEND_RATE: '1000', SEND_BURST: '1000' });
    });
    afterAll(async () => {
      expect(await server?.stop()).toBe(0);
    });
    afterEach(closeAllClients);

    const room = uid('room');
    const text = (n: number) => 'x'.repeat(n);
    // [what, frame, expected code, cid the error must carry]
    const cases: [string, object | string, string, string?][] = [
      ['not JSON', 'hello?', 'invalid_message'],
      ['a JSON array', '[{"type":"heartbeat","id":1}]', 'invalid_message'],
      ['a JSON string', '"heartbeat"', 'invalid_message'],
      ['no type', { room, text: 'hi' }, 'invalid_message'],
      ['no type, with a cid', { room, text: 'hi', cid: 'e-0' }, 'invalid_message', 'e-0'],
      ['an unknown type', { type: 'dance', cid: 'e-1' }, 'unknown_type', 'e-1'],
      ['a join without room', { type: 'join' }, 'invalid_message'],
      ['a send without room', { type: 'send', text: 'hi', cid: 'e-2' }, 'invalid_message', 'e-2'],
      ['a room name that is not valid', { type: 'join', room: 'no spaces allowed' }, 'invalid_message'],
      ['text of 4001 characters', { type: 'send', room, text: text(4001), cid: 'e-3' }, 'invalid_message', 'e-3'],
      ['whitespace-only text', { type: 'send', room, text: ' \n\t  ', cid: 'e-4' }, 'invalid_message', 'e-4'],
      ['a cid of 65 characters', { type: 'send', room, text: 'hi', cid: 'c'.repeat(65) }, 'invalid_message'],
      ['a since without seq', { type: 'join', room, since: { epoch: 'e' } }, 'invalid_message'],
    ];

    describe('refuses a frame with an error and keeps the socket open', () => {
      it.each(cases)('%s', async (_what, frame, code, cid) => {
        const a = await connect(server, uid('alice'));
        await a.join(room); // so that a valid `send` would be accepted
        a.send(frame);
        const err = await a.nextOf('error');
        expect(err).toMatchObject({ type: 'error', code, message: expect.any(String) });
        if (cid !== undefined) expect(err.cid).toBe(cid);
        else if (typeof frame === 'string' || !('cid' in frame)) expect(err).not.toHaveProperty('cid');
        await a.heartbeat();
        expect(a.all('ack')).toEqual([]);
      });

      it('a frame of the other kind: binary on a JSON socket, text on a MessagePack one', async () => {
        const a = await connect(server, uid('alice'));
        a.sendOtherKind({ type: 'heartbeat', id: 1 });
        expect(await a.nextOf('error')).toMatchObject({ code: 'invalid_message' });
        await a.heartbeat();
      });
    });

    it('accepts text of exactly 4000 characters (the limit, not below it)', async () => {
      const a = await connect(server, uid('alice'));
      await a.join(room);
      expect(await a.post(room, text(4000), 'max-1')).toMatchObject({ type: 'ack', room });
      expect((await a.nextOf('message', (m) => m.cid === 'max-1')).text).toHaveLength(4000);
    });

    it('closes with 1009 on a frame over 16 KiB and keeps serving the others', async () => {
      const other = await connect(server, uid('bob'));
      const a = await connect(server, uid('alice'));
      await a.join(room);
      a.send({ type: 'send', room, text: text(20 * 1024), cid: 'big' });
      expect((await closeOf(a)).code).toBe(1009);
      await other.heartbeat();
      await (await connect(server, uid('carol'))).heartbeat();
    });

    describe('rate limits', () => {
      let limited: Server;
      beforeAll(async () => {
        limited = await startServer(runtime, { SEND_BURST: '5', SEND_RATE: '1', TYPING_BURST: '2', TYPING_RATE: '1' });
      });
      afterAll(async () => {
        expect(await limited?.stop()).toBe(0);
      });

      it('lets a burst through, then refuses sends with `rate_limited` and the cid', async () => {
        const a = await connect(limited, uid('alice'));
        await a.join(room);
        for (let i = 1; i <= 6; i++) a.send({ type: 'send', room, text: `m${i}`, cid: `r-${i}` });
        expect(await a.nextOf('error')).toMatchObject({ code: 'rate_limited', cid: 'r-6' });
        await a.heartbeat();
        expect(a.all('ack').map((e) => e.cid)).toEqual(['r-1', 'r-2', 'r-3', 'r-4', 'r-5']);
      });

      it('refuses typing past its own burst with `rate_limited`', async () => {
        const a = await connect(limited, uid('alice'));
        const b = await connect(limited, uid('bob'));
        await a.join(room);
        await b.join(room);
        for (let i = 0; i < 3; i++) a.send({ type: 'typing', room });
        expect(await a.nextOf('error')).toMatchObject({ code: 'rate_limited' });
        await a.heartbeat();
        expect(a.all('error')).toHaveLength(1);
        await b.nextOf('typing');
        await b.nextOf('typing');
      });

      it('closes a socket that keeps sending past the limit with 1008', async () => {
        const a = await connect(limited, uid('alice'));
        await a.join(room);
        // One frame at a time: when the server closes, the client is not in the middle of sending.
        for (let i = 0; i < 300 && !a.closeInfo; i++) {
          a.send({ type: 'send', room, text: 'spam', cid: `s-${i}` });
          await a.next((e) => (e.type === 'ack' || e.type === 'error') && e.cid === `s-${i}`).catch(() => undefined);
        }
        expect((await closeOf(a)).code).toBe(1008);
        expect(a.all('error', (e) => e.code === 'rate_limited').length).toBeGreaterThan(10);
      });

      it('closes a socket that floods past the limit', async () => {
        const a = await connect(limited, uid('alice'));
        await a.join(room);
        for (let i = 0; i < 300; i++) a.send({ type: 'send', room, text: 'spam', cid: `s-${i}` });
        const { code } = await closeOf(a);
        // Deno aborts the TCP connection when frames keep arriving after its close frame, so the
        // client sees 1006 instead of 1008 (reproduced with a bare Deno.upgradeWebSocket server).
        if (runtime === 'node') expect(code).toBe(1008);
        else expect([1008, 1006]).toContain(code);
        await eventually(() => expect(limited.output()).toContain('closing abusive socket'));
      });
    });
  });
}

/** The publish/subscribe half of the `RoomLog` contract; see `roomlog.ts`. */
import { describe, expect, it } from 'vitest';
import type { RoomEvent } from '../../src/rooms/types.ts';
import type { UseRoomLog } from './roomlog.ts';
import { uid, waitFor } from './util.ts';

/** Collects the events one subscription receives. */
function collector() {
  const events: RoomEvent[] = [];
  const messages = () => events.flatMap((e) => (e.type === 'message' ? [e.message] : []));
  return { events, messages, handler: (e: RoomEvent) => void events.push(e) };
}

export function roomLogPubSubContract(use: UseRoomLog): void {
  describe('subscribe and signal', () => {
    it('delivers each appended message to a subscriber, as stored', async () => {
      const log = await use();
      const r = uid('room');
      const sub = collector();
      const stop = await log.subscribe(r, sub.handler);
      const { message } = await log.append(r, { from: 'alice', text: 'hi', cid: 'c-1' });
      await waitFor(() => sub.events.length >= 1, 'the message event');
      expect(sub.events).toEqual([{ type: 'message', message }]);
      await stop();
    });

    it('delivers to several subscribers of a room, and not to other rooms', async () => {
      const log = await use();
      const [r, other] = [uid('room'), uid('room')];
      const a = collector();
      const b = collector();
      const elsewhere = collector();
      const stops = [await log.subscribe(r, a.handler), await log.subscribe(r, b.handler), await log.subscribe(other, elsewhere.handler)];
      await log.append(r, { from: 'alice', text: 'one' });
      await log.append(r, { from: 'bob', text: 'two' });
      await log.append(other, { from: 'carol', text: 'sentinel' });
      await waitFor(() => a.events.length >= 2 && b.events.length >= 2 && elsewhere.events.length >= 1, 'all events');
      expect(a.messages().map((m) => m.text)).toEqual(['one', 'two']);
      expect(b.messages().map((m) => m.text)).toEqual(['one', 'two']);
      expect(elsewhere.messages().map((m) => m.text)).toEqual(['sentinel']);
      for (const stop of stops) await stop();
    });

    it('delivers nothing to a subscription after it ends', async () => {
      const log = await use();
      const r = uid('room');
      const gone = collector();
      const stays = collector();
      const stopGone = await log.subscribe(r, gone.handler);
      const stopStays = await log.subscribe(r, stays.handler);
      await log.append(r, { from: 'alice', text: 'before' });
      await waitFor(() => gone.events.length === 1 && stays.events.length === 1, 'the first message');
      await stopGone();
      await log.append(r, { from: 'alice', text: 'after' });
      await log.signal(r, { type: 'typing', room: r, user: 'alice' });
      // The remaining subscriber has both, so the ended one had every chance to get them too.
      await waitFor(() => stays.events.length === 3, 'the later events');
      expect(gone.messages().map((m) => m.text)).toEqual(['before']);
      expect(gone.events).toHaveLength(1);
      await stopStays();
    });

    it('publishes nothing for a duplicate append', async () => {
      const log = await use();
      const r = uid('room');
      const sub = collector();
      const stop = await log.subscribe(r, sub.handler);
      await log.append(r, { from: 'alice', text: 'once', cid: 'c-1' });
      await log.append(r, { from: 'alice', text: 'once', cid: 'c-1' });
      await log.append(r, { from: 'alice', text: 'sentinel' });
      await waitFor(() => sub.messages().some((m) => m.text === 'sentinel'), 'the sentinel');
      expect(sub.messages().map((m) => [m.seq, m.text])).toEqual([[1, 'once'], [2, 'sentinel']]);
      await stop();
    });

    it('publishes in seq order under 200 concurrent appends from several users', async () => {
      const log = await use();
      const r = uid('room');
      const sub = collector();
      const stop = await log.subscribe(r, sub.handler);
      const users = ['alice', 'bob', 'carol', 'dave'];
      const results = await Promise.all(
        Array.from({ length: 200 }, (_, i) => log.append(r, { from: users[i % users.length] as string, text: `t${i}`, cid: `c${i}` })),
      );
      const expected = Array.from({ length: 200 }, (_, i) => i + 1);
      expect(results.map((x) => x.message.seq).sort((a, b) => a - b)).toEqual(expected);
      await waitFor(() => sub.events.length >= 200, '200 message events');
      expect(sub.messages().map((m) => m.seq)).toEqual(expected);
      // What subscribers saw is what the log holds.
      const page = await log.read(r, { after: 0, limit: 200 });
      expect(page.messages).toEqual(sub.messages());
      await stop();
    });

    it('delivers signals to the room subscribers only, and never stores them', async () => {
      const log = await use();
      const [r, other] = [uid('room'), uid('room')];
      const inRoom = collector();
      const elsewhere = collector();
      const stops = [await log.subscribe(r, inRoom.handler), await log.subscribe(other, elsewhere.handler)];
      const head = await log.head(r);
      await log.signal(r, { type: 'typing', room: r, user: 'bob' });
      await log.signal(r, { type: 'presence', room: r, user: 'bob', status: 'offline', lastSeen: 1234 });
      await log.signal(other, { type: 'typing', room: other, user: 'sentinel' });
      await waitFor(() => inRoom.events.length >= 2 && elsewhere.events.length >= 1, 'the signals');
      expect(inRoom.events).toEqual([
        { type: 'typing', room: r, user: 'bob' },
        { type: 'presence', room: r, user: 'bob', status: 'offline', lastSeen: 1234 },
      ]);
      expect(elsewhere.events).toEqual([{ type: 'typing', room: other, user: 'sentinel' }]);
      expect(await log.head(r)).toEqual(head);
      expect((await log.read(r, { limit: 10 })).messages).toEqual([]);
      for (const stop of stops) await stop();
    });

    it('accepts a signal for a room nobody subscribes to', async () => {
      const log = await use();
      const r = uid('room');
      await expect(log.signal(r, { type: 'typing', room: r, user: 'bob' })).resolves.toBeUndefined();
      expect((await log.read(r, { limit: 10 })).messages).toEqual([]);
    });
  });
}

/**
 * The WebSocket end-to-end suite against the Deno entry point, every socket speaking MessagePack
 * (subprotocol `parley.v1.msgpack`); ws.deno.test.ts runs it in JSON. A file of its own, so that
 * the two encodings run side by side. Also the negotiation, and both encodings in one room.
 */
import { beforeAll, describe } from 'vitest';
import { useEncoding } from './client.ts';
import { wsEncodingSuite } from './ws-encoding.suite.ts';
import { wsSuite } from './ws.suite.ts';

describe('MessagePack', () => {
  beforeAll(() => useEncoding('msgpack'));
  wsSuite('deno');
});
wsEncodingSuite('deno');

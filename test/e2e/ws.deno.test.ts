/** The WebSocket end-to-end suite against the Deno entry point (a real `deno` process), in JSON (see ws.deno.msgpack.test.ts). */
import { wsSuite } from './ws.suite.ts';

wsSuite('deno');

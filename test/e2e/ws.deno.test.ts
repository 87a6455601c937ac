/** The WebSocket end-to-end suite against the Deno entry point (a real `deno` process). */
import { wsSuite } from './ws.suite.ts';

wsSuite('deno');

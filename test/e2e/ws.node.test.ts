/** The WebSocket end-to-end suite against the Node entry point (a real `node` process), in JSON (see ws.node.msgpack.test.ts). */
import { wsSuite } from './ws.suite.ts';

wsSuite('node');

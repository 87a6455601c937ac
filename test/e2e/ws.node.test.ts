/** The WebSocket end-to-end suite against the Node entry point (a real `node` process). */
import { wsSuite } from './ws.suite.ts';

wsSuite('node');

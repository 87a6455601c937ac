/**
 * Preloaded into the measured server (`node --expose-gc --import ./bench/memory/probe.mjs …`) by
 * `idle.ts` and `heap.ts`. Answers requests on the IPC channel from inside the server process:
 *   {cmd:'mem', gc?:boolean}        → {type:'mem', rss, heapUsed, heapTotal, external, arrayBuffers}
 *   {cmd:'snapshot', path}          → {type:'snapshot', path}   (v8.writeHeapSnapshot, after a GC)
 * It allocates nothing per connection; without an IPC channel it does nothing.
 */
import { writeHeapSnapshot } from 'node:v8';

const fullGc = () => {
  if (typeof globalThis.gc !== 'function') return false;
  // Two rounds: the first may only schedule finalizers / weak callbacks that free more.
  globalThis.gc();
  globalThis.gc();
  return true;
};

if (process.send) {
  process.on('message', (m) => {
    if (!m || typeof m !== 'object') return;
    if (m.cmd === 'mem') {
      const gced = m.gc ? fullGc() : false;
      process.send({ type: 'mem', gced, ...process.memoryUsage() });
    } else if (m.cmd === 'snapshot') {
      fullGc();
      const path = writeHeapSnapshot(m.path);
      process.send({ type: 'snapshot', path });
    }
  });
  // The channel must not keep a server that is otherwise done alive.
  process.channel?.unref();
}

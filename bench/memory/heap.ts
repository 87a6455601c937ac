/**
 * Heap snapshots of the server with and without N idle connections, and their comparison.
 *
 *   npx tsx bench/memory/heap.ts [--conns 2000] [--join] [--entry src/main.node.ts | --bare]
 *     [--out /tmp/parley-heap] [--top 40]
 *
 * Starts the server like idle.ts (node, probe preloaded, --expose-gc), warms up with 200
 * connections, writes a baseline snapshot (v8.writeHeapSnapshot from inside the server, after a
 * full GC — the same as `--heapsnapshot-signal`, but we know when it is done), opens N clients,
 * settles 3 s, writes the loaded snapshot, then runs analyze-heap.ts on the pair.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { compare } from './analyze-heap.ts';
import { ask, closeClients, openClients, sleep, startServer, stopChild } from './lib.ts';

const argv = process.argv.slice(2);
const arg = (name: string, fallback: string) => {
  const i = argv.indexOf(name);
  return i >= 0 ? (argv[i + 1] ?? fallback) : fallback;
};
const conns = Number(arg('--conns', '2000'));
const join_ = argv.includes('--join');
const bare = argv.includes('--bare');
const entry = bare ? 'bench/memory/bare-ws.ts' : arg('--entry', 'src/main.node.ts');
const outDir = arg('--out', '/tmp/parley-heap');
const top = Number(arg('--top', '40'));
const tag = `${entry.replace(/[^A-Za-z0-9]+/g, '_')}${join_ ? '_join' : ''}`;

async function main(): Promise<void> {
  mkdirSync(outDir, { recursive: true });
  const srv = await startServer({
    runtime: 'node',
    entry,
    env: { MAX_CONNECTIONS: String(conns + 2000), HEARTBEAT_MS: '30000', LOG_LEVEL: 'warn', AUTH_MODE: 'dev', NODE_ENV: 'development' },
  });
  let clients: Awaited<ReturnType<typeof openClients>> | null = null;
  try {
    const w = await openClients({ port: srv.port, conns: 200, join: join_, rooms: 100, procs: 1, prefix: 'w', timeoutMs: 60_000 });
    await closeClients(w, true);
    await sleep(2000);
    const basePath = join(outDir, `${tag}-base.heapsnapshot`);
    await ask(srv.proc, { cmd: 'snapshot', path: basePath }, 'snapshot', 120_000);
    clients = await openClients({ port: srv.port, conns, join: join_, rooms: 100, procs: 1, prefix: 'u', timeoutMs: 120_000 });
    if (clients.failed) throw new Error(`${clients.failed} clients failed`);
    await sleep(3000);
    const loadedPath = join(outDir, `${tag}-${conns}.heapsnapshot`);
    await ask(srv.proc, { cmd: 'snapshot', path: loadedPath }, 'snapshot', 120_000);
    await closeClients(clients, false);
    clients = null;
    await stopChild(srv.proc);
    console.log(`entry ${entry}${join_ ? ' +join' : ''}; snapshots ${basePath} ${loadedPath}\n`);
    console.log(compare(basePath, loadedPath, conns, top));
  } finally {
    if (clients) await closeClients(clients, false);
    await stopChild(srv.proc);
  }
}

const kill = setTimeout(() => {
  console.error('heap.ts timed out');
  process.exit(2);
}, 300_000);
kill.unref();
main()
  .then(() => process.exit(0))
  .catch((err) => {
    console.error(err);
    process.exit(1);
  });

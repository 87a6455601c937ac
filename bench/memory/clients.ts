/**
 * Load generator for the idle-memory benchmark: opens N WebSocket clients against one URL and keeps
 * them open and idle until told to stop. Run by `idle.ts` as a child process with an IPC channel
 * (each client socket is one fd here, so it must not share the server's process).
 *
 *   node --import tsx bench/memory/clients.ts --url ws://127.0.0.1:8080/ws --conns 10000 [--join]
 *     [--rooms 100] [--batch 500] [--concurrency 64] [--offset 0] [--prefix u]
 *
 * Each client i connects as user `<prefix><offset+i>`; with --join it sends
 * `{"type":"join","room":"r<i % rooms>"}` after `hello` and counts as ready on `joined`.
 * Messages to the parent (IPC, or stdout JSON lines without IPC):
 *   {type:'progress', ready, failed}   after each batch
 *   {type:'ready', ready, failed, ms}  when all are open (and joined)
 *   {type:'closed'}                    after a `{cmd:'close'}` from the parent
 */
import { WebSocket } from 'ws';

type Opts = {
  url: string;
  conns: number;
  join: boolean;
  rooms: number;
  batch: number;
  concurrency: number;
  offset: number;
  prefix: string;
  timeoutMs: number;
};

function parseArgs(argv: string[]): Opts {
  const o: Opts = { url: '', conns: 1000, join: false, rooms: 100, batch: 500, concurrency: 64, offset: 0, prefix: 'u', timeoutMs: 20_000 };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const next = () => argv[++i] ?? '';
    if (a === '--url') o.url = next();
    else if (a === '--conns') o.conns = Number(next());
    else if (a === '--join') o.join = true;
    else if (a === '--rooms') o.rooms = Number(next());
    else if (a === '--batch') o.batch = Number(next());
    else if (a === '--concurrency') o.concurrency = Number(next());
    else if (a === '--offset') o.offset = Number(next());
    else if (a === '--prefix') o.prefix = next();
    else if (a === '--timeout-ms') o.timeoutMs = Number(next());
    else throw new Error(`clients: unknown argument ${a}`);
  }
  if (!o.url) throw new Error('clients: --url is required');
  return o;
}

const emit = (msg: object) => {
  if (process.send) process.send(msg);
  else process.stdout.write(`${JSON.stringify(msg)}\n`);
};

const sockets: WebSocket[] = [];

/** Opens one client; resolves true once it is idle (hello, and joined with --join). */
function openOne(o: Opts, i: number): Promise<boolean> {
  return new Promise((resolve) => {
    const n = o.offset + i;
    const ws = new WebSocket(`${o.url}?user=${o.prefix}${n}`, { perMessageDeflate: false, handshakeTimeout: o.timeoutMs });
    let done = false;
    const finish = (ok: boolean) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      resolve(ok);
    };
    const timer = setTimeout(() => {
      ws.terminate();
      finish(false);
    }, o.timeoutMs);
    const seen = (type: string) => {
      if (type === 'hello') {
        if (o.join) ws.send(JSON.stringify({ type: 'join', room: `r${n % o.rooms}` }));
        else finish(true);
      } else if (type === 'joined') finish(true);
      else if (type === 'error') finish(false);
    };
    ws.on('message', (data) => {
      if (done) return; // idle from here on: frames (presence, pings) are read and dropped
      let f: { type?: string; events?: { type?: string }[] };
      try {
        f = JSON.parse(String(data));
      } catch {
        return;
      }
      if (f.type === 'batch') for (const e of f.events ?? []) seen(String(e.type));
      else seen(String(f.type));
    });
    ws.on('error', () => finish(false));
    ws.on('close', () => finish(false));
    sockets.push(ws);
  });
}

async function main(): Promise<void> {
  const o = parseArgs(process.argv.slice(2));
  const t0 = Date.now();
  let ready = 0;
  let failed = 0;
  for (let start = 0; start < o.conns; start += o.batch) {
    const end = Math.min(o.conns, start + o.batch);
    let next = start;
    // A small pool of in-flight handshakes per batch, so the server's accept queue stays short.
    const worker = async () => {
      while (next < end) {
        const i = next++;
        if (await openOne(o, i)) ready++;
        else failed++;
      }
    };
    await Promise.all(Array.from({ length: Math.min(o.concurrency, end - start) }, worker));
    emit({ type: 'progress', ready, failed });
  }
  emit({ type: 'ready', ready, failed, ms: Date.now() - t0 });

  const stop = async (graceful: boolean) => {
    // Graceful: a closing handshake, so the server runs its close path as for a real user.
    const closing = sockets.map(
      (ws) =>
        new Promise<void>((resolve) => {
          if (ws.readyState === WebSocket.CLOSED) return resolve();
          ws.once('close', () => resolve());
          if (graceful && ws.readyState === WebSocket.OPEN) ws.close(1000);
          else ws.terminate();
        }),
    );
    await Promise.race([Promise.all(closing), new Promise((r) => setTimeout(r, 10_000))]);
    for (const ws of sockets) ws.terminate();
    emit({ type: 'closed' });
    setTimeout(() => process.exit(0), 50);
  };
  process.on('message', (m: { cmd?: string }) => {
    if (m?.cmd === 'close') void stop(true);
    if (m?.cmd === 'terminate') void stop(false);
  });
  process.on('disconnect', () => process.exit(0)); // the parent went away
  process.on('SIGTERM', () => process.exit(0));
}

main().catch((err) => {
  console.error('clients failed:', err);
  process.exit(1);
});

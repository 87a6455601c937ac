/**
 * The abusive user of bench/limits/abuse.ts, run as its own process (forked by abuse.ts) so that its
 * floods do not stall the event loop that timestamps the normal users' deliveries.
 *
 *   argv: <ws url without query> <user> <normal room to flood> [floods: join,send,conn]
 *
 * All at once, as one user: a join flood (distinct rooms as fast as the socket takes them, every
 * fourth a repeat), a send flood into a normal room, and a connection flood (CONN_LOOPS upgrades
 * in flight at all times, accepted sockets kept open). A flood socket closed by the server is
 * reopened at once. It says `ready` once loaded, starts on the IPC message `go`; on `stop` it closes everything and sends back its counts.
 */
import WebSocket from 'ws';
import { type Frame, open, tick } from './lib.ts';

const [base, user, room, floods = 'join,send,conn'] = process.argv.slice(2) as [string, string, string, string?];
const on = new Set(floods.split(','));
const url = `${base}?user=${encodeURIComponent(user)}`;
const CONN_LOOPS = 4;
/** Frames written per turn of the event loop, while the socket's buffer stays under 64 KiB. */
const PER_TURN = 50;

const stats = {
  joins: { sent: 0, joined: 0, too_many_rooms: 0, rate_limited: 0, other: 0 },
  sends: { sent: 0, acked: 0, rate_limited: 0, other: 0 },
  closes: {} as Record<string, number>,
  upgrades: {} as Record<string, { accepted: number; refused429: number; other: number }>,
  otherErrors: {} as Record<string, number>,
  open: 0,
  maxOpen: 0,
};
let running = true;
const sockets = new Set<WebSocket>();

function onFrame(f: Frame): void {
  if (f.type === 'joined') stats.joins.joined += f['room'] === room ? 0 : 1;
  else if (f.type === 'ack') stats.sends.acked++;
  else if (f.type === 'error') {
    const code = String(f['code']);
    const isJoin = typeof f['cid'] === 'string' && (f['cid'] as string).startsWith('j');
    const bucket = isJoin ? stats.joins : stats.sends;
    if (code === 'rate_limited' || code === 'too_many_rooms') (bucket as Record<string, number>)[code] = ((bucket as Record<string, number>)[code] ?? 0) + 1;
    else {
      bucket.other++;
      stats.otherErrors[code] = (stats.otherErrors[code] ?? 0) + 1;
    }
  }
}

/** One upgrade, counted under `role`; the socket when accepted, its close counted. */
async function connect(role: string): Promise<WebSocket | null> {
  const u = (stats.upgrades[role] ??= { accepted: 0, refused429: 0, other: 0 });
  const r = await open(url, onFrame);
  if (!('ws' in r)) {
    if (r.status === 429) u.refused429++;
    else u.other++;
    return null;
  }
  u.accepted++;
  const ws = r.ws;
  sockets.add(ws);
  stats.maxOpen = Math.max(stats.maxOpen, ++stats.open);
  ws.on('close', (code) => {
    stats.open--;
    sockets.delete(ws);
    if (running) stats.closes[code] = (stats.closes[code] ?? 0) + 1; // ours at stop are not counted
  });
  return ws;
}

/** Writes frames from `next` as fast as the socket takes them, until it closes or we stop. */
async function pump(ws: WebSocket, next: () => object): Promise<void> {
  while (running && ws.readyState === WebSocket.OPEN) {
    for (let i = 0; i < PER_TURN && ws.bufferedAmount < 64 * 1024 && ws.readyState === WebSocket.OPEN; i++) ws.send(JSON.stringify(next()));
    await tick();
  }
  while (running && ws.readyState !== WebSocket.CLOSED) await tick();
}

let sockNo = 0;
async function joinFlood(): Promise<void> {
  while (running) {
    const ws = await connect('join flood');
    if (!ws) {
      await tick();
      continue;
    }
    const s = sockNo++;
    let n = 0;
    await pump(ws, () => {
      const r = n % 4 === 3 ? `ab${s}-0` : `ab${s}-${n}`; // every fourth a repeat of the first room
      stats.joins.sent++;
      return { type: 'join', room: r, cid: `j${s}-${n++}` };
    });
  }
}

async function sendFlood(): Promise<void> {
  while (running) {
    const ws = await connect('send flood');
    if (!ws) {
      await tick();
      continue;
    }
    const joined = new Promise<void>((done) => {
      ws.on('message', (d) => d.toString().includes('"joined"') && done());
      ws.on('close', () => done());
    });
    ws.send(JSON.stringify({ type: 'join', room, cid: 'x-join' }));
    await joined;
    const s = sockNo++;
    let n = 0;
    await pump(ws, () => {
      stats.sends.sent++;
      return { type: 'send', room, text: `spam ${s}-${n}`, cid: `s${s}-${n++}` };
    });
  }
}

async function connFlood(): Promise<void> {
  while (running) if (!(await connect('connection flood'))) await tick();
}

let loops: Promise<void>[] = [];
process.on('message', async (m) => {
  if (m === 'go') {
    loops = [on.has('join') ? joinFlood() : null, on.has('send') ? sendFlood() : null, ...(on.has('conn') ? Array.from({ length: CONN_LOOPS }, connFlood) : [])].filter((l) => l !== null);
  }
  if (m !== 'stop') return;
  running = false;
  await Promise.all(loops);
  for (const ws of sockets) ws.terminate();
  process.send?.(stats, () => process.exit(0));
});
process.send?.('ready');

/**
 * JSON against MessagePack: bytes on the wire and server CPU per delivery, in one room.
 *
 *   npx tsx bench/msgpack/bench.ts [--clients 50] [--messages 2000] [--repeats 7] [--text 80] [--runtime node|deno] [--write]
 *
 * Starts one embedded instance (memory stores, dev auth, a free port) and, for each encoding in
 * turn (JSON, MessagePack, JSON, …: `--repeats` rounds after one warm-up round of each), connects
 * `--clients` sockets of that encoding to a fresh room. One of them posts `--messages` messages of
 * `--text` characters, one at a time (each after the previous one's ack), as a chat room sees them;
 * every socket, the sender's included, gets every message. The round ends when the last socket has
 * the last message. Per round:
 *
 *   - bytes per delivery: the TCP bytes the sockets read during the round (WebSocket frame headers
 *     included, batches as they came), over clients × messages;
 *   - server CPU per 1,000 deliveries: utime + stime of the server process (/proc/<pid>/stat) over
 *     the round, which includes the sender's frames, the appends and the acks.
 *
 * It also times, in this process, encoding one message frame (what the server does once per frame
 * and encoding, whatever the number of receivers) and decoding it (what every receiver does).
 *
 * Prints the medians (and the spread) per encoding; `--write` also writes them into RESULTS.md
 * beside this file, with the date and the command.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join, resolve } from 'node:path';
import { decode, encode } from '@msgpack/msgpack';
import WebSocket from 'ws';

type Encoding = 'json' | 'msgpack';
const ROOT = resolve(import.meta.dirname, '..', '..');
const args = process.argv.slice(2);
const opt = (name: string, def: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? (args[i + 1] as string) : def;
};
const clients = Number(opt('clients', '50'));
const messages = Number(opt('messages', '2000'));
const repeats = Number(opt('repeats', '7'));
const textChars = Number(opt('text', '80'));
const runtime = opt('runtime', 'node') as 'node' | 'deno';
const log = (s: string) => console.error(`[${new Date().toISOString().slice(11, 19)}] ${s}`);
const TICKS_PER_S = 100; // USER_HZ of /proc/<pid>/stat on Linux

/** CPU seconds (user + system) the process has used so far. */
function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
  return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_S; // utime, stime (fields 14 and 15)
}

function freePort(): Promise<number> {
  return new Promise((ok, fail) => {
    const srv = createServer().listen(0, '127.0.0.1', () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => ok(port));
    });
    srv.on('error', fail);
  });
}

async function startServer(port: number): Promise<ChildProcess> {
  const [cmd, argv] =
    runtime === 'node'
      ? [process.execPath, ['--import', 'tsx', 'src/main.node.ts']]
      : [join(ROOT, 'node_modules', '.bin', 'deno'), ['run', '--allow-net', '--allow-env', '--allow-read', '--allow-sys', 'src/main.deno.ts']];
  const env = { ...process.env, PORT: String(port), HOST: '127.0.0.1', LOG_LEVEL: 'warn', SEND_RATE: '100000', SEND_BURST: '100000', DRAIN_GRACE_MS: '0' };
  const child = spawn(cmd, argv, { cwd: ROOT, env, stdio: ['ignore', 'ignore', 'inherit'] });
  for (let i = 0; i < 300; i++) {
    if ((await fetch(`http://127.0.0.1:${port}/health`).catch(() => null))?.ok) return child;
    await new Promise((r) => setTimeout(r, 100));
  }
  child.kill('SIGKILL');
  throw new Error('the server did not start');
}

type Sock = { ws: WebSocket; got: number; onAck?: (cid: string | undefined) => void };

/**
 * How a message frame starts in each encoding. Receivers count these in the bytes rather than
 * decode every frame, so that the load generator costs the same in both encodings and disturbs the
 * server's CPU alike (the sender decodes its frames, for the acks).
 */
const MARKER: Record<Encoding, Buffer> = {
  json: Buffer.from('{"type":"message",'),
  msgpack: Buffer.from(encode({ type: 'message' }).subarray(1)), // without the map's size
};
function count(data: Buffer, marker: Buffer): number {
  let n = 0;
  for (let at = data.indexOf(marker); at >= 0; at = data.indexOf(marker, at + marker.length)) n++;
  return n;
}

/** A socket of `encoding`, open and joined to `room`; counts the messages it gets. */
async function member(port: number, encoding: Encoding, room: string, user: string): Promise<Sock> {
  const url = `ws://127.0.0.1:${port}/ws?user=${user}`;
  const ws = encoding === 'json' ? new WebSocket(url) : new WebSocket(url, ['parley.v1.msgpack']);
  const s: Sock = { ws, got: 0 };
  let joined!: () => void;
  const ready = new Promise<void>((r) => (joined = r));
  const handle = (f: { type?: string; events?: unknown[]; cid?: string }): void => {
    if (f.type === 'batch') for (const e of f.events ?? []) handle(e as typeof f);
    else if (f.type === 'joined') joined();
    else if (f.type === 'ack') s.onAck?.(f.cid);
  };
  ws.on('message', (data: Buffer, binary) => {
    s.got += count(data, MARKER[encoding]);
    if (s.onAck || s.got === 0) handle((binary ? decode(data) : JSON.parse(data.toString())) as Parameters<typeof handle>[0]);
  });
  await new Promise((ok, fail) => ws.once('open', ok).once('error', fail));
  const frame = { type: 'join', room };
  ws.send(encoding === 'json' ? JSON.stringify(frame) : encode(frame));
  await ready;
  return s;
}

const bytesRead = (socks: Sock[]) => socks.reduce((sum, s) => sum + ((s.ws as unknown as { _socket: { bytesRead: number } })._socket.bytesRead ?? 0), 0);

/** One round: returns bytes per delivery and server CPU ms per 1,000 deliveries. */
async function round(port: number, pid: number, encoding: Encoding, n: number): Promise<{ bytes: number; cpuMs: number; wallMs: number }> {
  const room = `bench-${encoding}-${n}-${Date.now().toString(36)}`;
  const socks: Sock[] = [];
  for (let i = 0; i < clients; i++) socks.push(await member(port, encoding, room, `u${n}x${i}`));
  const sender = socks[0] as Sock;
  const text = 'x'.repeat(textChars);
  await new Promise((r) => setTimeout(r, 200)); // presence announcements of the joins go out first
  const bytes0 = bytesRead(socks);
  const cpu0 = cpuSeconds(pid);
  const t0 = performance.now();
  for (let i = 1; i <= messages; i++) {
    const acked = new Promise<void>((r) => (sender.onAck = (cid) => cid === `m${i}` && r()));
    const frame = { type: 'send', room, text, cid: `m${i}` };
    sender.ws.send(encoding === 'json' ? JSON.stringify(frame) : encode(frame));
    await acked;
  }
  while (socks.some((s) => s.got < messages)) await new Promise((r) => setTimeout(r, 1));
  const wallMs = performance.now() - t0;
  const cpu = cpuSeconds(pid) - cpu0;
  const deliveries = clients * messages;
  const result = { bytes: (bytesRead(socks) - bytes0) / deliveries, cpuMs: (cpu * 1000 * 1000) / deliveries, wallMs };
  for (const s of socks) s.ws.close();
  await new Promise((r) => setTimeout(r, 300)); // the closes are handled outside the next round
  return result;
}

/** µs per call of `fn` (median of 5 runs of `n` calls, after a warm-up run). */
function perCall(fn: () => unknown, n = 100_000): number {
  const runs: number[] = [];
  for (let r = 0; r < 6; r++) {
    const t0 = performance.now();
    for (let i = 0; i < n; i++) fn();
    if (r > 0) runs.push(((performance.now() - t0) * 1000) / n);
  }
  return median(runs);
}

/** One message frame encoded and decoded in each encoding, in this process: µs per call. */
function codecCosts(): Record<Encoding, { encode: number; decode: number; bytes: number }> {
  const frame = { type: 'message', room: 'bench-room', epoch: 'm3x1k2a9', seq: 123_456, from: 'u1x17', text: 'x'.repeat(textChars), ts: Date.now(), cid: 'm123456' };
  const text = JSON.stringify(frame);
  const bytes = encode(frame);
  return {
    json: { encode: perCall(() => JSON.stringify(frame)), decode: perCall(() => JSON.parse(text)), bytes: Buffer.byteLength(text) },
    msgpack: { encode: perCall(() => encode(frame, { ignoreUndefined: true })), decode: perCall(() => decode(bytes)), bytes: bytes.byteLength },
  };
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
};

async function main(): Promise<void> {
  const port = await freePort();
  const server = await startServer(port);
  const results: Record<Encoding, { bytes: number; cpuMs: number; wallMs: number }[]> = { json: [], msgpack: [] };
  try {
    for (const enc of ['json', 'msgpack'] as const) await round(port, server.pid as number, enc, 0); // warm-up
    for (let n = 1; n <= repeats; n++) {
      for (const enc of ['json', 'msgpack'] as const) {
        const r = await round(port, server.pid as number, enc, n);
        results[enc].push(r);
        log(`${enc} round ${n}: ${r.bytes.toFixed(1)} B/delivery, ${r.cpuMs.toFixed(2)} CPU ms per 1,000 deliveries, ${Math.round(r.wallMs)} ms`);
      }
    }
  } finally {
    server.kill('SIGTERM');
  }
  const row = (enc: Encoding) => {
    const rs = results[enc];
    const cpu = rs.map((r) => r.cpuMs);
    return { bytes: median(rs.map((r) => r.bytes)), cpu: median(cpu), cpuMin: Math.min(...cpu), cpuMax: Math.max(...cpu), wall: median(rs.map((r) => r.wallMs)) };
  };
  const [j, m] = [row('json'), row('msgpack')];
  const codec = codecCosts();
  const table = [
    '| encoding | bytes per delivery | server CPU ms per 1,000 deliveries (median; min–max) | round (median) |',
    '|---|---|---|---|',
    `| JSON (text frames) | ${j.bytes.toFixed(1)} | ${j.cpu.toFixed(2)} (${j.cpuMin.toFixed(2)}–${j.cpuMax.toFixed(2)}) | ${Math.round(j.wall)} ms |`,
    `| MessagePack (\`parley.v1.msgpack\`) | ${m.bytes.toFixed(1)} | ${m.cpu.toFixed(2)} (${m.cpuMin.toFixed(2)}–${m.cpuMax.toFixed(2)}) | ${Math.round(m.wall)} ms |`,
    `| MessagePack / JSON | ${(m.bytes / j.bytes).toFixed(2)} | ${(m.cpu / j.cpu).toFixed(2)} | |`,
    '',
    `One message frame (${textChars} characters of text) in the bench's own process (Node ${process.version}), µs per call (median of 5 × 100,000):`,
    '',
    '| encoding | frame bytes | encode (server: once per frame and encoding) | decode (every receiver) |',
    '|---|---|---|---|',
    ...(['json', 'msgpack'] as const).map((e) => `| ${e === 'json' ? 'JSON' : 'MessagePack'} | ${codec[e].bytes} | ${codec[e].encode.toFixed(2)} | ${codec[e].decode.toFixed(2)} |`),
  ].join('\n');
  console.log(table);
  if (args.includes('--write')) {
    const command = `npx tsx bench/msgpack/bench.ts ${args.filter((a) => a !== '--write').join(' ')}`.trim();
    const block = `## ${new Date().toISOString().slice(0, 10)}, ${runtime === 'node' ? `Node ${process.version}` : 'Deno'}\n\n\`${command}\`: ${clients} sockets in one room, ${messages} messages of ${textChars} characters, ${repeats} rounds per encoding after a warm-up round.\n\n${table}\n`;
    const path = join(import.meta.dirname, 'RESULTS.md');
    const old = (() => {
      try {
        return readFileSync(path, 'utf8');
      } catch {
        return '';
      }
    })();
    const [head, ...rest] = old.split(/\n(?=## )/);
    writeFileSync(path, [head?.trimEnd() || HEADER, block.trimEnd(), ...rest.map((r) => r.trimEnd())].join('\n\n') + '\n');
    log(`wrote ${path}`);
  }
}

const HEADER = `# JSON against MessagePack: measured costs

What a delivery costs in each encoding, measured by \`bench/msgpack/bench.ts\` (see its header for
the method). Newest run first; each section names its command.`;

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});

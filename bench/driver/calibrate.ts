/**
 * The load generator's own ceiling, for the lean driver or k6: the bare server of
 * bench/k6/ceiling-server.ts sends chat-shaped frames (one per delivery, no chat logic, no Redis, no
 * balancer) to `conns` sockets held by the load generator, which measures the latency from the send
 * time in the text. This prints what it received per second, its latency, and the CPU the load
 * generator and the bare server took while frames were counted (from /proc, % of one core).
 *
 *   npx tsx bench/driver/calibrate.ts --driver lean --rate 100 --fan 100      # 10,000 frames/s
 *   npx tsx bench/driver/calibrate.ts --driver k6 --rate 300 --fan 100        # 30,000 frames/s
 *   options: --conns 10000 --dur 25 --port 24900
 */
import { spawn } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { buildK6 } from '../k6/build.ts';
import { buildDriver } from './build.ts';

const ROOT = resolve(import.meta.dirname, '..', '..');
const arg = (name: string, def: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? (process.argv[i + 1] as string) : def;
};
const driver = arg('driver', 'lean');
const rate = Number(arg('rate', '100'));
const fan = Number(arg('fan', '100'));
const conns = Number(arg('conns', '10000'));
const dur = Number(arg('dur', '25'));
const port = arg('port', '24900');
const WARM_S = 8; // both clients count frames only after the first 8 s

const ticks = (pid: number) => {
  const st = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = st.slice(st.lastIndexOf(')') + 2).split(' ');
  return Number(f[11]) + Number(f[12]);
};
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const server = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'bench/k6/ceiling-server.ts'), '--rate', String(rate), '--fan', String(fan), '--wait', String(conns), '--port', port], { cwd: ROOT, stdio: ['ignore', 'ignore', 'inherit'] });
await sleep(2000);
const summary = join(tmpdir(), `ceiling-k6-${process.pid}.json`);
const url = `ws://127.0.0.1:${port}/`;
const bin = driver === 'k6' ? await buildK6() : await buildDriver();
const args = driver === 'k6'
  ? ['run', '--quiet', '--no-usage-report', '--summary-export', summary, '-e', 'VUS=8', '-e', `PER=${Math.ceil(conns / 8)}`, '-e', `DUR=${dur}`, '-e', `URL=${url}`, join(ROOT, 'bench/k6/ceiling.js')]
  : ['ceiling', '-url', url, '-conns', String(conns), '-dur', String(dur)];
let out = '';
const client = spawn(bin, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
client.stdout.on('data', (b: Buffer) => (out += b.toString()));
const done = new Promise((r) => client.on('exit', r));

await sleep((WARM_S + 1) * 1000);
const t0 = Date.now();
const [c0, s0] = [ticks(client.pid as number), ticks(server.pid as number)];
await sleep((dur - WARM_S - 2) * 1000);
const secs = (Date.now() - t0) / 1000;
const [c1, s1] = [ticks(client.pid as number), ticks(server.pid as number)];
await done;
server.kill();

const pct = (a: number, b: number) => (((b - a) / 100 / secs) * 100).toFixed(1);
console.log(`${driver}: ${conns} sockets, ${rate * fan} frames/s offered`);
if (driver === 'k6') {
  const m = (JSON.parse(readFileSync(summary, 'utf8')) as { metrics: Record<string, Record<string, number>> }).metrics;
  rmSync(summary, { force: true });
  const lat = m['ceiling_latency'] ?? {};
  console.log(`received ${((m['ceiling_received']?.['count'] ?? 0) / (dur - WARM_S)).toFixed(0)} frames/s; latency ms: p50 ${lat['med']}  p90 ${lat['p(90)']}  p99 ${lat['p(99)']}  max ${lat['max']}`);
} else {
  process.stdout.write(out);
}
console.log(`CPU while counting (${secs.toFixed(0)} s): ${driver} ${pct(c0, c1)} %, bare server ${pct(s0, s1)} % (of one core)`);

/**
 * The load generator's own ceiling: a bare `ws` server that sends chat-shaped `message` frames (the
 * send time in the text, as the scenarios write it) to its sockets at a fixed rate, one frame per
 * delivery, with no chat logic, no Redis and no balancer. bench/k6/ceiling.js receives them, or the lean
 * driver (`parley-driver ceiling`); bench/driver/calibrate.ts runs either against it and samples both CPUs.
 *
 *   npx tsx bench/k6/ceiling-server.ts --rate 300 --fan 100 --wait 10000 [--port 24900]
 *   .data/bin/k6 run -e VUS=8 -e PER=1250 -e DUR=25 bench/k6/ceiling.js
 *
 * Sends `rate` messages/s, each to `fan` sockets round-robin (deliveries/s = rate × fan), once `wait`
 * sockets are connected.
 */
import { type WebSocket, WebSocketServer } from 'ws';

const arg = (name: string, def: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : def;
};
const port = arg('port', 24900);
const rate = arg('rate', 100);
const fan = arg('fan', 100);
const wait = arg('wait', 1);

const socks: WebSocket[] = [];
const wss = new WebSocketServer({ port, host: '127.0.0.1' });
wss.on('connection', (ws) => {
  socks.push(ws);
  ws.on('close', () => socks.splice(socks.indexOf(ws), 1));
});

let owed = 0;
let last = Date.now();
let rr = 0;
let seq = 0;
setInterval(() => {
  const now = Date.now();
  owed += (rate * (now - last)) / 1000;
  last = now;
  if (socks.length < wait) return;
  for (; owed >= 1; owed--) {
    const frame = `{"type":"message","room":"r","epoch":"e","seq":${++seq},"from":"u","text":"${now} u ${'x'.repeat(40)}","ts":${now}}`;
    for (let k = 0; k < fan; k++) socks[rr++ % socks.length]?.send(frame);
  }
}, 2);
console.log(`ceiling server on ${port}: ${rate} msg/s × ${fan} sockets = ${rate * fan} deliveries/s once ${wait} are connected`);

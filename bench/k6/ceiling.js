// The load generator's own ceiling (see ceiling-server.ts): VUS × PER sockets receive chat-shaped frames
// from a bare server; the latency from the send time in the text to the receipt is what k6 adds by
// itself at that rate, counted after the first 8 s (connections settled).
//
//   .data/bin/k6 run -e VUS=8 -e PER=1250 -e DUR=25 [-e URL=ws://127.0.0.1:24900/] bench/k6/ceiling.js
import { WebSocket } from 'k6/websockets';
import { setTimeout } from 'k6/timers';
import { Counter, Trend } from 'k6/metrics';

const latency = new Trend('ceiling_latency', true);
const received = new Counter('ceiling_received');
const PER = Number(__ENV.PER || 1250);
const DUR = Number(__ENV.DUR || 25);
const URL = __ENV.URL || 'ws://127.0.0.1:24900/';

export const options = {
  scenarios: { ceiling: { executor: 'per-vu-iterations', vus: Number(__ENV.VUS || 8), iterations: 1, maxDuration: '5m' } },
  summaryTrendStats: ['med', 'p(90)', 'p(99)', 'max'],
};

export default function () {
  const t0 = Date.now();
  const socks = [];
  for (let i = 0; i < PER; i++) {
    const ws = new WebSocket(URL);
    ws.onmessage = (e) => {
      const now = Date.now();
      if (now - t0 < 8000) return;
      const f = JSON.parse(e.data);
      latency.add(now - Number(f.text.slice(0, f.text.indexOf(' '))));
      received.add(1);
    };
    socks.push(ws);
  }
  setTimeout(() => {
    for (const s of socks) s.close();
  }, DUR * 1000);
}

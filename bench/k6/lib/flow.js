// The chat flow every scenario shares: open this VU's sockets over the ramp, join one room each, send
// at the step's rate round-robin over the joined sockets, heartbeat, account every delivery, and print
// one result line at the end. Scenarios add behaviour through hooks (history: users going away and
// catching up over REST; storm: reconnecting after an instance dies).
//
// Accounting: a message's step is decided by its send time (written into the text), so every k6
// process and VU attributes it the same way. bench/run.ts sums acks × room size into the expected
// deliveries of a step and compares them with what the members counted.
import { setInterval, clearInterval, setTimeout } from 'k6/timers';
import { Counter, Trend } from 'k6/metrics';
import exec from 'k6/execution';
import * as parley from './parley.js';
import * as socketio from './socketio.js';
import { histAdd, int, num, parseSteps, report, runId, stepAt, totalSeconds } from './common.js';

export const P = __ENV.PROTO === 'socketio' ? socketio : parley;
export const BASE = __ENV.BASE || 'http://127.0.0.1:8000';
const USERS = int(__ENV.USERS, 100);
const TOTAL = int(__ENV.TOTAL_USERS, USERS);
const OFFSET = int(__ENV.USER_OFFSET, 0);
const ROOM_SIZE = int(__ENV.ROOM_SIZE, 10);
export const ROOMS = Math.max(1, Math.floor(TOTAL / ROOM_SIZE));
const VUS = Math.max(1, Math.min(int(__ENV.VUS, 1), USERS));
const RAMP_S = num(__ENV.RAMP_S, 10);
export const STEPS = parseSteps(__ENV.STEPS || '10:20');
const DRAIN_S = num(__ENV.DRAIN_S, 3);
const HEARTBEAT_S = num(__ENV.HEARTBEAT_S, 30);
const TEXT_BYTES = int(__ENV.TEXT_BYTES, 64);
const SAMPLE_EVERY = Math.max(1, int(__ENV.SAMPLE_EVERY, 1));
const P99_MS = num(__ENV.P99_MS, 20);
const RUN = __ENV.RUN || runId();
const START_AT = int(__ENV.START_AT, 0);
const SEND_S = totalSeconds(STEPS);

const deliveryLatency = new Trend('delivery_latency', true);
const connectTime = new Trend('connect_time', true);
const connectFailed = new Counter('ws_connect_failed');
const closedEarly = new Counter('ws_closed_early');
const sent = new Counter('messages_sent');
const delivered = new Counter('messages_delivered');
const gaps = new Counter('messages_gap');
const duplicated = new Counter('messages_duplicated');
const serverErrors = new Counter('server_errors');

/** k6 options: one iteration per VU, thresholds (`extra` replaces or adds entries). */
export function flowOptions(extra = {}) {
  return {
    scenarios: {
      flow: {
        executor: 'per-vu-iterations',
        vus: VUS,
        iterations: 1,
        maxDuration: `${Math.ceil(RAMP_S + SEND_S + DRAIN_S + 180)}s`,
        gracefulStop: '10s',
      },
    },
    thresholds: {
      ws_connect_failed: ['count==0'],
      ws_closed_early: ['count==0'],
      messages_gap: ['count==0'],
      messages_duplicated: ['count==0'],
      server_errors: ['count==0'],
      delivery_latency: [`p(99)<${P99_MS}`],
      ...extra,
    },
    summaryTrendStats: ['avg', 'med', 'p(90)', 'p(99)', 'max', 'count'],
  };
}

const pad = 'x'.repeat(Math.max(0, TEXT_BYTES));

/**
 * Runs this VU's share of the flow. Hooks (all optional):
 *   onClosed(c, code)  a socket closed that the flow did not close (return true when handled)
 *   onTick(now, ctx)   every 5 ms tick
 *   extra              an object merged into the result line (numbers are summed, objects are histograms)
 * Returns the context: { clients, ready, res, steps, startAt, connect(c), account(c, seq, text, live) }.
 */
export function runFlow(hooks = {}) {
  const vu = exec.vu.idInTest;
  const mine = [];
  for (let i = vu - 1; i < USERS; i += VUS) mine.push(OFFSET + i);
  const t0 = Date.now();
  // Every process starts sending at the same moment: START_AT when given, else after this ramp.
  const startAt = START_AT || t0 + RAMP_S * 1000 + 3000;
  const endAt = startAt + SEND_S * 1000;

  const steps = STEPS.map(() => ({ sent: 0, acked: 0, delivered: 0, dup: 0, reordered: 0, hist: {}, ackHist: {}, inHist: {}, outHist: {} }));
  const extra = hooks.extra || {};
  const res = { proto: P.name, vu, proc: __ENV.PROC || '0', wanted: mine.length, opened: 0, failed: 0, closedEarly: 0, gaps: 0, closeCodes: {}, errors: {}, serverErrors: {}, hbSent: 0, hbOk: 0, connectHist: {}, steps, extra };
  const clients = [];
  const ready = [];
  /** room → acked messages per step, of this VU's senders. */
  const acks = {};
  let closing = false;
  let deliveries = 0;

  const ctx = { clients, ready, res, steps, startAt, endAt, closing: () => closing };

  /**
   * Counts one message a member got (live, recovered on join, or over REST); its latency when `receivedAt` is
   * given, split at the server's stamp `ts` (when the server took the message) when that is given too.
   */
  ctx.account = (c, seq, text, receivedAt, ts) => {
    const at = Number(text.slice(0, text.indexOf(' ')));
    const st = steps[stepAt(STEPS, startAt, at)];
    if (seq <= c.last) {
      // Behind the newest seen: a hole filled late (reordered) or a duplicate.
      const i = c.holes ? c.holes.indexOf(seq) : -1;
      if (i < 0) {
        if (st) st.dup++;
        return;
      }
      c.holes.splice(i, 1);
      if (st) st.reordered++;
    } else {
      if (seq > c.last + 1 && c.last >= 0) {
        if (!c.holes) c.holes = [];
        for (let s = c.last + 1; s < seq && c.holes.length < 10000; s++) c.holes.push(s);
      }
      c.last = seq;
    }
    if (!st) return;
    st.delivered++;
    if (!receivedAt) return;
    histAdd(st.hist, receivedAt - at);
    if (ts > 0) {
      histAdd(st.inHist, Math.max(0, ts - at));
      histAdd(st.outHist, Math.max(0, receivedAt - ts));
    }
    if (++deliveries % SAMPLE_EVERY === 0) deliveryLatency.add(receivedAt - at);
  };

  /** Goes live after a hold (see `connect`): counts what arrived meanwhile, in order. */
  ctx.release = (c) => {
    const b = c.buffer || [];
    c.buffer = null;
    for (let i = 0; i < b.length; i += 3) ctx.account(c, b[i], b[i + 1], b[i + 2]);
    c.live = true;
  };

  /**
   * Opens (or re-opens) a client's socket and joins its room (with `since` when `c.resume`). `onJoined`,
   * when given, handles the answer; returning true holds the socket: live messages are buffered until
   * `ctx.release(c)`.
   */
  ctx.connect = (c, onJoined) => {
    const began = Date.now();
    c.live = false;
    c.api = P.openClient(BASE, c.user, {
      onUpgraded() {
        c.upgraded = true;
      },
      onOpen() {
        c.opened = true;
        if (!c.everOpened) {
          c.everOpened = true;
          res.opened++;
          const ms = Date.now() - began;
          histAdd(res.connectHist, ms);
          connectTime.add(ms);
        }
        c.api.join(c.room, c.resume && c.epoch !== undefined && c.last >= 0 ? { epoch: c.epoch, seq: c.last } : undefined);
      },
      onJoined(_room, seq, messages, recovered, epoch) {
        if (c.live) return;
        let hold = false;
        if (onJoined) hold = onJoined(c, seq, messages, recovered, epoch) === true;
        else if (c.last < 0) c.last = seq;
        c.epoch = epoch;
        if (hold) c.buffer = [];
        else c.live = true;
        if (!c.inReady) {
          c.inReady = true;
          ready.push(c);
        }
      },
      onMessage(_room, seq, _from, text, ts) {
        if (c.live) ctx.account(c, seq, text, Date.now(), ts);
        else if (c.buffer) c.buffer.push(seq, text, Date.now());
      },
      onAck(cid) {
        if (c.unacked) c.unacked.delete(cid);
        const at = Number(cid.slice(1, cid.indexOf('-')));
        const s = stepAt(STEPS, startAt, at);
        const st = steps[s];
        if (!st) return;
        st.acked++;
        histAdd(st.ackHist, Date.now() - at);
        const r = acks[c.room] || (acks[c.room] = STEPS.map(() => 0));
        r[s]++;
      },
      onHeartbeat() {
        res.hbOk++;
      },
      onServerError(code) {
        res.serverErrors[code] = (res.serverErrors[code] || 0) + 1;
      },
      onClose(code) {
        const was = c.opened;
        c.opened = false;
        c.live = false;
        c.buffer = null;
        if (closing || c.leaving) return;
        res.closeCodes[code] = (res.closeCodes[code] || 0) + 1;
        if (hooks.onClosed && hooks.onClosed(c, code, was)) return;
        if (was) res.closedEarly++;
        else if (!c.everOpened) {
          res.failed++;
          c.gaveUp = true;
        }
      },
      onError(err) {
        // A failed upgrade, a timeout or a reset: counted by its message (onClose, when it follows, counts the socket).
        const k = String(err && err.message ? err.message : err).replace(/[0-9.:]+/g, '#').slice(0, 100);
        res.errors[k] = (res.errors[k] || 0) + 1;
      },
    });
  };

  const open = (g) => {
    const c = { g, user: `u${RUN}-${g}`, room: `r${RUN}-${g % ROOMS}`, last: -1, opened: false, live: false, n: 0, api: null };
    clients.push(c);
    ctx.connect(c);
  };

  // Open the sockets evenly over the ramp.
  const gap = (RAMP_S * 1000) / mine.length;
  let k = 0;
  const opener = setInterval(() => {
    const due = Math.min(mine.length, Math.floor((Date.now() - t0) / gap) + 1);
    while (k < due) open(mine[k++]);
    if (k >= mine.length) clearInterval(opener);
  }, 10);

  // Sending: this VU's share of the step's rate, round-robin over its joined sockets.
  let owed = 0;
  let rr = 0;
  let last = Date.now();
  let hbOwed = 0;
  let hbRr = 0;
  const ticker = setInterval(() => {
    const now = Date.now();
    const dt = now - last;
    last = now;
    if (hooks.onTick) hooks.onTick(now, ctx);
    // Heartbeats: each socket every HEARTBEAT_S, spread evenly.
    hbOwed += (ready.length * dt) / (HEARTBEAT_S * 1000);
    while (hbOwed >= 1 && ready.length > 0) {
      hbOwed--;
      const c = ready[hbRr++ % ready.length];
      if (c.live && c.api.raw.readyState === 1) {
        c.api.heartbeat(++c.n);
        res.hbSent++;
      }
    }
    const s = stepAt(STEPS, startAt, now);
    if (s < 0 || s >= STEPS.length || ready.length === 0) return;
    const st = steps[s];
    owed += (STEPS[s].rate / VUS) * (dt / 1000);
    let tries = 0;
    while (owed >= 1 && tries++ < ready.length * 2) {
      const c = ready[rr++ % ready.length];
      if (!c.live || c.api.raw.readyState !== 1) continue; // away, closing or reconnecting: the next one sends
      owed--;
      const text = `${now} ${c.user} ${pad}`.slice(0, Math.max(TEXT_BYTES, 24));
      const cid = `c${now}-${++c.n}`;
      // Kept until acked: a client that reconnects sends its unacked messages again, with the same cid.
      if (!c.unacked) c.unacked = new Map();
      c.unacked.set(cid, text);
      c.api.send(c.room, text, cid);
      st.sent++;
    }
  }, 5);

  // After the last step and the drain: close everything and report.
  setTimeout(() => {
    closing = true;
    clearInterval(ticker);
    clearInterval(opener);
    if (hooks.onEnd) hooks.onEnd(ctx);
    for (const c of clients) if (c.api) c.api.close();
    res.failed += Math.max(0, mine.length - res.opened - res.failed);
    // Sockets still waiting at the end, without a close or an error: on which side of the handshake.
    const waiting = clients.filter((c) => !c.everOpened && !c.gaveUp);
    extra.waitingAfterUpgrade = waiting.filter((c) => c.upgraded).length;
    extra.waitingForUpgrade = waiting.filter((c) => !c.upgraded).length;
    connectFailed.add(res.failed);
    closedEarly.add(res.closedEarly);
    sent.add(steps.reduce((a, s) => a + s.sent, 0));
    delivered.add(steps.reduce((a, s) => a + s.delivered, 0));
    res.gaps = clients.reduce((a, c) => a + (c.holes ? c.holes.length : 0), 0);
    gaps.add(res.gaps);
    duplicated.add(steps.reduce((a, s) => a + s.dup, 0));
    serverErrors.add(Object.values(res.serverErrors).reduce((a, n) => a + n, 0));
    // Per room: its members here that joined (they should get every message of the room) and the acks
    // of its messages sent from here; bench/run.ts sums both over every VU into the expected deliveries.
    res.rooms = {};
    for (const c of clients) {
      if (!c.inReady) continue;
      const r = res.rooms[c.room] || (res.rooms[c.room] = { members: 0, acked: STEPS.map(() => 0) });
      r.members++;
    }
    for (const room of Object.keys(acks)) {
      const r = res.rooms[room] || (res.rooms[room] = { members: 0, acked: STEPS.map(() => 0) });
      r.acked = acks[room];
    }
    report(res);
  }, Math.max(0, endAt + DRAIN_S * 1000 - Date.now()));

  return ctx;
}

// Mass reconnect after an instance dies. The chat flow of chat.js runs; bench/run.ts kills one chat
// instance with SIGKILL while messages flow (KILL after the start, see bench/sizes.ts). Every socket it
// held closes; each client reconnects through the balancer with the protocol's backoff,
// min(30 s, 500 ms · 2^attempt) + random(0..1 s), and joins its room again from where it left off
// (parley: `join` with `since`, the missed messages come in `joined`), then sends again what was never
// acked, with the same cid. Measured: the time from the close to being joined again, reconnect attempts
// that failed, messages not recovered, and resends.
//
//   npm run bench -- storm 10k
import { setTimeout } from 'k6/timers';
import { Counter } from 'k6/metrics';
import { flowOptions, runFlow } from './lib/flow.js';
import { histAdd } from './lib/common.js';

const unrecovered = new Counter('storm_unrecovered');
const notBack = new Counter('storm_not_back');

export const options = flowOptions({ ws_closed_early: [], storm_unrecovered: ['count==0'], storm_not_back: ['count==0'] });

export default function () {
  const x = { dropped: 0, back: 0, attemptsFailed: 0, unrecovered: 0, recovered: 0, resent: 0, reconnectMs: {} };
  const down = new Map(); // client → { since, attempt }

  const rejoin = (ctx, c) => {
    ctx.connect(c, (cl, head, messages, recovered) => {
      const d = down.get(cl);
      down.delete(cl);
      if (recovered && messages) {
        const now = Date.now();
        for (const m of messages) ctx.account(cl, m.seq, m.text, now);
        x.recovered += messages.length;
      }
      if (cl.last < head) {
        // Not resumable (the peer has no resume; parley: outside the hot window or a new epoch).
        x.unrecovered += head - cl.last;
        unrecovered.add(head - cl.last);
        cl.last = head;
      }
      x.back++;
      if (d) histAdd(x.reconnectMs, Date.now() - d.since);
      // Messages whose ack the dead connection never brought: sent again with the same cid. parley
      // stores each cid once and acks the resend; the peer has no such guard and stores it twice.
      if (cl.unacked) {
        for (const [cid, text] of cl.unacked) {
          cl.api.send(cl.room, text, cid);
          x.resent++;
        }
      }
      return false;
    });
  };

  let ctxRef = null;
  const ctx = runFlow({
    extra: x,
    onClosed(c, _code, wasOpen) {
      if (ctxRef === null) return false;
      let d = down.get(c);
      if (!d) {
        if (!wasOpen && !c.everOpened) return false; // never connected: the flow counts it as failed
        d = { since: Date.now(), attempt: 0 };
        down.set(c, d);
        x.dropped++;
      } else {
        d.attempt++;
        x.attemptsFailed++;
      }
      c.resume = true;
      const wait = Math.min(30000, 500 * 2 ** d.attempt) + Math.random() * 1000;
      setTimeout(() => {
        if (!ctxRef.closing()) rejoin(ctxRef, c);
      }, wait);
      return true;
    },
    onEnd() {
      notBack.add(down.size);
      x.notBack = down.size;
    },
  });
  ctxRef = ctx;
}

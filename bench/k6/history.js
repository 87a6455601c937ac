// Reconnect, then catch up over REST. The chat flow of chat.js runs; a share of the users leave (their
// sockets close) for AWAY_S seconds in the middle of sending, while the others keep posting. Each one
// then reconnects, joins its room again (live from the room's head S on) and fetches what it missed,
// GET /v1/rooms/:room/messages?after=<last seen>, page by page, up to S. Every message must arrive
// exactly once, live or over REST; the catch-up time runs from the reconnect to the last missed message.
//
//   npm run bench -- history 5k
//
// Settings beyond chat.js's: AWAY_SHARE (share of the users that leave, default 0.2), AWAY_S (seconds
// away, default 10), AWAY_AT_S (seconds into sending when they leave, default a quarter of it),
// PAGE (REST page size, default 200).
import http from 'k6/http';
import { Counter } from 'k6/metrics';
import { BASE, ROOMS, STEPS, flowOptions, runFlow } from './lib/flow.js';
import { histAdd, num, int } from './lib/common.js';

const SHARE = num(__ENV.AWAY_SHARE, 0.2);
const AWAY_S = num(__ENV.AWAY_S, 10);
const AWAY_AT_S = num(__ENV.AWAY_AT_S, STEPS.reduce((a, s) => a + s.seconds, 0) / 4);
const PAGE = int(__ENV.PAGE, 200);
const every = Math.max(1, Math.round(1 / SHARE));

const missing = new Counter('history_missing');
const restFailed = new Counter('history_rest_failed');

export const options = flowOptions({ history_missing: ['count==0'], history_rest_failed: ['count==0'] });

async function catchUp(c, head, x) {
  let after = c.last;
  const got = [];
  while (after < head) {
    const t = Date.now();
    const res = await http.asyncRequest('GET', `${BASE}/v1/rooms/${c.room}/messages?after=${after}&limit=${PAGE}`, null, {
      headers: { 'X-User': c.user },
      tags: { name: 'history' },
    });
    x.restRequests++;
    histAdd(x.restMs, Date.now() - t);
    if (res.status !== 200) {
      x.restFailed++;
      restFailed.add(1);
      break;
    }
    const body = res.json();
    const msgs = body.messages || [];
    for (const m of msgs) if (m.seq <= head) got.push(m);
    if (msgs.length === 0) break;
    after = msgs[msgs.length - 1].seq;
    if (!body.hasMore) break;
  }
  return got;
}

export default function () {
  const x = { away: 0, back: 0, restRequests: 0, restFailed: 0, missing: 0, restMs: {}, catchupMs: {} };
  let left = false;
  let returned = false;
  runFlow({
    extra: x,
    onTick(now, ctx) {
      if (!left && now >= ctx.startAt + AWAY_AT_S * 1000) {
        left = true;
        for (const c of ctx.clients) {
          // User g is member number floor(g / ROOMS) of its room: every room loses the same share,
          // and the members that stay keep posting to it while the others are away.
          if (Math.floor(c.g / ROOMS) % every !== 0 || !c.live) continue;
          c.leaving = true;
          c.away = true;
          c.live = false;
          x.away++;
          c.api.close();
        }
      }
      if (left && !returned && now >= ctx.startAt + (AWAY_AT_S + AWAY_S) * 1000) {
        returned = true;
        for (const c of ctx.clients) {
          if (!c.away) continue;
          const began = Date.now();
          c.leaving = false;
          c.away = false;
          // Live from the room's head on; what came before it is fetched over REST.
          ctx.connect(c, (cl, head) => {
            catchUp(cl, head, x).then((msgs) => {
              for (const m of msgs) ctx.account(cl, m.seq, m.text, 0);
              if (cl.last < head) {
                x.missing += head - cl.last;
                missing.add(head - cl.last);
                cl.last = head;
              }
              x.back++;
              histAdd(x.catchupMs, Date.now() - began);
              ctx.release(cl);
            });
            return true; // live messages after the head wait until the gap is filled
          });
        }
      }
    },
  });
}

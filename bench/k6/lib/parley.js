// k6 adapter for parley's wire protocol (docs/protocol.md, /ws with JSON text frames).
// Every scenario talks to a chat backend only through `openClient`, so the same scenario drives parley
// and the Socket.IO peer (./socketio.js exports the same interface).
import { WebSocket } from 'k6/websockets';

export const name = 'parley';

/** ws://…/ws?user=<user> from the balancer's http(s) URL (dev auth mode). */
export function wsUrl(base, user) {
  return `${base.replace(/^http/, 'ws')}/ws?user=${encodeURIComponent(user)}`;
}

/**
 * Opens one user's socket. Handlers (all optional):
 *   onUpgraded() (the WebSocket handshake answered)  onOpen()  onJoined(room, seq, messages, recovered, epoch)  onMessage(room, seq, from, text, ts)  onAck(cid, seq)
 *   onHeartbeat(id)  onServerError(code, cid)  onClose(code)  onError(err)
 */
export function openClient(base, user, h) {
  const ws = new WebSocket(wsUrl(base, user));
  const handle = (f) => {
    switch (f.type) {
      case 'message':
        if (h.onMessage) h.onMessage(f.room, f.seq, f.from, f.text, f.ts);
        break;
      case 'batch':
        for (const e of f.events) handle(e);
        break;
      case 'ack':
        if (h.onAck) h.onAck(f.cid, f.seq);
        break;
      case 'heartbeat':
        if (f.success && h.onHeartbeat) h.onHeartbeat(f.id);
        break;
      case 'joined':
        if (h.onJoined) h.onJoined(f.room, f.seq, f.messages, f.recovered, f.epoch);
        break;
      case 'hello':
        if (h.onOpen) h.onOpen();
        break;
      case 'error':
        if (h.onServerError) h.onServerError(f.code, f.cid);
        break;
      default: // presence, typing, left: not measured
    }
  };
  ws.onmessage = (e) => handle(JSON.parse(e.data));
  ws.onopen = () => h.onUpgraded && h.onUpgraded();
  ws.onclose = (e) => h.onClose && h.onClose(e && e.code ? e.code : 0);
  ws.onerror = (e) => h.onError && h.onError(e && e.error ? e.error : String(e));
  return {
    raw: ws,
    join(room, since) {
      ws.send(JSON.stringify(since ? { type: 'join', room, since } : { type: 'join', room }));
    },
    send(room, text, cid) {
      ws.send(JSON.stringify({ type: 'send', room, text, cid }));
    },
    heartbeat(id) {
      ws.send(`{"type":"heartbeat","id":${id}}`);
    },
    close() {
      ws.close();
    },
  };
}

// k6 adapter for the Socket.IO peer (bench/peers/socketio/server.ts): Socket.IO 4 over Engine.IO 4
// framing, spoken directly on a WebSocket (no polling, no socket.io-client). Same interface as
// ./parley.js, so a scenario drives either backend.
//
// Frames used (text only; the first digit is Engine.IO's packet type, the second Socket.IO's):
//   server `0{"sid",…}` open               → client `40` (connect the default namespace)
//   server `40{"sid":…}` connected         → h.onOpen()
//   server `44{"message":…}` connect error → h.onServerError(message)
//   server `2` ping                        → client `3` pong
//   server `42["message",{…}]` an event
//   client `42<id>["join"|"send"|"heartbeat",{…}]` an event with an ack → server `43<id>[{…}]`
import { WebSocket } from 'k6/websockets';

export const name = 'socketio';

/** ws://…/socket.io/?EIO=4&transport=websocket&user=<user> from the balancer's http(s) URL. */
export function wsUrl(base, user) {
  return `${base.replace(/^http/, 'ws')}/socket.io/?EIO=4&transport=websocket&user=${encodeURIComponent(user)}`;
}

// The ack id carries what was asked in its low two bits, so a socket keeps no table of pending acks.
const JOIN = 0;
const SEND = 1;
const HEARTBEAT = 2;

/**
 * Opens one user's socket. Handlers (all optional):
 *   onUpgraded() (the WebSocket handshake answered)  onOpen()  onJoined(room, seq)  onMessage(room, seq, from, text, ts)  onAck(cid, seq)
 *   onHeartbeat(id)  onServerError(code, cid)  onClose(code)  onError(err)
 */
export function openClient(base, user, h) {
  const ws = new WebSocket(wsUrl(base, user));
  let next = 0; // ack ids: next * 4 + kind

  const onAnswer = (id, a) => {
    if (!a) return;
    if (a.error) {
      if (h.onServerError) h.onServerError(a.error, a.cid);
      return;
    }
    switch (id & 3) {
      case JOIN:
        if (h.onJoined) h.onJoined(a.room, a.seq);
        break;
      case SEND:
        if (h.onAck) h.onAck(a.cid, a.seq);
        break;
      case HEARTBEAT:
        if (a.success && h.onHeartbeat) h.onHeartbeat(a.id);
        break;
      default:
    }
  };

  ws.onmessage = (e) => {
    const d = e.data;
    switch (d.charCodeAt(0)) {
      case 0x34: // '4' Engine.IO message: a Socket.IO packet follows
        break;
      case 0x32: // '2' ping
        ws.send('3');
        return;
      case 0x30: // '0' open
        ws.send('40');
        return;
      default: // '1' close, '6' noop: nothing to do
        return;
    }
    switch (d.charCodeAt(1)) {
      case 0x32: { // '2' event
        const [event, m] = JSON.parse(d.slice(2));
        if (event === 'message' && h.onMessage) h.onMessage(m.room, m.seq, m.from, m.text, m.ts);
        break;
      }
      case 0x33: { // '3' ack: 43<id>[answer]
        const open = d.indexOf('[');
        onAnswer(Number(d.slice(2, open)), JSON.parse(d.slice(open))[0]);
        break;
      }
      case 0x30: // '0' namespace connected
        if (h.onOpen) h.onOpen();
        break;
      case 0x34: { // '4' connect error
        const err = JSON.parse(d.slice(2));
        if (h.onServerError) h.onServerError(err && err.message ? err.message : 'connect_error');
        break;
      }
      default: // '1' disconnect: the close follows
    }
  };
  ws.onopen = () => h.onUpgraded && h.onUpgraded();
  ws.onclose = (e) => h.onClose && h.onClose(e && e.code ? e.code : 0);
  ws.onerror = (e) => h.onError && h.onError(e && e.error ? e.error : String(e));

  const emit = (kind, event, body) => ws.send(`42${next++ * 4 + kind}${JSON.stringify([event, body])}`);
  return {
    raw: ws,
    join(room) {
      emit(JOIN, 'join', { room });
    },
    send(room, text, cid) {
      emit(SEND, 'send', { room, text, cid });
    },
    heartbeat(id) {
      emit(HEARTBEAT, 'heartbeat', { id });
    },
    close() {
      ws.close();
    },
  };
}

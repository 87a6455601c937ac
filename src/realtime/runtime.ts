/**
 * What the WebSocket layer needs from the runtime beyond Web standards. `main.node.ts` and
 * `main.deno.ts` each provide one; nothing else touches runtime APIs.
 */
import type { UpgradeWebSocket, WSContext } from 'hono/ws';
import type { OutFrame } from './codec.ts';

export type SocketOps = {
  /**
   * Sends `frame.text` as a text frame. A room event is one `OutFrame`, written to every member: a
   * runtime that can send bytes as a text frame encodes it once (`frame.bytes`) rather than once per socket.
   */
  send(ws: WSContext, frame: OutFrame): void;
  /** Sends a binary frame (MessagePack sockets); `data` is shared by every socket it goes to and not changed. */
  sendBinary(ws: WSContext, data: Uint8Array<ArrayBuffer>): void;
  /** Sends a WebSocket ping; false when the runtime has no ping API and checks liveness itself. */
  ping(ws: WSContext): boolean;
  /** Resets `target.missed` on every pong of this socket (never, where `ping` returns false). */
  watchLiveness(ws: WSContext, target: { missed: number }): void;
  /** Drops the connection at once, without a closing handshake. */
  terminate(ws: WSContext): void;
  /** Bytes queued for this socket and not yet written to the network. */
  bufferedAmount(ws: WSContext): number;
};

export type WsRuntime = {
  /** Hono's helper for the runtime; its type parameters differ per runtime and are not used here. */
  upgradeWebSocket: UpgradeWebSocket<any, any>;
  sockets: SocketOps;
};

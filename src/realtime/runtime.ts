/**
 * What the WebSocket layer needs from the runtime beyond Web standards. `main.node.ts` and
 * `main.deno.ts` each provide one; nothing else touches runtime APIs.
 */
import type { UpgradeWebSocket, WSContext } from 'hono/ws';

export type SocketOps = {
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

/** Draining: close every socket with 1012 in batches so clients reconnect elsewhere without a stampede. */
import type { Conn } from './conn.ts';
import type { Hub } from './hub.ts';
import { log } from '../log.ts';
import { CLOSE } from '@parley/client/wire';
import type { Sessions } from './session.ts';

const CLOSED = 3;
/** How long the drain waits for clients to answer the close frames. */
const HANDSHAKE_WAIT_MS = 5000;

/** Closes all sockets, `batch` every `intervalMs`; resolves when their presence is cleaned up. */
export async function drain(hub: Hub, sessions: Sessions, opts: { batch: number; intervalMs: number }): Promise<void> {
  const total = hub.conns.size;
  log.info('draining', { connections: total });
  const cleanups: Promise<void>[] = [];
  const closing: Conn[] = [];
  while (hub.conns.size > 0) {
    const batch = [...hub.conns.values()].slice(0, opts.batch);
    for (const conn of batch) {
      try {
        conn.ws.close(CLOSE.restart, 'service restart');
      } catch {
        // already closing
      }
      // Cleaned up now rather than on the close event, so the next batch does not pick it again.
      cleanups.push(sessions.close(conn, CLOSE.restart));
      closing.push(conn);
    }
    if (hub.conns.size > 0) await new Promise((resolve) => setTimeout(resolve, opts.intervalMs));
  }
  // Let the closing handshakes finish, so that the server's own shutdown does not cut them short
  // and clients see 1012 rather than an abnormal close.
  const deadline = Date.now() + HANDSHAKE_WAIT_MS;
  while (closing.some((c) => c.ws.readyState !== CLOSED) && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  await Promise.allSettled(cleanups);
  log.info('drained', { connections: total });
}

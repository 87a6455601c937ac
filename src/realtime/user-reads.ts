/**
 * Read events for this instance's sockets: one watch per user with local sockets (the first socket
 * starts it, the last one out ends it), each event written to every local socket of the user,
 * whether or not it joined the room. Receipts to other members travel on the room's channel (hub).
 */
import { log } from '../log.ts';
import type { ReadEvent, ReadHandler } from '../reads/types.ts';
import type { Conn } from './conn.ts';

type Watched = {
  conns: Set<Conn>;
  /** Resolves to the function that ends the watch; null when starting it failed. */
  watch: Promise<(() => Promise<void>) | null>;
};

export type UserReadsOptions = {
  /** Starts a user's watch (`ReadService.watch`). */
  watch: (user: string, handler: ReadHandler) => Promise<() => Promise<void>>;
  /** Writes a frame to one socket (`Hub.send`). */
  send: (conn: Conn, frame: { type: 'read' } & ReadEvent) => void;
};

export class UserReads {
  readonly #users = new Map<string, Watched>();
  readonly #opts: UserReadsOptions;

  constructor(opts: UserReadsOptions) {
    this.#opts = opts;
  }

  /** A socket opened. */
  add(conn: Conn): void {
    const known = this.#users.get(conn.user);
    if (known) {
      known.conns.add(conn);
      return;
    }
    const conns = new Set([conn]);
    const handler: ReadHandler = (event) => {
      for (const c of conns) this.#opts.send(c, { type: 'read', ...event });
    };
    const watch = this.#opts.watch(conn.user, handler).catch((err: unknown) => {
      // Its sockets still get `joined.lastRead` and the REST positions; a later first socket retries.
      log.warn('read events unavailable for a user', { user: conn.user, err });
      if (this.#users.get(conn.user)?.conns === conns) this.#users.delete(conn.user);
      return null;
    });
    this.#users.set(conn.user, { conns, watch });
  }

  /** A socket closed. */
  remove(conn: Conn): void {
    const known = this.#users.get(conn.user);
    if (!known || !known.conns.delete(conn) || known.conns.size > 0) return;
    this.#users.delete(conn.user);
    void known.watch.then((stop) => stop?.()).catch((err: unknown) => log.warn('ending a read watch failed', { user: conn.user, err }));
  }
}

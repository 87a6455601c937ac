/**
 * Sends (and v1.1 edits, deletes and reactions) waiting for their `ack`. Each has a `cid` unique to
 * this client (random prefix + counter); a resend after a reconnect reuses it, so the server stores
 * it once and acks it again.
 */
import type { Ack, ClientError } from './types.ts';

/** What a pending frame asks for; the client adds `room` and `cid` when it writes it. */
export type OutgoingFrame =
  | { type: 'send'; text: string }
  | { type: 'edit'; seq: number; text: string }
  | { type: 'delete'; seq: number }
  | { type: 'react'; seq: number; emoji: string; on: boolean };

export type PendingSend = {
  readonly cid: string;
  readonly room: string;
  readonly frame: OutgoingFrame;
  /** The connection (client-local number) it was last written to; `null` if never written. */
  sentOn: number | null;
};

type Entry = PendingSend & { tries: number; resolve(ack: Ack): void; reject(err: ClientError): void };

export class Outbox {
  readonly #prefix: string;
  #counter = 0;
  // Map iteration follows insertion, so resends keep the order the application sent in.
  readonly #entries = new Map<string, Entry>();

  constructor(random: () => number) {
    this.#prefix = Math.floor(random() * 36 ** 8)
      .toString(36)
      .padStart(8, '0');
  }

  /** Registers a send (or an edit, delete, reaction); the promise settles on `ack` or `fail`. */
  add(room: string, frame: OutgoingFrame): { entry: PendingSend; promise: Promise<Ack> } {
    const cid = `${this.#prefix}-${++this.#counter}`;
    let entry!: Entry;
    const promise = new Promise<Ack>((resolve, reject) => {
      entry = { cid, room, frame, sentOn: null, tries: 0, resolve, reject };
    });
    this.#entries.set(cid, entry);
    return { entry, promise };
  }

  /** Resolves the send with `ack.cid`; false when none is pending (e.g. a duplicate ack). */
  ack(ack: Ack): boolean {
    const e = this.#entries.get(ack.cid);
    if (!e) return false;
    this.#entries.delete(ack.cid);
    e.resolve(ack);
    return true;
  }

  /** Rejects the send with `cid`; false when none is pending. */
  fail(cid: string, err: ClientError): boolean {
    const e = this.#entries.get(cid);
    if (!e) return false;
    this.#entries.delete(cid);
    e.reject(err);
    return true;
  }

  /** The pending send with `cid`, if any. */
  get(cid: string): PendingSend | undefined {
    return this.#entries.get(cid);
  }

  /** Counts one more refusal of a pending send; returns how many there were, 0 when none is pending. */
  refused(cid: string): number {
    const e = this.#entries.get(cid);
    return e ? ++e.tries : 0;
  }

  /** Pending sends of `room`, oldest first. */
  forRoom(room: string): PendingSend[] {
    return this.pending().filter((e) => e.room === room);
  }

  /** All pending sends, oldest first. */
  pending(): PendingSend[] {
    return [...this.#entries.values()];
  }

  /** Rejects every pending send (of `room` only, when given). */
  failAll(err: () => ClientError, room?: string): void {
    for (const e of [...this.#entries.values()]) {
      if (room === undefined || e.room === room) this.fail(e.cid, err());
    }
  }
}

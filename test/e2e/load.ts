/**
 * A steady chat load of typed clients (@parley/client) for the topology tests: many users in several
 * rooms, sending at a steady rate, recording what each one receives, when its socket closed, and
 * when it was connected and resumed again. At the end, `verify` checks every client's view of every
 * room it is in: gapless, without duplicates, and holding every acknowledged message.
 */
import WebSocket from 'ws';
import { type Ack, ParleyClient } from '@parley/client';
import type { Message } from '@parley/client/wire';

export type LoadOptions = {
  /** Balancer URL (http://…). */
  url: string;
  clients: number;
  rooms: number;
  /** Rooms each client joins (distinct, chosen round-robin). */
  roomsPerClient: number;
  /** Messages per second across all clients. */
  rate: number;
  /** The clients' heartbeat interval (the instances' HEARTBEAT_MS). */
  heartbeatMs: number;
  prefix: string;
};

/** One user's session and what it saw. */
export type LoadUser = {
  user: string;
  client: ParleyClient;
  rooms: string[];
  /** Seqs delivered per room (`joined` history excluded), in delivery order. */
  seqs: Map<string, number[]>;
  /** The seq of each room when first joined: the view starts after it. */
  joinedAt: Map<string, number>;
  /** Instance of the current connection (from `hello`). */
  instance: string;
  closes: { at: number; code: number }[];
  /** When each `hello` came (the first connect included). */
  openedAt: number[];
  /** When each reconnect was complete: `hello` seen and every room joined again. */
  resumedAt: number[];
  errors: string[];
  /** Rooms joined since the last `open`. */
  pendingRooms: Set<string>;
};

export type LoadStats = { sent: number; acked: number; failed: number; ackErrors: string[] };

export class ChatLoad {
  readonly users: LoadUser[] = [];
  readonly rooms: string[];
  readonly stats: LoadStats = { sent: 0, acked: 0, failed: 0, ackErrors: [] };
  /** Highest acknowledged seq per room, and every acknowledged seq. */
  readonly acked = new Map<string, Set<number>>();
  readonly #o: LoadOptions;
  #timer: ReturnType<typeof setInterval> | undefined;
  readonly #inFlight = new Set<Promise<unknown>>();

  constructor(o: LoadOptions) {
    this.#o = o;
    this.rooms = Array.from({ length: o.rooms }, (_, i) => `${o.prefix}-r${i}`);
  }

  /** Connects every client (`parallel` at a time) and waits until each has joined its rooms. */
  async connect(parallel = 100): Promise<void> {
    const o = this.#o;
    for (let i = 0; i < o.clients; i++) {
      const rooms = Array.from({ length: o.roomsPerClient }, (_, k) => this.rooms[(i + k * 7) % o.rooms] as string);
      this.users.push(this.#makeUser(`${o.prefix}-u${i}`, [...new Set(rooms)]));
    }
    let next = 0;
    const lane = async () => {
      while (next < this.users.length) {
        const u = this.users[next++] as LoadUser;
        await this.#start(u);
      }
    };
    await Promise.all(Array.from({ length: parallel }, lane));
  }

  #makeUser(user: string, rooms: string[]): LoadUser {
    const client = new ParleyClient({ url: this.#o.url, user, WebSocket: WebSocket as never, heartbeatMs: this.#o.heartbeatMs });
    const u: LoadUser = { user, client, rooms, seqs: new Map(rooms.map((r) => [r, []])), joinedAt: new Map(), instance: '', closes: [], openedAt: [], resumedAt: [], errors: [], pendingRooms: new Set() };
    client.on('open', (h) => {
      u.openedAt.push(Date.now());
      u.instance = h.instance;
      u.pendingRooms = new Set(rooms);
    });
    client.on('joined', (j) => {
      if (!u.joinedAt.has(j.room)) u.joinedAt.set(j.room, j.seq);
      u.pendingRooms.delete(j.room);
      if (u.pendingRooms.size === 0 && u.closes.length > u.resumedAt.length) u.resumedAt.push(Date.now());
    });
    client.on('message', (m: Message) => u.seqs.get(m.room)?.push(m.seq));
    client.on('close', (c) => {
      if (c.code !== 1000 || c.reason !== 'client closed') u.closes.push({ at: Date.now(), code: c.code });
    });
    client.on('error', (e) => u.errors.push(`${e.code}: ${e.message}`));
    client.on('reset', (r) => u.errors.push(`reset ${r.room}`));
    return u;
  }

  async #start(u: LoadUser): Promise<void> {
    const joined = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${u.user}: not joined within 30 s`)), 30_000);
      const check = () => {
        if (u.joinedAt.size === u.rooms.length) {
          clearTimeout(timer);
          resolve();
        }
      };
      u.client.on('joined', check);
    });
    u.client.connect();
    for (const r of u.rooms) u.client.join(r);
    await joined;
  }

  /** Starts sending: `rate` messages/s in all, each from a random client to one of its rooms. */
  startSending(): void {
    const tickMs = 50;
    let carry = 0;
    this.#timer = setInterval(() => {
      carry += (this.#o.rate * tickMs) / 1000;
      for (; carry >= 1; carry--) {
        const u = this.users[Math.floor(Math.random() * this.users.length)] as LoadUser;
        const room = u.rooms[Math.floor(Math.random() * u.rooms.length)] as string;
        this.#send(u, room);
      }
    }, tickMs);
  }

  #send(u: LoadUser, room: string): void {
    this.stats.sent++;
    const p = u.client.send(room, `${u.user} ${Date.now()}`).then(
      (a: Ack) => {
        this.stats.acked++;
        let set = this.acked.get(a.room);
        if (!set) this.acked.set(a.room, (set = new Set()));
        set.add(a.seq);
      },
      (err: Error) => {
        this.stats.failed++;
        if (this.stats.ackErrors.length < 20) this.stats.ackErrors.push(`${u.user} → ${room}: ${err.message}`);
      },
    );
    this.#inFlight.add(p);
    void p.finally(() => this.#inFlight.delete(p));
  }

  /** Stops sending and waits until every send is acknowledged or failed. */
  async stopSending(timeoutMs = 30_000): Promise<void> {
    clearInterval(this.#timer);
    const deadline = Date.now() + timeoutMs;
    while (this.#inFlight.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  }

  /**
   * Every client's view of every room: exactly the seqs after its join position up to the room's
   * highest acknowledged seq, each once, in order. Returns the problems (empty when all is well).
   */
  verify(): string[] {
    const problems: string[] = [];
    for (const u of this.users) {
      for (const room of u.rooms) {
        const head = Math.max(0, ...(this.acked.get(room) ?? []));
        const from = u.joinedAt.get(room) ?? 0;
        const seqs = u.seqs.get(room) ?? [];
        const want = Array.from({ length: Math.max(0, head - from) }, (_, i) => from + 1 + i);
        if (seqs.length !== want.length || seqs.some((s, i) => s !== want[i])) {
          const missing = want.filter((s) => !seqs.includes(s));
          const dup = seqs.filter((s, i) => seqs.indexOf(s) !== i);
          problems.push(`${u.user} ${room}: ${seqs.length} of ${want.length}, missing ${missing.slice(0, 5).join(',')}${missing.length > 5 ? '…' : ''} dup ${dup.slice(0, 5).join(',')}`);
        }
      }
    }
    return problems;
  }

  /** Waits until every client has received up to the highest acknowledged seq of its rooms. */
  async settle(timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const behind = this.users.some((u) =>
        u.rooms.some((r) => {
          const head = Math.max(0, ...(this.acked.get(r) ?? []));
          const seqs = u.seqs.get(r) ?? [];
          return (seqs[seqs.length - 1] ?? u.joinedAt.get(r) ?? 0) < head;
        }),
      );
      if (!behind) return;
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  close(): void {
    clearInterval(this.#timer);
    for (const u of this.users) u.client.close();
  }
}

/** The p-th percentile (0..100) of `xs`, nearest rank. */
export function percentile(xs: readonly number[], p: number): number {
  if (xs.length === 0) return Number.NaN;
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] as number;
}

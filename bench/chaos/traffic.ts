/**
 * The chat traffic of a chaos run: users in public rooms and private groups, sending messages,
 * editing and deleting their own, reacting to others', marking rooms read, and group owners adding
 * and removing members, all at a steady rate while faults happen.
 */
import type { ChaosSize } from './sizes.ts';
import { ChaosUser } from './user.ts';
import { SharedEntries } from './view.ts';

export type GroupState = { id: string; room: string; owner: ChaosUser; members: Set<ChaosUser>; ever: Set<ChaosUser> };

const EMOJI = ['👍', '🎉', '👀'];
const TICK_MS = 50;
/** A send without an answer for this long is resent with its cid (the server answers a repeat with the first ack). */
const RESEND_AFTER_MS = 8000;

export class Traffic {
  readonly users: ChaosUser[];
  readonly groups: GroupState[] = [];
  readonly publicRooms: string[];
  /** Group membership changes that were made (`add`, `remove`) and refused (by status). */
  readonly memberChanges: Record<string, number> = {};
  readonly #reacted = new Set<string>();
  /** The first copy of each room's entries that any user took (every view is compared with it). */
  readonly shared = new SharedEntries();
  #timers: NodeJS.Timeout[] = [];
  #credit = 0;

  constructor(
    readonly size: ChaosSize,
    readonly baseUrl: string,
    readonly random: () => number,
    tag: string,
  ) {
    this.users = Array.from({ length: size.users }, (_, i) => new ChaosUser(`u${i}-${tag}`, baseUrl, this.shared));
    this.publicRooms = Array.from({ length: size.rooms }, (_, i) => `chaos-${tag}-${i}`);
  }

  #pick<T>(list: readonly T[]): T {
    return list[Math.floor(this.random() * list.length)] as T;
  }

  /** Rooms and groups assigned, groups created, every user connected and joined. */
  async setup(): Promise<void> {
    for (const u of this.users) {
      const rooms = new Set<string>();
      while (rooms.size < this.size.roomsPerUser) rooms.add(this.#pick(this.publicRooms));
      for (const r of rooms) u.join(r);
    }
    for (let g = 0; g < this.size.groups; g++) {
      const owner = this.users[g] as ChaosUser;
      const members = new Set<ChaosUser>();
      while (members.size < this.size.groupMembers) {
        const m = this.#pick(this.users);
        if (m !== owner) members.add(m);
      }
      const id = `chaos-${owner.name}`;
      const res = await this.#rest(owner, 'POST', '/v1/groups', { id, title: `chaos ${g}`, members: [...members].map((m) => m.name) });
      if (res.status !== 201) throw new Error(`POST /v1/groups: ${res.status}`);
      const room = `grp:${id}`;
      for (const u of [owner, ...members]) u.join(room);
      this.groups.push({ id, room, owner, members, ever: new Set([owner, ...members]) });
    }
    for (let i = 0; i < this.users.length; i += 50) {
      for (const u of this.users.slice(i, i + 50)) u.connect();
      await new Promise((r) => setTimeout(r, 100));
    }
    const deadline = Date.now() + 60_000;
    while (!this.users.every((u) => u.ready)) {
      if (Date.now() > deadline) throw new Error(`users not ready after 60 s: ${this.users.filter((u) => !u.ready).length}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  start(): void {
    this.#timers.push(setInterval(() => this.#tick(), TICK_MS));
    this.#timers.push(setInterval(() => {
      const now = Date.now();
      for (const u of this.users) u.resendStale(now, RESEND_AFTER_MS);
    }, 1000));
    if (this.groups.length > 0) this.#timers.push(setInterval(() => void this.#groupChange(), 1500));
  }

  /** Stops new actions; what is pending still gets resent until acknowledged. */
  stopActions(): void {
    for (const t of this.#timers.splice(0)) clearInterval(t);
    this.#timers.push(setInterval(() => {
      const now = Date.now();
      for (const u of this.users) u.resendStale(now, RESEND_AFTER_MS);
    }, 1000));
  }

  stop(): void {
    for (const t of this.#timers.splice(0)) clearInterval(t);
  }

  pendingCount(): number {
    return this.users.reduce((n, u) => n + u.pending.size, 0);
  }

  acknowledged(): number {
    return this.users.reduce((n, u) => n + u.acks.length, 0);
  }

  /** Acknowledged text messages (sends). */
  texts(): number {
    return this.users.reduce((n, u) => n + u.acks.filter((a) => a.kind === 'send').length, 0);
  }

  #tick(): void {
    this.#credit += (this.size.rate * TICK_MS) / 1000;
    for (; this.#credit >= 1; this.#credit--) {
      const u = this.#pick(this.users);
      if (!u.ready || u.pending.size > 5 || u.rooms.size === 0) continue;
      this.#act(u, this.#pick([...u.rooms]));
    }
  }

  #act(u: ChaosUser, room: string): void {
    const p = this.random();
    const own = u.own.get(room) ?? [];
    if (p < 0.78 || !u.views.has(room)) u.send(room, `m ${u.name} ${u.acks.length} ${Math.floor(this.random() * 1e6)}`);
    else if (p < 0.84 && own.length > 0) u.change(room, 'edit', { seq: this.#pick(own), text: `edited by ${u.name} ${Math.floor(this.random() * 1e6)}` });
    else if (p < 0.87 && own.length > 0) u.change(room, 'delete', { seq: own.splice(Math.floor(this.random() * own.length), 1)[0] });
    else if (p < 0.95) {
      const texts = u.views.get(room)?.recentTexts ?? [];
      if (texts.length === 0) return;
      const seq = this.#pick(texts);
      const emoji = this.#pick(EMOJI);
      const key = `${u.name}|${room}|${seq}|${emoji}`;
      const on = !this.#reacted.has(key);
      if (on) this.#reacted.add(key);
      else this.#reacted.delete(key);
      u.change(room, 'react', { seq, emoji, on });
    } else u.read(room);
  }

  async #groupChange(): Promise<void> {
    const g = this.#pick(this.groups);
    const removable = [...g.members];
    const count = (what: string) => (this.memberChanges[what] = (this.memberChanges[what] ?? 0) + 1);
    try {
      if (removable.length > 3 && this.random() < 0.5) {
        const m = this.#pick(removable);
        const asked = Date.now();
        const res = await this.#rest(g.owner, 'DELETE', `/v1/groups/${g.id}/members/${m.name}`);
        if (res.status !== 204) return void count(`remove ${res.status}`);
        g.members.delete(m);
        m.removed(g.room, asked, Date.now());
        count('remove');
      } else {
        const fresh = this.users.filter((u) => !g.ever.has(u));
        if (fresh.length === 0) return;
        const m = this.#pick(fresh);
        g.ever.add(m); // never added twice: a removed member stays out, so its view ends at its removal
        const res = await this.#rest(g.owner, 'PUT', `/v1/groups/${g.id}/members/${m.name}`, { role: 'member' });
        if (res.status !== 200) return void count(`add ${res.status}`);
        g.members.add(m);
        m.join(g.room);
        count('add');
      }
    } catch {
      count('add/remove failed');
    }
  }

  #rest(u: ChaosUser, method: string, path: string, body?: unknown): Promise<Response> {
    return fetch(`${this.baseUrl}${path}`, {
      method,
      headers: { 'X-User': u.name, ...(body ? { 'Content-Type': 'application/json' } : {}) },
      ...(body ? { body: JSON.stringify(body) } : {}),
      signal: AbortSignal.timeout(10_000),
    });
  }
}

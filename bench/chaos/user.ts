/**
 * A lean chat user for the chaos run: one `ws` socket, the protocol's recovery done by hand (resume
 * each room with `since`, fill gaps from history, resend by `cid`), and a record of everything the
 * checker needs: each room's view (`RoomView`), every ack, every `read` frame, and when the socket
 * closed and when all its rooms were resumed again.
 */
import WebSocket from 'ws';
import type { Message } from '@parley/client/wire';
import { RoomView, type SharedEntries } from './view.ts';

export type ChangeKind = 'send' | 'edit' | 'delete' | 'react';
type Pending = { cid: string; room: string; kind: ChangeKind; frame: Record<string, unknown>; sentAt: number; writtenOn: number };
export type AckRecord = { cid: string; room: string; seq: number; kind: ChangeKind; sentAt: number; ackAt: number };
type Frame = Record<string, unknown> & { type: string };

/** Give up on a history fill after this many failed requests in a row (the checker then sees the gap). */
const FILL_TRIES = 20;

export class ChaosUser {
  /** Rooms this user should be in (resumed on every reconnect). */
  readonly rooms = new Set<string>();
  readonly views = new Map<string, RoomView>();
  readonly pending = new Map<string, Pending>();
  readonly acks: AckRecord[] = [];
  /** Own text messages per room, newest last (targets for edits and deletes). */
  readonly own = new Map<string, number[]>();
  /** Removal from a group as the driver saw it: room → when `DELETE …/members/:user` answered. */
  readonly removedAt = new Map<string, number>();
  /** When the driver asked for each removal (`removedAt`: when it was answered). */
  readonly removeAskedAt = new Map<string, number>();
  readonly errors: Record<string, number> = {};
  /** Highest `read` seq seen per `user|room`, and how often one went backwards. */
  readonly readSeen = new Map<string, number>();
  readEvents = 0;
  readBackwards = 0;
  /** When the socket closed while it was wanted, and when every room was resumed afterwards. */
  readonly closes: number[] = [];
  readonly resumes: number[] = [];
  ws: WebSocket | null = null;
  /** Counts sockets, so that pendings know which socket they were written to. */
  socketNo = 0;
  open = false;
  wanted = false;
  readonly #joining = new Set<string>();
  #cid = 0;
  #failures = 0;
  #instance = '';

  constructor(
    readonly name: string,
    readonly baseUrl: string,
    readonly shared: SharedEntries,
  ) {}

  /** Connected and every room resumed: ready to send. */
  get ready(): boolean {
    return this.open && this.#joining.size === 0;
  }

  connect(): void {
    this.wanted = true;
    this.#dial();
  }

  /** Closes the socket; `reconnect` false leaves the user offline for good. */
  drop(reconnect: boolean): void {
    if (!reconnect) this.wanted = false;
    this.ws?.terminate();
  }

  join(room: string): void {
    this.rooms.add(room);
    if (this.open) this.#join(room);
  }

  /** The driver removed this user from a group: never rejoin it. */
  removed(room: string, askedAt: number, at: number): void {
    this.rooms.delete(room);
    this.removedAt.set(room, at);
    this.removeAskedAt.set(room, askedAt);
  }

  send(room: string, text: string): void {
    this.#submit(room, 'send', { type: 'send', room, text });
  }

  change(room: string, kind: Exclude<ChangeKind, 'send'>, fields: Record<string, unknown>): void {
    this.#submit(room, kind, { type: kind, room, ...fields });
  }

  read(room: string): void {
    const v = this.views.get(room);
    if (this.open && v && v.last > 0) this.#write({ type: 'read', room, seq: v.last });
  }

  /** Resends what waited too long for its ack (same cid: the server answers a repeat with the first ack). */
  resendStale(now: number, afterMs: number): void {
    if (!this.ready) return;
    for (const p of this.pending.values()) if (p.writtenOn !== this.socketNo || now - p.sentAt > afterMs) this.#resend(p);
  }

  #submit(room: string, kind: ChangeKind, frame: Record<string, unknown>): void {
    const cid = `${this.name}-${++this.#cid}`;
    const p: Pending = { cid, room, kind, frame: { ...frame, cid }, sentAt: Date.now(), writtenOn: -1 };
    this.pending.set(cid, p);
    if (this.ready) this.#resend(p);
  }

  #resend(p: Pending): void {
    if (this.#write(p.frame)) p.writtenOn = this.socketNo;
  }

  #write(frame: object): boolean {
    if (!this.ws || this.ws.readyState !== WebSocket.OPEN) return false;
    this.ws.send(JSON.stringify(frame));
    return true;
  }

  #dial(): void {
    const ws = new WebSocket(`${this.baseUrl.replace(/^http/, 'ws')}/ws?user=${encodeURIComponent(this.name)}`);
    this.ws = ws;
    const no = ++this.socketNo;
    ws.on('message', (data) => {
      if (this.socketNo !== no) return;
      const f = JSON.parse(String(data)) as Frame;
      if (f.type === 'batch') for (const e of f['events'] as Frame[]) this.#frame(e);
      else this.#frame(f);
    });
    ws.on('error', () => undefined);
    ws.on('close', () => {
      if (this.socketNo !== no) return;
      this.open = false;
      this.ws = null;
      if (!this.wanted) return;
      this.closes.push(Date.now());
      const delay = Math.min(3000, 100 * 2 ** this.#failures++) * (0.5 + Math.random());
      setTimeout(() => this.wanted && this.socketNo === no && this.#dial(), delay);
    });
  }

  /** The socket and the instance it reached, for reports. */
  #where(): string {
    return `socket ${this.socketNo} (${this.#instance})`;
  }

  #join(room: string): void {
    const v = this.views.get(room);
    this.#joining.add(room);
    this.#write(v ? { type: 'join', room, since: { epoch: v.epoch, seq: v.last } } : { type: 'join', room });
  }

  #frame(f: Frame): void {
    const room = f['room'] as string | undefined;
    const view = room === undefined ? undefined : this.views.get(room);
    if (view?.removed && f.type !== 'read' && f.type !== 'error' && f.type !== 'left') {
      if (view.afterLeft++ === 0) view.firstAfterLeft = `${f.type}${typeof f['seq'] === 'number' ? ` #${f['seq']}` : ''} at ${Date.now()} on ${this.#where()}`;
    }
    switch (f.type) {
      case 'hello':
        this.open = true;
        this.#instance = String(f['instance']);
        this.#failures = 0;
        for (const v of this.views.values()) v.newSocket();
        for (const r of this.rooms) this.#join(r);
        this.#maybeResumed();
        break;
      case 'joined':
        this.#joined(f as unknown as { room: string; epoch: string; seq: number; messages: Message[] });
        break;
      case 'message':
        if (view && !view.removed && view.fromSocket(f as unknown as Message)) void this.#fill(view);
        break;
      case 'ack':
        this.#ack(f as unknown as { cid: string; room: string; seq: number });
        break;
      case 'read': {
        this.readEvents++;
        const key = `${f['user'] as string}|${room as string}`;
        const seq = f['seq'] as number;
        if (seq < (this.readSeen.get(key) ?? 0)) this.readBackwards++;
        this.readSeen.set(key, Math.max(seq, this.readSeen.get(key) ?? 0));
        break;
      }
      case 'left':
        if (view && f['reason'] === 'removed') Object.assign(view, { removed: true, leftAt: Date.now(), removedHow: `left on ${this.#where()}` });
        if (room) this.#resumedOne(room);
        break;
      case 'error':
        this.#error(f);
        break;
    }
  }

  #joined(f: { room: string; epoch: string; seq: number; messages: Message[] }): void {
    let v = this.views.get(f.room);
    if (!v) this.views.set(f.room, (v = new RoomView(f.room, f.epoch, f.seq, this.shared)));
    else if (v.epoch !== f.epoch) v.resets++;
    else {
      for (const m of f.messages) v.fromSocket(m);
      v.target = Math.max(v.target, f.seq);
      if (v.behind()) void this.#fill(v);
    }
    this.#resumedOne(f.room);
  }

  #resumedOne(room: string): void {
    if (!this.#joining.delete(room)) return;
    this.#maybeResumed();
  }

  #maybeResumed(): void {
    if (!this.ready) return;
    if (this.closes.length > this.resumes.length) this.resumes.push(Date.now());
    for (const p of this.pending.values()) this.#resend(p);
  }

  #ack(f: { cid: string; room: string; seq: number }): void {
    const p = this.pending.get(f.cid);
    if (!p) return; // the answer to a resend of something already acknowledged
    this.pending.delete(f.cid);
    this.acks.push({ cid: p.cid, room: p.room, seq: f.seq, kind: p.kind, sentAt: p.sentAt, ackAt: Date.now() });
    if (p.kind === 'send') {
      const own = this.own.get(p.room) ?? [];
      own.push(f.seq);
      if (own.length > 20) own.shift();
      this.own.set(p.room, own);
    }
  }

  #error(f: Frame): void {
    const code = f['code'] as string;
    this.errors[code] = (this.errors[code] ?? 0) + 1;
    const cid = f['cid'] as string | undefined;
    const p = cid === undefined ? undefined : this.pending.get(cid);
    const room = f['room'] as string | undefined;
    if (!p) {
      // A refused join: gone from a group (forbidden), or the backend is failing over (retry).
      if (room && this.#joining.has(room)) {
        if (code === 'forbidden') {
          const v = this.views.get(room);
          if (v) Object.assign(v, { removed: true, leftAt: Date.now(), removedHow: `join refused forbidden on ${this.#where()}` });
          this.#resumedOne(room);
        } else setTimeout(() => this.open && this.#write({ type: 'join', room, ...this.#since(room) }), 300);
      }
      return;
    }
    if (code === 'unavailable' || code === 'rate_limited' || code === 'not_member') {
      setTimeout(() => this.pending.has(p.cid) && this.ready && this.#resend(p), 300 + Math.random() * 300);
      return;
    }
    this.pending.delete(p.cid); // forbidden (removed), not_found (deleted meanwhile): final answers
  }

  #since(room: string): { since?: { epoch: string; seq: number } } {
    const v = this.views.get(room);
    return v ? { since: { epoch: v.epoch, seq: v.last } } : {};
  }

  async #fill(v: RoomView): Promise<void> {
    if (v.filling) return;
    v.filling = true;
    let failures = 0;
    try {
      while (v.behind() && !v.removed && failures < FILL_TRIES) {
        const before = v.last;
        const page = await this.#history(v.room, v.last).catch(() => null);
        if (!page) {
          failures++;
          await new Promise((r) => setTimeout(r, 250 * failures));
          continue;
        }
        if (page.epoch !== v.epoch) {
          v.resets++;
          return;
        }
        for (const m of page.messages) v.add(m);
        if (v.last === before) break; // the log has nothing there (yet): the next live entry tries again
      }
    } finally {
      v.filling = false;
    }
  }

  async #history(room: string, after: number): Promise<{ epoch: string; messages: Message[]; hasMore: boolean }> {
    const res = await fetch(`${this.baseUrl}/v1/rooms/${encodeURIComponent(room)}/messages?after=${after}&limit=200`, {
      headers: { 'X-User': this.name },
      signal: AbortSignal.timeout(5000),
    });
    if (res.status !== 200) throw new Error(`history ${room}: ${res.status}`);
    return (await res.json()) as { epoch: string; messages: Message[]; hasMore: boolean };
  }
}

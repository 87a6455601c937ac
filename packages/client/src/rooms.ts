/**
 * The client's rooms: which ones the application wants to be in, which are joined on the current
 * socket, their members, and one `RoomStream` (position, ordering, gap fill) per room joined before.
 */
import { directRoom, parseRoom, type Member, type Message, type ServerFrame } from './wire.ts';
import { RoomStream, type RoomStreamDeps } from './room-stream.ts';
import type { ClientEvents } from './types.ts';

type JoinedFrame = Extract<ServerFrame, { type: 'joined' }>;
type PresenceFrame = Extract<ServerFrame, { type: 'presence' }>;
export type JoinFrame = { type: 'join'; room: string; since?: { epoch: string; seq: number } } | { type: 'join'; with: string };

export type RoomsDeps = {
  /** The own user name, once known. */
  me(): string | undefined;
  emit<K extends keyof ClientEvents>(event: K, payload: ClientEvents[K]): void;
  streamDeps(room: string): RoomStreamDeps;
  /** A room starts over from a `joined` reply's messages (a first join, or a new epoch); before its events. */
  started(room: string, epoch: string, messages: Message[]): void;
};

export class Rooms {
  readonly #wanted = new Set<string>();
  // Users whose direct room was asked for by `with` and not confirmed by `joined` yet.
  readonly #wantedDirect = new Set<string>();
  readonly #joinedOnConn = new Set<string>();
  /** Joins refused for a passing reason since the room was last joined (their backoff). */
  readonly #refusals = new Map<string, number>();
  readonly #members = new Map<string, Map<string, Member>>();
  readonly #streams = new Map<string, RoomStream>();

  constructor(private readonly deps: RoomsDeps) {}

  /** Records the wish to be in `room`; false when it was already recorded. */
  want(room: string): boolean {
    if (this.#wanted.has(room)) return false;
    this.#wanted.add(room);
    return true;
  }

  /** Records the wish to be in the direct room with `user`; false when already recorded. */
  wantDirect(user: string): boolean {
    const me = this.deps.me();
    if (me !== undefined && this.#wanted.has(directRoom(me, user))) return false;
    if (this.#wantedDirect.has(user)) return false;
    this.#wantedDirect.add(user);
    return true;
  }

  /** Forgets `room` entirely; true when it was wanted. */
  forget(room: string): boolean {
    this.#streams.get(room)?.dispose();
    this.#streams.delete(room);
    this.#members.delete(room);
    this.#joinedOnConn.delete(room);
    this.#refusals.delete(room);
    return this.#wanted.delete(room);
  }

  /** Whether `room` is joined on the current socket. */
  isJoined(room: string): boolean {
    return this.#joinedOnConn.has(room);
  }

  /** Whether a join of `room` is wanted but not confirmed on this socket: its sends must wait. */
  awaitsJoin(room: string): boolean {
    if (this.#joinedOnConn.has(room)) return false;
    if (this.#wanted.has(room)) return true;
    const me = this.deps.me();
    return me !== undefined && [...this.#wantedDirect].some((u) => directRoom(me, u) === room);
  }

  /** The socket is gone: nothing is joined on it any more. Positions are kept for the resume. */
  connectionLost(): void {
    this.#joinedOnConn.clear();
  }

  /** The join frames for a new socket: every wanted room, resumed `since` its last position. */
  joinFrames(): JoinFrame[] {
    const frames: JoinFrame[] = [...this.#wanted].map((room) => this.#joinFrame(room));
    for (const user of this.#wantedDirect) frames.push({ type: 'join', with: user });
    return frames;
  }

  /** The frame that joins `room` again (a wanted room, or the direct room of a wanted user). */
  joinFrame(room: string): JoinFrame | undefined {
    if (this.#wanted.has(room)) return this.#joinFrame(room);
    const me = this.deps.me();
    const user = me === undefined ? undefined : [...this.#wantedDirect].find((u) => directRoom(me, u) === room);
    return user === undefined ? undefined : { type: 'join', with: user };
  }

  #joinFrame(room: string): JoinFrame {
    const since = this.#streams.get(room)?.position;
    return since ? { type: 'join', room, since } : { type: 'join', room };
  }

  /** Counts a refused join of `room`; returns how many came before (the backoff attempt). */
  refused(room: string): number {
    const n = this.#refusals.get(room) ?? 0;
    this.#refusals.set(room, n + 1);
    return n;
  }

  /** Handles a `joined` reply; false when the room is no longer wanted (left meanwhile). */
  joined(f: JoinedFrame): boolean {
    const { room } = f;
    const me = this.deps.me();
    for (const u of this.#wantedDirect) {
      if (me !== undefined && directRoom(me, u) === room) {
        this.#wantedDirect.delete(u);
        this.#wanted.add(room);
      }
    }
    if (!this.#wanted.has(room)) return false;
    this.#joinedOnConn.add(room);
    this.#refusals.delete(room);
    this.#members.set(room, new Map(f.members.map((m) => [m.user, m])));
    const stream = this.#streams.get(room);
    const event = { room, epoch: f.epoch, seq: f.seq, recovered: f.recovered, messages: f.messages, members: f.members, lastRead: f.lastRead ?? 0 };
    if (!stream || stream.position.epoch !== f.epoch) this.deps.started(room, f.epoch, f.messages);
    if (!stream) {
      // A first join: the application shows `messages`; live ones follow from `seq`.
      this.#streams.set(room, new RoomStream(room, f.epoch, f.seq, this.deps.streamDeps(room)));
      this.deps.emit('joined', { ...event, resumed: false });
    } else if (stream.position.epoch !== f.epoch) {
      const previousEpoch = stream.position.epoch;
      stream.restart(f.epoch, f.seq);
      this.deps.emit('joined', { ...event, resumed: true });
      this.deps.emit('reset', { room, epoch: f.epoch, previousEpoch, messages: f.messages });
    } else {
      this.deps.emit('joined', { ...event, resumed: true });
      // Recovered: exactly the missed ones. Not recovered: the latest, and history fills the hole.
      for (const m of f.messages) stream.push(m);
      stream.catchUp(f.seq);
    }
    return true;
  }

  /** Routes a live message to its room's stream; ignored for rooms not wanted. */
  message(m: Message): void {
    if (this.#wanted.has(m.room)) this.#streams.get(m.room)?.push(m);
  }

  /**
   * Applies a presence change to the room's member list. A group's list holds its members only
   * (`joined` and `member` frames): a presence about anyone else, such as the departure of a user
   * just removed, adds nobody.
   */
  presence(f: PresenceFrame): void {
    const members = this.#members.get(f.room);
    if (!members) return;
    if (!members.has(f.user) && parseRoom(f.room)?.kind === 'group') return;
    const member: Member = { user: f.user, status: f.status };
    if (f.lastSeen !== undefined) member.lastSeen = f.lastSeen;
    members.set(f.user, member);
  }

  /**
   * A group's membership changed: keeps the member list in step (a removed user leaves it; an added
   * one shows offline until its presence says otherwise).
   */
  member(room: string, user: string, role: string | null): void {
    const members = this.#members.get(room);
    if (!members) return;
    if (role === null) members.delete(user);
    else if (!members.has(user)) members.set(user, { user, status: 'offline' });
  }

  /** The server confirmed a `leave`. */
  left(room: string): void {
    this.#joinedOnConn.delete(room);
  }

  members(room: string): Member[] {
    return [...(this.#members.get(room)?.values() ?? [])];
  }

  position(room: string): { epoch: string; seq: number } | undefined {
    return this.#streams.get(room)?.position;
  }

  /** Stops every stream (client closed). */
  dispose(): void {
    for (const s of this.#streams.values()) s.dispose();
  }
}

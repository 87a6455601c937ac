/**
 * In-process groups: the embedded default, and the reference the Redis store is tested against.
 * Each mutation changes the maps and publishes its `member` event through the memory room log in
 * one synchronous step, so the event is ordered with the room's appends exactly as on Redis; the
 * memory room log asks `isMember` in the same synchronous step as a group room's append.
 */
import { type GroupRole, groupRoom } from '@parley/client/wire';
import type { MemberEvent, RoomLog } from '../rooms/types.ts';
import {
  type CreateInput,
  type Group,
  type GroupRefusal,
  type Groups,
  MAX_GROUP_MEMBERS,
  refuseRemove,
  refuseSetRole,
  sortMembers,
} from './types.ts';

type Stored = { id: string; title: string; owner: string; members: Map<string, GroupRole> };

export class MemoryGroups implements Groups {
  readonly #groups = new Map<string, Stored>();
  /** Delivers `member` events; the memory room log's `signal` delivers synchronously. */
  readonly #log: Pick<RoomLog, 'signal'>;
  #closed = false;

  constructor(log: Pick<RoomLog, 'signal'>) {
    this.#log = log;
  }

  /** Synchronous membership, for the memory room log's append (same step as the append). */
  isMember(room: string, user: string): boolean {
    return !room.startsWith('grp:') || this.roleIn(room, user) !== null;
  }

  /** A user's role in a group room, synchronously (null: not a member), for the memory room log. */
  roleIn(room: string, user: string): GroupRole | null {
    return this.#groups.get(room.slice(4))?.members.get(user) ?? null;
  }

  async create(input: CreateInput): Promise<Group | GroupRefusal> {
    this.#check();
    if (this.#groups.has(input.id)) return { refused: 'conflict', reason: `group ${input.id} exists` };
    const members = new Map<string, GroupRole>([[input.owner, 'owner']]);
    for (const u of input.members) if (!members.has(u)) members.set(u, 'member');
    if (members.size > MAX_GROUP_MEMBERS) return { refused: 'conflict', reason: `a group has at most ${MAX_GROUP_MEMBERS} members` };
    const g: Stored = { id: input.id, title: input.title, owner: input.owner, members };
    this.#groups.set(input.id, g);
    for (const [user, role] of members) if (role !== 'owner') this.#publish(g.id, user, 'member', input.owner);
    return view(g);
  }

  async get(id: string): Promise<Group | null> {
    this.#check();
    const g = this.#groups.get(id);
    return g ? view(g) : null;
  }

  async role(id: string, user: string): Promise<GroupRole | null> {
    this.#check();
    return this.#groups.get(id)?.members.get(user) ?? null;
  }

  async members(id: string): Promise<string[]> {
    this.#check();
    return [...(this.#groups.get(id)?.members.keys() ?? [])];
  }

  async setRole(id: string, actor: string, user: string, role: 'member' | 'admin'): Promise<{ group: Group; changed: boolean } | GroupRefusal> {
    this.#check();
    const g = this.#groups.get(id);
    const current = g?.members.get(user) ?? null;
    const refusal = refuseSetRole(g?.members.get(actor) ?? null, current, role);
    if (refusal || !g) return refusal ?? { refused: 'forbidden', reason: 'not a member of this group' };
    if (current === role) return { group: view(g), changed: false };
    if (current === null && g.members.size >= MAX_GROUP_MEMBERS) return { refused: 'conflict', reason: `a group has at most ${MAX_GROUP_MEMBERS} members` };
    g.members.set(user, role);
    this.#publish(id, user, role, actor);
    return { group: view(g), changed: true };
  }

  async remove(id: string, actor: string, user: string): Promise<{ removed: boolean } | GroupRefusal> {
    this.#check();
    const g = this.#groups.get(id);
    const current = g?.members.get(user) ?? null;
    const refusal = refuseRemove(g?.members.get(actor) ?? null, actor, current, user);
    if (refusal || !g) return refusal ?? { refused: 'forbidden', reason: 'not a member of this group' };
    if (current === null) return { removed: false };
    g.members.delete(user);
    this.#publish(id, user, null, actor);
    return { removed: true };
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#groups.clear();
  }

  /** Publishes in the caller's synchronous step: the memory log's `signal` delivers before it returns. */
  #publish(id: string, user: string, role: MemberEvent['role'], by: string): void {
    const room = groupRoom(id);
    const event: MemberEvent = { type: 'member', room, user, role, by };
    this.#log.signal(room, event).catch(() => undefined);
  }

  #check(): void {
    if (this.#closed) throw new Error('groups store is closed');
  }
}

function view(g: Stored): Group {
  return { id: g.id, title: g.title, owner: g.owner, members: sortMembers([...g.members].map(([user, role]) => ({ user, role }))) };
}

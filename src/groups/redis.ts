/**
 * Groups on Redis Cluster: one script per mutation on the group room's shard, checking the actor's
 * role, changing the membership and publishing the `member` event on the room's channel atomically.
 * Key layout and scripts: `redis-scripts.ts`.
 */
import type { Cluster } from 'ioredis';
import type { GroupRole } from '@parley/client/wire';
import { unavailable } from '../redis/connection.ts';
import { runScript } from '../redis/script.ts';
import { CREATE, GET, REMOVE, SET_ROLE, groupKeys } from './redis-scripts.ts';
import { type CreateInput, type Group, type GroupMember, type GroupRefusal, type Groups, MAX_GROUP_MEMBERS, sortMembers } from './types.ts';

const ROLES = new Set<string>(['owner', 'admin', 'member']);

export class RedisGroups implements Groups {
  readonly #redis: Cluster;

  constructor(redis: Cluster) {
    this.#redis = redis;
  }

  async create(input: CreateInput): Promise<Group | GroupRefusal> {
    const k = groupKeys(input.id);
    const reply = await this.#run(() =>
      runScript(this.#redis, CREATE, [k.meta, k.members, k.channel], [k.room, input.owner, input.title, MAX_GROUP_MEMBERS, ...input.members]),
    );
    const r = refusal(reply);
    return r ?? groupOf(input.id, reply).group;
  }

  async get(id: string): Promise<Group | null> {
    const k = groupKeys(id);
    const reply = await this.#run(() => runScript(this.#redis, GET, [k.meta, k.members], []));
    if (Array.isArray(reply) && reply.length === 0) return null;
    return groupOf(id, reply).group;
  }

  async role(id: string, user: string): Promise<GroupRole | null> {
    const role = await this.#run(() => this.#redis.hget(groupKeys(id).members, user));
    return role !== null && ROLES.has(role) ? (role as GroupRole) : null;
  }

  async members(id: string): Promise<string[]> {
    return await this.#run(() => this.#redis.hkeys(groupKeys(id).members));
  }

  async setRole(id: string, actor: string, user: string, role: 'member' | 'admin'): Promise<{ group: Group; changed: boolean } | GroupRefusal> {
    const k = groupKeys(id);
    const reply = await this.#run(() => runScript(this.#redis, SET_ROLE, [k.meta, k.members, k.channel], [k.room, actor, user, role, MAX_GROUP_MEMBERS]));
    return refusal(reply) ?? groupOf(id, reply);
  }

  async remove(id: string, actor: string, user: string): Promise<{ removed: boolean } | GroupRefusal> {
    const k = groupKeys(id);
    const reply = await this.#run(() => runScript(this.#redis, REMOVE, [k.members, k.channel], [k.room, actor, user]));
    const r = refusal(reply);
    if (r) return r;
    if (!Array.isArray(reply) || reply[0] !== 'ok') throw new Error('groups remove: unexpected reply');
    return { removed: reply[1] === 1 };
  }

  /** Nothing to release: the connection is shared, and closed by whoever made it (deps.ts). */
  async close(): Promise<void> {}

  async #run<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      return unavailable(err);
    }
  }
}

function refusal(reply: unknown): GroupRefusal | null {
  if (!Array.isArray(reply)) throw new Error('groups: unexpected reply');
  const [code, reason] = reply as unknown[];
  if ((code === 'forbidden' || code === 'conflict') && typeof reason === 'string') return { refused: code, reason };
  return null;
}

/** `{'ok', changed, title, owner, user, role…}` → the group. */
function groupOf(id: string, reply: unknown): { group: Group; changed: boolean } {
  if (!Array.isArray(reply) || reply[0] !== 'ok') throw new Error('groups: unexpected reply');
  const [, changed, title, owner, ...flat] = reply as unknown[];
  if (typeof title !== 'string' || typeof owner !== 'string') throw new Error('groups: unexpected reply');
  const members: GroupMember[] = [];
  for (let i = 0; i + 1 < flat.length; i += 2) {
    const user = flat[i];
    const role = flat[i + 1];
    if (typeof user !== 'string' || typeof role !== 'string' || !ROLES.has(role)) throw new Error('groups: unexpected member');
    members.push({ user, role: role as GroupRole });
  }
  return { group: { id, title, owner, members: sortMembers(members) }, changed: changed === 1 };
}

/**
 * Private groups: who is in a group and with which role. Memory implementation: `memory.ts`; Redis
 * Cluster: `redis.ts` (its keys carry the group ROOM's hash tag, so that one script checks a role,
 * changes the membership and publishes the change on the room's channel).
 *
 * Every mutation checks the actor's rights and publishes a `member` event on the group's room
 * (src/rooms/types.ts `MemberEvent`) in the same step as the change: on the room's channel, after
 * every message appended before it and before every message appended after it. The room log's
 * append refuses a non-member in the same step as the append (`NotAGroupMember`), so that nothing
 * from a removed member is stored after its removal event.
 */
import type { GroupRole } from '@parley/client/wire';

export type { GroupRole };

/** Members per group at most, the owner included. */
export const MAX_GROUP_MEMBERS = 1000;

export type GroupMember = { user: string; role: GroupRole };

/** A group: its members sorted by user name. */
export type Group = { id: string; title: string; owner: string; members: GroupMember[] };

/**
 * Why a mutation was refused:
 * - `forbidden`: the actor is not a member (or the group does not exist), or its role does not allow it;
 * - `conflict`: the group exists already (create), the owner would leave or lose its role, or the group is full.
 */
export type GroupRefusal = { refused: 'forbidden' | 'conflict'; reason: string };

export type CreateInput = { id: string; title: string; owner: string; members: readonly string[] };

export interface Groups {
  /**
   * Creates a group with `owner` as owner and `members` (the owner excluded; repeats ignored) as
   * members; at most `MAX_GROUP_MEMBERS` in all (`conflict` past it). `conflict` when it exists.
   * Publishes a `member` event for each member (by the owner).
   */
  create(input: CreateInput): Promise<Group | GroupRefusal>;

  /** The group, or null when it does not exist. */
  get(id: string): Promise<Group | null>;

  /** The role of `user` in the group; null when not a member or the group does not exist. */
  role(id: string, user: string): Promise<GroupRole | null>;

  /** Every member's user name (any order); empty for an unknown group. */
  members(id: string): Promise<string[]>;

  /**
   * Adds `user` with `role`, or changes its role. Owner and admins add members; only the owner
   * grants or takes `admin`; the owner's own role never changes. Setting the role a user already
   * has changes nothing and publishes nothing (`changed: false`).
   */
  setRole(id: string, actor: string, user: string, role: 'member' | 'admin'): Promise<{ group: Group; changed: boolean } | GroupRefusal>;

  /**
   * Removes `user`: owner and admins remove members; only the owner removes an admin; nobody removes
   * the owner; any member removes itself; the owner cannot leave (`conflict`). Removing a user who is
   * not a member changes nothing and publishes nothing (`removed: false`).
   */
  remove(id: string, actor: string, user: string): Promise<{ removed: boolean } | GroupRefusal>;

  close(): Promise<void>;
}

export const isRefusal = (r: object): r is GroupRefusal => 'refused' in r;

/** The members of a group in the order every implementation lists them: by user name. */
export function sortMembers(members: GroupMember[]): GroupMember[] {
  return members.sort((a, b) => (a.user < b.user ? -1 : a.user > b.user ? 1 : 0));
}

/**
 * The rights rules of `setRole` and `remove`, shared by the memory store and mirrored by the Redis
 * scripts (the contract suite holds both to them). `actorRole` null: not a member.
 */
export function refuseSetRole(actorRole: GroupRole | null, targetRole: GroupRole | null, role: 'member' | 'admin'): GroupRefusal | null {
  if (actorRole === null) return { refused: 'forbidden', reason: 'not a member of this group' };
  if (targetRole === 'owner') {
    // The owner asking for itself is a conflict with the state (like leaving); anyone else may not.
    return actorRole === 'owner'
      ? { refused: 'conflict', reason: 'the owner\'s role cannot change' }
      : { refused: 'forbidden', reason: 'the owner\'s role cannot change' };
  }
  if (actorRole === 'member') return { refused: 'forbidden', reason: 'only the owner and admins add members' };
  if (actorRole === 'admin' && (role === 'admin' || targetRole === 'admin')) {
    return { refused: 'forbidden', reason: 'only the owner grants or takes admin' };
  }
  return null;
}

export function refuseRemove(actorRole: GroupRole | null, actor: string, targetRole: GroupRole | null, user: string): GroupRefusal | null {
  if (actorRole === null) return { refused: 'forbidden', reason: 'not a member of this group' };
  if (targetRole === 'owner') {
    return actor === user ? { refused: 'conflict', reason: 'the owner cannot leave its group' } : { refused: 'forbidden', reason: 'nobody removes the owner' };
  }
  if (actor === user) return null;
  if (actorRole === 'member') return { refused: 'forbidden', reason: 'only the owner and admins remove members' };
  if (targetRole === 'admin' && actorRole !== 'owner') return { refused: 'forbidden', reason: 'only the owner removes an admin' };
  return null;
}

/**
 * Private groups as users see them: creating one, reading it, adding members and changing roles,
 * removing members; and the membership check behind every group room's access. Each mutation is one
 * step of the groups store that also publishes the room's `member` event (src/groups/types.ts).
 */
import { AppError } from '../errors.ts';
import type { Metrics } from '../metrics.ts';
import { groupRoom } from '@parley/client/wire';
import { type Group, type GroupRefusal, type Groups, MAX_GROUP_MEMBERS, isRefusal } from '../groups/types.ts';
import { backendError } from './backend.ts';
import type { ConversationService } from './conversations.ts';

/** A group as the REST API answers it. */
export type GroupView = Group & { room: string };

export type CreateGroup = { id?: string | undefined; title?: string | undefined; members?: readonly string[] | undefined };

type Op = 'create' | 'add' | 'role' | 'remove';

export class GroupService {
  readonly #groups: Groups;
  readonly #conversations: ConversationService;
  readonly #metrics: Metrics;

  constructor(groups: Groups, conversations: ConversationService, metrics: Metrics) {
    this.#groups = groups;
    this.#conversations = conversations;
    this.#metrics = metrics;
  }

  /**
   * Creates a group owned by `owner` (an id is generated when none is given). 409 `conflict` when the
   * id exists; more than `MAX_GROUP_MEMBERS` members in all (the owner included) is `invalid_request`.
   */
  async create(owner: string, input: CreateGroup): Promise<GroupView> {
    const members = [...new Set(input.members ?? [])].filter((u) => u !== owner);
    if (members.length + 1 > MAX_GROUP_MEMBERS) {
      throw new AppError('invalid_request', `members: a group has at most ${MAX_GROUP_MEMBERS} members, the owner included`);
    }
    const id = input.id ?? newGroupId();
    const made = await this.#groups.create({ id, title: input.title ?? '', owner, members }).catch(backendError('group create'));
    if (isRefusal(made)) this.#refuse('create', made);
    this.#count('create', 'changed');
    const room = groupRoom(id);
    for (const m of made.members) this.#conversations.recordFor(m.user, room);
    return view(made);
  }

  /** The group, for its members only: anyone else, and any unknown group, is 403 `forbidden`. */
  async get(user: string, id: string): Promise<GroupView> {
    const g = await this.#groups.get(id).catch(backendError('group get'));
    if (!g || !g.members.some((m) => m.user === user)) throw notMember();
    return view(g);
  }

  /** Adds `user` or changes its role (see `Groups.setRole`); answers the group. */
  async setRole(actor: string, id: string, user: string, role: 'member' | 'admin'): Promise<GroupView> {
    const before = await this.#groups.role(id, user).catch(backendError('group role'));
    const op: Op = before === null ? 'add' : 'role';
    const r = await this.#groups.setRole(id, actor, user, role).catch(backendError('group set role'));
    if (isRefusal(r)) this.#refuse(op, r);
    this.#count(op, r.changed ? 'changed' : 'unchanged');
    if (r.changed && op === 'add') this.#conversations.recordFor(user, groupRoom(id));
    return view(r.group);
  }

  /** Removes `user` (or the actor leaves); see `Groups.remove`. */
  async remove(actor: string, id: string, user: string): Promise<void> {
    const r = await this.#groups.remove(id, actor, user).catch(backendError('group remove'));
    if (isRefusal(r)) this.#refuse('remove', r);
    this.#count('remove', r.removed ? 'changed' : 'unchanged');
    if (r.removed) this.#conversations.forget(user, groupRoom(id));
  }

  /** Throws 403 `forbidden` unless `user` is a member of the group. */
  async requireMember(id: string, user: string): Promise<void> {
    const role = await this.#groups.role(id, user).catch(backendError('group role'));
    if (role === null) throw notMember();
  }

  /** Every member's name. */
  members(id: string): Promise<string[]> {
    return this.#groups.members(id).catch(backendError('group members'));
  }

  #refuse(op: Op, r: GroupRefusal): never {
    this.#count(op, r.refused);
    throw new AppError(r.refused, r.reason);
  }

  #count(op: Op, outcome: string): void {
    this.#metrics.groupChanges.inc({ op, outcome });
  }
}

const notMember = () => new AppError('forbidden', 'not a member of this group');

function view(g: Group): GroupView {
  return { room: groupRoom(g.id), id: g.id, title: g.title, owner: g.owner, members: g.members };
}

/** 16 URL-safe characters: 96 random bits. */
function newGroupId(): string {
  const b = crypto.getRandomValues(new Uint8Array(12));
  return btoa(String.fromCharCode(...b)).replace(/\+/g, '-').replace(/\//g, '_');
}

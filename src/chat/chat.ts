/**
 * `Chat`: the one door to the chat domain. The REST routes and the WebSocket session speak only to
 * it and its services; the stores behind it are its own, and every store call has one home here.
 *
 * - `access`: which rooms a user may use;
 * - `posting`: appending messages;
 * - `changes`: edits, deletes and reactions of messages;
 * - `history`: pages over the hot log and the archive, and what a join answers with;
 * - `presence`: members, statuses, and the announcements of users coming and going;
 * - `conversations`: each user's list of rooms;
 * - `groups`: private groups, their members and roles;
 * - `reads`: read positions, unread counts and receipts.
 */
import type { Stores } from './stores.ts';
import type { Metrics } from '../metrics.ts';
import type { RoomKind } from '@parley/client/wire';
import type { RoomHandler } from '../rooms/types.ts';
import { directRoomWith, roomKind } from './access.ts';
import { backendError } from './backend.ts';
import { Changes } from './changes.ts';
import { ConversationService } from './conversations.ts';
import { GroupService } from './groups.ts';
import { History } from './history.ts';
import { Posting } from './posting.ts';
import { PresenceService } from './presence.ts';
import { ReadService } from './reads.ts';

export type ChatOptions = {
  metrics: Metrics;
  /** Per-user REST posting rate (messages per second, burst). */
  postRate: { rate: number; burst: number };
};

export class Chat {
  readonly posting: Posting;
  readonly changes: Changes;
  readonly history: History;
  readonly presence: PresenceService;
  readonly conversations: ConversationService;
  readonly groups: GroupService;
  readonly reads: ReadService;
  readonly #stores: Stores;

  constructor(stores: Stores, opts: ChatOptions) {
    this.#stores = stores;
    this.reads = new ReadService(stores.reads, stores.durableReads, (id) => this.groups.members(id), opts.metrics);
    this.conversations = new ConversationService(stores.conversations, this.reads);
    this.posting = new Posting(stores.log, this.conversations, opts.metrics, opts.postRate);
    this.changes = new Changes(stores.log, stores.archive, opts.metrics);
    this.history = new History(stores.log, stores.archive);
    this.groups = new GroupService(stores.groups, this.conversations, opts.metrics);
    this.presence = new PresenceService(stores.presence, stores.users, stores.log, (id) => this.groups.members(id));
  }

  /**
   * Checks a room name and that `user` may use it: for a group room, that it is a member (one read of
   * the groups store). Throws `AppError` (invalid, or forbidden: unknown groups too).
   */
  async access(user: string, room: string): Promise<RoomKind> {
    const kind = roomKind(user, room);
    if (kind.kind === 'group') await this.groups.requireMember(kind.id, user);
    return kind;
  }

  /**
   * The room's kind, checking what the name alone tells (valid, direct room users) without asking
   * the groups store: for paths that already know the socket's membership (the hub takes removed
   * members' sockets out of their group rooms) or whose store step checks it atomically (append).
   */
  roomKind(user: string, room: string): RoomKind {
    return roomKind(user, room);
  }

  /** The direct room of `user` with `other` (refused with oneself). */
  directRoom(user: string, other: string): string {
    return directRoomWith(user, other);
  }

  /** Tells the room's other members that `user` is typing. */
  typing(room: string, user: string): Promise<void> {
    return this.#stores.log.signal(room, { type: 'typing', room, user }).catch(backendError('typing', room));
  }

  /** Delivers every later event of `room` to `handler` (the hub keeps one per room with local members). */
  subscribe(room: string, handler: RoomHandler): Promise<() => Promise<void>> {
    return this.#stores.log.subscribe(room, handler);
  }

  /** False while the backend cannot be reached (`/ready` then answers `degraded`). */
  healthy(): boolean {
    return this.#stores.healthy();
  }

  /** Closes every store. */
  close(): Promise<void> {
    return this.#stores.close();
  }
}

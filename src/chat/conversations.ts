/** The conversation list: the rooms a user takes part in, most recently active first. */
import { log } from '../log.ts';
import type { Message, RoomKind } from '@parley/client/wire';
import type { Conversations } from '../conversations/types.ts';
import type { RoomLog } from '../rooms/types.ts';
import { concerned } from './access.ts';
import { backendError } from './backend.ts';

/** One entry of `GET /v1/conversations`. */
export type ConversationItem = { room: string; seq: number; lastMessage?: Message };

/** Rooms listed at most. */
const MAX_ITEMS = 100;

export class ConversationService {
  readonly #conversations: Conversations;
  readonly #log: RoomLog;

  constructor(conversations: Conversations, log: RoomLog) {
    this.#conversations = conversations;
    this.#log = log;
  }

  /**
   * Records that `user` took part in `room` (joined or posted), in the list of everyone it concerns.
   * The list is secondary: a failure is logged and never fails the join or the post.
   */
  record(user: string, room: string, kind: RoomKind): void {
    // A group is listed from its creation or the member's addition on (`recordFor`), and forgotten on
    // removal (`forget`). Recording it again on a join or post would add nothing, and such a write,
    // issued just before a removal, could land after the removal's and list the group again.
    if (kind.kind === 'group') return;
    for (const u of concerned(kind, user)) {
      this.#conversations.add(u, room).catch((err) => log.warn('conversation update failed', { room, err }));
    }
  }

  /** Records `room` in `user`'s list (added to a group). Best effort, like `record`. */
  recordFor(user: string, room: string): void {
    this.#conversations.add(user, room).catch((err) => log.warn('conversation update failed', { room, err }));
  }

  /** Takes `room` out of `user`'s list (removed from a group). Best effort. */
  forget(user: string, room: string): void {
    this.#conversations.remove(user, room).catch((err) => log.warn('conversation update failed', { room, err }));
  }

  /** The user's rooms with each one's position and last message, most recently active first. */
  async list(user: string): Promise<ConversationItem[]> {
    const rooms = await this.#conversations.list(user, MAX_ITEMS).catch(backendError('conversations'));
    const latest = await this.#log.latest(rooms).catch(backendError('latest'));
    const items = rooms.map((room, order) => {
      const { seq, message } = latest[order] ?? { seq: 0 };
      return { item: message ? { room, seq, lastMessage: message } : { room, seq }, ts: message?.ts ?? 0, order };
    });
    items.sort((a, b) => b.ts - a.ts || a.order - b.order);
    return items.map((i) => i.item);
  }
}

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
/**
 * A user's participation in a room is written at most this often per instance. The list is ordered
 * by each room's last message; the stored time only decides which rooms make the list, so a write
 * on every message would buy nothing but one more Redis script per message.
 */
const RECORD_EVERY_MS = 60_000;
/** Entries remembered for that; past it the memory starts afresh (a few extra writes, no harm). */
const RECORDED_MAX = 100_000;

export class ConversationService {
  readonly #conversations: Conversations;
  readonly #log: RoomLog;
  readonly #now: () => number;
  /** `user\nroom` → when this instance last wrote it. */
  readonly #recorded = new Map<string, number>();

  constructor(conversations: Conversations, log: RoomLog, now: () => number = Date.now) {
    this.#conversations = conversations;
    this.#log = log;
    this.#now = now;
  }

  /**
   * Records that `user` took part in `room` (joined or posted), in the list of everyone it concerns,
   * at most once per `RECORD_EVERY_MS` for each of them. The list is secondary: a failure is logged
   * (and the next post tries again) and never fails the join or the post.
   */
  record(user: string, room: string, kind: RoomKind): void {
    // A group is listed from its creation or the member's addition on (`recordFor`), and forgotten on
    // removal (`forget`). Recording it again on a join or post would add nothing, and such a write,
    // issued just before a removal, could land after the removal's and list the group again.
    if (kind.kind === 'group') return;
    const now = this.#now();
    for (const u of concerned(kind, user)) {
      const key = `${u}\n${room}`;
      if (now - (this.#recorded.get(key) ?? -Infinity) < RECORD_EVERY_MS) continue;
      if (this.#recorded.size >= RECORDED_MAX) this.#recorded.clear();
      this.#recorded.set(key, now);
      this.#conversations.add(u, room).catch((err) => {
        this.#recorded.delete(key);
        log.warn('conversation update failed', { room, err });
      });
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

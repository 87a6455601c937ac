/** The conversation list: the rooms a user takes part in, most recently active first. */
import { log } from '../log.ts';
import type { Message, RoomKind } from '@parley/client/wire';
import type { Conversations } from '../conversations/types.ts';
import { concerned } from './access.ts';
import { backendError } from './backend.ts';
import type { ReadService } from './reads.ts';

/** One entry of `GET /v1/conversations`. */
export type ConversationItem = { room: string; seq: number; lastMessage?: Message; lastRead: number; unread: number };

/** Rooms listed at most: all a user's list holds (src/conversations/: 1000). */
const MAX_ITEMS = 1000;
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
  readonly #reads: ReadService;
  readonly #now: () => number;
  /** `user\nroom` → when this instance last wrote it. */
  readonly #recorded = new Map<string, number>();

  constructor(conversations: Conversations, reads: ReadService, now: () => number = Date.now) {
    this.#conversations = conversations;
    this.#reads = reads;
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

  /**
   * The user's rooms with each one's position, last message, read position and unread count, most
   * recently active first: one batched read after the list (one script per room, one round trip
   * per shard).
   */
  async list(user: string): Promise<ConversationItem[]> {
    const rooms = await this.#conversations.list(user, MAX_ITEMS).catch(backendError('conversations'));
    const reads = await this.#reads.unread(user, rooms);
    const items = rooms.map((room, order) => {
      const { lastRead, unread, latest } = reads[order] ?? { lastRead: 0, unread: 0, latest: { seq: 0 } };
      const { seq, message } = latest;
      const item: ConversationItem = message ? { room, seq, lastMessage: message, lastRead, unread } : { room, seq, lastRead, unread };
      return { item, ts: message?.ts ?? 0, order };
    });
    items.sort((a, b) => b.ts - a.ts || a.order - b.order);
    return items.map((i) => i.item);
  }
}

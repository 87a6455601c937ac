/** In-process conversations: each user's rooms in the order they were last added. */
import type { Conversations } from './types.ts';

/** Rooms remembered per user; the least recently added are forgotten first. */
const MAX_ROOMS_PER_USER = 1000;

export class MemoryConversations implements Conversations {
  readonly #byUser = new Map<string, Set<string>>();

  async add(user: string, room: string): Promise<void> {
    let rooms = this.#byUser.get(user);
    if (!rooms) this.#byUser.set(user, (rooms = new Set()));
    rooms.delete(room); // re-insert: a Set iterates in insertion order
    rooms.add(room);
    if (rooms.size > MAX_ROOMS_PER_USER) {
      const oldest = rooms.values().next().value;
      if (oldest !== undefined) rooms.delete(oldest);
    }
  }

  async list(user: string, limit: number): Promise<string[]> {
    const rooms = this.#byUser.get(user);
    return rooms ? [...rooms].reverse().slice(0, limit) : [];
  }

  async remove(user: string, room: string): Promise<void> {
    this.#byUser.get(user)?.delete(room);
  }

  async close(): Promise<void> {
    this.#byUser.clear();
  }
}

/**
 * In-process user state: the embedded default, and the reference the MongoDB store is tested
 * against (test/contract/users.ts). One small record per user ever seen, never forgotten: a
 * single process serves a bounded number of users, and forgetting one would turn a known
 * `lastSeen` into "never seen".
 */
import type { UserState, UserStore, UserTransition } from './types.ts';

export class MemoryUserStore implements UserStore {
  readonly #users = new Map<string, UserState>();

  async apply(transitions: readonly UserTransition[]): Promise<void> {
    for (const { user, status, at } of transitions) {
      const stored = this.#users.get(user);
      // Not later than what is stored: a duplicate or a late arrival, which never moves a user back.
      if (stored && !(at > stored.updatedAt)) continue;
      this.#users.set(user, { user, status, lastSeen: at, updatedAt: at });
    }
  }

  async get(user: string): Promise<UserState | null> {
    const stored = this.#users.get(user);
    return stored ? { ...stored } : null;
  }

  async getMany(users: readonly string[]): Promise<(UserState | null)[]> {
    return users.map((u) => {
      const stored = this.#users.get(u);
      return stored ? { ...stored } : null;
    });
  }

  async close(): Promise<void> {
    this.#users.clear();
  }
}

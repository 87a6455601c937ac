/** Conversations: the rooms each user has taken part in. */
export interface Conversations {
  /** Records that `user` takes part in `room` (joined or posted). Idempotent. */
  add(user: string, room: string): Promise<void>;

  /** The user's rooms, at most `limit`, most recently added first (the caller orders by activity). */
  list(user: string, limit: number): Promise<string[]>;

  /** Forgets `room` from the user's list (removed from a group). Idempotent. */
  remove(user: string, room: string): Promise<void>;

  close(): Promise<void>;
}

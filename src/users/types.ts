/**
 * Durable user state: online/offline and last-seen time, written by the presence worker from the
 * presence event streams, read by the chat instances for users who are offline.
 * Memory implementation: `memory.ts`; MongoDB (`parley.users`): `mongo.ts`.
 */
import type { PresenceStatus } from '@parley/client/wire';

/** A user's stored state; `updatedAt` is the time of the transition that produced it. */
export type UserState = { user: string; status: PresenceStatus; lastSeen: number; updatedAt: number };

/**
 * A transition: the user went `status` at `at` (epoch ms). `lastSeen` becomes `at`: the moment
 * the user was last known to be there (for `online`, the moment they came).
 */
export type UserTransition = { user: string; status: PresenceStatus; at: number };

export interface UserStore {
  /**
   * Applies transitions, in any order and any number of times: a transition whose `at` is not
   * later than the stored `updatedAt` changes nothing, so duplicates and late arrivals never move
   * a user backwards. At most one transition per user per call (the caller coalesces).
   * Throws `BackendUnavailable` when the store cannot be reached; then nothing or part was applied,
   * and applying the same transitions again is safe.
   */
  apply(transitions: readonly UserTransition[]): Promise<void>;

  /** The stored state, or null for a user never seen. Throws `BackendUnavailable`. */
  get(user: string): Promise<UserState | null>;

  /** The stored states of `users`, in the order asked (null: never seen), in one read. Throws `BackendUnavailable`. */
  getMany(users: readonly string[]): Promise<(UserState | null)[]>;

  close(): Promise<void>;
}

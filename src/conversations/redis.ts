/**
 * Conversations in Redis Cluster: one sorted set per user, `parley:{u:<user>}:rooms`, room → a score
 * that grows with every add (the time in ms, or one more than the newest when adds come faster).
 */
import type { Cluster } from 'ioredis';
import { unavailable } from '../redis/connection.ts';
import { runScript, script } from '../redis/script.ts';
import type { Conversations } from './types.ts';

/** Rooms remembered per user, as in memory; the least recently added are forgotten first. */
const MAX_ROOMS_PER_USER = 1000;

/**
 * KEYS: rooms. ARGV: room, now, max. The score is strictly above every other, so that the room just
 * added lists first even when two adds fall in one millisecond or clocks of instances differ.
 */
const ADD = script(`
local top = redis.call('ZREVRANGE', KEYS[1], 0, 0, 'WITHSCORES')
local score = tonumber(ARGV[2])
if top[2] and top[1] ~= ARGV[1] and tonumber(top[2]) >= score then score = tonumber(top[2]) + 1 end
if top[1] == ARGV[1] and tonumber(top[2]) >= score then score = tonumber(top[2]) end
redis.call('ZADD', KEYS[1], score, ARGV[1])
redis.call('ZREMRANGEBYRANK', KEYS[1], 0, -1 - tonumber(ARGV[3]))
return 1
`);

export type RedisConversationsOptions = {
  now?: () => number;
};

export class RedisConversations implements Conversations {
  readonly #redis: Cluster;
  readonly #now: () => number;

  constructor(redis: Cluster, opts: RedisConversationsOptions = {}) {
    this.#redis = redis;
    this.#now = opts.now ?? Date.now;
  }

  /** Idempotent; re-adding makes the room the most recent. Throws `BackendUnavailable`. */
  async add(user: string, room: string): Promise<void> {
    await runScript(this.#redis, ADD, [key(user)], [room, this.#now(), MAX_ROOMS_PER_USER]).catch(unavailable);
  }

  /** Newest first, at most `limit`. Throws `BackendUnavailable`. */
  async list(user: string, limit: number): Promise<string[]> {
    if (limit <= 0) return [];
    return await this.#redis.zrevrange(key(user), 0, limit - 1).catch(unavailable);
  }

  /** Idempotent. Throws `BackendUnavailable`. */
  async remove(user: string, room: string): Promise<void> {
    await this.#redis.zrem(key(user), room).catch(unavailable);
  }

  /** Nothing to release: the connection is shared, and closed by whoever made it (deps.ts). */
  async close(): Promise<void> {}
}

const key = (user: string): string => `parley:{u:${user}}:rooms`;

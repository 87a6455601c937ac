/** Posting a message, over the WebSocket or REST: idempotent by `cid`, counted, listed. */
import { AppError } from '../errors.ts';
import type { Metrics } from '../metrics.ts';
import type { RoomKind } from '@parley/client/wire';
import type { AppendResult, RoomLog } from '../rooms/types.ts';
import { backendError } from './backend.ts';
import type { ConversationService } from './conversations.ts';
import { UserRateLimit } from './rate-limit.ts';

export class Posting {
  readonly #log: RoomLog;
  readonly #conversations: ConversationService;
  readonly #metrics: Metrics;
  /** REST posts per user; WebSocket sends are limited per socket by the session. */
  readonly #perUser: UserRateLimit;

  constructor(log: RoomLog, conversations: ConversationService, metrics: Metrics, rate: { rate: number; burst: number }) {
    this.#log = log;
    this.#conversations = conversations;
    this.#metrics = metrics;
    this.#perUser = new UserRateLimit(rate.rate, rate.burst);
  }

  /**
   * Appends a message (idempotent by `cid`) and records the conversation for everyone it concerns.
   * Throws `AppError` (`unavailable` when the backend is down, `internal` otherwise).
   */
  async post(user: string, room: string, kind: RoomKind, text: string, cid?: string): Promise<AppendResult> {
    const input = cid === undefined ? { from: user, text } : { from: user, text, cid };
    const result = await this.#log.append(room, input).catch(backendError('append', room));
    if (!result.duplicate) {
      this.#metrics.appended.inc();
      this.#conversations.record(user, room, kind);
    }
    return result;
  }

  /** Takes one of `user`'s REST posting tokens; throws `rate_limited` with a retry time when none is left. */
  takeUserToken(user: string): void {
    const wait = this.#perUser.take(user);
    if (wait > 0) throw new AppError('rate_limited', 'too many messages; slow down', Math.ceil(wait / 1000));
  }
}

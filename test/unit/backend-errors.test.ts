/**
 * What a client is told when a store fails: `unavailable` (retry later) for a backend that cannot
 * answer right now, `internal` only for the rest.
 */
import { describe, expect, it } from 'vitest';
import { backendError } from '../../src/chat/backend.ts';
import { AppError, BackendUnavailable } from '../../src/errors.ts';
import { configureLog } from '../../src/log.ts';
import { isUnavailable, unavailable } from '../../src/redis/connection.ts';

configureLog('error', {});

class ReplyError extends Error {
  override name = 'ReplyError';
}

const codeOf = (err: unknown): string => {
  try {
    backendError('append', 'room')(err);
  } catch (e) {
    return (e as AppError).code;
  }
  return 'none';
};

describe('a store failure as the client sees it', () => {
  it('is unavailable for a command a failover redirected (MOVED or ASK handed back from a pipeline)', () => {
    for (const message of ['MOVED 15882 127.0.0.1:22025', 'ASK 3999 10.0.0.7:6379']) {
      expect(isUnavailable(new ReplyError(message)), message).toBe(true);
      expect(() => unavailable(new ReplyError(message))).toThrow(BackendUnavailable);
    }
  });

  it('is unavailable for a timeout or a closed connection, and internal for a bug', () => {
    const wrap = (err: Error) => {
      try {
        return unavailable(err);
      } catch (e) {
        return e;
      }
    };
    expect(codeOf(wrap(new Error('Command timed out')))).toBe('unavailable');
    expect(codeOf(wrap(new Error('Connection is closed.')))).toBe('unavailable');
    expect(codeOf(wrap(new ReplyError('ERR Error running script: attempt to index a nil value')))).toBe('internal');
    expect(codeOf(wrap(new ReplyError('WRONGTYPE Operation against a key holding the wrong kind of value')))).toBe('internal');
  });
});

/** The one error type of the REST API, and the error of an unreachable backend. */
import type { ErrorCode } from '@parley/client/wire';

const STATUS: Record<ErrorCode | 'invalid_request' | 'unauthorized' | 'too_large' | 'conflict', number> = {
  invalid_request: 400,
  invalid_message: 400,
  unknown_type: 400,
  unauthorized: 401,
  forbidden: 403,
  not_member: 403,
  not_found: 404,
  conflict: 409,
  too_large: 413,
  rate_limited: 429,
  too_many_rooms: 429,
  token_expired: 401,
  internal: 500,
  unavailable: 503,
};
export type RestErrorCode = keyof typeof STATUS;

/** A refused REST request; `app.onError` turns it into `{"error":{"code","message"}}`. */
export class AppError extends Error {
  override name = 'AppError';
  readonly status: number;
  constructor(
    readonly code: RestErrorCode,
    message: string,
    /** Seconds, for `Retry-After` on 429 and 503. */
    readonly retryAfter?: number,
  ) {
    super(message);
    this.status = STATUS[code];
  }
}

/** A backend (Redis, MongoDB) could not be reached; clients should retry later. */
export class BackendUnavailable extends Error {
  override name = 'BackendUnavailable';
}

/** What a client is told when a backend could not be reached: `unavailable`, retry after 2 s. */
export function unavailable(): AppError {
  return new AppError('unavailable', 'a backend is unavailable; retry later', 2);
}

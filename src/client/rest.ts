/**
 * The history route (`GET /v1/rooms/:room/messages?after=`), the one REST call the client needs to
 * fill gaps. Answers are checked before use.
 */
import { LIMITS, type Message } from '../protocol.ts';
import { isMessage } from './decode.ts';
import { ClientError, type ClientErrorCode, type FetchLike } from './types.ts';

/** One page of history after a position. */
export type HistoryPage = { epoch: string; messages: Message[]; hasMore: boolean };

/** Reads the page of `room` after `after` (ascending seq, at most 200). Throws `ClientError`. */
export type FetchAfter = (room: string, after: number) => Promise<HistoryPage>;

/** Room names need no escaping but `:` of direct rooms; keep it literal, as the server expects. */
export const roomPath = (room: string): string => encodeURIComponent(room).replaceAll('%3A', ':');

/** Builds a `FetchAfter` against `baseUrl`, sending `headers()` (auth) with every request. */
export function historyFetcher(baseUrl: string, fetch: FetchLike, headers: () => Record<string, string>): FetchAfter {
  return async (room, after) => {
    const url = `${baseUrl}/v1/rooms/${roomPath(room)}/messages?after=${after}&limit=${LIMITS.historyMax}`;
    let res: Awaited<ReturnType<FetchLike>>;
    try {
      res = await fetch(url, { headers: headers() });
    } catch (err) {
      throw new ClientError('history_failed', `history request failed: ${String(err)}`);
    }
    const body: unknown = await res.json().catch(() => undefined);
    if (!res.ok) throw new ClientError(errorCode(body), `history answered ${res.status}`);
    if (!isPage(body)) throw new ClientError('history_failed', 'history answer is malformed');
    return { epoch: body.epoch, messages: body.messages, hasMore: body.hasMore };
  };
}

function isPage(x: unknown): x is HistoryPage {
  if (typeof x !== 'object' || x === null) return false;
  const o = x as Record<string, unknown>;
  return (
    typeof o['epoch'] === 'string' &&
    typeof o['hasMore'] === 'boolean' &&
    Array.isArray(o['messages']) &&
    o['messages'].every(isMessage)
  );
}

const SERVER_CODES: ReadonlySet<string> = new Set(['forbidden', 'rate_limited', 'unavailable', 'internal']);

function errorCode(body: unknown): ClientErrorCode {
  const err = typeof body === 'object' && body !== null ? (body as Record<string, unknown>)['error'] : undefined;
  const code = typeof err === 'object' && err !== null ? (err as Record<string, unknown>)['code'] : undefined;
  return typeof code === 'string' && SERVER_CODES.has(code) ? (code as ClientErrorCode) : 'history_failed';
}

/**
 * The REST calls the client makes: history after a position (to fill gaps) and the caller's
 * conversations. Answers are checked before use.
 */
import { LIMITS, type Message } from './wire.ts';
import { isMessage } from './decode.ts';
import { ClientError, type ClientErrorCode, type FetchLike } from './types.ts';

/** One page of history after a position. */
export type HistoryPage = { epoch: string; messages: Message[]; hasMore: boolean };

/** Reads the page of `room` after `after` (ascending seq, at most 200). Throws `ClientError`. */
export type FetchAfter = (room: string, after: number) => Promise<HistoryPage>;

/** One of the caller's rooms (`GET /v1/conversations`). */
export type Conversation = { room: string; seq: number; lastMessage?: Message };

/** Room names need no escaping but `:` of direct rooms; keep it literal, as the server expects. */
export const roomPath = (room: string): string => encodeURIComponent(room).replaceAll('%3A', ':');

type Obj = Record<string, unknown>;
const isObj = (x: unknown): x is Obj => typeof x === 'object' && x !== null;

/** GETs JSON from the service, sending `headers()` (auth). Throws `ClientError`, never anything else. */
export type GetJson = (path: string) => Promise<unknown>;

export function jsonGetter(baseUrl: string, fetch: FetchLike, headers: () => Promise<Record<string, string>>): GetJson {
  return async (path) => {
    let res: Awaited<ReturnType<FetchLike>>;
    try {
      res = await fetch(`${baseUrl}${path}`, { headers: await headers() });
    } catch (err) {
      throw new ClientError('history_failed', `request failed: ${String(err)}`);
    }
    const body: unknown = await res.json().catch(() => undefined);
    if (!res.ok) throw new ClientError(errorCode(body), `${path.split('?')[0]} answered ${res.status}`);
    return body;
  };
}

/** Builds the `FetchAfter` of the gap filler. */
export function historyFetcher(get: GetJson): FetchAfter {
  return async (room, after) => {
    const body = await get(`/v1/rooms/${roomPath(room)}/messages?after=${after}&limit=${LIMITS.historyMax}`);
    if (!isPage(body)) throw new ClientError('history_failed', 'history answer is malformed');
    return { epoch: body.epoch, messages: body.messages, hasMore: body.hasMore };
  };
}

/** Reads the caller's conversations, most recent first; malformed items are skipped. */
export async function fetchConversations(get: GetJson): Promise<Conversation[]> {
  const body = await get('/v1/conversations');
  const items = isObj(body) && Array.isArray(body['items']) ? body['items'] : [];
  return items.flatMap((i: unknown): Conversation[] => {
    if (!isObj(i) || typeof i['room'] !== 'string' || typeof i['seq'] !== 'number') return [];
    const item: Conversation = { room: i['room'], seq: i['seq'] };
    if (isMessage(i['lastMessage'])) item.lastMessage = i['lastMessage'];
    return [item];
  });
}

function isPage(x: unknown): x is HistoryPage {
  return (
    isObj(x) &&
    typeof x['epoch'] === 'string' &&
    typeof x['hasMore'] === 'boolean' &&
    Array.isArray(x['messages']) &&
    x['messages'].every(isMessage)
  );
}

const SERVER_CODES: ReadonlySet<string> = new Set(['forbidden', 'rate_limited', 'unavailable', 'internal']);

function errorCode(body: unknown): ClientErrorCode {
  const err = isObj(body) ? body['error'] : undefined;
  const code = isObj(err) ? err['code'] : undefined;
  return typeof code === 'string' && SERVER_CODES.has(code) ? (code as ClientErrorCode) : 'history_failed';
}

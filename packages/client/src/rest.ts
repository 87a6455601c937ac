/**
 * The REST calls the client makes: history after a position (to fill gaps), the caller's
 * conversations, and private groups (v1.1). Answers are checked before use.
 */
import { ERROR_CODES, LIMITS, type Message } from './wire.ts';
import { isMessage } from './decode.ts';
import { ClientError, REST_ERROR, type ClientErrorCode, type FetchLike, type Group, type GroupMember } from './types.ts';

/** One page of history after a position. */
export type HistoryPage = { epoch: string; messages: Message[]; hasMore: boolean };

/** Reads the page of `room` after `after` (ascending seq, at most 200). Throws `ClientError`. */
export type FetchAfter = (room: string, after: number) => Promise<HistoryPage>;

/** One of the caller's rooms (`GET /v1/conversations`); `lastRead` and `unread` from v1.1 (0 from older servers). */
export type Conversation = { room: string; seq: number; lastMessage?: Message; lastRead: number; unread: number };

/** Room names need no escaping but `:` of direct rooms; keep it literal, as the server expects. */
export const roomPath = (room: string): string => encodeURIComponent(room).replaceAll('%3A', ':');

type Obj = Record<string, unknown>;
const isObj = (x: unknown): x is Obj => typeof x === 'object' && x !== null;

/**
 * Requests JSON from the service, sending `headers()` (auth): a GET by default, else `method` with
 * `body` as JSON. Resolves with the answer's body (undefined when it has none, e.g. 204). Throws
 * `ClientError` with the server's code on an error status, never anything else.
 */
export type GetJson = (path: string, request?: { method: 'POST' | 'PUT' | 'DELETE'; body?: unknown }) => Promise<unknown>;

export function jsonGetter(baseUrl: string, fetch: FetchLike, headers: () => Promise<Record<string, string>>): GetJson {
  return async (path, request) => {
    let res: Awaited<ReturnType<FetchLike>>;
    try {
      const auth = await headers();
      const init: Parameters<FetchLike>[1] =
        request === undefined
          ? { headers: auth }
          : request.body === undefined
            ? { method: request.method, headers: auth }
            : { method: request.method, headers: { ...auth, 'content-type': 'application/json' }, body: JSON.stringify(request.body) };
      res = await fetch(`${baseUrl}${path}`, init);
    } catch (err) {
      throw new ClientError('history_failed', `request failed: ${String(err)}`);
    }
    const body: unknown = await res.json().catch(() => undefined);
    if (!res.ok) {
      const what = `${request?.method ?? 'GET'} ${path.split('?')[0]} answered ${res.status}`;
      throw new ClientError(errorCode(body), `${what}${serverMessage(body)}`);
    }
    return body;
  };
}

/** Which page of history: `after` a seq, `before` one, or the latest; `limit` 1..200 (default 50). */
export type HistoryQuery = { after?: number; before?: number; limit?: number };

/** `GET /v1/rooms/:room/messages`: one page, ascending seq, text messages with their state (v1.1). */
export async function fetchHistory(get: GetJson, room: string, query: HistoryQuery): Promise<HistoryPage> {
  const params = Object.entries(query).filter(([, v]) => v !== undefined).map(([k, v]) => `${k}=${String(v)}`);
  const body = await get(`/v1/rooms/${roomPath(room)}/messages${params.length > 0 ? `?${params.join('&')}` : ''}`);
  if (!isPage(body)) throw new ClientError('history_failed', 'history answer is malformed');
  return { epoch: body.epoch, messages: body.messages, hasMore: body.hasMore };
}

/** Builds the `FetchAfter` of the gap filler. */
export function historyFetcher(get: GetJson): FetchAfter {
  return (room, after) => fetchHistory(get, room, { after, limit: LIMITS.historyMax });
}

/** Reads the caller's conversations, most recent first; malformed items are skipped. */
export async function fetchConversations(get: GetJson): Promise<Conversation[]> {
  const body = await get('/v1/conversations');
  const items = isObj(body) && Array.isArray(body['items']) ? body['items'] : [];
  return items.flatMap((i: unknown): Conversation[] => {
    if (!isObj(i) || typeof i['room'] !== 'string' || typeof i['seq'] !== 'number') return [];
    const count = (x: unknown) => (typeof x === 'number' && Number.isInteger(x) && x >= 0 ? x : 0);
    const item: Conversation = { room: i['room'], seq: i['seq'], lastRead: count(i['lastRead']), unread: count(i['unread']) };
    if (isMessage(i['lastMessage'])) item.lastMessage = i['lastMessage'];
    return [item];
  });
}

/** `GET /v1/rooms/:room/reads`: how far each member (in a public room: the caller) has read. */
export async function fetchReads(get: GetJson, room: string): Promise<{ user: string; seq: number }[]> {
  const body = await get(`/v1/rooms/${roomPath(room)}/reads`);
  const reads = isObj(body) && Array.isArray(body['reads']) ? body['reads'] : null;
  if (!reads) throw new ClientError('history_failed', 'reads answer is malformed');
  return reads.flatMap((r: unknown) => (isObj(r) && typeof r['user'] === 'string' && typeof r['seq'] === 'number' ? [{ user: r['user'], seq: r['seq'] }] : []));
}

/** Group ids and user names are URL-safe by their patterns; encode anyway so a bad one stays one path segment. */
const seg = (s: string): string => encodeURIComponent(s);

/** `POST /v1/groups`: creates a group owned by the caller. */
export async function createGroup(get: GetJson, input: { id?: string; title?: string; members?: string[] }): Promise<Group> {
  return group(await get('/v1/groups', { method: 'POST', body: input }));
}

/** `GET /v1/groups/:id` (members only). */
export async function fetchGroup(get: GetJson, id: string): Promise<Group> {
  return group(await get(`/v1/groups/${seg(id)}`));
}

/** `PUT /v1/groups/:id/members/:user`: adds `user` or changes its role. */
export async function putMember(get: GetJson, id: string, user: string, role: 'member' | 'admin'): Promise<Group> {
  return group(await get(`/v1/groups/${seg(id)}/members/${seg(user)}`, { method: 'PUT', body: { role } }));
}

/** `DELETE /v1/groups/:id/members/:user`: removes `user` (or leaves, for the caller itself). */
export async function deleteMember(get: GetJson, id: string, user: string): Promise<void> {
  await get(`/v1/groups/${seg(id)}/members/${seg(user)}`, { method: 'DELETE' });
}

const ROLES: ReadonlySet<unknown> = new Set(['owner', 'admin', 'member']);
const isGroupMember = (x: unknown): x is GroupMember => isObj(x) && typeof x['user'] === 'string' && ROLES.has(x['role']);

function group(x: unknown): Group {
  if (
    isObj(x) &&
    typeof x['room'] === 'string' &&
    typeof x['id'] === 'string' &&
    typeof x['title'] === 'string' &&
    typeof x['owner'] === 'string' &&
    Array.isArray(x['members']) &&
    x['members'].every(isGroupMember)
  ) {
    return {
      room: x['room'],
      id: x['id'],
      title: x['title'],
      owner: x['owner'],
      members: x['members'].map((m: GroupMember) => ({ user: m.user, role: m.role })),
    };
  }
  throw new ClientError('history_failed', 'group answer is malformed');
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

const SERVER_CODES: ReadonlySet<string> = new Set([...Object.keys(ERROR_CODES), ...Object.keys(REST_ERROR)]);

function errorCode(body: unknown): ClientErrorCode {
  const err = isObj(body) ? body['error'] : undefined;
  const code = isObj(err) ? err['code'] : undefined;
  return typeof code === 'string' && SERVER_CODES.has(code) ? (code as ClientErrorCode) : 'history_failed';
}

/** `: <the server's message>` when the error body has one. */
function serverMessage(body: unknown): string {
  const err = isObj(body) ? body['error'] : undefined;
  const message = isObj(err) ? err['message'] : undefined;
  return typeof message === 'string' && message !== '' ? `: ${message.slice(0, 200)}` : '';
}

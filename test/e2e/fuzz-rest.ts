/**
 * REST fuzzing (docs/protocol.md sections 11 and 13): seeded random requests to every route —
 * right and wrong methods, valid and malformed path segments, missing and bad credentials, odd
 * queries, and bodies that are valid, wrong-typed, truncated, not JSON or over the size limit — and
 * an oracle written from the protocol text:
 *
 * - never a 5xx; an error is `{"error":{"code","message"}}` whose code fits its status;
 * - a success has its route's documented shape, and a group always has exactly one owner;
 * - group rooms and group routes answer nothing but 403 to a user who is not a member. Who is a
 *   member is tracked from the answers themselves (a group in a PUT's answer, a 204 DELETE), so a
 *   lane's requests go one at a time; lanes run side by side on their own users and groups.
 *
 * Used by the unit fuzz (in-process, memory stores) and the e2e fuzz (two instances on Redis Cluster).
 */
import { Rng } from './fuzz.ts';

export type RestRequest = { method: string; path: string; headers: Record<string, string>; body?: string };
export type RestResponse = { status: number; text: string };
export type Transport = (req: RestRequest) => Promise<RestResponse>;

const BODY_LIMIT = 64 * 1024;
const CODES: Record<number, string[]> = {
  400: ['invalid_request'],
  401: ['unauthorized', 'token_expired'],
  403: ['forbidden', 'not_member'],
  404: ['not_found'],
  409: ['conflict'],
  413: ['too_large'],
  429: ['rate_limited'],
};

type Role = 'owner' | 'admin' | 'member';
type Lane = { users: string[]; groups: Map<string, Map<string, Role>> };

export type RestFuzzReport = { requests: number; byStatus: Record<string, number>; failures: string[] };

/** Junk for path segments and fields: right-looking, wrong-looking, hostile. */
const JUNK = ['', ' ', '..', '%2e%2e', 'a'.repeat(65), 'ü', '%F0%9F%92%A9', '%00', 'dm:a', 'grp:', 'grp:%20x', 'null', '-1', '1e309', '[]', '{}', '%ZZ', 'a/b'];

export class RestFuzz {
  readonly #lanes: Lane[] = [];
  readonly #failures: string[] = [];
  readonly #byStatus: Record<string, number> = {};
  #requests = 0;

  constructor(
    readonly seed: number,
    readonly lanes: number,
    readonly prefix: string,
  ) {
    for (let l = 0; l < lanes; l++) this.#lanes.push({ users: Array.from({ length: 4 }, (_, i) => `${prefix}${l}u${i}`), groups: new Map() });
  }

  /** Runs `perLane` requests in every lane (lanes side by side), then checks every group's final state. */
  async run(send: Transport, perLane: number): Promise<RestFuzzReport> {
    await Promise.all(
      this.#lanes.map(async (lane, l) => {
        const rng = new Rng(Rng.derive(this.seed, l));
        const owner = lane.users[0] as string;
        const created = await this.#call(send, lane, { method: 'POST', path: '/v1/groups', headers: json(owner), body: JSON.stringify({ members: [lane.users[1]] }) });
        if (created.status !== 201) this.#fail(`lane ${l}: the first group was not created: ${created.status}`);
        for (let i = 0; i < perLane; i++) {
          const req = this.#generate(rng, lane);
          if (req.method === 'GET') delete req.body;
          await this.#call(send, lane, req);
        }
      }),
    );
    for (const lane of this.#lanes) {
      for (const [id, members] of lane.groups) {
        const owner = [...members].find(([, r]) => r === 'owner')?.[0] as string;
        const res = await send({ method: 'GET', path: `/v1/groups/${id}`, headers: { 'X-User': owner } });
        const g = parse(res.text) as { members?: { user: string; role: Role }[] } | undefined;
        const got = (g?.members ?? []).map((m) => `${m.user}:${m.role}`).sort();
        const want = [...members].map(([u, r]) => `${u}:${r}`).sort();
        if (res.status !== 200 || got.join() !== want.join()) this.#fail(`group ${id}: ${res.status} ${got.join()} != tracked ${want.join()}`);
      }
    }
    return { requests: this.#requests, byStatus: this.#byStatus, failures: this.#failures };
  }

  #generate(rng: Rng, lane: Lane): RestRequest {
    const user = rng.chance(0.92) ? rng.pick(lane.users) : rng.pick(['', 'bad name', 'x'.repeat(33)]);
    const headers: Record<string, string> = rng.chance(0.05) ? {} : { 'X-User': user };
    if (rng.chance(0.03)) headers['Authorization'] = rng.pick(['Bearer', 'Bearer x.y.z', 'Basic abc']);
    if (rng.chance(0.03)) headers['Content-Type'] = rng.pick(['text/plain', 'application/x-www-form-urlencoded', 'application/json; charset=latin1']);
    const ids = [...lane.groups.keys()];
    const group = ids.length > 0 && rng.chance(0.85) ? rng.pick(ids) : rng.pick([...JUNK, 'nope-' + rng.int(0, 9)]);
    const room = rng.pick([`grp:${group}`, `grp:${group}`, 'lobby', `dm:${lane.users[0]}:${lane.users[1]}`, rng.pick(JUNK)]);
    const target = rng.chance(0.85) ? rng.pick(lane.users) : rng.pick(JUNK);
    const method = rng.chance(0.05) ? rng.pick(['PATCH', 'DELETE', 'PUT', 'POST', 'GET']) : undefined;
    const enc = (s: string) => (s.includes('%') ? s : encodeURIComponent(s));
    switch (rng.int(0, 8)) {
      case 0: {
        const q = rng.pick(['', '?after=0', '?before=5&limit=3', '?limit=0', '?limit=201', '?after=x', '?after=3&before=2', '?limit=1e3', '?after=-1', `?after=${rng.int(0, 50)}`]);
        return { method: method ?? 'GET', path: `/v1/rooms/${enc(room)}/messages${q}`, headers };
      }
      case 1:
        return { method: method ?? 'POST', path: `/v1/rooms/${enc(room)}/messages`, headers: json(headers), body: this.#body(rng, { text: 'hi', cid: `c${rng.int(0, 20)}` }) };
      case 2:
        return { method: method ?? 'GET', path: `/v1/rooms/${enc(room)}/presence`, headers };
      case 3:
        return { method: method ?? 'GET', path: `/v1/users/${enc(target)}/presence`, headers };
      case 4:
        return { method: method ?? 'GET', path: '/v1/conversations', headers };
      case 5: {
        const id = rng.chance(0.7) ? undefined : rng.chance(0.5) ? `${this.prefix}${rng.int(0, 1e9)}` : rng.pick(JUNK);
        const members = rng.chance(0.8) ? lane.users.filter(() => rng.chance(0.5)) : rng.pick([[1], 'amy', [''], Array(1001).fill('x')]);
        return { method: method ?? 'POST', path: '/v1/groups', headers: json(headers), body: this.#body(rng, { ...(id === undefined ? {} : { id }), title: 't', members }) };
      }
      case 6:
        return { method: method ?? 'GET', path: `/v1/groups/${enc(group)}`, headers };
      case 7:
        return { method: method ?? 'PUT', path: `/v1/groups/${enc(group)}/members/${enc(target)}`, headers: json(headers), body: this.#body(rng, { role: rng.pick(['member', 'admin', 'admin', 'owner', '']) }) };
      default:
        return { method: method ?? 'DELETE', path: `/v1/groups/${enc(group)}/members/${enc(target)}`, headers };
    }
  }

  /** A body: usually `valid`, else a mutation of it or junk. */
  #body(rng: Rng, valid: Record<string, unknown>): string {
    const text = JSON.stringify(valid);
    switch (rng.int(0, 9)) {
      case 0:
        return text.slice(0, rng.int(0, text.length - 1));
      case 1:
        return JSON.stringify({ ...valid, [rng.pick(Object.keys(valid))]: rng.pick([null, 7, true, [], {}, 'x'.repeat(5000)]) });
      case 2:
        return rng.pick(['', 'null', '[]', '"x"', '{"__proto__":{"a":1}}', '\u0000']);
      case 3:
        return JSON.stringify({ ...valid, pad: 'x'.repeat(BODY_LIMIT) });
      default:
        return text;
    }
  }

  async #call(send: Transport, lane: Lane, req: RestRequest): Promise<RestResponse> {
    this.#requests++;
    let res: RestResponse;
    try {
      res = await send(req);
    } catch (err) {
      this.#fail(`${show(req)}: no answer: ${String(err)}`);
      return { status: 0, text: '' };
    }
    this.#byStatus[res.status] = (this.#byStatus[res.status] ?? 0) + 1;
    const problem = this.#judge(lane, req, res);
    if (problem) this.#fail(`${show(req)} -> ${res.status} ${res.text.slice(0, 200)}: ${problem}`);
    return res;
  }

  /** The oracle; also keeps the lane's membership current from successful answers. */
  #judge(lane: Lane, req: RestRequest, res: RestResponse): string | null {
    const body = parse(res.text) as Record<string, unknown> | undefined;
    if (res.status >= 500) return 'a server error';
    if (res.status >= 400) {
      const err = body?.['error'] as { code?: unknown; message?: unknown } | undefined;
      if (typeof err?.message !== 'string') return 'an error without {"error":{"code","message"}}';
      if (!(CODES[res.status] ?? []).includes(String(err.code))) return `code ${String(err.code)} does not fit status ${res.status}`;
    } else if (res.status !== 204 && body === undefined) return 'a success that is not JSON';
    const user = req.headers['X-User'] ?? '';
    const path = req.path.split('?')[0] as string;
    const roomMatch = /^\/v1\/rooms\/grp%3A([^/]+)\//.exec(path);
    const groupMatch = /^\/v1\/groups\/([^/]+)/.exec(path);
    const id = roomMatch ? decode(roomMatch[1] as string) : groupMatch ? decode(groupMatch[1] as string) : undefined;
    const tracked = id === undefined ? undefined : lane.groups.get(id);
    const ok = res.status >= 200 && res.status < 300;
    if (ok && tracked && !tracked.has(user)) return `${user} is not a member, yet got ${res.status}`;
    if (ok && id !== undefined && !tracked && !(req.method === 'POST' && path === '/v1/groups')) return 'a success on a group nobody created';
    if (res.status === 403 && tracked?.has(user) && req.method === 'GET' && !path.includes('/members/')) return `${user} is a member, yet got 403`;
    if (!ok || !body) {
      if (res.status === 204 && req.method === 'DELETE' && tracked) tracked.delete(decode(path.split('/').pop() as string));
      return null;
    }
    if ('owner' in body && 'members' in body) {
      const members = body['members'] as { user: string; role: Role }[];
      if (members.filter((m) => m.role === 'owner').length !== 1 || !members.some((m) => m.user === body['owner'] && m.role === 'owner')) return 'a group without exactly one owner';
      lane.groups.set(String(body['id']), new Map(members.map((m) => [m.user, m.role])));
      return null;
    }
    const shape: [RegExp, string[]][] = [
      [/^\/v1\/rooms\/[^/]+\/messages$/, req.method === 'POST' ? ['room', 'epoch', 'seq', 'ts'] : ['room', 'epoch', 'messages', 'hasMore']],
      [/^\/v1\/rooms\/[^/]+\/presence$/, ['room', 'members']],
      [/^\/v1\/users\/[^/]+\/presence$/, ['user', 'status', 'lastSeen']],
      [/^\/v1\/conversations$/, ['items']],
    ];
    const keys = shape.find(([re]) => re.test(path))?.[1];
    if (!keys) return `a success on ${req.method} ${path}, which the protocol does not have`;
    return keys.every((k) => k in body) ? null : `the answer lacks one of ${keys.join(', ')}`;
  }

  #fail(msg: string): void {
    if (this.#failures.length < 50) this.#failures.push(msg);
  }
}

/** The headers with a JSON content type, unless the generator picked another one. */
const json = (headers: Record<string, string> | string): Record<string, string> =>
  typeof headers === 'string' ? { 'X-User': headers, 'Content-Type': 'application/json' } : { 'Content-Type': 'application/json', ...headers };

function decode(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}

function parse(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

const show = (r: RestRequest) => `${r.method} ${r.path} as ${r.headers['X-User'] ?? '-'}${r.body === undefined ? '' : ` ${r.body.slice(0, 80)}${r.body.length > 80 ? `… (${r.body.length} bytes)` : ''}`}`;

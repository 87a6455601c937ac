/**
 * Frame fuzzing for the WebSocket wire contract (docs/protocol.md): a seeded PRNG, generators of client
 * frames of many kinds (valid, truncated, wrong-typed, oversized, binary, invalid UTF-8, …) and an
 * oracle that says, from the frame's bytes and the socket's state alone, which answers docs/protocol.md
 * allows. The oracle is written from the protocol text, not from the server's schemas; where the
 * protocol is silent it follows what a client author would expect and tags the frame `grey`.
 */

// ---------------------------------------------------------------- PRNG

/** mulberry32: small, fast, and the same sequence for the same seed everywhere. */
export class Rng {
  #s: number;
  constructor(seed: number) {
    this.#s = seed >>> 0;
  }
  /** [0, 1) */
  next(): number {
    let t = (this.#s = (this.#s + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  /** integer in [lo, hi] */
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.next() * (hi - lo + 1));
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
  pick<T>(xs: readonly T[]): T {
    return xs[Math.floor(this.next() * xs.length)] as T;
  }
  bytes(n: number): Buffer {
    const b = Buffer.allocUnsafe(n);
    for (let i = 0; i < n; i++) b[i] = Math.floor(this.next() * 256);
    return b;
  }
  /** A seed derived from this one and `k` (per socket, per phase). */
  static derive(seed: number, k: number): number {
    return (Math.imul(seed ^ 0x9e3779b9, 0x85ebca6b) + Math.imul(k + 1, 0xc2b2ae35)) >>> 0;
  }
}

/** The run's seed: `FUZZ_SEED` when given (to reproduce a failure), else random. */
export function fuzzSeed(): number {
  const env = process.env['FUZZ_SEED'];
  if (env !== undefined && env !== '') return Number(env) >>> 0;
  return Math.floor(Math.random() * 2 ** 32) >>> 0;
}

// ---------------------------------------------------------------- protocol facts (from docs/protocol.md)

export const FRAME_LIMIT = 16 * 1024;
const TEXT_MAX = 4000;
const CID_MAX = 64;
const PUBLIC_ROOM = /^[A-Za-z0-9_-]{1,64}$/;
const DIRECT_ROOM = /^dm:([A-Za-z0-9_.-]{1,32}):([A-Za-z0-9_.-]{1,32})$/;
const USER = /^[A-Za-z0-9_.-]{1,32}$/;
const CLIENT_TYPES = new Set(['join', 'leave', 'send', 'typing', 'read', 'heartbeat', 'auth', 'edit', 'delete', 'react']);
const EMOJI_MAX = 32;

type RoomCheck = 'invalid' | 'forbidden' | 'ok';
/** v1.1 group rooms: the fuzzed sockets are never members, so every group room is `forbidden`. */
const GROUP_ROOM = /^grp:[A-Za-z0-9_-]{1,64}$/;
function roomCheck(room: string, user: string): RoomCheck {
  if (PUBLIC_ROOM.test(room)) return 'ok';
  if (GROUP_ROOM.test(room)) return 'forbidden';
  const m = DIRECT_ROOM.exec(room);
  if (!m) return 'invalid';
  const [a, b] = [m[1] as string, m[2] as string];
  if (!(a < b)) return 'invalid'; // unsorted or a DM with oneself
  return a === user || b === user ? 'ok' : 'forbidden';
}
const dmOf = (a: string, b: string) => (a < b ? `dm:${a}:${b}` : `dm:${b}:${a}`);

// ---------------------------------------------------------------- frames and expectations

export type Frame = { kind: string; data: Buffer; binary: boolean };

/** One answer the protocol allows for a frame. */
export type Want =
  /** cid: the exact cid the error must carry; null: none; 'any': either */
  | { type: 'error'; codes: string[]; cid: string | null | 'any' }
  /** `unchanged`: a change that changed nothing may be acked with seq 0 (docs/protocol.md section 15). */
  | { type: 'ack'; cid: string | null; room: string; unchanged?: true }
  | { type: 'joined'; room: string; recovered?: boolean }
  | { type: 'left'; room: string }
  /** id: the echo expected (undefined: no id) */
  | { type: 'heartbeat'; id: unknown }
  | { type: 'none' }
  | { type: 'close'; code: number };

export type Expectation = {
  wants: Want[];
  /** How the answer is told apart from others in flight on the socket: `c:<cid>`, `h:<id>`; none: one at a time. */
  key?: string;
  /** Changes the socket's state or ends it: sent alone, with nothing else in flight. */
  barrier: boolean;
  /** Where docs/protocol.md is silent or ambiguous about this frame. */
  grey?: string;
};

export type SocketState = { user: string; joined: ReadonlySet<string> };

// ignoreBOM: a BOM stays part of the text (JSON.parse refuses it; RFC 8259 lets a parser do either).
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
const isPlainObject = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null && !Array.isArray(x);

function err(codes: string | string[], cid: string | null | 'any'): Want {
  return { type: 'error', codes: Array.isArray(codes) ? codes : [codes], cid };
}

/** What docs/protocol.md allows as the answer to `frame` on a socket in `state`. */
export function expectationOf(frame: Frame, state: SocketState): Expectation {
  const one = (w: Want, extra: Partial<Expectation> = {}): Expectation => ({ wants: [w], barrier: false, ...extra });
  if (frame.data.length > FRAME_LIMIT) return one({ type: 'close', code: 1009 }, { barrier: true });
  // "JSON text frames": a binary frame is an invalid frame → error, connection stays open.
  if (frame.binary) return one(err('invalid_message', null));
  let text: string;
  try {
    text = utf8.decode(frame.data);
  } catch {
    // RFC 6455 §8.1: a text frame that is not UTF-8 fails the connection with 1007. docs/protocol.md
    // lists neither the case nor the code.
    return one({ type: 'close', code: 1007 }, { barrier: true, grey: 'invalid UTF-8 text → 1007 (not in docs/protocol.md)' });
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    return one(err('invalid_message', null));
  }
  if (!isPlainObject(data)) return one(err('invalid_message', null));

  // "cid when the frame had one"
  const rawCid = data['cid'];
  let cid: string | null | 'any' = null;
  let grey: string | undefined;
  if (typeof rawCid === 'string') {
    if (rawCid.length >= 1 && rawCid.length <= CID_MAX) cid = rawCid;
    else {
      cid = 'any';
      grey = `error cid for an out-of-bounds cid (${rawCid.length} chars)`;
    }
  }
  const keyOf = (c: string | null | 'any') => (typeof c === 'string' && c !== 'any' ? `c:${c}` : undefined);
  const refuse = (codes: string | string[], c: string | null | 'any' = cid, g = grey): Expectation => {
    const e: Expectation = { wants: [err(codes, c)], barrier: false };
    const k = keyOf(c);
    if (k) e.key = k;
    if (g) e.grey = g;
    return e;
  };
  // A refusal of join/leave/typing after the frame was read: cid is not one of their fields.
  const laterCid: 'any' | null = typeof rawCid === 'string' ? 'any' : null;
  const laterGrey = typeof rawCid === 'string' ? 'cid on a refused join/leave/typing that carries an extra cid' : grey;

  const type = data['type'];
  if (typeof type !== 'string') return refuse('invalid_message');
  if (!CLIENT_TYPES.has(type)) return refuse('unknown_type');
  const { user, joined } = state;

  switch (type) {
    case 'heartbeat': {
      const id = data['id'];
      if (id === undefined) return one({ type: 'heartbeat', id: undefined });
      if (typeof id === 'number') {
        const echo: unknown = JSON.parse(JSON.stringify(id)); // 1e400 parses to Infinity and goes back as null
        return one({ type: 'heartbeat', id: echo }, Number.isFinite(id) ? {} : { grey: 'heartbeat id beyond double range' });
      }
      if (typeof id === 'string' && id.length <= 64) {
        const e = one({ type: 'heartbeat', id });
        if (id.startsWith('#')) e.key = `h:${id}`;
        return e;
      }
      return refuse('invalid_message', cid, grey ?? 'heartbeat id: docs/protocol.md names no type or bound');
    }
    case 'send': {
      const room = data['room'];
      const t = data['text'];
      const roomOk = typeof room === 'string' && roomCheck(room, user) !== 'invalid';
      const trimmed = typeof t === 'string' ? t.trim() : null;
      const textOk = trimmed !== null && trimmed.length >= 1 && trimmed.length <= TEXT_MAX;
      let textGrey: string | undefined;
      if (trimmed !== null && trimmed.length > TEXT_MAX && [...trimmed].length <= TEXT_MAX) {
        textGrey = '"4000 characters": UTF-16 units or code points';
      }
      const cidOk = rawCid === undefined || (typeof rawCid === 'string' && rawCid.length >= 1 && rawCid.length <= CID_MAX);
      if (!roomOk || !cidOk) return refuse('invalid_message');
      const r = room as string;
      const access = roomCheck(r, user);
      const okWant = (): Want => (access === 'forbidden' ? err('forbidden', cid) : !joined.has(r) ? err('not_member', cid) : { type: 'ack', cid: typeof rawCid === 'string' ? rawCid : null, room: r });
      if (textGrey) {
        const e: Expectation = { wants: [err('invalid_message', cid), okWant()], barrier: false, grey: textGrey };
        const k = keyOf(cid);
        if (k) e.key = k;
        return e;
      }
      if (!textOk) return refuse('invalid_message');
      const e: Expectation = { wants: [okWant()], barrier: false };
      const k = keyOf(cid);
      if (k) e.key = k;
      return e;
    }
    case 'join': {
      const hasRoom = data['room'] !== undefined;
      const hasWith = data['with'] !== undefined;
      if (hasRoom && hasWith) {
        // docs/protocol.md shows the two forms apart; both at once is not described.
        return { wants: [err(['invalid_message', 'forbidden'], laterCid), { type: 'joined', room: String(data['room']) }, ...(typeof data['with'] === 'string' ? [{ type: 'joined', room: dmOf(user, data['with']) } as Want] : [])], barrier: true, grey: 'join with both room and with' };
      }
      if (hasWith) {
        const w = data['with'];
        if (typeof w !== 'string' || !USER.test(w) || w === user) return refuse('invalid_message', laterCid, laterGrey);
        return { wants: [{ type: 'joined', room: dmOf(user, w) }], barrier: true };
      }
      const room = data['room'];
      if (typeof room !== 'string') return refuse('invalid_message', laterCid, laterGrey);
      const since = data['since'];
      let sinceGrey: string | undefined;
      if (since !== undefined) {
        if (!isPlainObject(since)) return refuse('invalid_message', laterCid, since === null ? 'since: null (docs/protocol.md: optional)' : laterGrey);
        const { epoch, seq } = since;
        if (typeof epoch !== 'string' || typeof seq !== 'number' || !Number.isInteger(seq) || seq < 0) return refuse('invalid_message', laterCid, laterGrey);
        if (epoch.length > 64) return refuse('invalid_message', laterCid, 'since.epoch longer than 64 (docs/protocol.md: opaque string)');
        if (seq > Number.MAX_SAFE_INTEGER) sinceGrey = 'since.seq beyond 2^53';
      }
      const access = roomCheck(room, user);
      if (access === 'invalid') return refuse('invalid_message', laterCid, laterGrey);
      if (access === 'forbidden') return refuse('forbidden', laterCid, laterGrey);
      // A since with an epoch the room never had: the latest, recovered:false.
      const w: Want = since !== undefined ? { type: 'joined', room, recovered: false } : { type: 'joined', room };
      return { wants: [w], barrier: true, ...(sinceGrey ? { grey: sinceGrey } : {}) };
    }
    case 'leave': {
      const room = data['room'];
      if (typeof room !== 'string' || room.length === 0) return refuse('invalid_message', laterCid, laterGrey);
      if (joined.has(room)) return { wants: [{ type: 'left', room }], barrier: true };
      const access = roomCheck(room, user);
      if (access === 'ok') return refuse('not_member', laterCid, laterGrey);
      // Leaving an invalid or someone else's room: not a member either way.
      return refuse(access === 'invalid' ? ['invalid_message', 'not_member'] : ['forbidden', 'not_member'], laterCid, `leave of an ${access} room: which code`);
    }
    case 'auth': {
      // v1.1 re-authentication on an open socket (the fuzz runs in dev mode, authenticated by the
      // URL): the same user again is not answered; another valid user is refused with `forbidden`
      // and the socket keeps its identity; anything malformed is `invalid_message`.
      const token = data['token'];
      const name = data['user'];
      if (token !== undefined && (typeof token !== 'string' || token.length === 0)) return refuse('invalid_message');
      if (typeof token === 'string' && token.length > 8192) return refuse('invalid_message', cid, 'auth token over 8192 characters');
      if (name === undefined || typeof name !== 'string' || !USER.test(name)) return refuse('invalid_message');
      if (name !== user) return refuse('forbidden');
      return one({ type: 'none' });
    }
    case 'read': {
      // v1.1: any room the user may read, joined or not. Its answer, if any, is a `read` event to all
      // the user's sockets (unsolicited: checked as it comes), so the frame itself gets nothing.
      const room = data['room'];
      const seq = data['seq'];
      if (typeof room !== 'string' || room.length === 0 || room.length > 100) return refuse('invalid_message', laterCid, laterGrey);
      if (typeof seq !== 'number' || !Number.isInteger(seq) || seq < 0) return refuse('invalid_message', laterCid, laterGrey);
      const access = roomCheck(room, user);
      if (access === 'invalid') return refuse('invalid_message', laterCid, laterGrey);
      if (access === 'forbidden') return refuse('forbidden', laterCid, laterGrey);
      return one({ type: 'none' });
    }
    case 'edit':
    case 'delete':
    case 'react': {
      // v1.1: like `send`, then the target's rules: the fuzzer does not track the rooms' logs, so a
      // valid frame in a joined room may get its ack or any refusal of the target's rules.
      const room = data['room'];
      const seq = data['seq'];
      const t = data['text'];
      const emoji = data['emoji'];
      const fieldsOk =
        typeof seq === 'number' && Number.isSafeInteger(seq) && seq >= 1 &&
        (type !== 'edit' || (typeof t === 'string' && t.trim().length >= 1 && t.trim().length <= TEXT_MAX)) &&
        (type !== 'react' || (typeof emoji === 'string' && emoji.length >= 1 && emoji.length <= EMOJI_MAX && typeof data['on'] === 'boolean'));
      const cidOk = rawCid === undefined || (typeof rawCid === 'string' && rawCid.length >= 1 && rawCid.length <= CID_MAX);
      if (typeof room !== 'string' || room.length === 0 || room.length > 100 || !fieldsOk || !cidOk) return refuse('invalid_message');
      const access = roomCheck(room, user);
      if (access === 'invalid') return refuse('invalid_message');
      if (access === 'forbidden') return refuse('forbidden');
      if (!joined.has(room)) return refuse('not_member');
      const e: Expectation = {
        wants: [{ type: 'ack', cid: typeof rawCid === 'string' ? rawCid : null, room, unchanged: true }, err(['not_found', 'forbidden', 'invalid_message'], cid)],
        barrier: false,
      };
      const k = keyOf(cid);
      if (k) e.key = k;
      return e;
    }
    case 'typing': {
      const room = data['room'];
      if (typeof room !== 'string') return refuse('invalid_message', laterCid, laterGrey);
      const access = roomCheck(room, user);
      if (access === 'invalid') return refuse('invalid_message', laterCid, laterGrey);
      if (access === 'forbidden') return refuse('forbidden', laterCid, laterGrey);
      if (!joined.has(room)) return refuse('not_member', laterCid, laterGrey);
      return one({ type: 'none' }); // typing goes to the others only
    }
  }
  throw new Error('unreachable');
}

/** Whether an answer (a server frame) is one `want` allows. Returns a reason when not. */
export function matches(want: Want, e: Record<string, unknown>): string | null {
  if (want.type === 'none' || want.type === 'close') return `expected ${want.type === 'none' ? 'no answer' : `close ${want.code}`}`;
  if (e['type'] !== want.type) return `expected ${want.type}`;
  switch (want.type) {
    case 'error':
      if (!want.codes.includes(e['code'] as string)) return `expected code ${want.codes.join('|')}`;
      if (typeof e['message'] !== 'string') return 'error without message';
      if (want.cid === null && e['cid'] !== undefined) return 'error carries a cid the frame did not have';
      if (typeof want.cid === 'string' && want.cid !== 'any' && e['cid'] !== want.cid) return `expected cid ${JSON.stringify(want.cid)}`;
      return null;
    case 'ack':
      if (e['room'] !== want.room) return 'ack for another room';
      if (want.cid === null ? e['cid'] !== undefined : e['cid'] !== want.cid) return 'ack cid';
      if (typeof e['epoch'] !== 'string' || !Number.isInteger(e['seq']) || (e['seq'] as number) < (want.unchanged ? 0 : 1) || typeof e['ts'] !== 'number') return 'ack fields';
      return null;
    case 'joined':
      if (e['room'] !== want.room) return 'joined another room';
      if (typeof e['epoch'] !== 'string' || !Number.isInteger(e['seq']) || (e['seq'] as number) < 0) return 'joined epoch/seq';
      if (typeof e['recovered'] !== 'boolean' || !Array.isArray(e['messages']) || !Array.isArray(e['members'])) return 'joined fields';
      if (want.recovered !== undefined && e['recovered'] !== want.recovered) return `expected recovered:${want.recovered}`;
      if ((e['messages'] as unknown[]).length > 50 && !e['recovered']) return 'more than 50 latest';
      return null;
    case 'left':
      return e['room'] === want.room ? null : 'left another room';
    case 'heartbeat':
      if (e['success'] !== true) return 'heartbeat without success:true';
      if (want.id === undefined ? 'id' in e : e['id'] !== want.id && !(Number.isNaN(want.id) && Number.isNaN(e['id']))) return `expected id ${JSON.stringify(want.id)}`;
      return null;
  }
}

/** A short, exact description of a frame for a failure report (bytes as base64 when not UTF-8). */
export function describeFrame(f: Frame): string {
  let shown: string;
  try {
    const s = utf8.decode(f.data);
    shown = s.length > 240 ? `${JSON.stringify(s.slice(0, 240))}…` : JSON.stringify(s);
  } catch {
    shown = `base64:${f.data.subarray(0, 180).toString('base64')}${f.data.length > 180 ? '…' : ''}`;
  }
  return `${f.kind} ${f.binary ? 'binary' : 'text'} ${f.data.length} B ${shown}`;
}

// ---------------------------------------------------------------- generators

export type GenContext = {
  user: string;
  /** another user, for direct rooms */
  partner: string;
  /** rooms this socket may join: its own, and one shared with sockets on the other instance */
  home: string;
  shared: string;
  joined: ReadonlySet<string>;
  /** a fresh number for cids and heartbeat ids (unique per socket) */
  next(): number;
  /** cids are unique per run, so that idempotency never turns a send into a resend */
  tag: string;
};

const ALNUM = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
function word(rng: Rng, n: number, alphabet = ALNUM): string {
  let s = '';
  for (let i = 0; i < n; i++) s += alphabet[Math.floor(rng.next() * alphabet.length)];
  return s;
}
/** Random text: ASCII, Latin-1, CJK, combining marks, controls, quotes and backslashes; astral only when asked. */
function anyText(rng: Rng, n: number, astral = false): string {
  const out: string[] = [];
  for (let i = 0; i < n; i++) {
    const r = rng.next();
    if (r < 0.6) out.push(String.fromCharCode(rng.int(0x20, 0x7e)));
    else if (r < 0.7) out.push(String.fromCharCode(rng.int(0xa0, 0x2ff)));
    else if (r < 0.8) out.push(String.fromCharCode(rng.int(0x4e00, 0x9fff)));
    else if (r < 0.85) out.push(rng.pick(['"', '\\', '\n', '\t', '\u0000', '\u001f', '\u2028', '\u2029', '\ufeff', '\u00a0']));
    else if (r < 0.9) out.push(String.fromCharCode(rng.int(0x300, 0x36f)));
    else if (astral) out.push(String.fromCodePoint(rng.int(0x1f300, 0x1faff)));
    else out.push(String.fromCharCode(rng.int(0x21, 0x7e)));
  }
  return out.join('');
}
const json = (o: unknown) => JSON.stringify(o);
const text = (kind: string, s: string): Frame => ({ kind, data: Buffer.from(s, 'utf8'), binary: false });
const bin = (kind: string, b: Buffer): Frame => ({ kind, data: b, binary: true });

/** A wrong-typed value for a field that wants a string (or a number). */
function wrongValue(rng: Rng, depth = 0): unknown {
  switch (rng.int(0, 11)) {
    case 0: return rng.int(-1e6, 1e6);
    case 1: return rng.next() * 1e3;
    case 2: return null;
    case 3: return true;
    case 4: return [];
    case 5: return [word(rng, 3)];
    case 6: return {};
    case 7: return depth < 3 ? { a: wrongValue(rng, depth + 1) } : 0;
    case 8: return 2 ** 53 + 2;
    case 9: return -0;
    case 10: return 1e308;
    default: return { toString: 'x', valueOf: 1 };
  }
}

function validRoomFor(rng: Rng, ctx: GenContext): string {
  const joined = [...ctx.joined];
  if (joined.length > 0 && rng.chance(0.85)) return rng.pick(joined);
  return rng.pick([ctx.home, ctx.shared, dmOf(ctx.user, ctx.partner)]);
}
function cid(ctx: GenContext): string {
  return `~${ctx.tag}.${ctx.next()}`;
}
function validFrameObject(rng: Rng, ctx: GenContext): Record<string, unknown> {
  switch (rng.int(0, 8)) {
    case 6: return { type: 'edit', room: validRoomFor(rng, ctx), seq: rng.int(1, 40), text: anyText(rng, rng.int(1, 40)), cid: cid(ctx) };
    case 7: return { type: 'react', room: validRoomFor(rng, ctx), seq: rng.int(1, 40), emoji: rng.pick(['👍', '❤️', '🎉', word(rng, rng.int(1, 40))]), on: rng.chance(0.7), cid: cid(ctx) };
    case 8: return { type: 'delete', room: validRoomFor(rng, ctx), seq: rng.int(1, 40), cid: cid(ctx) };
    case 0: return { type: 'heartbeat', id: `#${ctx.next()}` };
    case 1: return { type: 'send', room: validRoomFor(rng, ctx), text: anyText(rng, rng.int(1, 80)), cid: cid(ctx) };
    case 2: return { type: 'join', room: validRoomFor(rng, ctx) };
    case 3: return { type: 'join', room: ctx.home, since: { epoch: word(rng, 10), seq: rng.int(0, 100) } };
    case 4: return { type: 'typing', room: validRoomFor(rng, ctx) };
    default: return { type: 'leave', room: validRoomFor(rng, ctx) };
  }
}

/** A JSON document nested `depth` levels, as text (built directly: JSON.stringify would recurse). */
function nested(depth: number, obj: boolean): string {
  return obj ? `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}` : `${'['.repeat(depth)}${']'.repeat(depth)}`;
}

/** Pads a frame object with an ignored field so that its JSON is exactly `bytes` long. */
function padTo(o: Record<string, unknown>, bytes: number): string {
  const base = Buffer.byteLength(json({ ...o, pad: '' }));
  return json({ ...o, pad: 'p'.repeat(Math.max(0, bytes - base)) });
}

type Gen = (rng: Rng, ctx: GenContext) => Frame;

/** The frame kinds and their weights. Every kind's answer is decided by `expectationOf`. */
export const GENERATORS: [string, number, Gen][] = [
  ['heartbeat', 50, (rng, ctx) => text('heartbeat', json(rng.chance(0.8) ? { type: 'heartbeat', id: `#${ctx.next()}` } : { type: 'heartbeat' }))],
  ['heartbeat.odd-id', 35, (rng) => {
    const id = rng.pick<unknown>([0, -1, 1.5, -0, 2 ** 53 + 2, 1e308, '', 'x'.repeat(64), 'x'.repeat(65), null, [], {}, true, [1], { id: 1 }, -1e-300]);
    if (rng.chance(0.05)) return text('heartbeat.odd-id', '{"type":"heartbeat","id":1e400}');
    return text('heartbeat.odd-id', json({ type: 'heartbeat', id }));
  }],
  ['send.valid', 120, (rng, ctx) => text('send.valid', json({ type: 'send', room: validRoomFor(rng, ctx), text: anyText(rng, rng.int(1, rng.chance(0.1) ? 1500 : 120)), cid: cid(ctx) }))],
  ['send.no-cid', 12, (rng, ctx) => text('send.no-cid', json({ type: 'send', room: validRoomFor(rng, ctx), text: anyText(rng, rng.int(1, 50)) }))],
  ['send.not-member', 25, (rng, ctx) => text('send.not-member', json({ type: 'send', room: `nm-${word(rng, 12)}`, text: 'hi', cid: cid(ctx) }))],
  ['send.forbidden', 10, (rng, ctx) => text('send.forbidden', json({ type: 'send', room: dmOf(`zz${word(rng, 5)}`, `zy${word(rng, 5)}`), text: 'hi', cid: cid(ctx) }))],
  // v1.1 private groups: the fuzzed sockets belong to none, so join, send, typing and leave of any
  // `grp:` room are refused (`forbidden`; `not_member` for leave, as for any room not joined).
  ['group.forbidden', 10, (rng, ctx) => {
    const room = `grp:${word(rng, rng.int(1, 64), ALNUM + '_-')}`;
    const type = rng.pick(['join', 'send', 'typing', 'leave']);
    const frame: Record<string, unknown> = type === 'send' ? { type, room, text: 'hi', cid: cid(ctx) } : { type, room };
    return text('group.forbidden', json(frame));
  }],
  ['send.text-edge', 30, (rng, ctx) => {
    const t = rng.pick(['4000', '4001', 'ws+4000', 'ws-only', 'empty', 'lone-surrogate', 'controls', 'astral-2000', 'astral-4000', 'nul']);
    const room = validRoomFor(rng, ctx);
    const s = {
      '4000': 'a'.repeat(4000),
      '4001': 'a'.repeat(4001),
      'ws+4000': ` \n\t${'b'.repeat(4000)}\u00a0 `,
      'ws-only': ' \n\t\u00a0\u2028 ',
      empty: '',
      'lone-surrogate': null,
      controls: '\u0000\u0001\u001b[31mred\u007f',
      'astral-2000': '😀'.repeat(2000),
      'astral-4000': '😀'.repeat(4000),
      nul: '\u0000',
    }[t];
    if (s === null) return text(`send.text-edge.${t}`, `{"type":"send","room":${json(room)},"text":"a\\ud800b\\udfff","cid":${json(cid(ctx))}}`);
    return text(`send.text-edge.${t}`, json({ type: 'send', room, text: s, cid: cid(ctx) }));
  }],
  ['send.wrong-type', 80, (rng, ctx) => {
    const o: Record<string, unknown> = { type: 'send', room: validRoomFor(rng, ctx), text: 'hello', cid: cid(ctx) };
    const field = rng.pick(['room', 'room', 'text', 'text', 'cid', 'missing-room', 'missing-text']);
    if (field === 'missing-room') delete o['room'];
    else if (field === 'missing-text') delete o['text'];
    else if (field === 'room') o['room'] = rng.pick<unknown>([wrongValue(rng), '', 'x'.repeat(65), 'r'.repeat(101), 'a b', 'ü', 'dm:b:a', `dm:${ctx.user}:${ctx.user}`, 'dm:a', 'x'.repeat(5000), '\u0000']);
    else if (field === 'text') o['text'] = wrongValue(rng);
    else o['cid'] = rng.pick<unknown>([wrongValue(rng), wrongValue(rng), '', 'c'.repeat(65), 'c'.repeat(3000)]);
    return text(`send.wrong-type.${field}`, json(o));
  }],
  ['join.valid', 22, (rng, ctx) => {
    const o = rng.pick<Record<string, unknown>>([
      { type: 'join', room: ctx.home },
      { type: 'join', room: ctx.home },
      { type: 'join', room: ctx.shared },
      { type: 'join', with: ctx.partner },
      { type: 'join', room: dmOf(ctx.user, ctx.partner) },
      { type: 'join', room: `fz-${ctx.tag.replace(/\./g, '-')}-${word(rng, 6)}` },
    ]);
    return text('join.valid', json(o));
  }],
  ['join.since', 10, (rng, ctx) => {
    const seq = rng.pick([0, 5, 1e308, 2 ** 53 + 2, 2 ** 31, 1e21]);
    return text('join.since', json({ type: 'join', room: rng.chance(0.5) ? ctx.home : ctx.shared, since: { epoch: word(rng, rng.int(1, 64)), seq } }));
  }],
  ['join.invalid', 50, (rng, ctx) => {
    const v = rng.pick<unknown>([
      { type: 'join' },
      { type: 'join', room: wrongValue(rng) },
      { type: 'join', room: '' },
      { type: 'join', room: 'x'.repeat(65) },
      { type: 'join', room: 'y'.repeat(300) },
      { type: 'join', room: 'no spaces' },
      { type: 'join', room: dmOf(`zz${word(rng, 4)}`, `zy${word(rng, 4)}`) },
      { type: 'join', room: `dm:${ctx.user}:${ctx.user}` },
      { type: 'join', with: ctx.user },
      { type: 'join', with: wrongValue(rng) },
      { type: 'join', with: 'u'.repeat(33) },
      { type: 'join', with: 'has space' },
      { type: 'join', with: '' },
      { type: 'join', room: ctx.home, since: { epoch: 'e' } },
      { type: 'join', room: ctx.home, since: { seq: 1 } },
      { type: 'join', room: ctx.home, since: { epoch: 'e', seq: -1 } },
      { type: 'join', room: ctx.home, since: { epoch: 'e', seq: 1.5 } },
      { type: 'join', room: ctx.home, since: { epoch: 'e', seq: '41' } },
      { type: 'join', room: ctx.home, since: { epoch: 7, seq: 1 } },
      { type: 'join', room: ctx.home, since: { epoch: 'e'.repeat(65), seq: 1 } },
      { type: 'join', room: ctx.home, since: 41 },
      { type: 'join', room: ctx.home, since: [] },
      { type: 'join', room: ctx.home, since: null },
      { type: 'join', room: ctx.home, since: { epoch: 'e', seq: -1e308 } },
    ]);
    const o = v as Record<string, unknown>;
    if (rng.chance(0.3)) o['cid'] = cid(ctx);
    return text('join.invalid', json(o));
  }],
  ['leave.joined', 12, (rng, ctx) => text('leave.joined', json({ type: 'leave', room: validRoomFor(rng, ctx) }))],
  ['leave.other', 25, (rng, ctx) => text('leave.other', json(rng.pick<unknown>([
    { type: 'leave', room: `nm-${word(rng, 8)}` },
    { type: 'leave' },
    { type: 'leave', room: wrongValue(rng) },
    { type: 'leave', room: '' },
    { type: 'leave', room: 'x'.repeat(200) },
    { type: 'leave', room: 'a b' },
    { type: 'leave', room: dmOf(`zz${word(rng, 4)}`, `zy${word(rng, 4)}`) },
  ])))],
  ['typing', 30, (rng, ctx) => text('typing', json(rng.pick<unknown>([
    { type: 'typing', room: validRoomFor(rng, ctx) },
    { type: 'typing', room: validRoomFor(rng, ctx) },
    { type: 'typing', room: `nm-${word(rng, 8)}` },
    { type: 'typing' },
    { type: 'typing', room: wrongValue(rng) },
    { type: 'typing', room: 'a b' },
    { type: 'typing', room: dmOf(`zz${word(rng, 4)}`, `zy${word(rng, 4)}`) },
  ])))],
  // v1.1 read state: valid reads of joined, other and direct rooms (clamped, or behind: ignored),
  // and malformed ones.
  ['read', 30, (rng, ctx) => {
    const room = rng.pick([validRoomFor(rng, ctx), ctx.shared, `nm-${word(rng, 8)}`, dmOf(ctx.user, ctx.partner)]);
    const o = rng.pick<Record<string, unknown>>([
      { type: 'read', room, seq: rng.int(0, 50) },
      { type: 'read', room, seq: rng.pick([1e308, 2 ** 53 + 2, 2 ** 31, 0]) },
      { type: 'read', room },
      { type: 'read', seq: 1 },
      { type: 'read', room, seq: rng.pick<unknown>([-1, 1.5, '3', null, wrongValue(rng)]) },
      { type: 'read', room: rng.pick<unknown>([wrongValue(rng), '', 'a b', 'x'.repeat(101), dmOf(`zz${word(rng, 4)}`, `zy${word(rng, 4)}`), `grp:${word(rng, 8)}`]), seq: 1 },
    ]);
    if (rng.chance(0.2)) o['cid'] = cid(ctx);
    return text('read', json(o));
  }],
  ['auth', 30, (rng, ctx) => {
    const o = rng.pick<Record<string, unknown>>([
      { type: 'auth', user: ctx.user },
      { type: 'auth', user: ctx.user },
      { type: 'auth', user: ctx.partner },
      { type: 'auth', user: 'has space' },
      { type: 'auth', user: '' },
      { type: 'auth', user: 'u'.repeat(33) },
      { type: 'auth', user: wrongValue(rng) },
      { type: 'auth', token: 'x.y.z' },
      { type: 'auth', token: '' },
      { type: 'auth', token: wrongValue(rng) },
      { type: 'auth', user: ctx.user, token: wrongValue(rng) },
      { type: 'auth', user: ctx.user, token: 'x.y.z' },
      { type: 'auth', user: ctx.user, token: 't'.repeat(rng.pick([8192, 8193])) },
      { type: 'auth' },
    ]);
    if (rng.chance(0.3)) o['cid'] = cid(ctx);
    return text('auth', json(o));
  }],
  ['truncated', 80, (rng, ctx) => {
    const s = json(validFrameObject(rng, ctx));
    return text('truncated', s.slice(0, rng.int(0, s.length - 1)));
  }],
  ['garbage.text', 40, (rng) => {
    for (;;) {
      const s = anyText(rng, rng.int(1, 300), true);
      try {
        if (isPlainObject(JSON.parse(s))) continue;
      } catch {
        // not JSON: what we want
      }
      return text('garbage.text', s);
    }
  }],
  ['garbage.invalid-utf8', 3, (rng) => {
    // a lone continuation byte, an overlong encoding or a UTF-8-encoded surrogate somewhere in it
    const bad = rng.pick([Buffer.from([0x80]), Buffer.from([0xc0, 0xaf]), Buffer.from([0xed, 0xa0, 0x80]), Buffer.from([0xff]), Buffer.from([0xf4, 0x90, 0x80, 0x80])]);
    const before = Buffer.from(`{"type":"heartbeat","id":"`);
    return { kind: 'garbage.invalid-utf8', data: Buffer.concat([before, bad, Buffer.from('"}')]), binary: false };
  }],
  ['binary.random', 20, (rng) => bin('binary.random', rng.bytes(rng.int(0, 512)))],
  ['binary.json', 15, (rng, ctx) => bin('binary.json', Buffer.from(json(validFrameObject(rng, ctx))))],
  ['binary.size', 2, (rng) => bin('binary.size', rng.bytes(rng.chance(0.5) ? FRAME_LIMIT : FRAME_LIMIT + rng.int(1, 4096)))],
  ['unknown-type', 40, (rng, ctx) => {
    const type = rng.pick(['dance', '__proto__', 'constructor', 'toString', 'hasOwnProperty', 'valueOf', 'prototype', 'Send', 'SEND', 'send ', ' join', 'batch', 'hello', 'ack', 'error', 'message', 'joined', 'presence', 'left', '', 'x'.repeat(5000), 'héllo', 'send\u0000']);
    const o: Record<string, unknown> = { type, room: ctx.home, text: 'hi' };
    if (rng.chance(0.5)) o['cid'] = cid(ctx);
    return text('unknown-type', json(o));
  }],
  ['bad-type', 35, (rng, ctx) => {
    const o: Record<string, unknown> = { room: ctx.home, text: 'hi' };
    if (rng.chance(0.8)) o['type'] = rng.pick<unknown>([wrongValue(rng), ['send'], { send: true }, 1, null]);
    if (rng.chance(0.5)) o['cid'] = cid(ctx);
    return text('bad-type', json(o));
  }],
  ['not-an-object', 30, (rng) => text('not-an-object', rng.pick(['[]', '[{"type":"heartbeat","id":1}]', '"heartbeat"', '1', '-0', '1e400', 'null', 'true', 'false', '""', `"${'s'.repeat(rng.int(0, 200))}"`, '[[[]]]', ' 42 ']))],
  ['extra-fields', 40, (rng, ctx) => {
    const o = validFrameObject(rng, ctx);
    const extras: [string, unknown][] = [['__proto__', { type: 'join', room: 'x' }], ['constructor', { prototype: { polluted: true } }], ['prototype', 1], ['x-extra', wrongValue(rng)], ['success', false], ['user', 'mallory'], ['from', 'mallory'], ['seq', 99], ['events', []], ['hasOwnProperty', 1]];
    const parts: string[] = Object.entries(o).map(([k, v]) => `${json(k)}:${json(v)}`);
    for (let i = rng.int(1, 4); i > 0; i--) {
      const [k, v] = rng.pick(extras);
      parts.splice(rng.int(0, parts.length), 0, `${json(k)}:${json(v)}`);
    }
    return text('extra-fields', `{${parts.join(',')}}`);
  }],
  ['proto-keys', 20, (rng, ctx) => text('proto-keys', rng.pick([
    '{"__proto__":{"type":"heartbeat","id":1}}',
    `{"type":"send","__proto__":{"room":${json(ctx.home)},"text":"hi"},"cid":${json(cid(ctx))}}`,
    '{"type":"heartbeat","__proto__":null,"id":"#p"}'.replace('#p', `#${ctx.next()}`),
    '{"constructor":{"prototype":{"type":"heartbeat"}}}',
    `{"type":"join","room":${json(ctx.home)},"since":{"__proto__":{"seq":1},"epoch":"e"}}`,
    `{"type":"heartbeat","id":{"__proto__":{"x":1}}}`,
    `{"type":"typing","room":{"__proto__":[]}}`,
  ]))],
  ['deep-nesting', 15, (rng, ctx) => {
    const d = rng.int(100, 5000);
    return text('deep-nesting', rng.pick([
      nested(Math.min(d, 8000), false),
      nested(Math.min(d, 2700), true),
      `{"type":"heartbeat","id":"#${ctx.next()}","x":${nested(Math.min(d, 2700), true)}}`,
      `{"type":"join","room":${nested(Math.min(d, 8000), false)}}`,
      `{"type":"send","room":${json(ctx.home)},"text":${nested(Math.min(d, 2700), true)},"cid":${json(cid(ctx))}}`,
      // just over the limit, so the close comes before any parsing
      nested(FRAME_LIMIT / 2 + 1, false),
    ]));
  }],
  ['size.at-limit', 6, (rng, ctx) => {
    const bytes = rng.pick([FRAME_LIMIT, FRAME_LIMIT - 1, FRAME_LIMIT - 100]);
    const o = rng.chance(0.5) ? { type: 'send', room: validRoomFor(rng, ctx), text: 'é'.repeat(4000), cid: cid(ctx) } : { type: 'heartbeat', id: `#${ctx.next()}` };
    return text('size.at-limit', padTo(o, bytes));
  }],
  ['size.over-limit', 4, (rng, ctx) => {
    const bytes = rng.pick([FRAME_LIMIT + 1, FRAME_LIMIT + 2, FRAME_LIMIT + 1000, 64 * 1024]);
    const o = rng.chance(0.5) ? { type: 'send', room: validRoomFor(rng, ctx), text: 'hi', cid: cid(ctx) } : { type: 'heartbeat', id: `#${ctx.next()}` };
    return text('size.over-limit', padTo(o, bytes));
  }],
  ['size.escaped-text', 2, (rng, ctx) => {
    // 4000 characters that JSON escapes as \u00XX: 24 KB, over the frame limit (wire.ts says so)
    return text('size.escaped-text', json({ type: 'send', room: validRoomFor(rng, ctx), text: '\u0001'.repeat(4000), cid: cid(ctx) }));
  }],
  ['duplicate-keys', 15, (rng, ctx) => text('duplicate-keys', rng.pick([
    `{"type":"heartbeat","type":"dance","id":1}`,
    `{"type":"dance","type":"heartbeat","id":"#${ctx.next()}"}`,
    `{"type":"send","room":${json(ctx.home)},"text":"a","text":"","cid":${json(cid(ctx))}}`,
    `{"type":"send","room":"a b","room":${json(validRoomFor(rng, ctx))},"text":"ok","cid":${json(cid(ctx))}}`,
    `{"cid":1,"type":"send","room":${json(ctx.home)},"text":"a","cid":${json(cid(ctx))}}`,
  ]))],
  ['json-syntax', 20, (rng, ctx) => text('json-syntax', rng.pick([
    `\ufeff{"type":"heartbeat","id":"#${ctx.next()}"}`,
    `{"type":"heartbeat",}`,
    `{'type':'heartbeat'}`,
    `{"type":"heartbeat","id":NaN}`,
    `{"type":"heartbeat","id":Infinity}`,
    `{"type":"heartbeat"} // comment`,
    `{"type":"heartbeat"}{"type":"heartbeat"}`,
    `{"type":"heartbeat","id":0x10}`,
    `{"type":"heartbeat","id":01}`,
    `{"type":"heartbeat","id":"\\x41"}`,
    `{"type":"heartbeat","id":"\\u12"}`,
    `{type:"heartbeat"}`,
    ` \n\t{"type":"heartbeat","id":"#${ctx.next()}"} \r\n`,
    `{"type":"heartbeat","id":"#${ctx.next()}"}\u0000`,
    `{"type":"he\\u0061rtbeat","id":"#${ctx.next()}"}`,
    `{"type":"heartbeat","id":"${'\u0001'}"}`,
  ]))],
  ['empty', 10, (rng) => text('empty', rng.pick(['', ' ', '\n', '{}', '{ }', '\u0000']))],
];

/** Picks and generates one frame. */
export function generate(rng: Rng, ctx: GenContext): Frame {
  const total = GENERATORS.reduce((s, [, w]) => s + w, 0);
  let r = rng.next() * total;
  for (const [, w, gen] of GENERATORS) {
    if ((r -= w) < 0) return gen(rng, ctx);
  }
  return (GENERATORS[0] as [string, number, Gen])[2](rng, ctx);
}

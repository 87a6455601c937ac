/**
 * Decodes server frames. The server is trusted to follow docs/protocol.md, but the client still checks
 * the fields it relies on so that a malformed frame is dropped instead of corrupting room state.
 * Hand-written rather than valibot to keep the browser bundle small.
 */
import type { Member, Message, ServerFrame } from './wire.ts';

type Obj = Record<string, unknown>;

const isObj = (x: unknown): x is Obj => typeof x === 'object' && x !== null && !Array.isArray(x);
const isStr = (x: unknown): x is string => typeof x === 'string';
const isNum = (x: unknown): x is number => typeof x === 'number' && Number.isFinite(x);
const isSeq = (x: unknown): x is number => Number.isInteger(x) && (x as number) >= 0;

/** Whether `x` is a message object as docs/protocol.md describes it. */
export function isMessage(x: unknown): x is Message {
  return (
    isObj(x) &&
    isStr(x['room']) &&
    isStr(x['epoch']) &&
    isSeq(x['seq']) &&
    isStr(x['from']) &&
    isStr(x['text']) &&
    isNum(x['ts']) &&
    (x['cid'] === undefined || isStr(x['cid']))
  );
}

const isMember = (x: unknown): x is Member =>
  isObj(x) && isStr(x['user']) && (x['status'] === 'online' || x['status'] === 'offline');

// One check per frame type; a type missing here is unknown to this client and ignored.
const CHECKS: Record<ServerFrame['type'], (f: Obj) => boolean> = {
  hello: (f) => isStr(f['user']) && isStr(f['conn']) && isStr(f['instance']) && isNum(f['heartbeatMs']),
  joined: (f) =>
    isStr(f['room']) &&
    isStr(f['epoch']) &&
    isSeq(f['seq']) &&
    typeof f['recovered'] === 'boolean' &&
    Array.isArray(f['messages']) &&
    f['messages'].every(isMessage) &&
    (f['members'] === undefined || (Array.isArray(f['members']) && f['members'].every(isMember))) &&
    (f['lastRead'] === undefined || isSeq(f['lastRead'])),
  message: (f) => isMessage(f),
  ack: (f) => (f['cid'] === undefined || isStr(f['cid'])) && isStr(f['room']) && isStr(f['epoch']) && isSeq(f['seq']) && isNum(f['ts']),
  typing: (f) => isStr(f['room']) && isStr(f['user']),
  presence: (f) => isStr(f['room']) && isStr(f['user']) && (f['status'] === 'online' || f['status'] === 'offline'),
  heartbeat: (f) => f['success'] === true,
  left: (f) => isStr(f['room']) && (f['reason'] === undefined || isStr(f['reason'])),
  read: (f) => isStr(f['room']) && isStr(f['user']) && isSeq(f['seq']),
  member: (f) => isStr(f['room']) && isStr(f['user']) && (f['role'] === 'member' || f['role'] === 'admin' || f['role'] === null) && isStr(f['by']),
  error: (f) => isStr(f['code']) && (f['cid'] === undefined || isStr(f['cid'])),
  batch: (f) => Array.isArray(f['events']),
};

/**
 * Returns the frames carried by one WebSocket text frame (JSON), in order: a `batch` is unwrapped
 * (recursively) so callers handle its events exactly as if they had come one by one. Malformed
 * frames and unknown types are skipped; never throws.
 */
export function decodeFrames(data: unknown): ServerFrame[] {
  if (!isStr(data)) return [];
  let parsed: unknown;
  try {
    parsed = JSON.parse(data);
  } catch {
    return [];
  }
  return collectFrames(parsed);
}

/** `decodeFrames` for a frame already decoded from its encoding (MessagePack). */
export function collectFrames(value: unknown): ServerFrame[] {
  const out: ServerFrame[] = [];
  collect(value, out);
  return out;
}

function collect(x: unknown, out: ServerFrame[]): void {
  if (!isObj(x) || !isStr(x['type']) || !Object.hasOwn(CHECKS, x['type'])) return;
  const type = x['type'] as ServerFrame['type'];
  if (!CHECKS[type](x)) return;
  if (type === 'batch') {
    for (const e of x['events'] as unknown[]) collect(e, out);
    return;
  }
  if (type === 'joined' && x['members'] === undefined) x['members'] = [];
  out.push(x as ServerFrame);
}

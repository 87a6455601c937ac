/**
 * Defensive parsing of what the Redis room log reads back (stream entries, pub/sub payloads): the
 * data comes from outside this process, so nothing is trusted by its type alone.
 */
import type { Message } from '../protocol.ts';
import type { RoomEvent } from './types.ts';

type Obj = Record<string, unknown>;

const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const isSeq = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 1;

function json(raw: unknown): unknown {
  if (typeof raw !== 'string') return undefined;
  try {
    return JSON.parse(raw);
  } catch {
    return undefined;
  }
}

/** A stored message with exactly the fields of `Message`, or `null`. */
export function messageOf(v: unknown): Message | null {
  if (!isObj(v)) return null;
  const { room, epoch, seq, from, text, ts, cid } = v;
  if (typeof room !== 'string' || typeof epoch !== 'string' || !isSeq(seq)) return null;
  if (typeof from !== 'string' || typeof text !== 'string' || typeof ts !== 'number' || !Number.isFinite(ts)) return null;
  if (cid !== undefined && typeof cid !== 'string') return null;
  const m: Message = { room, epoch, seq, from, text, ts };
  if (cid !== undefined) m.cid = cid;
  return m;
}

/** Parses a message's JSON as stored in the log; `null` when it is not one. */
export function parseMessage(raw: unknown): Message | null {
  return messageOf(json(raw));
}

/** Parses a room channel payload; `null` when it is not a room event. */
export function parseEvent(raw: unknown): RoomEvent | null {
  const v = json(raw);
  if (!isObj(v)) return null;
  switch (v['type']) {
    case 'message': {
      const message = messageOf(v['message']);
      return message ? { type: 'message', message } : null;
    }
    case 'typing': {
      const { room, user } = v;
      return typeof room === 'string' && typeof user === 'string' ? { type: 'typing', room, user } : null;
    }
    case 'presence': {
      const { room, user, status, lastSeen } = v;
      if (typeof room !== 'string' || typeof user !== 'string') return null;
      if (status !== 'online' && status !== 'offline') return null;
      if (lastSeen === undefined) return { type: 'presence', room, user, status };
      return typeof lastSeen === 'number' ? { type: 'presence', room, user, status, lastSeen } : null;
    }
    default:
      return null;
  }
}

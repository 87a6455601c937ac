/**
 * Defensive parsing of the room channel's pub/sub payloads: the data comes from outside this
 * process, so nothing is trusted by its type alone. Stored messages (the room log's entries) are
 * decoded by the room log's codec, `src/redis/codecs/room-log.ts`.
 */
import { parseJson } from '../redis/codecs/codec.ts';
import { messageOf } from '../redis/codecs/room-log.ts';
import type { RoomEvent } from './types.ts';

type Obj = Record<string, unknown>;

const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Parses a room channel payload; `null` when it is not a room event. */
export function parseEvent(raw: unknown): RoomEvent | null {
  const v = parseJson(raw);
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
    case 'member': {
      const { room, user, role, by } = v;
      if (typeof room !== 'string' || typeof user !== 'string' || typeof by !== 'string') return null;
      if (role !== 'member' && role !== 'admin' && role !== null) return null;
      return { type: 'member', room, user, role, by };
    }
    case 'read': {
      const { room, user, seq } = v;
      if (typeof room !== 'string' || typeof user !== 'string') return null;
      return typeof seq === 'number' && Number.isSafeInteger(seq) && seq >= 0 ? { type: 'read', room, user, seq } : null;
    }
    default:
      return null;
  }
}

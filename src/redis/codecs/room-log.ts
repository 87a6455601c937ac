/**
 * The room log: one stream per room, holding its hot window of messages. Written by the append
 * script (Lua, src/rooms/redis-scripts.ts, which builds the JSON itself and names the field from
 * `FIELD`), read back by that file's scripts, by the room log's gap filling (src/rooms/redis.ts)
 * and, for the archive worker, by `RoomLogSource` (src/rooms/redis-source.ts).
 *
 * - Stream `parley:{<room>}:log`, on the room's slot with the room's other keys (`roomKeys`).
 * - Entry ID `<seq>-0`; one field, `m`: the entry as JSON,
 *   `{"room","epoch","seq","from","text","ts"[,"cid"]}`, and for an edit, delete or reaction also
 *   `"kind","target"` (and `"emoji","on"`). A delete erases its message's and their edits' entries
 *   from the stream into the room's erased set with their text blanked (`roomKeys`).
 *
 * Not a partitioned work stream (one stream per room, read by range), so not a `StreamCodec`.
 */
import type { Message } from '@parley/client/wire';
import { parseJson } from './codec.ts';

/** The log stream of a room. */
export function streamKey(room: string): string {
  return `parley:{${room}}:log`;
}

/** SCAN pattern of every room's log stream. */
export const KEY_PATTERN = 'parley:{*}:log';

/** The room of a log stream's key; null for any other key. */
export function roomOfKey(key: string): string | null {
  const m = /^parley:\{(.+)\}:log$/.exec(key);
  return m?.[1] ?? null;
}

/** The entry ID of a message: its seq, so that ranges of seqs are ranges of IDs. */
export function entryId(seq: number): string {
  return `${seq}-0`;
}

/** The entry's field name. */
export const FIELD = { message: 'm' } as const;

/** The fields of a message's entry (the same JSON value the append script writes). */
export function encode(m: Message): string[] {
  return [FIELD.message, JSON.stringify(messageOf(m))];
}

/** Exactly one field, `m`, holding a stored message. */
export function decode(fields: unknown): Message | null {
  if (!Array.isArray(fields) || fields.length !== 2 || fields[0] !== FIELD.message) return null;
  return decodeMessage(fields[1]);
}

/** A message's JSON as stored in the log (also what the room scripts return); null when it is not one. */
export function decodeMessage(raw: unknown): Message | null {
  return messageOf(parseJson(raw));
}

const isSeq = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 1;

const KINDS = new Set<unknown>(['edit', 'delete', 'reaction']);

/**
 * A parsed value with exactly the fields of a log entry (others are dropped), or null: a text
 * message, or (v1.1) an edit, delete or reaction with its `kind`, `target` and, for a reaction,
 * `emoji` and `on`.
 */
export function messageOf(v: unknown): Message | null {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return null;
  const { room, epoch, seq, from, text, ts, cid, kind, target, emoji, on } = v as Record<string, unknown>;
  if (typeof room !== 'string' || typeof epoch !== 'string' || !isSeq(seq)) return null;
  if (typeof from !== 'string' || typeof text !== 'string' || typeof ts !== 'number' || !Number.isFinite(ts)) return null;
  if (cid !== undefined && typeof cid !== 'string') return null;
  const m: Message = { room, epoch, seq, from, text, ts };
  if (cid !== undefined) m.cid = cid;
  if (kind === undefined) return m;
  if (!KINDS.has(kind) || !isSeq(target)) return null;
  m.kind = kind as NonNullable<Message['kind']>;
  m.target = target;
  if (kind !== 'reaction') return m;
  if (typeof emoji !== 'string' || typeof on !== 'boolean') return null;
  m.emoji = emoji;
  m.on = on;
  return m;
}

/**
 * v1.1 edits, deletes and reactions on Redis Cluster: the script that checks and appends them, the
 * one that reads message states, and the decoding of a state. Keys: `roomKeys` (redis-scripts.ts);
 * a change also uses, on the room's slot, the reacting users of each emoji of a message:
 *
 * - `parley:{<room>}:rx:<seq>:<emoji>` sorted set user → seq of the entry that added the reaction;
 * - `parley:{<room>}:rxoff:<seq>:<emoji>` user → seq of the entry that took it back.
 *
 * A message's state (hash `:state`, field `<seq>`) is JSON: `{"from","rev"[,"text","edited"]
 * [,"deleted":true,"delSeq"][,"edits":[seq…]][,"cids":[cid…]][,"reactions":[{"emoji","count","users"}…]]}`,
 * where `users` are the first `reactionUsersShown` of the emoji's sorted set and `cids` those of the
 * message and its edits until a delete blanks their idempotency records (redis-erase.ts).
 */
import { LIMITS, type Reaction } from '@parley/client/wire';
import { SPILL_UNCOUNTED } from '../reads/redis-index.ts';
import { DEFAULT_WINDOWS, type IndexWindows } from '../reads/types.ts';
import { parseJson } from '../redis/codecs/codec.ts';
import * as RoomLogEntries from '../redis/codecs/room-log.ts';
import { script } from '../redis/script.ts';
import { ERASE } from './redis-erase.ts';
import { roomKeys } from './redis-scripts.ts';
import type { ChangeInput, ChangeResult, MessageState } from './types.ts';

const FIELD = RoomLogEntries.FIELD.message;

/** Replies of CHANGE: the first element. */
export const CHANGED = { appended: 0, duplicate: 1, notMember: 2, notFound: 3, inArchive: 4, unchanged: 5, forbidden: 6, tooManyReactions: 7 } as const;

/**
 * Change. KEYS: seq, epoch, log, cid key, channel, state, uncounted, erased, and for a group room
 * its roles hash (the sender must be in it; owners and admins may delete others' messages).
 * ARGV: room, from, kind (edit|delete|reaction), target, text, emoji, on ('1'|'0'), cid, has cid,
 * hot window, idempotency TTL ms, key prefix (`roomKeys(room).tag`), the target's author and cid
 * from the archive ('' = none), uncounted-index window.
 * Returns {0, entry JSON} appended; {1, entry JSON} duplicate; {2} not a member; {3} not found;
 * {4, epoch} look in the archive; {5, seq, ts, epoch} unchanged; {6} forbidden; {7} too many reactions.
 */
export const CHANGE = script(`
${ERASE}
${SPILL_UNCOUNTED}
local from, kind, tstr, tag = ARGV[2], ARGV[3], ARGV[4], ARGV[12]
local role = false
if KEYS[9] then
  role = redis.call('HGET', KEYS[9], from)
  if not role then return {2} end
end
local hasCid = ARGV[9] == '1'
if hasCid then
  local seen = redis.call('GET', KEYS[4])
  if seen then return {1, seen} end
end
local epoch = redis.call('GET', KEYS[2])
local head = tonumber(redis.call('GET', KEYS[1]) or '0')
local target = tonumber(tstr)
if not epoch or target > head then return {3} end
local t = redis.call('TIME')
local ts = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)

local raw = redis.call('HGET', KEYS[6], tstr)
local st
if raw then
  st = cjson.decode(raw)
else
  local e = redis.call('XRANGE', KEYS[3], tstr .. '-0', tstr .. '-0')[1]
  local author, cid
  if e then
    local m = cjson.decode(e[2][2])
    if m['kind'] then return {3} end
    author, cid = m['from'], m['cid']
  elseif redis.call('ZCOUNT', KEYS[8], target, target) > 0 then
    return {3}
  elseif ARGV[13] ~= '' then
    author = ARGV[13]
    if ARGV[14] ~= '' then cid = ARGV[14] end
  else
    return {4, epoch}
  end
  st = {from = author, rev = target}
  -- The cids of the message and its edits: a delete blanks their idempotency records (redis-erase.ts).
  if cid then st['cids'] = {cid} end
end

if st['deleted'] then
  if kind == 'delete' then return {5, st['delSeq'], ts, epoch} end
  return {3}
end
if kind == 'edit' and st['from'] ~= from then return {6} end
if kind == 'delete' and st['from'] ~= from and role ~= 'owner' and role ~= 'admin' then return {6} end
local onKey, offKey
if kind == 'reaction' then
  onKey = tag .. ':rx:' .. tstr .. ':' .. ARGV[6]
  offKey = tag .. ':rxoff:' .. tstr .. ':' .. ARGV[6]
  local cur = redis.call('ZSCORE', onKey, from)
  if ARGV[7] == '1' then
    if cur then return {5, tonumber(cur), ts, epoch} end
    if redis.call('EXISTS', onKey) == 0 and #(st['reactions'] or {}) >= ${LIMITS.reactionsPerMessage} then return {7} end
  elseif not cur then
    return {5, tonumber(redis.call('ZSCORE', offKey, from) or '0'), ts, epoch}
  end
end

local seq = redis.call('INCR', KEYS[1])
local seqStr = string.format('%d', seq)
local json = '{"room":' .. cjson.encode(ARGV[1]) .. ',"epoch":' .. cjson.encode(epoch)
  .. ',"seq":' .. seqStr .. ',"from":' .. cjson.encode(from)
  .. ',"text":' .. cjson.encode(kind == 'edit' and ARGV[5] or '') .. ',"ts":' .. string.format('%d', ts)
if hasCid then json = json .. ',"cid":' .. cjson.encode(ARGV[8]) end
json = json .. ',"kind":' .. cjson.encode(kind) .. ',"target":' .. tstr
if kind == 'reaction' then json = json .. ',"emoji":' .. cjson.encode(ARGV[6]) .. ',"on":' .. (ARGV[7] == '1' and 'true' or 'false') end
json = json .. '}'
redis.call('XADD', KEYS[3], 'MAXLEN', '~', ARGV[10], seqStr .. '-0', '${FIELD}', json)
if hasCid then redis.call('SET', KEYS[4], json, 'PX', ARGV[11]) end
if redis.call('ZADD', KEYS[7], seq, seqStr) == 1 and redis.call('ZCARD', KEYS[7]) > tonumber(ARGV[15]) + 64 then
  spillUncounted(tag, KEYS[7], tonumber(ARGV[15]))
end

st['rev'] = seq
if kind == 'edit' then
  st['text'] = ARGV[5]
  st['edited'] = ts
  local edits = st['edits'] or {}
  edits[#edits + 1] = seq
  st['edits'] = edits
  if hasCid then
    local cids = st['cids'] or {}
    cids[#cids + 1] = ARGV[8]
    st['cids'] = cids
  end
elseif kind == 'delete' then
  st['deleted'] = true
  st['delSeq'] = seq
  st['text'] = nil
  st['edited'] = nil
  st['reactions'] = nil
  erase(tag, KEYS[3], KEYS[8], target, st)
  st['cids'] = nil
  -- Erased entries a hot window below the stream's first are no longer read (see READ's oldest).
  local first = redis.call('XRANGE', KEYS[3], '-', '+', 'COUNT', 1)[1]
  if first then
    redis.call('ZREMRANGEBYSCORE', KEYS[8], '-inf', '(' .. (tonumber(string.match(first[1], '^(%d+)')) - tonumber(ARGV[10])))
  end
  redis.call('ZADD', KEYS[7], target, tstr)
  if redis.call('ZREM', tag .. ':own:' .. st['from'], tstr) == 0 then unspillOwn(tag, st['from'], target) end
else
  if ARGV[7] == '1' then
    redis.call('ZREM', offKey, from)
    redis.call('ZADD', onKey, seq, from)
  else
    redis.call('ZREM', onKey, from)
    redis.call('ZADD', offKey, seq, from)
  end
  local count = redis.call('ZCARD', onKey)
  local out, found = {}, false
  for _, r in ipairs(st['reactions'] or {}) do
    if r['emoji'] == ARGV[6] then
      found = true
      if count > 0 then
        r['count'] = count
        r['users'] = redis.call('ZRANGE', onKey, 0, ${LIMITS.reactionUsersShown - 1})
        out[#out + 1] = r
      end
    else
      out[#out + 1] = r
    end
  end
  if not found and count > 0 then
    out[#out + 1] = {emoji = ARGV[6], count = count, users = redis.call('ZRANGE', onKey, 0, ${LIMITS.reactionUsersShown - 1})}
  end
  if #out > 0 then st['reactions'] = out else st['reactions'] = nil end
end
redis.call('HSET', KEYS[6], tstr, cjson.encode(st))
redis.call('SPUBLISH', KEYS[5], '{"type":"message","message":' .. json .. '}')
return {0, json}
`);

/**
 * States. KEYS: epoch, state. ARGV: epoch, seq…. Returns each seq's state JSON or false, or {} when
 * the room's epoch is another.
 */
export const STATES = script(`
if redis.call('GET', KEYS[1]) ~= ARGV[1] or redis.call('EXISTS', KEYS[2]) == 0 then return {} end
return redis.call('HMGET', KEYS[2], unpack(ARGV, 2))
`);

/** The keys and arguments of CHANGE for `input` in `room`. */
export function changeCall(room: string, input: ChangeInput, opts: { hotWindow: number; idempotencyTtlMs: number; windows?: IndexWindows }) {
  const k = roomKeys(room);
  const cid = input.cid ?? '';
  const keys = [k.seq, k.epoch, k.log, k.cid(input.from, cid), k.channel, k.state, k.uncounted, k.erased];
  if (room.startsWith('grp:')) keys.push(k.groupRoles);
  const args = [
    room, input.from, input.kind, input.target, input.kind === 'edit' ? input.text : '',
    input.kind === 'reaction' ? input.emoji : '', input.kind === 'reaction' && input.on ? '1' : '0',
    cid, input.cid === undefined ? '0' : '1', opts.hotWindow, opts.idempotencyTtlMs, k.tag,
    input.archivedAuthor ?? '', input.archivedCid ?? '', (opts.windows ?? DEFAULT_WINDOWS).uncounted,
  ];
  return { keys, args };
}

/** What a CHANGE reply says; `not_member` for a group room's outsider (the caller throws). */
export function changeResult(reply: unknown): ChangeResult | 'not_member' {
  if (!Array.isArray(reply)) throw new Error('change: unexpected reply');
  const [code, a, b, c] = reply as unknown[];
  switch (code) {
    case CHANGED.appended:
    case CHANGED.duplicate: {
      const message = RoomLogEntries.decodeMessage(a);
      if (!message) throw new Error('change: stored entry does not parse');
      return { outcome: code === CHANGED.appended ? 'appended' : 'duplicate', message };
    }
    case CHANGED.notMember:
      return 'not_member';
    case CHANGED.notFound:
      return { outcome: 'not_found' };
    case CHANGED.inArchive:
      return { outcome: 'in_archive', epoch: String(a) };
    case CHANGED.unchanged:
      return { outcome: 'unchanged', epoch: String(c), seq: Number(a), ts: Number(b) };
    case CHANGED.forbidden:
      return { outcome: 'forbidden' };
    case CHANGED.tooManyReactions:
      return { outcome: 'too_many_reactions' };
  }
  throw new Error('change: unexpected reply');
}

/** The keys of STATES for `room`. */
export const statesKeys = (room: string): string[] => [roomKeys(room).epoch, roomKeys(room).state];

/** The states of `seqs` by one STATES call (`run` sends it with these seqs as its arguments after the epoch). */
export async function readStates(seqs: readonly number[], run: (seqs: readonly number[]) => Promise<unknown>): Promise<Map<number, MessageState>> {
  const out = new Map<number, MessageState>();
  if (seqs.length === 0) return out;
  const reply = await run(seqs);
  if (!Array.isArray(reply)) throw new Error('states: unexpected reply');
  reply.forEach((raw, i) => {
    const state = decodeState(raw);
    if (state) out.set(seqs[i] as number, state);
  });
  return out;
}

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isSeq = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 1;

/** A stored state (see the file's head); null when it does not parse as one. */
export function decodeState(raw: unknown): MessageState | null {
  const v = parseJson(raw);
  if (!isObj(v) || typeof v['from'] !== 'string' || !isSeq(v['rev'])) return null;
  const state: MessageState = { from: v['from'], rev: v['rev'] };
  if (Array.isArray(v['edits'])) state.edits = v['edits'].filter(isSeq);
  if (v['deleted'] === true) {
    state.deleted = true;
    return state;
  }
  if (typeof v['edited'] === 'number' && typeof v['text'] === 'string') {
    state.edited = v['edited'];
    state.text = v['text'];
  }
  // cjson writes an empty table as {}: no reactions.
  if (Array.isArray(v['reactions'])) {
    const reactions = v['reactions'].filter(isReaction);
    if (reactions.length > 0) state.reactions = reactions;
  }
  return state;
}

function isReaction(r: unknown): r is Reaction {
  if (!isObj(r) || typeof r['emoji'] !== 'string' || !isSeq(r['count'])) return false;
  const users = r['users'];
  // cjson writes an empty array as {} (a reaction listed always has users, but be lenient).
  if (isObj(users) && Object.keys(users).length === 0) r['users'] = [];
  return Array.isArray(r['users']) && r['users'].every((u) => typeof u === 'string');
}

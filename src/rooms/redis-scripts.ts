/**
 * Key layout and Lua scripts of the Redis room log (`redis.ts`) and of what the archive worker
 * reads of it (`redis-source.ts`). Every key and the shard channel of a room carry the hash tag
 * `{room}`, so one script acts on one shard atomically. The log stream's entries: see
 * `src/redis/codecs/room-log.ts`.
 */
import { SPILL_OWN } from '../reads/redis-index.ts';
import * as RoomLogEntries from '../redis/codecs/room-log.ts';
import { script } from '../redis/script.ts';

/** The keys and shard channel of one room. */
export function roomKeys(room: string) {
  const tag = `parley:{${room}}`;
  return {
    seq: `${tag}:seq`,
    epoch: `${tag}:epoch`,
    log: RoomLogEntries.streamKey(room),
    channel: `${tag}:ch`,
    /** `from` never contains `:` (USER_RE), so `from:cid` is unambiguous whatever the cid holds. */
    cid: (from: string, cid: string) => `${tag}:cid:${from}:${cid}`,
    /** "<epoch> <seq>": how far the archive worker has copied the log (`redis-source.ts`). */
    archived: `${tag}:archived`,
    /**
     * A group room's members (user → role), written by src/groups/redis-scripts.ts, checked by APPEND.
     * (`${tag}:members` is the room's presence hash, src/presence/redis.ts.)
     */
    groupRoles: `${tag}:roles`,
    /** A group room's title and owner (src/groups/redis-scripts.ts). */
    group: `${tag}:group`,
    /** Read positions: hash user → seq (src/reads/redis.ts). */
    reads: `${tag}:reads`,
    /** Sorted set of the seqs of `user`'s own text messages, the last `IndexWindows.own` (written by APPEND). */
    own: (user: string) => `${tag}:own:${user}`,
    /** Sorted set of seqs that are not a live text message: not counted as unread (src/reads/types.ts). */
    uncounted: `${tag}:uncounted`,
    /**
     * What left those two past their windows: bitmaps, and the base of each user's. The scripts of
     * src/reads/redis-index.ts name these keys themselves from the tag; listed here for the layout.
     */
    ownBits: (user: string) => `${tag}:ownbits:${user}`,
    ownBase: `${tag}:ownbase`,
    uncountedBits: `${tag}:uncbits`,
    /** v1.1: hash seq → state JSON of each text message an edit, delete or reaction targeted (`redis-changes.ts`). */
    state: `${tag}:state`,
    /**
     * v1.1: sorted set of the entries a delete erased from the log stream (score: seq; member: the
     * entry's JSON with its text blanked). A stream entry cannot be rewritten, so a delete removes
     * the message's and its edits' entries (XDEL) and keeps them here; every read of the log merges
     * the two, and the log stays gapless.
     */
    erased: `${tag}:erased`,
    /** The prefix of every key of the room, for keys a script names itself (same slot). */
    tag,
  };
}

/** The log entry's field that holds a message's JSON. */
const FIELD = RoomLogEntries.FIELD.message;

/**
 * Append. KEYS: seq, epoch, log, cid key (unused without a cid), channel, the sender's own-message
 * index (read state's unread count: one ZADD, and now and then a spill past its window into the
 * sender's bitmap, src/reads/redis-index.ts),
 * and for a group room only its members hash: the sender must be in it, checked in the same step
 * (a removal is ordered either before the check or after the message's publication). Public and
 * direct rooms pass no seventh key and pay nothing for it.
 * ARGV: room, from, text, cid ('' = none), has cid ('1'|'0'), new epoch, hot window, idempotency
 * TTL ms, publish ('1'|'0'; '0' only in tests that simulate a lost publication), own-index window.
 * Returns { duplicate (0|1), message JSON }, or { 2, '' } when the sender is not a group member.
 */
export const APPEND = script(`
${SPILL_OWN}
if KEYS[7] and redis.call('HEXISTS', KEYS[7], ARGV[2]) == 0 then return {2, ''} end
local hasCid = ARGV[5] == '1'
if hasCid then
  local seen = redis.call('GET', KEYS[4])
  if seen then return {1, seen} end
end
local epoch = redis.call('GET', KEYS[2])
if not epoch then
  epoch = ARGV[6]
  redis.call('SET', KEYS[2], epoch)
end
local seq = redis.call('INCR', KEYS[1])
local t = redis.call('TIME')
local ts = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
-- Built by hand: cjson would print large numbers in exponent form and order keys at random.
local json = '{"room":' .. cjson.encode(ARGV[1]) .. ',"epoch":' .. cjson.encode(epoch)
  .. ',"seq":' .. string.format('%d', seq) .. ',"from":' .. cjson.encode(ARGV[2])
  .. ',"text":' .. cjson.encode(ARGV[3]) .. ',"ts":' .. string.format('%d', ts)
if hasCid then json = json .. ',"cid":' .. cjson.encode(ARGV[4]) end
json = json .. '}'
redis.call('XADD', KEYS[3], 'MAXLEN', '~', ARGV[7], string.format('%d', seq) .. '-0', '${FIELD}', json)
if hasCid then redis.call('SET', KEYS[4], json, 'PX', ARGV[8]) end
local seqStr = string.format('%d', seq)
if redis.call('ZADD', KEYS[6], seq, seqStr) == 1 and redis.call('ZCARD', KEYS[6]) > tonumber(ARGV[10]) + 64 then
  spillOwn(string.sub(KEYS[1], 1, -5), ARGV[2], KEYS[6], tonumber(ARGV[10]))
end
if ARGV[9] == '1' then
  redis.call('SPUBLISH', KEYS[5], '{"type":"message","message":' .. json .. '}')
end
return {0, json}
`);

/**
 * A member's ephemeral event in a group room (typing). KEYS: members hash, channel. ARGV: user,
 * event JSON. Published only while the user is a member, checked in the same step, so no event of a
 * removed member follows the removal's `member` event. Returns 1 when published, 0 when refused.
 */
export const MEMBER_SIGNAL = script(`
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 0 then return 0 end
redis.call('SPUBLISH', KEYS[2], ARGV[2])
return 1
`);

/**
 * Head. KEYS: epoch, seq [, a group room's roles]. ARGV: new epoch. Returns { epoch, seq }, and with
 * the roles key the group's members as of that seq, read in the same step: { epoch, seq, {user…} }.
 */
export const HEAD = script(`
local epoch = redis.call('GET', KEYS[1])
if not epoch then
  epoch = ARGV[1]
  redis.call('SET', KEYS[1], epoch)
end
local seq = tonumber(redis.call('GET', KEYS[2]) or '0')
if KEYS[3] then return {epoch, seq, redis.call('HKEYS', KEYS[3])} end
return {epoch, seq}
`);

/**
 * Lua: `collect(out, logKey, erasedKey, from, to, count)` appends to `out` the JSON of the entries
 * with seqs `from..to`, ascending, taking erased ones from the erased set. With `count`, at most
 * `count` stream entries from `from` on (then `to` is only the upper bound of erased ones past the
 * last of them). Returns how many it appended.
 */
const COLLECT = `local function collect(out, logKey, erasedKey, from, to, count)
  local entries
  if count then
    entries = redis.call('XRANGE', logKey, string.format('%d', from) .. '-0', '+', 'COUNT', count)
    if #entries == count then to = tonumber(string.match(entries[#entries][1], '^(%d+)')) end
  else
    entries = redis.call('XRANGE', logKey, string.format('%d', from) .. '-0', string.format('%d', to) .. '-0')
  end
  local erased = redis.call('ZRANGEBYSCORE', erasedKey, from, to, 'WITHSCORES')
  local n0, i, j = #out, 1, 1
  while i <= #entries or j <= #erased do
    local es = entries[i] and tonumber(string.match(entries[i][1], '^(%d+)'))
    if es and (j > #erased or es < tonumber(erased[j + 1])) then
      local f = entries[i][2]
      for k = 1, #f, 2 do
        if f[k] == '${FIELD}' then out[#out + 1] = f[k + 1] end
      end
      i = i + 1
    else
      out[#out + 1] = erased[j]
      j = j + 2
    end
  end
  return #out - n0
end`;

/**
 * Read a page; mirrors `pageOf` in page.ts (the contract tests hold both to the same semantics).
 * KEYS: epoch, seq, log, erased, state. ARGV: new epoch, after (-1 = none), before (-1 = none), limit.
 * Returns { epoch, seq, oldest, hasMore (0|1), n, n message JSON… in ascending seq, then for each
 * the state JSON of the message at that seq or false } (the states only when the room has any).
 */
export const READ = script(`
${COLLECT}
local epoch = redis.call('GET', KEYS[1])
if not epoch then
  epoch = ARGV[1]
  redis.call('SET', KEYS[1], epoch)
end
local head = tonumber(redis.call('GET', KEYS[2]) or '0')
local first = redis.call('XRANGE', KEYS[3], '-', '+', 'COUNT', 1)[1]
local oldest = head + 1
if first then oldest = tonumber(string.match(first[1], '^(%d+)')) end
-- Entries erased by a delete right below the first still held are part of the hot log.
while oldest > 1 and redis.call('ZCOUNT', KEYS[4], oldest - 1, oldest - 1) > 0 do oldest = oldest - 1 end
local after = tonumber(ARGV[2])
local before = tonumber(ARGV[3])
local limit = tonumber(ARGV[4])
local out = {epoch, head, oldest, 0, 0}
local lower = math.max(after >= 0 and after or 0, oldest - 1)
local upper = math.min(before >= 0 and before or head + 1, head + 1)
if upper - lower <= 1 then return out end
local from, to
if after >= 0 and before < 0 then
  from = lower + 1
  to = math.min(upper - 1, lower + limit)
  if to < head then out[4] = 1 end
else
  from = math.max(lower + 1, upper - limit)
  to = upper - 1
  if from > lower + 1 then out[4] = 1 end
end
local n = collect(out, KEYS[3], KEYS[4], from, to, nil)
out[5] = n
if n > 0 and redis.call('EXISTS', KEYS[5]) == 1 then
  -- In chunks: unpack takes a few thousand values at most.
  for c = 6, 5 + n, 1000 do
    local seqs = {}
    for i = c, math.min(c + 999, 5 + n) do seqs[#seqs + 1] = string.match(out[i], '"seq":(%d+)') end
    local states = redis.call('HMGET', KEYS[5], unpack(seqs))
    for i = 1, #seqs do out[#out + 1] = states[i] end
  end
end
return out
`);

/**
 * Range, for the archive worker. KEYS: epoch, log, archived, erased, seq. ARGV: count. Returns
 * {epoch, start, message JSON…}: about `count` entries of the current epoch from `start` on, where
 * `start` is one past the archived position when it is of this epoch, else 1. An empty epoch ('')
 * means the room has no log.
 */
export const RANGE = script(`
${COLLECT}
local epoch = redis.call('GET', KEYS[1])
if not epoch then return {''} end
local start = 1
local cur = redis.call('GET', KEYS[3])
if cur then
  local e, s = string.match(cur, '^(%S+) (%d+)$')
  if e == epoch then start = tonumber(s) + 1 end
end
local out = {epoch, start}
collect(out, KEYS[2], KEYS[4], start, tonumber(redis.call('GET', KEYS[5]) or '0'), tonumber(ARGV[1]))
return out
`);

/** Advance, for the archive worker. KEYS: archived. ARGV: epoch, seq. Moves the archived position forward only. */
export const ADVANCE = script(`
local cur = redis.call('GET', KEYS[1])
if cur then
  local e, s = string.match(cur, '^(%S+) (%d+)$')
  if e == ARGV[1] and tonumber(s) >= tonumber(ARGV[2]) then return 0 end
end
redis.call('SET', KEYS[1], ARGV[1] .. ' ' .. ARGV[2])
return 1
`);

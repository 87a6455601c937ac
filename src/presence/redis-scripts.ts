/**
 * Lua scripts of the Redis presence (`redis.ts`).
 * Each script touches keys of one hash tag only, so that it runs atomically on one shard.
 */
import { script } from '../redis/script.ts';

/**
 * Whether the user has a live connection other than `skip`. Expects `conns` (a hash connId →
 * expiresAt) in KEYS[1].
 */
const othersAlive = `
local function othersAlive(conns, skip, now)
  local all = redis.call('HGETALL', conns)
  for i = 1, #all, 2 do
    if all[i] ~= skip and tonumber(all[i + 1]) > now then return true end
  end
  return false
end
`;

/**
 * The time of a user's next transition: not earlier than `now` and strictly later than the
 * previous one (KEYS `at`), so that the presence worker can order a user's transitions by time even
 * when two happen in the same millisecond or the clocks of two instances disagree.
 */
const stamp = `
local function stamp(atKey, t, ttl)
  local prev = tonumber(redis.call('GET', atKey) or '0')
  if t <= prev then t = prev + 1 end
  redis.call('SET', atKey, string.format('%d', t), 'PX', ttl)
  return t
end
`;

/** Lua: how many live connections the user has other than `skip`. */
const liveCount = `
local function liveCount(conns, skip, now)
  local all = redis.call('HGETALL', conns)
  local n = 0
  for i = 1, #all, 2 do
    if all[i] ~= skip and tonumber(all[i + 1]) > now then n = n + 1 end
  end
  return n
end
`;

/**
 * Connect. KEYS: conns, at, barred. ARGV: connId, expiresAt, now, safetyTtlMs, atTtlMs, limit ('' =
 * none, and no bar checked: a known connection registering again).
 * Returns {3, ms} without registering while the user is barred (`ms` left of the bar); {2} without
 * registering when the user already has `limit` other live connections (the count and the
 * registration are one step, so simultaneous upgrades cannot pass the limit together); {1, time}
 * when the user has no other live connection (first: came online at `time`); else {0}.
 */
export const CONNECT = script(`${othersAlive}${liveCount}${stamp}
if ARGV[6] ~= '' then
  local barred = redis.call('PTTL', KEYS[3])
  if barred > 0 then return {3, barred} end
  if liveCount(KEYS[1], ARGV[1], tonumber(ARGV[3])) >= tonumber(ARGV[6]) then return {2} end
end
local first = not othersAlive(KEYS[1], ARGV[1], tonumber(ARGV[3]))
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[4])
if not first then return {0} end
return {1, stamp(KEYS[2], tonumber(ARGV[3]), ARGV[5])}
`);

/**
 * Refresh, only if still registered (a refresh must not revive a removed connection).
 * KEYS: conns, connRooms, seen, at. ARGV: connId, expiresAt, safetyTtlMs, now, atTtlMs. Returns
 * false when unknown, else {back, room...}: `back` is 0, or the stamped time (see `stamp`) at which
 * the user came online again. That is when the user's last transition was offline (REMOVE sets
 * `seen` and `at` to the same stamp; CONNECT and this script move `at` past it): a REMOVE of
 * another connection found this one lapsed, so it announced the user offline, and this entry, still
 * here, now lives again. No CONNECT will announce that, since the user is online from now on.
 */
export const REFRESH = script(`${stamp}
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 0 then return false end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
if redis.call('EXISTS', KEYS[2]) == 1 then redis.call('PEXPIRE', KEYS[2], ARGV[3]) end
local back = 0
local seen = redis.call('GET', KEYS[3])
if seen and seen == redis.call('GET', KEYS[4]) then back = stamp(KEYS[4], tonumber(ARGV[4]), ARGV[5]) end
local out = {back}
for _, r in ipairs(redis.call('SMEMBERS', KEYS[2])) do out[#out + 1] = r end
return out
`);

/**
 * Remove a connection from its user. KEYS: conns, connRooms, seen, at. ARGV: connId, now, lastSeen
 * ('' = the stored expiresAt - ttlMs), ttlMs, seenTtlMs, claimedExpiresAt ('' = unconditional).
 * With claimedExpiresAt, a connection refreshed since the claim is kept: returns {2, expiresAt}.
 * Else returns {0} when unknown, or {1, offline, lastSeen, room...}. When the user went offline,
 * lastSeen is stamped (see `stamp`): at least one millisecond after the user's previous transition.
 */
export const REMOVE = script(`${othersAlive}${stamp}
local cur = redis.call('HGET', KEYS[1], ARGV[1])
if not cur then return {0} end
if ARGV[6] ~= '' and tonumber(cur) > tonumber(ARGV[2]) then return {2, cur} end
redis.call('HDEL', KEYS[1], ARGV[1])
local rooms = redis.call('SMEMBERS', KEYS[2])
redis.call('DEL', KEYS[2])
local lastSeen = ARGV[3]
if lastSeen == '' then lastSeen = tostring(tonumber(cur) - tonumber(ARGV[4])) end
local offline = 0
if not othersAlive(KEYS[1], ARGV[1], tonumber(ARGV[2])) then
  offline = 1
  lastSeen = string.format('%d', stamp(KEYS[4], tonumber(lastSeen), ARGV[5]))
  redis.call('SET', KEYS[3], lastSeen, 'PX', ARGV[5])
end
local out = {1, offline, lastSeen}
for _, r in ipairs(rooms) do out[#out + 1] = r end
return out
`);

/**
 * Record a room of a live connection. KEYS: conns, connRooms. ARGV: connId, room, safetyTtlMs.
 * Returns the connection's expiresAt, or false when it is not registered.
 */
export const ADD_ROOM = script(`
local cur = redis.call('HGET', KEYS[1], ARGV[1])
if not cur then return false end
redis.call('SADD', KEYS[2], ARGV[2])
redis.call('PEXPIRE', KEYS[2], ARGV[3])
return cur
`);

/** Forget a room of a connection. KEYS: connRooms. ARGV: room. Returns 1 when it was recorded. */
export const DROP_ROOM = script(`return redis.call('SREM', KEYS[1], ARGV[1])`);

/**
 * Whether `user` has another entry in a room hash (fields "<user>|<connId>" → expiresAt).
 * With `now`, only unexpired entries count; without, any entry does (see LEAVE).
 */
const userInRoom = `
local function userInRoom(members, user, skip, now)
  local all = redis.call('HGETALL', members)
  local prefix = user .. '|'
  for i = 1, #all, 2 do
    local f = all[i]
    if f ~= skip and string.sub(f, 1, #prefix) == prefix and (not now or tonumber(all[i + 1]) > now) then
      return true
    end
  end
  return false
end
`;

/**
 * Join. KEYS: members. ARGV: user, connId, expiresAt, now, safetyTtlMs, pruneBefore. Returns 1 when
 * the user had no live connection in the room (first). Entries that expired before `pruneBefore`
 * (long enough ago that a reaper has had its turn) are dropped: only a crash between the steps of a
 * removal leaves them behind.
 */
export const JOIN = script(`${userInRoom}
local field = ARGV[1] .. '|' .. ARGV[2]
local first = not userInRoom(KEYS[1], ARGV[1], field, tonumber(ARGV[4]))
local all = redis.call('HGETALL', KEYS[1])
local before = tonumber(ARGV[6])
for i = 1, #all, 2 do
  if tonumber(all[i + 1]) < before then redis.call('HDEL', KEYS[1], all[i]) end
end
redis.call('HSET', KEYS[1], field, ARGV[3])
redis.call('PEXPIRE', KEYS[1], ARGV[5])
return first and 1 or 0
`);

/**
 * Leave (also on disconnect and reap). KEYS: members. ARGV: user, connId. Returns 1 when this call
 * removed the entry and no entry of the user is left, expired or not: of several connections of one
 * user removed at once (two reapers), exactly one reports the last.
 */
export const LEAVE = script(`${userInRoom}
local field = ARGV[1] .. '|' .. ARGV[2]
if redis.call('HDEL', KEYS[1], field) == 0 then return 0 end
return userInRoom(KEYS[1], ARGV[1], field, nil) and 0 or 1
`);

/** Refresh a room entry if present. KEYS: members. ARGV: field, expiresAt, safetyTtlMs. */
export const TOUCH_ROOM = script(`
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return 1
`);

/** Distinct users with an unexpired entry. KEYS: members. ARGV: now. */
export const MEMBERS = script(`
local all = redis.call('HGETALL', KEYS[1])
local now = tonumber(ARGV[1])
local seen, out = {}, {}
for i = 1, #all, 2 do
  local user = string.match(all[i], '^([^|]*)|')
  if user and not seen[user] and tonumber(all[i + 1]) > now then
    seen[user] = true
    out[#out + 1] = user
  end
end
return out
`);

/**
 * Claim expired connections of one expiry index: read and remove in one step, so that each is
 * claimed by exactly one caller. KEYS: index. ARGV: now, limit. Returns member, score, ….
 */
export const CLAIM = script(`
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'WITHSCORES', 'LIMIT', 0, ARGV[2])
for i = 1, #due, 2 do redis.call('ZREM', KEYS[1], due[i]) end
return due
`);

/**
 * The unread indexes on Redis past their windows (see `types.ts`), as Lua functions of the room log's
 * scripts (APPEND in src/rooms/redis-scripts.ts, CHANGE in src/rooms/redis-changes.ts) and of the
 * unread count (`redis.ts`). Keys, under the room's hash tag (`roomKeys`):
 *
 * - `own:<user>` (sorted set) and `uncounted` (sorted set): the last `window` seqs of each index;
 * - `ownbits:<user>` (string): the user's own text messages that left `own:<user>` and were above
 *   the user's position then, bit `seq − base`, with `base` (a multiple of 8) in the hash `ownbase`
 *   (user → base). Each spill first drops the whole bytes at or below the user's position (at least
 *   64 of them at once), so the string spans little more than the user's posts since reading;
 * - `uncbits` (string): the seqs that left `uncounted`, bit `seq`: head / 8 bytes at most, only in a
 *   room past that window.
 *
 * Seqs leave an index 64 past its window, the lowest first, so appends stay O(1) amortised.
 */

/** Bytes of `ownbits` at or below the position dropped at once (each drop copies the rest). */
const DROP_BYTES = 64;

/**
 * Lua, for APPEND: `spillOwn(tag, user, ownKey, window)`, once the user's index holds more than
 * `window + 64` entries (the caller checks): moves all but the last `window` into the user's bitmap.
 */
export const SPILL_OWN = `local function spillOwn(tag, user, ownKey, window)
  local left = redis.call('ZRANGE', ownKey, 0, -(window + 1))
  redis.call('ZREMRANGEBYRANK', ownKey, 0, -(window + 1))
  local pos = tonumber(redis.call('HGET', tag .. ':reads', user) or '0')
  local bits, bases = tag .. ':ownbits:' .. user, tag .. ':ownbase'
  local base = tonumber(redis.call('HGET', bases, user) or '-1')
  local drop = math.floor((pos + 1 - base) / 8)
  if base >= 0 and drop >= ${DROP_BYTES} then
    local rest = redis.call('GETRANGE', bits, drop, -1)
    if rest == '' then
      redis.call('DEL', bits)
      redis.call('HDEL', bases, user)
      base = -1
    else
      redis.call('SET', bits, rest)
      base = base + 8 * drop
      redis.call('HSET', bases, user, string.format('%d', base))
    end
  end
  for _, s in ipairs(left) do
    local seq = tonumber(s)
    if seq > pos then
      if base < 0 then
        base = seq - seq % 8
        redis.call('HSET', bases, user, string.format('%d', base))
      end
      redis.call('SETBIT', bits, seq - base, 1)
    end
  end
end`;

/**
 * Lua, for CHANGE: `spillUncounted(tag, key, window)` does the same for the room's index (the
 * caller checks its size). `unspillOwn(tag, user, seq)`: a deleted message of the user that was no
 * longer in the user's sorted index leaves the bitmap.
 */
export const SPILL_UNCOUNTED = `local function spillUncounted(tag, key, window)
  local left = redis.call('ZRANGE', key, 0, -(window + 1))
  redis.call('ZREMRANGEBYRANK', key, 0, -(window + 1))
  for _, s in ipairs(left) do redis.call('SETBIT', tag .. ':uncbits', tonumber(s), 1) end
end
local function unspillOwn(tag, user, seq)
  local base = redis.call('HGET', tag .. ':ownbase', user)
  if not base then return end
  local bits = tag .. ':ownbits:' .. user
  local off = seq - tonumber(base)
  if off >= 0 and off < 8 * redis.call('STRLEN', bits) then redis.call('SETBIT', bits, off, 0) end
end`;

/**
 * Lua: `spilled(tag, user, last, head, ownWindow, uncountedWindow)`: how many seqs after `last` the
 * bitmaps hold; 0 without reading them (nor naming their keys in the call) within both windows.
 */
export const SPILLED = `local function spilled(tag, user, last, head, ownWindow, uncountedWindow)
  local n = 0
  if head - last > ownWindow then
    local base = redis.call('HGET', tag .. ':ownbase', user)
    if base then n = n + redis.call('BITCOUNT', tag .. ':ownbits:' .. user, math.max(0, last + 1 - tonumber(base)), -1, 'BIT') end
  end
  if head - last > uncountedWindow then n = n + redis.call('BITCOUNT', tag .. ':uncbits', last + 1, -1, 'BIT') end
  return n
end`;

/**
 * What a delete erases on Redis, as a Lua function of the change script (`CHANGE`, redis-changes.ts):
 * deleted text is gone from Redis, not only hidden. For the deleted message and each of its edits:
 *
 * - the log entry, while the hot log holds it: removed from the stream and kept, text blanked, in the
 *   erased set (`roomKeys(room).erased`, which every read of the log merges back in);
 * - the idempotency record (`roomKeys(room).cid`), blanked where it still lives, whether the hot log
 *   still holds the entry or not: its cid comes from the entry, or from the message's state (`cids`,
 *   recorded by CHANGE when it first reads the message and on each edit with a cid), or from the
 *   archive for a message the state never knew (`ChangeInput.archivedCid`);
 * - the stream's own copy: XDEL only marks an entry deleted, and its bytes stay in the stream's node
 *   until every entry of that node is gone. The entries still held are copied into a fresh stream
 *   that is renamed over the log: O(entries held), the hot window, once per delete that removed one.
 *
 * The state hash drops the text itself (`st.text`), in CHANGE.
 */
import * as RoomLogEntries from '../redis/codecs/room-log.ts';

const FIELD = RoomLogEntries.FIELD.message;

/**
 * Lua: `erase(tag, logKey, erasedKey, target, st)`, where `st` is the message's state (`from`,
 * `edits`, `cids`) before the delete. Returns nothing.
 */
export const ERASE = `local function blankRecord(key)
  local rec = redis.call('GET', key)
  if not rec then return end
  local m = cjson.decode(rec)
  if m['text'] == '' then return end
  m['text'] = ''
  redis.call('SET', key, cjson.encode(m), 'XX', 'KEEPTTL')
end
local function rewriteLog(tag, logKey)
  local tmp = tag .. ':log-rewrite'
  redis.call('DEL', tmp)
  local from = '-'
  repeat
    local batch = redis.call('XRANGE', logKey, from, '+', 'COUNT', 1000)
    for _, e in ipairs(batch) do redis.call('XADD', tmp, e[1], unpack(e[2])) end
    if #batch > 0 then from = '(' .. batch[#batch][1] end
  until #batch < 1000
  if redis.call('EXISTS', tmp) == 1 then redis.call('RENAME', tmp, logKey) else redis.call('DEL', logKey) end
end
local function erase(tag, logKey, erasedKey, target, st)
  local records = {}
  for _, c in ipairs(st['cids'] or {}) do records[tag .. ':cid:' .. st['from'] .. ':' .. c] = true end
  local seqs = {target}
  for _, s in ipairs(st['edits'] or {}) do seqs[#seqs + 1] = s end
  local removed = false
  for _, s in ipairs(seqs) do
    local id = string.format('%d', s) .. '-0'
    local e = redis.call('XRANGE', logKey, id, id)[1]
    if e then
      local m
      for k = 1, #e[2], 2 do
        if e[2][k] == '${FIELD}' then m = cjson.decode(e[2][k + 1]) end
      end
      m['text'] = ''
      redis.call('XDEL', logKey, id)
      redis.call('ZADD', erasedKey, s, cjson.encode(m))
      if m['cid'] then records[tag .. ':cid:' .. m['from'] .. ':' .. m['cid']] = true end
      removed = true
    end
  end
  for key in pairs(records) do blankRecord(key) end
  if removed then rewriteLog(tag, logKey) end
end`;

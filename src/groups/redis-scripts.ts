/**
 * Key layout and Lua scripts of the Redis groups store (`redis.ts`). A group's keys carry the hash
 * tag of its ROOM, `parley:{grp:<id>}:…`, like the room log's keys and shard channel
 * (src/rooms/redis-scripts.ts `roomKeys`): one script checks the actor's role, changes the
 * membership and SPUBLISHes the `member` event on the room's channel, and the room log's APPEND
 * script checks membership in the same step as an append.
 *
 * - Hash `parley:{grp:<id>}:group`: `title`, `owner`. Its existence is the group's.
 * - Hash `parley:{grp:<id>}:roles`: user → `owner` | `admin` | `member` (`:members` is the room's
 *   presence hash, src/presence/redis.ts).
 *
 * The rights rules mirror `refuseSetRole` / `refuseRemove` in types.ts (the contract suite holds
 * both stores to them). Mutation replies: `{'forbidden'|'conflict', reason}` when refused, else
 * `{'ok', changed (0|1), title, owner, user, role, user, role…}` (create, setRole), `{'ok', removed}` (remove).
 */
import { groupRoom } from '@parley/client/wire';
import { script } from '../redis/script.ts';
import { roomKeys } from '../rooms/redis-scripts.ts';

/** The keys of one group, and its room's shard channel. */
export function groupKeys(id: string) {
  const room = groupRoom(id);
  const k = roomKeys(room);
  return { room, meta: k.group, members: k.groupRoles, channel: k.channel };
}

/** Lua: the JSON of a `member` event (`role` nil: removed). */
const EVENT = `local function event(room, user, role, by)
  local r = 'null'
  if role then r = cjson.encode(role) end
  return '{"type":"member","room":' .. cjson.encode(room) .. ',"user":' .. cjson.encode(user)
    .. ',"role":' .. r .. ',"by":' .. cjson.encode(by) .. '}'
end`;

/** Lua: the reply of a mutation that answers with the group. */
const GROUP_REPLY = `local function reply(changed)
  local out = {'ok', changed}
  local meta = redis.call('HMGET', KEYS[1], 'title', 'owner')
  out[3] = meta[1]
  out[4] = meta[2]
  local members = redis.call('HGETALL', KEYS[2])
  for i = 1, #members do out[#out + 1] = members[i] end
  return out
end`;

/** Create. KEYS: meta, members, channel. ARGV: room, owner, title, max members, member… */
export const CREATE = script(`
${EVENT}
${GROUP_REPLY}
if redis.call('EXISTS', KEYS[1]) == 1 then return {'conflict', 'the group exists'} end
local owner = ARGV[2]
local seen = {[owner] = true}
local list = {}
for i = 5, #ARGV do
  local u = ARGV[i]
  if not seen[u] then
    seen[u] = true
    list[#list + 1] = u
  end
end
if #list + 1 > tonumber(ARGV[4]) then return {'conflict', 'too many members'} end
redis.call('HSET', KEYS[1], 'title', ARGV[3], 'owner', owner)
redis.call('HSET', KEYS[2], owner, 'owner')
for _, u in ipairs(list) do
  redis.call('HSET', KEYS[2], u, 'member')
  redis.call('SPUBLISH', KEYS[3], event(ARGV[1], u, 'member', owner))
end
return reply(1)
`);

/** Read. KEYS: meta, members. Returns {} for an unknown group, else the group reply. */
export const GET = script(`
${GROUP_REPLY}
if redis.call('EXISTS', KEYS[1]) == 0 then return {} end
return reply(0)
`);

/** Set role (adds a user). KEYS: meta, members, channel. ARGV: room, actor, user, role, max members. */
export const SET_ROLE = script(`
${EVENT}
${GROUP_REPLY}
local actorRole = redis.call('HGET', KEYS[2], ARGV[2])
if not actorRole then return {'forbidden', 'not a member of this group'} end
local cur = redis.call('HGET', KEYS[2], ARGV[3])
local role = ARGV[4]
if cur == 'owner' then
  if actorRole == 'owner' then return {'conflict', "the owner's role cannot change"} end
  return {'forbidden', "the owner's role cannot change"}
end
if actorRole == 'member' then return {'forbidden', 'only the owner and admins add members'} end
if actorRole == 'admin' and (role == 'admin' or cur == 'admin') then return {'forbidden', 'only the owner grants or takes admin'} end
if cur == role then return reply(0) end
if not cur and redis.call('HLEN', KEYS[2]) >= tonumber(ARGV[5]) then return {'conflict', 'too many members'} end
redis.call('HSET', KEYS[2], ARGV[3], role)
redis.call('SPUBLISH', KEYS[3], event(ARGV[1], ARGV[3], role, ARGV[2]))
return reply(1)
`);

/** Remove. KEYS: members, channel. ARGV: room, actor, user. */
export const REMOVE = script(`
${EVENT}
local actorRole = redis.call('HGET', KEYS[1], ARGV[2])
if not actorRole then return {'forbidden', 'not a member of this group'} end
local cur = redis.call('HGET', KEYS[1], ARGV[3])
if cur == 'owner' then
  if ARGV[2] == ARGV[3] then return {'conflict', 'the owner cannot leave its group'} end
  return {'forbidden', 'nobody removes the owner'}
end
if ARGV[2] ~= ARGV[3] then
  if actorRole == 'member' then return {'forbidden', 'only the owner and admins remove members'} end
  if cur == 'admin' and actorRole ~= 'owner' then return {'forbidden', 'only the owner removes an admin'} end
end
if not cur then return {'ok', 0} end
redis.call('HDEL', KEYS[1], ARGV[3])
redis.call('SPUBLISH', KEYS[2], event(ARGV[1], ARGV[3], nil, ARGV[2]))
return {'ok', 1}
`);

-- revoke_user.lua: end every session of a user, and forget the browsers
-- remembered for them.  The new generation also invalidates sessions
-- that workers hold in memory, and any session key the set lost track of.
--
-- KEYS[1]  P{u}:u          user record (hash); created if missing, so that
--                        users with no record (SMS only) can be revoked
-- KEYS[2]  P{u}:su         set of the user's session keys
-- KEYS[3]  P{u}:d          remembered devices (optional)
--
-- Reply: {"ok", sessions}, the number of live sessions deleted
--
-- The session keys come from the set, not from KEYS: with Redis Cluster,
-- they must share the user's hash slot.

redis.call('HINCRBY', KEYS[1], 'gen', 1)

local n = 0
for _, s in ipairs(redis.call('SMEMBERS', KEYS[2])) do
    n = n + redis.call('DEL', s)
end
redis.call('DEL', KEYS[2])

if KEYS[3] then
    redis.call('DEL', KEYS[3])
end

return {'ok', n}

-- session_end.lua: sign out of one session, and forget the browser's
-- trust unless the user keeps it.
--
-- KEYS[1]  P s:<sid hash>   session
-- KEYS[2]  P su:<user>      set of the user's session keys
-- KEYS[3]  P d:<user>       remembered devices (sorted set: id, expiry)
-- ARGV[1]  the device id of this browser's device cookie (hex), or ""
--          (optional)
--
-- Reply: {"ok"}

redis.call('DEL', KEYS[1])
redis.call('SREM', KEYS[2], KEYS[1])

local device = ARGV[1] or ''

if device ~= '' and KEYS[3] then
    redis.call('ZREM', KEYS[3], device)
end

return {'ok'}

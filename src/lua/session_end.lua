-- session_end.lua: sign out of one session.
--
-- KEYS[1]  P s:<sid hash>   session
-- KEYS[2]  P su:<user>      set of the user's session keys
--
-- Reply: {"ok"}

redis.call('DEL', KEYS[1])
redis.call('SREM', KEYS[2], KEYS[1])

return {'ok'}

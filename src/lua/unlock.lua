-- unlock.lua: lift a lockout and forget the failures that led to it.
--
-- KEYS[1]  P{u}:f          consecutive failures of the user
-- KEYS[2]  P{u}:l          lock marker
--
-- Reply: {"ok"}

redis.call('DEL', KEYS[1], KEYS[2])

return {'ok'}

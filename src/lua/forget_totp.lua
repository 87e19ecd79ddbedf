-- forget_totp.lua: an admin removes a user's authenticators (all of
-- them, SPEC 5); the next sign-in enrolls a new one.  The pending
-- enrollments go too, and so do the recovery codes, the remembered
-- browsers and every session, the ones workers hold in memory included
-- (a new generation, as in revoke_user.lua): they were opened with an
-- authenticator that is no longer trusted.
--
-- KEYS[1]  P{u}:u          user record (hash)
-- KEYS[2]  P{u}:es         the user's pending enrollments (set of key
--                          names; each is deleted, and the set)
-- KEYS[3]  P{u}:su         set of the user's session keys
-- KEYS[4]  P{u}:d          remembered devices (optional)
--
-- Reply: {"ok", had_totp, sessions}
--   had_totp   1 if an authenticator was enrolled, else 0
--   sessions   the number of live sessions deleted
--
-- A user with neither a record nor a session set is left without one:
-- the call does not create records for names that never signed in.

-- include: _prelude.lua

local known = redis.call('EXISTS', KEYS[1], KEYS[3]) > 0

local had = redis.call('HEXISTS', KEYS[1], 'totp')
authenticators_forget(KEYS[1])
redis.call('HDEL', KEYS[1], 'totp', 'alg', 'digits', 'period')
redis.call('HDEL', KEYS[1], 'type', 'counter', 'rc')
for _, k in ipairs(redis.call('SMEMBERS', KEYS[2])) do
    redis.call('DEL', k)
end
redis.call('DEL', KEYS[2])

if KEYS[4] then
    redis.call('DEL', KEYS[4])
end

if not known then
    return {'ok', 0, 0}
end

return {'ok', had > 0 and 1 or 0, revoke(KEYS[1], KEYS[3])}

-- admin_status.lua: what the admin API shows about a user.  Read-only.
--
-- KEYS[1]  P{u}:u          user record (hash)
-- KEYS[2]  P{u}:l          lock marker
-- KEYS[3]  P{u}:su         set of the user's session keys
--
-- Reply: {"ok", totp, must_enroll, lock_ttl, sessions, phone, hotp,
--         recovery}
--   totp         1 if an authenticator is enrolled, else 0 (HOTP too)
--   must_enroll  1 if an admin asked for a new enrollment, else 0
--   lock_ttl     seconds the user stays locked, 0 if not locked
--   sessions     live sessions: keys of the set that still exist and
--                belong to the current generation
--   phone        the sealed phone number (binary), nil if none
--   hotp         1 if the authenticator is an HOTP one, else 0
--   recovery     recovery codes left
--   authenticators  a list, five values each: id, name (nil: never
--                named), added, last used (0: unknown), "totp"|"hotp"
--        {"unknown"}   no user record, no lock and no session set
--
-- The session keys come from the set, not from KEYS: with Redis Cluster,
-- they must share the user's hash slot (see revoke_user.lua).

-- include: _prelude.lua

local known = redis.call('EXISTS', KEYS[1], KEYS[2], KEYS[3])
if known == 0 then
    return {'unknown'}
end

local u = redis.call('HMGET', KEYS[1], 'totp', 'must_enroll', 'gen', 'phone',
                     'type', 'rc')
local gen = tonumber(u[3]) or 0

local n = 0
for _, s in ipairs(redis.call('SMEMBERS', KEYS[3])) do
    local g = redis.call('HGET', s, 'g')
    if g and tonumber(g) == gen then
        n = n + 1
    end
end

return {
    'ok',
    u[1] and 1 or 0,
    u[2] == '1' and 1 or 0,
    left(redis.call('PTTL', KEYS[2])),
    n,
    u[4],
    (u[1] and u[5] == 'hotp') and 1 or 0,
    math.floor(#(u[6] or '') / 64),
    authenticators_shown(KEYS[1])
}

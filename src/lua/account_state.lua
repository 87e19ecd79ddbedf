-- account_state.lua: what the account page shows (SPEC 10), for a
-- session whose code was entered within otp_fresh.  Read-only.
--
-- KEYS[1]  P{u}:s:<hash>   the browser's session
-- KEYS[2]  P{u}:u          user record (hash)
-- KEYS[3]  P{u}:su         set of the user's session keys
-- KEYS[4]  P{u}:d          remembered browsers
-- KEYS[5]  P{u}:l          lock marker
-- ARGV[1]  user
-- ARGV[2]  now, unix seconds
-- ARGV[3]  session lifetime, seconds (otp_session_ttl)
-- ARGV[4]  otp_fresh, seconds
--
-- Reply: {"ok", recovery, phone, browsers, sessions, authenticators}
--   recovery        recovery codes left
--   phone           the sealed phone number (binary), nil if none
--   browsers        remembered browsers not expired
--   sessions        live sessions of the current generation
--   authenticators  five values each (see authenticators_shown)
--        {"none"}   no such session, or its code is not fresh: the
--                   page steps up first
--        {"locked", secs}   the user is locked: the locked page, as on
--                   the rest of the endpoint
--
-- The session keys come from the set, not from KEYS: with Redis Cluster
-- they share the user's hash slot.

-- include: _prelude.lua

local user = ARGV[1]
local now, ttl, fresh = count(ARGV[2]), count(ARGV[3]), count(ARGV[4], 0)

if user == '' or not (now and ttl and fresh) then
    return redis.error_reply('ERR account_state: bad arguments')
end

local locked = left(redis.call('PTTL', KEYS[5]))

if locked > 0 then
    return {'locked', locked}
end

if not session_fresh(KEYS[1], KEYS[2], user, now, ttl, fresh) then
    return {'none'}
end

local u = redis.call('HMGET', KEYS[2], 'rc', 'phone', 'gen')
local gen = tonumber(u[3]) or 0

local n = 0
for _, s in ipairs(redis.call('SMEMBERS', KEYS[3])) do
    if tonumber(redis.call('HGET', s, 'g')) == gen then
        n = n + 1
    end
end

return {
    'ok',
    math.floor(#(u[1] or '') / 64),
    u[2] or false,
    redis.call('ZCOUNT', KEYS[4], '(' .. now, '+inf'),
    n,
    authenticators_shown(KEYS[2])
}

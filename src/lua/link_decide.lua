-- link_decide.lua: the phone's answer to a request, compare-and-set: a
-- pending, unexpired request of this user becomes "approved" with the
-- right number, or "denied" (burnt) with a wrong one or "not me", which
-- counts as a failure of the user (SPEC 6.19).  A request is decided
-- once.
--
-- KEYS[1]  P{u}:lk:<hash>  the request (see link_new.lua); approved, it
--                          gets at (time of approval) and g (the user's
--                          session generation then)
-- KEYS[2]  P{u}:u          user record (hash), for the generation and
--                          must_enroll
-- KEYS[3]  P{u}:f          consecutive failures
-- KEYS[4]  P{u}:l          lock marker
-- KEYS[5]  P{u}:s:<hash>   the phone's session
-- ARGV[1]  user
-- ARGV[2]  now, unix seconds
-- ARGV[3]  the number chosen, or "" for "that's not me"
-- ARGV[4]  failures before the user is locked (otp_lockout n)
-- ARGV[5]  lock time, seconds (otp_lockout time)
-- ARGV[6]  session lifetime, seconds (otp_session_ttl)
-- ARGV[7]  otp_fresh, seconds
--
-- Reply: {"ok", address}      approved; address of the waiting browser
--        {"wrong", address}   denied and counted
--        {"locked", secs[, 1]}   the user is locked (1: by this answer,
--                     which denied the request)
--        {"none"}     no such request of this user, decided or expired,
--                     the user is asked to enroll again, or the phone's
--                     session is not (or no longer) the user's with a
--                     code within otp_fresh; nothing changed
--
-- The page checked the phone's session before (session_check.lua); it
-- is checked again here, in the step that decides, so that a session
-- revoked in between (signed out everywhere, a factor changed) decides
-- nothing.

-- include: _prelude.lua

local now = count(ARGV[2])
local lock_after, lock_secs = count(ARGV[4]), count(ARGV[5])
local ttl, fresh = count(ARGV[6]), count(ARGV[7], 0)

if not (now and lock_after and lock_secs and ttl and fresh)
   or ARGV[1] == ''
then
    return redis.error_reply('ERR link_decide: bad arguments')
end

local r = redis.call('HMGET', KEYS[1], 'u', 'st', 'x', 'n', 'a')

if r[1] ~= ARGV[1] or r[2] ~= 'pending' or now >= (tonumber(r[3]) or 0)
   or not session_fresh(KEYS[5], KEYS[2], ARGV[1], now, ttl, fresh)
then
    return {'none'}
end

local lock = left(redis.call('PTTL', KEYS[4]))

if lock > 0 then
    return {'locked', lock}
end

-- asked to enroll again (a lost phone): nothing is approved, as no code
-- makes a session then
if redis.call('HGET', KEYS[2], 'must_enroll') == '1' then
    return {'none'}
end

if ARGV[3] ~= '' and ARGV[3] == r[4] then
    local gen = tonumber(redis.call('HGET', KEYS[2], 'gen')) or 0
    redis.call('HSET', KEYS[1], 'st', 'approved', 'at', now, 'g', gen)
    return {'ok', r[5]}
end

redis.call('HSET', KEYS[1], 'st', 'denied')

if failure(KEYS[3], KEYS[4], lock_after, lock_secs) then
    return {'locked', lock_secs, 1}
end

return {'wrong', r[5]}

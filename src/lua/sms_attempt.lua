-- sms_attempt.lua: one SMS code submitted on a challenge.  The C side
-- has compared the code's keyed hash with the one sms_state.lua read,
-- in constant time; this script decides, atomically, whether the result
-- counts: the lock, the challenge, its attempts, the code still being
-- the current one and unexpired, the lockout.  The rules are those of
-- attempt.lua; wrong SMS codes and wrong TOTP codes count together.
--
-- KEYS[1]  P{u}:c:<id>     challenge (see sms_state.lua for its fields)
-- KEYS[2]  P{u}:f          consecutive failures of the user
-- KEYS[3]  P{u}:l          lock marker
-- KEYS[4]  P{u}:u          user record (hash), for an enrolled number
-- KEYS[5]  P{u}:su         set of the user's session keys (optional)
-- KEYS[6]  P{u}:d          remembered devices (optional)
-- ARGV[1]  user
-- ARGV[2]  "ok" (the code matched) or "wrong"
-- ARGV[3]  the hash the code matched ("ok"), or ""
-- ARGV[4]  now, unix seconds
-- ARGV[5]  max attempts per challenge (otp_max_attempts)
-- ARGV[6]  failures that lock the user (otp_lockout n)
-- ARGV[7]  lock time, seconds (otp_lockout time)
--
-- Reply: {"ok", enrolled}        the challenge and its code are consumed;
--                                enrolled is 1 when the number the
--                                challenge enrolled is now the user's
--        {"wrong", left, expired}   attempts left; expired is 1 when
--                                the current code has expired
--        {"burnt"}               no attempts left on this challenge
--        {"locked", secs}        the user is locked
--        {"locked", secs, 1}     this attempt locked the user
--        {"no_challenge"}        no such challenge for this user
--        {"conflict"}            the challenge enrolls a number for a
--                                user with no factor, but the user got
--                                one meanwhile: consumed, nothing stored
--
-- A right code that a newer text replaced, or that expired, counts as
-- a wrong one.  A number stored is a change of factor (SPEC 6.14): every
-- session of the user ends and the remembered browsers are forgotten;
-- the C side then makes the session of this sign-in.

-- include: _prelude.lua

local user, result, hash = ARGV[1], ARGV[2], ARGV[3]
local now, max = count(ARGV[4]), count(ARGV[5])
local lock_after, lock_secs = count(ARGV[6]), count(ARGV[7])

if not (now and max and lock_after and lock_secs)
   or (result ~= 'ok' and result ~= 'wrong')
   or (result == 'ok' and hash == '')
then
    return redis.error_reply('ERR sms_attempt: bad arguments')
end

local locked = left(redis.call('PTTL', KEYS[3]))
if locked > 0 then
    return {'locked', locked}
end

local c = redis.call('HMGET', KEYS[1], 'u', 'a', 'sh', 'se', 'pp', 'pm')
if c[1] ~= user then
    return {'no_challenge'}
end

local a = tonumber(c[2]) or 0
if a >= max then
    return {'burnt'}
end

local expires = tonumber(c[4]) or 0

if result == 'ok' and c[3] == hash and expires >= now then
    redis.call('DEL', KEYS[2], KEYS[1])

    if not c[5] then
        return {'ok', 0}
    end

    if c[6] == 'new'
       and redis.call('EXISTS', KEYS[4]) == 1
       and (redis.call('HEXISTS', KEYS[4], 'totp') == 1
            or redis.call('HEXISTS', KEYS[4], 'phone') == 1)
    then
        return {'conflict'}
    end

    redis.call('HSET', KEYS[4], 'phone', c[5])
    if KEYS[5] then
        revoke(KEYS[4], KEYS[5], KEYS[6])
    end
    return {'ok', 1}
end

a = redis.call('HINCRBY', KEYS[1], 'a', 1)

if failure(KEYS[2], KEYS[3], lock_after, lock_secs) then
    return {'locked', lock_secs, 1}
end

if a >= max then
    return {'burnt'}
end

return {'wrong', max - a, (c[3] and expires < now) and 1 or 0}

-- sms_attempt.lua: one SMS code submitted on a challenge.  The C side
-- has compared the code's keyed hash with the one sms_state.lua read,
-- in constant time; this script decides, atomically, whether the result
-- counts: the lock, the challenge, its attempts, the code still being
-- the current one and unexpired, the lockout; a right code makes the
-- session (and remembers the browser) in the same step.  The rules are
-- those of attempt.lua; wrong SMS codes and wrong TOTP codes count
-- together.
--
-- KEYS[1]  P{u}:c:<id>     challenge (see sms_state.lua for its fields)
-- KEYS[2]  P{u}:f          consecutive failures of the user
-- KEYS[3]  P{u}:l          lock marker
-- KEYS[4]  P{u}:u          user record (hash), for an enrolled number
-- KEYS[5]  P{u}:s:<hash>   the new session
-- KEYS[6]  P{u}:su         set of the user's session keys
-- KEYS[7]  P{u}:d          remembered devices
-- KEYS[8]  P{u}:cl         the user's live challenges
-- KEYS[9]  P{u}:s:<hash>   the browser's session, read when the challenge
--                          changes the number of a user with a factor
-- ARGV[1]  user
-- ARGV[2]  "ok" (the code matched) or "wrong"
-- ARGV[3]  the hash the code matched ("ok"), or ""
-- ARGV[4]  now, unix seconds
-- ARGV[5]  max attempts per challenge (otp_max_attempts)
-- ARGV[6]  failures that lock the user (otp_lockout n)
-- ARGV[7]  lock time, seconds (otp_lockout time)
-- ARGV[8]  session idle timeout, seconds (otp_session_idle)
-- ARGV[9]  session lifetime, seconds (otp_session_ttl)
-- ARGV[10] a device id to remember ("trust this browser"), or ""
-- ARGV[11] its expiry, unix seconds, or ""
-- ARGV[12] most devices kept per user
-- ARGV[13] otp_fresh, seconds: a challenge that changes the number
--          ("change") is decided only if KEYS[9] is a session of the
--          user with a code that fresh (SPEC 6.14); absent or "": never
--
-- Reply: {"ok", enrolled}        the challenge and its code are consumed
--                                and KEYS[5] made (method "sms");
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
--        {"none"}                the challenge changes the number, and
--                                KEYS[9] is no session of the user, or
--                                its code is not within otp_fresh:
--                                nothing changed, nothing counted
--
-- A right code that a newer text replaced, or that expired, counts as
-- a wrong one.  A number stored is a change of factor (SPEC 6.14): every
-- session of the user ends and the remembered browsers are forgotten;
-- the C side then makes the session of this sign-in.  The session that
-- asked for another number is checked here, in the step that commits,
-- so that one revoked or gone stale since the page's own check changes
-- nothing.

-- include: _prelude.lua

local user, result, hash = ARGV[1], ARGV[2], ARGV[3]
local now, max = count(ARGV[4]), count(ARGV[5])
local lock_after, lock_secs = count(ARGV[6]), count(ARGV[7])
local idle, ttl, most = count(ARGV[8]), count(ARGV[9]), count(ARGV[12])
local fresh = count(ARGV[13] or '', 0)

if not (now and max and lock_after and lock_secs and idle and ttl and most)
   or (result ~= 'ok' and result ~= 'wrong')
   or (result == 'ok' and hash == '')
   or (ARGV[10] ~= '' and not (ARGV[10]:find('^[0-9a-f]+$')
                               and (count(ARGV[11]) or 0) > now))
   or ((ARGV[13] or '') ~= '' and not (fresh and KEYS[9]))
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

if c[5] and c[6] == 'change'
   and not (fresh
            and session_fresh(KEYS[9], KEYS[4], user, now, ttl, fresh))
then
    return {'none'}
end

local a = tonumber(c[2]) or 0
if a >= max then
    return {'burnt'}
end

local expires = tonumber(c[4]) or 0

if result == 'ok' and c[3] == hash and expires >= now then
    redis.call('DEL', KEYS[2], KEYS[1])
    redis.call('ZREM', KEYS[8], KEYS[1])

    local enrolled = 0

    if c[5] then
        if c[6] == 'new'
           and redis.call('EXISTS', KEYS[4]) == 1
           and (redis.call('HEXISTS', KEYS[4], 'totp') == 1
                or redis.call('HEXISTS', KEYS[4], 'phone') == 1)
        then
            return {'conflict'}
        end

        -- a new factor ends every other session and trusted browser
        -- (SPEC 6.14); the session made below is of the new generation
        redis.call('HSET', KEYS[4], 'phone', c[5])
        revoke(KEYS[4], KEYS[6], KEYS[7])
        enrolled = 1
    end

    session_make(KEYS[5], KEYS[6], KEYS[4], user, now, idle, ttl, 'sms',
                 now)

    if ARGV[10] ~= '' then
        device_add(KEYS[7], ARGV[10], count(ARGV[11]), now, most)
    end

    return {'ok', enrolled}
end

a = redis.call('HINCRBY', KEYS[1], 'a', 1)

if failure(KEYS[2], KEYS[3], lock_after, lock_secs) then
    return {'locked', lock_secs, 1}
end

if a >= max then
    return {'burnt'}
end

return {'wrong', max - a, (c[3] and expires < now) and 1 or 0}

-- attempt.lua: one verification attempt on a challenge.  The C side has
-- already checked the code; this script decides, atomically, whether the
-- result counts: lock, challenge, attempt limit, TOTP replay, lockout.
--
-- KEYS[1]  P c:<id>     challenge (hash: u user, a wrong attempts)
-- KEYS[2]  P f:<user>   consecutive failures of the user
-- KEYS[3]  P l:<user>   lock marker
-- KEYS[4]  P t:<user>   last accepted TOTP step
-- ARGV[1]  user
-- ARGV[2]  "ok" (the code was right) or "wrong"
-- ARGV[3]  the TOTP step the code matched, or "" for methods without steps
-- ARGV[4]  max attempts per challenge (otp_max_attempts)
-- ARGV[5]  failures that lock the user (otp_lockout n)
-- ARGV[6]  lock time, seconds (otp_lockout time)
-- ARGV[7]  life of the last-step record, seconds
--
-- Reply: {"ok"}                the challenge is consumed
--        {"wrong", left}       attempts left on this challenge
--        {"burnt"}             no attempts left on this challenge
--        {"locked", seconds}   the user is locked
--        {"locked", seconds, 1}   this attempt locked the user
--        {"no_challenge"}      no such challenge for this user
--
-- A right code for a step not newer than the last accepted one is a
-- replay and counts exactly like a wrong code, reply included.

-- include: _prelude.lua

local user, result, step = ARGV[1], ARGV[2], ARGV[3]
local max, lock_after = count(ARGV[4]), count(ARGV[5])
local lock_secs, step_ttl = count(ARGV[6]), count(ARGV[7])
local n = tonumber(step)

if not (max and lock_after and lock_secs and step_ttl)
   or (result ~= 'ok' and result ~= 'wrong')
   or (step ~= '' and not (n and n >= 0 and n % 1 == 0))
then
    return redis.error_reply('ERR attempt: bad arguments')
end

local locked = left(redis.call('PTTL', KEYS[3]))
if locked > 0 then
    return {'locked', locked}
end

local ch = redis.call('HMGET', KEYS[1], 'u', 'a')
if ch[1] ~= user then
    return {'no_challenge'}
end

local a = tonumber(ch[2]) or 0
if a >= max then
    return {'burnt'}
end

if result == 'ok' then
    local last = tonumber(redis.call('GET', KEYS[4]))

    if step == '' or not last or n > last then
        if step ~= '' then
            redis.call('SET', KEYS[4], step, 'EX', step_ttl)
        end
        redis.call('DEL', KEYS[2], KEYS[1])
        return {'ok'}
    end
end

a = redis.call('HINCRBY', KEYS[1], 'a', 1)

if failure(KEYS[2], KEYS[3], lock_after, lock_secs) then
    return {'locked', lock_secs, 1}
end

if a >= max then
    return {'burnt'}
end

return {'wrong', max - a}

-- attempt_consume.lua: one verification attempt whose proof is used up
-- in the user record: an HOTP counter or a recovery code.  The same
-- rules as attempt.lua (lock, challenge, attempt limit, lockout), with
-- the consumption in place of the TOTP step:
--
--   hotp      the C side found the code at counter ARGV[3] of the
--             look-ahead window of the secret ARGV[7]; it counts if that
--             is still the user's secret and the counter is not below
--             the user's, which then moves past it
--   recovery  ARGV[3] is the keyed hash of the code typed; it counts if
--             it is one of the user's codes, which is then removed
--
-- KEYS[1]  P c:<id>     challenge (hash: u user, a wrong attempts)
-- KEYS[2]  P f:<user>   consecutive failures of the user
-- KEYS[3]  P l:<user>   lock marker
-- KEYS[4]  P u:<user>   user record (hash: counter, rc)
-- ARGV[1]  user
-- ARGV[2]  "hotp" or "recovery"
-- ARGV[3]  hotp: the counter the code matched, or "" for no match;
--          recovery: 64 hex digits, or "" for a code that cannot be one
-- ARGV[4]  max attempts per challenge (otp_max_attempts)
-- ARGV[5]  failures that lock the user (otp_lockout n)
-- ARGV[6]  lock time, seconds (otp_lockout time)
-- ARGV[7]  hotp: the sealed secret the code was checked against
--
-- Reply: {"ok", left}          the challenge is consumed; left is the next
--                              HOTP counter, or the recovery codes left
--        {"wrong", left}       attempts left on this challenge
--        {"burnt"}             no attempts left on this challenge
--        {"locked", seconds}   the user is locked
--        {"locked", seconds, 1}   this attempt locked the user
--        {"no_challenge"}      no such challenge for this user
--
-- A code used before (a counter behind the user's, a recovery code
-- already spent) counts exactly like a wrong code, reply included.

-- include: _prelude.lua

local user, kind, proof = ARGV[1], ARGV[2], ARGV[3]
local max, lock_after = count(ARGV[4]), count(ARGV[5])
local lock_secs = count(ARGV[6])
local n = tonumber(proof)

if not (max and lock_after and lock_secs)
   or (kind ~= 'hotp' and kind ~= 'recovery')
   or (kind == 'hotp' and proof ~= ''
       and not (n and n >= 0 and n % 1 == 0))
   or (kind == 'recovery' and proof ~= ''
       and (#proof ~= 64 or proof:find('[^0-9a-f]')))
then
    return redis.error_reply('ERR attempt_consume: bad arguments')
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

if proof ~= '' and kind == 'hotp' then
    local u = redis.call('HMGET', KEYS[4], 'totp', 'type', 'counter')

    if u[1] == ARGV[7] and u[2] == 'hotp' and n >= (tonumber(u[3]) or 0)
    then
        redis.call('HSET', KEYS[4], 'counter', n + 1)
        redis.call('DEL', KEYS[2], KEYS[1])
        return {'ok', n + 1}
    end

elseif proof ~= '' then
    local rc = redis.call('HGET', KEYS[4], 'rc') or ''

    for i = 1, #rc, 64 do
        if rc:sub(i, i + 63) == proof then
            rc = rc:sub(1, i - 1) .. rc:sub(i + 64)
            if rc == '' then
                redis.call('HDEL', KEYS[4], 'rc')
            else
                redis.call('HSET', KEYS[4], 'rc', rc)
            end
            redis.call('DEL', KEYS[2], KEYS[1])
            return {'ok', #rc / 64}
        end
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

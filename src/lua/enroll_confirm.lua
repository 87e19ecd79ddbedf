-- enroll_confirm.lua: the first code of a pending enrollment.  The C side
-- has checked the code against the pending secret it read; this script
-- makes that secret the user's, unless the enrollment changed meanwhile.
-- Only the browser's own pending enrollment is confirmed (SPEC 6.15);
-- with it every pending enrollment of the user ends.
-- Wrong codes count toward the lockout exactly as in attempt.lua, and the
-- TOTP step follows the same rule: it must be newer than the last one
-- accepted for the user, or the code counts as wrong.  An HOTP
-- enrollment (type "hotp") starts the user's counter after the code
-- that confirmed it.  The new authenticator comes with new recovery
-- codes, and, as any change of factor (SPEC 6.14), ends every session
-- of the user and forgets the remembered browsers: the page then starts
-- a new session for the browser that enrolled.
-- A user who has a factor changes it only from a session whose code was
-- entered within otp_fresh (SPEC 6.14): that session is checked here, in
-- the step that commits, so that one revoked or gone stale since the
-- page's own check changes nothing.
--
-- KEYS[1]  P{u}:e:<hash>   this browser's pending enrollment (hash: secret
--                          alg digits period type)
-- KEYS[2]  P{u}:es         the user's pending enrollments (set of key
--                          names)
-- KEYS[3]  P{u}:u          user record (hash)
-- KEYS[4]  P{u}:f          consecutive failures of the user
-- KEYS[5]  P{u}:l          lock marker
-- KEYS[6]  P{u}:t          last accepted TOTP step
-- KEYS[7]  P{u}:d          remembered devices (optional)
-- KEYS[8]  P{u}:su         set of the user's session keys
-- KEYS[9]  P{u}:s:<hash>   the browser's session (read when ARGV[14] is
--                          not "")
-- ARGV[1]  user
-- ARGV[2]  the sealed secret the code was checked against (binary)
-- ARGV[3]  "ok" (the code was right) or "wrong"
-- ARGV[4]  the TOTP step the code matched, or "" if there is none
-- ARGV[5]  failures that lock the user (otp_lockout n)
-- ARGV[6]  lock time, seconds (otp_lockout time)
-- ARGV[7]  life of the last-step record, seconds
-- ARGV[8]  HOTP: the next counter (the matched one + 1), else "" (optional)
-- ARGV[9]  the new recovery codes: their keyed hashes, 64 hex digits
--          each, concatenated; "" for none (optional: absent keeps them)
-- ARGV[10] "add": one more authenticator (SPEC 4, enroll?add=1), the
--          others and the recovery codes stay; "" (or absent): it
--          replaces every authenticator of the user
-- ARGV[11] its name, 1 to 64 bytes ("" or absent: "Authenticator")
-- ARGV[12] now, unix seconds (optional)
-- ARGV[13] the most authenticators a user has (optional)
-- ARGV[14] otp_fresh, seconds, when the user has a factor and KEYS[9]
--          must be a session of the user with a code that fresh; ""
--          (or absent) for a first enrollment, which needs no session
-- ARGV[15] session lifetime, seconds (otp_session_ttl), with ARGV[14]
--
-- Reply: {"ok"}                the user is enrolled
--        {"wrong"}             the enrollment is still pending
--        {"locked", seconds}   the user is locked
--        {"locked", seconds, 1}   this attempt locked the user
--        {"no_enrollment"}     nothing pending for this browser, or
--                              another secret pending
--        {"busy"}              "add", and the user has the most
--                              authenticators already: nothing changed
--        {"none"}              no such session, or not the user's, or
--                              its code is not within otp_fresh: nothing
--                              changed, nothing counted

-- include: _prelude.lua

local sealed, result, step = ARGV[2], ARGV[3], ARGV[4]
local lock_after, lock_secs = count(ARGV[5]), count(ARGV[6])
local step_ttl = count(ARGV[7])
local n = tonumber(step)
local counter = tonumber(ARGV[8] or '')
local codes = ARGV[9]
local add = ARGV[10] == 'add'
local name = (ARGV[11] or '') ~= '' and ARGV[11] or 'Authenticator'
local now, most = count(ARGV[12] or '0', 0) or 0, count(ARGV[13] or '1')
local fresh = (ARGV[14] or '') ~= '' and count(ARGV[14], 0)
local ttl = fresh and count(ARGV[15] or '')

if not (lock_after and lock_secs and step_ttl)
   or (result ~= 'ok' and result ~= 'wrong')
   or (step ~= '' and not (n and n >= 0 and n % 1 == 0))
   or ((ARGV[8] or '') ~= '' and not (counter and counter >= 1
                                      and counter % 1 == 0))
   or (codes and (#codes % 64 ~= 0 or codes:find('[^0-9a-f]')))
   or #name > 64 or not most
   or ((ARGV[14] or '') ~= '' and not (fresh and ttl and now > 0))
then
    return redis.error_reply('ERR enroll_confirm: bad arguments')
end

local locked = left(redis.call('PTTL', KEYS[5]))
if locked > 0 then
    return {'locked', locked}
end

if fresh and not session_fresh(KEYS[9], KEYS[3], ARGV[1], now, ttl, fresh)
then
    return {'none'}
end

local e = redis.call('HMGET', KEYS[1],
                     'secret', 'alg', 'digits', 'period', 'type')
if e[1] ~= sealed then
    return {'no_enrollment'}
end

local hotp = e[5] == 'hotp'

if result == 'ok' and hotp and not counter then
    return redis.error_reply('ERR enroll_confirm: no HOTP counter')
end

if result == 'ok' then
    local last = tonumber(redis.call('GET', KEYS[6]))

    if add and #authenticators(KEYS[3]) >= most then
        return {'busy'}
    end

    if add or step == '' or not last or n > last then
        if not add then
            authenticators_forget(KEYS[3])
        end
        local _, sfx = authenticator_add(KEYS[3], e, counter, name, now)
        redis.call('HDEL', KEYS[3], 'must_enroll')
        if step ~= '' and sfx ~= '' then
            redis.call('HSET', KEYS[3], 'step' .. sfx, step)
        elseif step ~= '' then
            redis.call('SET', KEYS[6], step, 'EX', step_ttl)
        end
        if add then
            codes = nil
        end
        if codes == '' then
            redis.call('HDEL', KEYS[3], 'rc')
        elseif codes then
            redis.call('HSET', KEYS[3], 'rc', codes)
        end
        if KEYS[8] then
            revoke(KEYS[3], KEYS[8], KEYS[7])
        elseif KEYS[7] then
            redis.call('DEL', KEYS[7])
        end
        for _, k in ipairs(redis.call('SMEMBERS', KEYS[2])) do
            redis.call('DEL', k)
        end
        redis.call('DEL', KEYS[1], KEYS[2], KEYS[4])
        return {'ok'}
    end
end

if failure(KEYS[4], KEYS[5], lock_after, lock_secs) then
    return {'locked', lock_secs, 1}
end

return {'wrong'}

-- attempt.lua: a code typed on the challenge, and the session a right one
-- starts, in one step: a code is never accepted without its session.
-- The C side checked the code against the user's secret (TOTP, HOTP) or
-- hashed it (recovery code) and sends what it found; this script decides
-- whether that still counts, counts a wrong one against the challenge
-- and the user, and makes the session.
--
-- KEYS[1]  P{u}:c:<id>     challenge (hash: u user, a wrong attempts)
-- KEYS[2]  P{u}:f          consecutive failures of the user
-- KEYS[3]  P{u}:l          lock marker
-- KEYS[4]  P{u}:t          last accepted TOTP step
-- KEYS[5]  P{u}:u          user record (hash: totp type counter rc gen)
-- KEYS[6]  P{u}:s:<hash>   the new session
-- KEYS[7]  P{u}:su         set of the user's session keys
-- KEYS[8]  P{u}:d          remembered devices
-- KEYS[9]  P{u}:cl         the user's live challenges
-- ARGV[1]  user
-- ARGV[2]  "totp", "hotp" or "recovery"
-- ARGV[3]  the proof, or "" for a wrong code: the recovery code's keyed
--          hash, or the TOTP steps or HOTP counters the code matched,
--          comma-separated: "<n>" for the record's own authenticator (the
--          only form a page with the key pass sends), "<id>:<n>" for the
--          authenticator id (SPEC 10: several per user)
-- ARGV[4]  totp, hotp: the sealed secret the code was checked against,
--          or "" where there was none (a random one: an unknown user)
-- ARGV[5]  max attempts per challenge (otp_max_attempts)
-- ARGV[6]  failures that lock the user (otp_lockout n)
-- ARGV[7]  lock time, seconds (otp_lockout time)
-- ARGV[8]  life of the last-step record, seconds
-- ARGV[9]  now, unix seconds
-- ARGV[10] session idle timeout, seconds (otp_session_idle)
-- ARGV[11] session lifetime, seconds (otp_session_ttl)
-- ARGV[12] a device id to remember ("trust this browser"), or ""
-- ARGV[13] its expiry, unix seconds, or ""
-- ARGV[14] most devices kept per user
-- ARGV[15] totp, hotp: the ids of the user's other authenticators the
--          code was checked against, space-separated, in the record's
--          order ("" or absent: none, as a page with the key pass says)
--
-- Reply: {"ok", left}            the challenge is consumed and KEYS[6]
--                                made; left: recovery codes left, or the
--                                next HOTP counter, or 0
--        {"wrong", left}         attempts left on this challenge
--        {"burnt"}               no attempts left on this challenge
--        {"locked", secs}        the user is locked
--        {"locked", secs, 1}     this attempt locked the user
--        {"no_challenge"}        no such challenge for this user
--        {"enroll"}              an administrator asked for a new
--                                authenticator: nothing counted
--        {"stale"}               the code was checked against
--                                authenticators that are no longer the
--                                user's (a secret replaced or removed,
--                                one added): nothing
--                                counted (the C side reads the record and
--                                checks again)
--
-- A code used before (a step or counter not ahead of the user's, a spent
-- recovery code) counts exactly like a wrong code, reply included, and so
-- does a step a racing request accepted a moment ago.

-- include: _prelude.lua

local user, kind, proof, sealed = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local max, lock_after = count(ARGV[5]), count(ARGV[6])
local lock_secs, step_ttl = count(ARGV[7]), count(ARGV[8])
local now, idle, ttl = count(ARGV[9]), count(ARGV[10]), count(ARGV[11])
local checked = ARGV[15] or ''

-- the proofs of a TOTP or HOTP code: {id (nil: the record's own), n}
local proofs, bad = {}, false

if kind ~= 'recovery' and proof ~= '' then
    for p in (proof .. ','):gmatch('([^,]*),') do
        local id, v = p:match('^(%d+):(%d+)$')
        if not id then
            v = p:match('^%d+$')
        end
        bad = bad or not v or #proofs == 8
        proofs[#proofs + 1] = {id = id, n = tonumber(v)}
    end
end

if not (max and lock_after and lock_secs and step_ttl and now and idle
        and ttl and count(ARGV[14]))
   or user == ''
   or (kind ~= 'totp' and kind ~= 'hotp' and kind ~= 'recovery')
   or bad
   or (kind == 'recovery' and proof ~= ''
       and (#proof ~= 64 or proof:find('[^0-9a-f]')))
   or (ARGV[12] ~= '' and not (ARGV[12]:find('^[0-9a-f]+$')
                               and (count(ARGV[13]) or 0) > now))
   or not checked:find('^[%d ]*$')
then
    return redis.error_reply('ERR attempt: bad arguments')
end

local locked = left(redis.call('PTTL', KEYS[3]))
if locked > 0 then
    return {'locked', locked}
end

local u = redis.call('HMGET', KEYS[5], 'totp', 'type', 'counter', 'rc',
                     'must_enroll')

if u[1] and u[5] == '1' then
    return {'enroll'}
end

local ch = redis.call('HMGET', KEYS[1], 'u', 'a')
if ch[1] ~= user then
    return {'no_challenge'}
end

local a = tonumber(ch[2]) or 0
if a >= max then
    return {'burnt'}
end

local ok, value = false, 0
local list = kind ~= 'recovery' and authenticators(KEYS[5]) or {}

-- what the code was checked against must be the user's authenticators
-- now: the record's own by its sealed secret (and type), the others by
-- their ids, which are never given twice in a record.  A page opened
-- before one was added, removed or replaced gets "stale", never a
-- wrong code counted for the one it could not know of.
local others = {}
for i = 2, #list do
    others[#others + 1] = list[i].id
end

if sealed ~= '' and kind ~= 'recovery'
   and (u[1] ~= sealed or table.concat(others, ' ') ~= checked
        or (not (proofs[1] and proofs[1].id)
            and (u[2] == 'hotp') ~= (kind == 'hotp')))
then
    return {'stale'}
end

-- the first proof that still counts, each authenticator by its own
-- record: the record's own (no id) by the key t and its counter, the
-- others by their fields step:<id> and counter:<id>; an id that is no
-- longer the user's counts for nothing

for _, p in ipairs(proofs) do
    local at = p.id and authenticator(list, p.id)
                    or (not p.id and {sfx = ''})
    local n = p.n

    if at and ok then
        at = nil
    end

    local hotp = at and (p.id and redis.call('HGET', KEYS[5],
                                             'type' .. at.sfx) == 'hotp'
                         or (not p.id and kind == 'hotp'))

    if at and hotp then
        local c = tonumber(redis.call('HGET', KEYS[5], 'counter' .. at.sfx))
        if n >= (c or 0) then
            redis.call('HSET', KEYS[5], 'counter' .. at.sfx, n + 1)
            ok, value = true, n + 1
        end

    elseif at and at.sfx == '' then
        local last = tonumber(redis.call('GET', KEYS[4]))
        if not last or n > last then
            redis.call('SET', KEYS[4], n, 'EX', step_ttl)
            ok = true
        end

    elseif at then
        local last = tonumber(redis.call('HGET', KEYS[5], 'step' .. at.sfx))
        if not last or n > last then
            redis.call('HSET', KEYS[5], 'step' .. at.sfx, n)
            ok = true
        end
    end

    if ok and at and (p.id or u[1]) then
        redis.call('HSET', KEYS[5], 'used' .. at.sfx, now)
    end
end

if kind == 'recovery' and proof ~= '' then
    local rc = u[4] or ''

    for i = 1, #rc, 64 do
        if rc:sub(i, i + 63) == proof then
            rc = rc:sub(1, i - 1) .. rc:sub(i + 64)
            if rc == '' then
                redis.call('HDEL', KEYS[5], 'rc')
            else
                redis.call('HSET', KEYS[5], 'rc', rc)
            end
            ok, value = true, #rc / 64
            break
        end
    end
end

if ok then
    redis.call('DEL', KEYS[2], KEYS[1])
    redis.call('ZREM', KEYS[9], KEYS[1])
    session_make(KEYS[6], KEYS[7], KEYS[5], user, now, idle, ttl, kind, now)

    if ARGV[12] ~= '' then
        device_add(KEYS[8], ARGV[12], count(ARGV[13]), now, count(ARGV[14]))
    end

    return {'ok', value}
end

a = redis.call('HINCRBY', KEYS[1], 'a', 1)

if failure(KEYS[2], KEYS[3], lock_after, lock_secs) then
    return {'locked', lock_secs, 1}
end

if a >= max then
    return {'burnt'}
end

return {'wrong', max - a}

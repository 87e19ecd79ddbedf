-- _prelude.lua: what the scripts share, put by embed.sh in place of
-- their line "-- include: _prelude.lua" (not a script of its own): the
-- argument check, times left, and the failure count that locks a user,
-- kept in one place so that every script that counts wrong codes
-- (attempt.lua, attempt_consume.lua, sms_attempt.lua,
-- enroll_confirm.lua) counts them the same way.  Local functions only:
-- a script sees these names and nothing else.

-- s as an integer not below min (1 if not given), or nil
local function count(s, min)
    local n = tonumber(s)
    if n and n >= (min or 1) and n % 1 == 0 then
        return n
    end
end

-- a PTTL in seconds, rounded up, so a lock with 300 ms to go still reads
-- as locked; a key without an expiry (-1) counts as there; no key, 0
local function left(ms)
    if ms == -2 then
        return 0
    end
    return math.max(1, math.floor((ms + 999) / 1000))
end

-- One more consecutive failure of the user, counted in key f: the first
-- gives the count its expiry (lock_secs); the lock_after-th locks the
-- user (key l) for lock_secs and starts the count over.  True when this
-- failure locked the user.
local function failure(f, l, lock_after, lock_secs)
    local n = redis.call('INCR', f)
    if n == 1 then
        redis.call('EXPIRE', f, lock_secs)
    end

    if n >= lock_after then
        redis.call('SET', l, 1, 'EX', lock_secs)
        redis.call('DEL', f)
        return true
    end

    return false
end

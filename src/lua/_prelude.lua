-- _prelude.lua: what the scripts share, put by embed.sh in place of
-- their line "-- include: _prelude.lua" (not a script of its own): the
-- argument check, times left, the failure count that locks a user, a
-- user's state, how a session and a remembered browser are made, and
-- how a user's sessions end,
-- kept in one place so that every script that counts wrong codes
-- (attempt.lua, sms_attempt.lua, enroll_confirm.lua) counts them the
-- same way and every script that makes a session makes the same one.
-- Local functions only: a script sees these names and nothing else.

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

-- One more consecutive failure of the user, counted in key f until a
-- success deletes it: each failure keeps the count a day more (longer if
-- the lock is longer), so that slow guessing still locks (SPEC 6.19);
-- the lock_after-th locks the user (key l) for lock_secs and starts the
-- count over.  True when this failure locked the user.
local function failure(f, l, lock_after, lock_secs)
    local n = redis.call('INCR', f)
    redis.call('EXPIRE', f, math.max(86400, lock_secs))

    if n >= lock_after then
        redis.call('SET', l, 1, 'EX', lock_secs)
        redis.call('DEL', f)
        return true
    end

    return false
end

-- what the pages and the gate need to know of a user, as user_state.lua
-- documents its reply (after the status): u the user record, l the lock
-- marker, e the set of the user's pending enrollments (EXISTS: one is)
local function user_state(u, l, e)
    local r = redis.call('HMGET', u,
                         'totp', 'alg', 'digits', 'period', 'must_enroll',
                         'gen', 'type', 'counter', 'rc', 'phone')

    return {
        r[1],
        r[2],
        tonumber(r[3]) or 0,
        tonumber(r[4]) or 0,
        r[5] == '1' and 1 or 0,
        left(redis.call('PTTL', l)),
        tonumber(r[6]) or 0,
        redis.call('EXISTS', e),
        r[7] == 'hotp' and 'hotp' or false,
        tonumber(r[8]) or 0,
        math.floor(#(r[9] or '') / 64),
        r[10]
    }
end

-- a new session s of the user (record u) in the set su; sessions that
-- ended by themselves leave the set here, so that it does not grow
local function session_make(s, su, u, user, now, idle, ttl, method, auth)
    local gen = tonumber(redis.call('HGET', u, 'gen')) or 0

    for _, k in ipairs(redis.call('SMEMBERS', su)) do
        if redis.call('EXISTS', k) == 0 then
            redis.call('SREM', su, k)
        end
    end

    redis.call('DEL', s)
    redis.call('HSET', s, 'u', user, 'c', now, 'a', auth, 'm', method,
               'g', gen, 'l', now)
    redis.call('EXPIRE', s, math.min(idle, ttl))

    redis.call('SADD', su, s)
    redis.call('EXPIRE', su, ttl)
end

-- every session of the user ends, those workers hold in memory included
-- (a new generation in the record u), and the remembered browsers (d,
-- if given) are forgotten: what revoke_user.lua does, and what a change
-- of factor does (SPEC 6.14).  The session keys come from the set su,
-- not from KEYS: with Redis Cluster they share the user's slot.
-- Returns the number of live sessions deleted.
local function revoke(u, su, d)
    redis.call('HINCRBY', u, 'gen', 1)

    local n = 0
    for _, s in ipairs(redis.call('SMEMBERS', su)) do
        n = n + redis.call('DEL', s)
    end
    redis.call('DEL', su)

    if d then
        redis.call('DEL', d)
    end

    return n
end

-- a remembered browser: id in the sorted set d until expiry; beyond
-- most, the ones expiring first go; the set expires with its last one
local function device_add(d, id, expiry, now, most)
    redis.call('ZREMRANGEBYSCORE', d, '-inf', now)
    redis.call('ZADD', d, expiry, id)
    redis.call('ZREMRANGEBYRANK', d, 0, -(most + 1))

    local last = redis.call('ZRANGE', d, -1, -1, 'WITHSCORES')
    redis.call('EXPIREAT', d, tonumber(last[2]))

    return redis.call('ZCARD', d)
end

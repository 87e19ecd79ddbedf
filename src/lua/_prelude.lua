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

-- Authenticators (SPEC 10).  The record's own fields (totp alg digits
-- period type counter, and name added used) are the first one, what a
-- release with one authenticator wrote: its id is the field aid (1 where
-- there is none), its last TOTP step the key t.  The others are listed
-- by id in ax ("3 4"); their fields carry ":<id>" and their last step
-- is the field step:<id>.  Ids come from anext and are never used again
-- in the record, so an id names one secret for good.
local auth_fields = {'totp', 'alg', 'digits', 'period', 'type', 'counter',
                     'name', 'added', 'used'}

-- the user's authenticators in order: {id, sfx} (sfx: the fields' suffix)
local function authenticators(u)
    local r = redis.call('HMGET', u, 'totp', 'aid', 'ax')
    local list = {}

    if r[1] then
        list[1] = {id = r[2] or '1', sfx = ''}

        for id in (r[3] or ''):gmatch('%d+') do
            list[#list + 1] = {id = id, sfx = ':' .. id}
        end
    end

    return list
end

-- the one of id in list, or nil
local function authenticator(list, id)
    for _, a in ipairs(list) do
        if a.id == id then
            return a
        end
    end
end

-- the others' keys for the C side, flat: id, sealed, alg, digits,
-- period, "hotp" or false, counter; seven values each
local function authenticators_others(u)
    local out = {}

    for i, a in ipairs(authenticators(u)) do
        if i > 1 then
            local r = redis.call('HMGET', u, 'totp' .. a.sfx, 'alg' .. a.sfx,
                                 'digits' .. a.sfx, 'period' .. a.sfx,
                                 'type' .. a.sfx, 'counter' .. a.sfx)
            out[#out + 1] = a.id
            out[#out + 1] = r[1] or ''
            out[#out + 1] = r[2] or ''
            out[#out + 1] = tonumber(r[3]) or 0
            out[#out + 1] = tonumber(r[4]) or 0
            out[#out + 1] = r[5] == 'hotp' and 'hotp' or false
            out[#out + 1] = tonumber(r[6]) or 0
        end
    end

    return out
end

-- what the pages list, flat: id, name, added, last used, "hotp" or
-- "totp"; five values each (name false: never named)
local function authenticators_shown(u)
    local out = {}

    for _, a in ipairs(authenticators(u)) do
        local r = redis.call('HMGET', u, 'name' .. a.sfx, 'added' .. a.sfx,
                             'used' .. a.sfx, 'type' .. a.sfx)
        out[#out + 1] = a.id
        out[#out + 1] = r[1] or false
        out[#out + 1] = tonumber(r[2]) or 0
        out[#out + 1] = tonumber(r[3]) or 0
        out[#out + 1] = r[4] == 'hotp' and 'hotp' or 'totp'
    end

    return out
end

-- a new authenticator from the pending enrollment e (secret alg digits
-- period type), its HOTP counter, name and time: the record's own where
-- there is none, else one more; returns its id and fields' suffix
local function authenticator_add(u, e, counter, name, now)
    local id = (tonumber(redis.call('HGET', u, 'anext')) or 1) + 1
    local sfx = ''
    local list = authenticators(u)

    if #list > 0 then
        sfx = ':' .. id
        local ids = {}
        for i = 2, #list do
            ids[#ids + 1] = list[i].id
        end
        ids[#ids + 1] = id
        redis.call('HSET', u, 'ax', table.concat(ids, ' '))
    else
        redis.call('HSET', u, 'aid', id)
    end

    redis.call('HSET', u, 'anext', id)
    id = tostring(id)

    redis.call('HSET', u, 'totp' .. sfx, e[1], 'alg' .. sfx, e[2],
               'digits' .. sfx, e[3], 'period' .. sfx, e[4],
               'name' .. sfx, name, 'added' .. sfx, now, 'used' .. sfx, now)

    if e[5] == 'hotp' then
        redis.call('HSET', u, 'type' .. sfx, 'hotp', 'counter' .. sfx,
                   counter)
    else
        redis.call('HDEL', u, 'type' .. sfx, 'counter' .. sfx)
    end

    return id, sfx
end

-- every authenticator goes (t: the first one's last step, if given)
local function authenticators_forget(u, t)
    local n = 0

    for _, a in ipairs(authenticators(u)) do
        for _, f in ipairs(auth_fields) do
            n = n + redis.call('HDEL', u, f .. a.sfx)
        end
        redis.call('HDEL', u, 'step' .. a.sfx)
    end

    redis.call('HDEL', u, 'aid', 'ax')

    if t then
        redis.call('DEL', t)
    end

    return n
end

-- the authenticator id goes; where it is the first, the next one takes
-- its place, its id and its last step (key t, for step_ttl) with it.
-- False when there is no such one, else the number left.
local function authenticator_remove(u, t, id, step_ttl)
    local list = authenticators(u)
    local a = authenticator(list, id)

    if not a then
        return false
    end

    local gone = a

    if a.sfx == '' then
        local step = list[2] and redis.call('HGET', u, 'step' .. list[2].sfx)

        redis.call('DEL', t)
        redis.call('HDEL', u, 'aid')

        for _, f in ipairs(auth_fields) do
            local v = list[2] and redis.call('HGET', u, f .. list[2].sfx)
            if v then
                redis.call('HSET', u, f, v)
            else
                redis.call('HDEL', u, f)
            end
        end

        if list[2] then
            gone = list[2]
            redis.call('HSET', u, 'aid', gone.id)
            if step then
                redis.call('SET', t, step, 'EX', step_ttl)
            end
        end
    end

    if gone.sfx ~= '' then
        for _, f in ipairs(auth_fields) do
            redis.call('HDEL', u, f .. gone.sfx)
        end
        redis.call('HDEL', u, 'step' .. gone.sfx)
    end

    local ids = {}
    for i = 2, #list do
        if list[i].id ~= gone.id then
            ids[#ids + 1] = list[i].id
        end
    end

    if #ids > 0 then
        redis.call('HSET', u, 'ax', table.concat(ids, ' '))
    else
        redis.call('HDEL', u, 'ax')
    end

    return #list - 1
end

-- what the pages and the gate need to know of a user, as user_state.lua
-- documents its reply (after the status): u the user record, l the lock
-- marker, e the set of the user's pending enrollments (EXISTS: one is);
-- a user with several authenticators has the others last (SPEC 10)
local function user_state(u, l, e)
    local others = authenticators_others(u)
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
        r[10],
        others[1] and others or nil
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

-- the session s of user (record u) if it is live, of the current
-- generation, and its code was entered within fresh seconds (SPEC
-- 6.14): {auth time, method}; else nil.  It is not touched.  A session
-- that a cross-device approval made (method "link") had no code typed
-- on it: never fresh, so that an approval, phished or not, never
-- changes a factor by itself.
local function session_fresh(s, u, user, now, ttl, fresh)
    local r = redis.call('HMGET', s, 'u', 'c', 'a', 'm', 'g')
    local gen = tonumber(redis.call('HGET', u, 'gen')) or 0
    local created, auth = tonumber(r[2]), tonumber(r[3])

    if r[1] ~= user or (tonumber(r[5]) or -1) ~= gen
       or not created or now - created >= ttl
       or not auth or now - auth > fresh or r[4] == 'link'
    then
        return nil
    end

    return {auth, r[4] or 'totp'}
end

-- challenge_new.lua: the challenge page's one trip: what the page needs
-- to know of the user and, for a user who can sign in, the browser's
-- live challenge again, or a new challenge with no wrong attempts.
--
-- KEYS[1]  P{u}:c:<id>     challenge (hash: u user, a wrong attempts)
-- KEYS[2]  P{u}:u          user record (hash)
-- KEYS[3]  P{u}:l          lock marker
-- KEYS[4]  P{u}:es         the user's pending enrollments (set)
-- KEYS[5]  P{u}:cl         the user's live challenges (sorted set: key
--                          name, expiry)
-- KEYS[6]  P{u}:c:<id>     the challenge the browser's cookie names (the
--                          C side checked its MAC), or KEYS[1] when none
-- ARGV[1]  user
-- ARGV[2]  ttl, seconds
-- ARGV[3]  when to make it: "always" (the C side knows of a factor the
--          store does not hold: a number from the configuration), or for
--          a user who is not locked, is not asked to enroll again and has
--          an authenticator ("totp") or an authenticator or a verified
--          number ("phone", where texts are offered)
-- ARGV[4]  now, unix seconds
-- ARGV[5]  most live challenges a user may have
-- ARGV[6]  otp_max_attempts: a burnt challenge is not shown again
-- ARGV[7]  the least life, seconds, a challenge shown again has left
--
-- Reply: {"ok", <user_state.lua's values>}     the challenge is made
--        {"live", <the same>}   the browser's challenge (KEYS[6]) is the
--                     user's, not burnt and lives long enough: shown
--                     again, nothing made (SPEC 6.17: a reload makes
--                     no key)
--        {"none", <user_state.lua's values>}   it is not
--        {"exists"}   the id is taken; nothing changed (re-creating a
--                     challenge would reset its attempt counter)
--        {"busy", secs}   the user has the most live challenges already
--                     (SPEC 6.17: one user cannot fill Redis); secs
--                     until the first of them expires

-- include: _prelude.lua

local ttl = count(ARGV[2])

local when = ARGV[3]
local now, most = count(ARGV[4]), count(ARGV[5])
local attempts, least = count(ARGV[6]), count(ARGV[7], 0)

if not (ttl and now and most and attempts and least) or ARGV[1] == ''
   or (when ~= 'always' and when ~= 'totp' and when ~= 'phone')
then
    return redis.error_reply('ERR challenge_new: bad arguments')
end

if redis.call('EXISTS', KEYS[1]) == 1 then
    return {'exists'}
end

local state = user_state(KEYS[2], KEYS[3], KEYS[4])

-- state: 1 totp, 5 must_enroll, 6 lock_ttl, 12 phone
if when == 'always'
   or (state[6] == 0 and state[5] == 0
       and (state[1] or (when == 'phone' and state[12])))
then
    if KEYS[6] ~= KEYS[1] then
        local c = redis.call('HMGET', KEYS[6], 'u', 'a')

        if c[1] == ARGV[1] and (tonumber(c[2]) or attempts) < attempts
           and redis.call('PTTL', KEYS[6]) >= least * 1000
        then
            table.insert(state, 1, 'live')
            return state
        end
    end

    redis.call('ZREMRANGEBYSCORE', KEYS[5], '-inf', now)

    if redis.call('ZCARD', KEYS[5]) >= most then
        local first = redis.call('ZRANGE', KEYS[5], 0, 0, 'WITHSCORES')
        return {'busy', math.max(1, tonumber(first[2]) - now)}
    end

    redis.call('HSET', KEYS[1], 'u', ARGV[1], 'a', 0)
    redis.call('EXPIRE', KEYS[1], ttl)
    redis.call('ZADD', KEYS[5], now + ttl, KEYS[1])
    redis.call('EXPIRE', KEYS[5], ttl)
    table.insert(state, 1, 'ok')
else
    table.insert(state, 1, 'none')
end

return state

-- link_new.lua: the waiting browser's cross-device request (SPEC 9): for
-- a user who can sign in, a request that a phone with a fresh session of
-- the same user may approve, bound to this browser, and what the page
-- needs to know of the user.
--
-- KEYS[1]  P{u}:lk:<hash>  the request (hash: u user, b binding hash,
--                          n number, a address, ua user agent, c created,
--                          x expiry, st state; see link_decide.lua)
-- KEYS[2]  P{u}:ll         the user's live requests (sorted set: key
--                          name, end of its life; the set ends with the
--                          last of them)
-- KEYS[3]  P{u}:u          user record (hash)
-- KEYS[4]  P{u}:l          lock marker
-- KEYS[5]  P{u}:es         the user's pending enrollments (set)
-- ARGV[1]  user
-- ARGV[2]  ttl, seconds (otp_link_ttl): how long it can be approved
-- ARGV[3]  now, unix seconds
-- ARGV[4]  most live requests a user may have
-- ARGV[5]  the number to choose on the phone (10..99)
-- ARGV[6]  keyed hash of the browser's binding cookie
-- ARGV[7]  the browser's address
-- ARGV[8]  its user agent (may be empty)
-- ARGV[9]  the key's life, seconds (ttl and the time to see the end)
--
-- Reply: {"ok", <user_state.lua's values>}     the request is made
--        {"none", <user_state.lua's values>}   it is not: the user is
--                     locked, asked to enroll again, or has no factor
--        {"exists"}   the hash is taken; nothing changed
--        {"busy", secs}   the user has the most live requests already
--                     (SPEC 6.17); secs until the first of them ends

-- include: _prelude.lua

local ttl, now, most = count(ARGV[2]), count(ARGV[3]), count(ARGV[4])
local number, keep = count(ARGV[5], 10), count(ARGV[9])

if not (ttl and now and most and number and keep) or number > 99
   or keep < ttl or ARGV[1] == '' or ARGV[6] == '' or ARGV[7] == ''
then
    return redis.error_reply('ERR link_new: bad arguments')
end

if redis.call('EXISTS', KEYS[1]) == 1 then
    return {'exists'}
end

local state = user_state(KEYS[3], KEYS[4], KEYS[5])

-- state: 1 totp, 5 must_enroll, 6 lock_ttl, 12 phone
if state[6] > 0 or state[5] == 1 or not (state[1] or state[12]) then
    table.insert(state, 1, 'none')
    return state
end

redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)

if redis.call('ZCARD', KEYS[2]) >= most then
    local first = redis.call('ZRANGE', KEYS[2], 0, 0, 'WITHSCORES')
    return {'busy', math.max(1, tonumber(first[2]) - now)}
end

redis.call('HSET', KEYS[1], 'u', ARGV[1], 'b', ARGV[6], 'n', number,
           'a', ARGV[7], 'ua', ARGV[8], 'c', now, 'x', now + ttl,
           'st', 'pending')
redis.call('EXPIRE', KEYS[1], keep)
redis.call('ZADD', KEYS[2], now + keep, KEYS[1])

-- the set lives as long as its longest request: another location's
-- shorter otp_link_ttl must not end the count of the others (SPEC 6.17)
local last = redis.call('ZRANGE', KEYS[2], -1, -1, 'WITHSCORES')
redis.call('EXPIREAT', KEYS[2], tonumber(last[2]))

table.insert(state, 1, 'ok')

return state

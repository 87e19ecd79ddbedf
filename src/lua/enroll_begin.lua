-- enroll_begin.lua: start this browser's enrollment, or show the one it
-- has pending, so that reloading the page shows the same QR code.  A
-- pending enrollment belongs to the browser that started it (SPEC 6.15):
-- its key's id is a keyed hash of the browser's enroll cookie, and no
-- other browser's request names it.  A pending enrollment keeps its first
-- expiry: reloads do not extend it.  A user has at most `most' pending
-- (SPEC 6.17): past that "busy", and nothing is made.
--
-- KEYS[1]  P{u}:e:<hash>   this browser's pending enrollment (hash: secret
--                          alg digits period type)
-- KEYS[2]  P{u}:es         the user's pending enrollments (set of key
--                          names)
-- ARGV[1]  sealed secret (binary)
-- ARGV[2]  algorithm
-- ARGV[3]  digits
-- ARGV[4]  period, seconds
-- ARGV[5]  ttl, seconds
-- ARGV[6]  "totp" or "hotp"
-- ARGV[7]  most pending enrollments a user may have
--
-- Reply: {"ok", sealed, alg, digits, period, type, made}, the pending
--        values, which are the arguments only when this browser had none
--        pending; made 1 when this call made it (the C side then sets the
--        enroll cookie again), else 0
--        {"busy", secs}   the user has the most pending already; secs
--        until the first of them expires

-- include: _prelude.lua

local ttl, most = count(ARGV[5]), count(ARGV[7])
local kind = ARGV[6]

if not (ttl and most) or (kind ~= 'totp' and kind ~= 'hotp') then
    return redis.error_reply('ERR enroll_begin: bad arguments')
end

local e = redis.call('HMGET', KEYS[1],
                     'secret', 'alg', 'digits', 'period', 'type')

if e[1] and e[2] and e[3] and e[4] then
    return {'ok', e[1], e[2], tonumber(e[3]), tonumber(e[4]),
            e[5] or 'totp', 0}
end

-- the ones that ended by themselves leave the set; then the cap

local secs = ttl

for _, k in ipairs(redis.call('SMEMBERS', KEYS[2])) do
    local ms = redis.call('PTTL', k)
    if ms == -2 then
        redis.call('SREM', KEYS[2], k)
    else
        secs = math.min(secs, left(ms))
    end
end

if redis.call('SCARD', KEYS[2]) >= most then
    return {'busy', secs}
end

redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 'secret', ARGV[1], 'alg', ARGV[2],
           'digits', ARGV[3], 'period', ARGV[4], 'type', kind)
redis.call('EXPIRE', KEYS[1], ttl)

redis.call('SADD', KEYS[2], KEYS[1])
if redis.call('TTL', KEYS[2]) < ttl then
    redis.call('EXPIRE', KEYS[2], ttl)
end

return {'ok', ARGV[1], ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4]),
        kind, 1}

-- enroll_begin.lua: start an enrollment, or show the one already pending,
-- so that reloading the page shows the same QR code.  A pending
-- enrollment keeps its first expiry: reloads do not extend it.
--
-- KEYS[1]  P{u}:e          pending enrollment (hash: secret alg digits period
--                       type)
-- ARGV[1]  sealed secret (binary)
-- ARGV[2]  algorithm
-- ARGV[3]  digits
-- ARGV[4]  period, seconds
-- ARGV[5]  ttl, seconds
-- ARGV[6]  "totp" or "hotp" (optional, default "totp")
--
-- Reply: {"ok", sealed, alg, digits, period, type}, the pending values,
--        which are the arguments only when no enrollment was pending

local ttl = tonumber(ARGV[5])
local kind = ARGV[6] or 'totp'

if not ttl or ttl < 1 or ttl % 1 ~= 0
   or (kind ~= 'totp' and kind ~= 'hotp')
then
    return redis.error_reply('ERR enroll_begin: bad arguments')
end

local e = redis.call('HMGET', KEYS[1],
                     'secret', 'alg', 'digits', 'period', 'type')

if not (e[1] and e[2] and e[3] and e[4]) then
    e = {ARGV[1], ARGV[2], ARGV[3], ARGV[4], kind}
    redis.call('DEL', KEYS[1])
    redis.call('HSET', KEYS[1], 'secret', e[1], 'alg', e[2],
               'digits', e[3], 'period', e[4], 'type', e[5])
    redis.call('EXPIRE', KEYS[1], ttl)
end

return {'ok', e[1], e[2], tonumber(e[3]), tonumber(e[4]), e[5] or 'totp'}

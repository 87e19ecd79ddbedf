-- sms_done.lua: the provider answered a send that sms_reserve.lua let
-- through.  Accepted: the text counts for the challenge and the user,
-- and its code replaces the challenge's previous one.  Refused: the
-- slot is given back and nothing counts.
--
-- KEYS[1]  P{u}:c:<id>     challenge (see sms_state.lua for its fields)
-- KEYS[2]  P{u}:sd         texts sent in the window (zset: token, time)
-- KEYS[3]  P{u}:sp         texts being sent (zset: token, reservation end)
-- ARGV[1]  user
-- ARGV[2]  token of the send
-- ARGV[3]  "sent", "failed" (never reached the provider, or refused)
--          or "unknown" (reached it, no answer in time): an unknown
--          text counts like a sent one (SPEC 6.20) but its code does
--          not replace the challenge's
-- ARGV[4]  now, unix seconds
-- ARGV[5]  keyed hash of the code (binary; "" when failed)
-- ARGV[6]  life of the code, seconds (otp_sms_ttl)
-- ARGV[7]  the number the challenge enrolls (sealed), or ""
-- ARGV[8]  "new" (the user has no factor yet) or "change" (in a
--          session), with ARGV[7]; "" otherwise
--
-- The window is a day, as in sms_reserve.lua.
-- Reply: {"ok"}
--        {"no_challenge"}   sent and counted for the user, but the
--                           challenge is gone (expired meanwhile)

-- include: _prelude.lua

local window = 86400

local user, token, result = ARGV[1], ARGV[2], ARGV[3]
local now, ttl = count(ARGV[4]), count(ARGV[6])

if not (now and ttl) or token == ''
   or (result ~= 'sent' and result ~= 'failed' and result ~= 'unknown')
   or (result == 'sent' and ARGV[5] == '')
   or (ARGV[7] ~= '' and ARGV[8] ~= 'new' and ARGV[8] ~= 'change')
then
    return redis.error_reply('ERR sms_done: bad arguments')
end

redis.call('ZREM', KEYS[3], token)

local c = redis.call('HMGET', KEYS[1], 'u', 'sr')
local own = c[1] == user

if own and c[2] == token then
    redis.call('HDEL', KEYS[1], 'sr', 'sx')
end

if result == 'failed' then
    return {'ok'}
end

redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now - window)
redis.call('ZADD', KEYS[2], now, token)
redis.call('EXPIRE', KEYS[2], window)

if not own then
    return {'no_challenge'}
end

redis.call('HINCRBY', KEYS[1], 'sn', 1)
redis.call('HSET', KEYS[1], 'sl', now)

if result == 'unknown' then
    return {'ok'}
end

redis.call('HSET', KEYS[1], 'sh', ARGV[5], 'se', now + ttl)

if ARGV[7] ~= '' then
    redis.call('HSET', KEYS[1], 'pp', ARGV[7], 'pm', ARGV[8])
end

return {'ok'}

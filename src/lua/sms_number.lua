-- sms_number.lua: texts to one destination number in the last day,
-- whichever users asked for them (SPEC 6.17, otp_sms_number_limit): the
-- guard against pumping texts to many numbers, or to one number through
-- many users.  The key is the number's own (its keyed hash as the tag),
-- so this is a script of its own: the user's keys are in another slot.
--
-- KEYS[1]  P{#<hash>}:n    texts to the number (zset: token, time)
-- ARGV[1]  "reserve" (before the text goes to the provider) or
--          "release" (it never reached the provider: it is free)
-- ARGV[2]  token of the send
-- ARGV[3]  now, unix seconds
-- ARGV[4]  otp_sms_number_limit
--
-- A reserved text counts at once, and stays counted unless released:
-- a text whose outcome is unknown counts (SPEC 6.20).
-- Reply: {"ok"} | {"number", secs}: at the limit, secs until the oldest
-- text leaves the window.  The key expires a day after its last text.

-- include: _prelude.lua

local window = 86400

local mode, token = ARGV[1], ARGV[2]
local now, limit = count(ARGV[3]), count(ARGV[4])

if not (now and limit) or token == ''
   or (mode ~= 'reserve' and mode ~= 'release')
then
    return redis.error_reply('ERR sms_number: bad arguments')
end

if mode == 'release' then
    redis.call('ZREM', KEYS[1], token)
    return {'ok'}
end

redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)

if redis.call('ZCARD', KEYS[1]) >= limit then
    local first = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
    return {'number', math.max(1, tonumber(first[2]) + window - now)}
end

redis.call('ZADD', KEYS[1], now, token)
redis.call('EXPIRE', KEYS[1], window)

return {'ok'}

-- counter.lua: a fixed-window rate counter (SMS sends, resends, ...).
-- The window starts with the first call; every call counts, refused
-- ones included.
--
-- KEYS[1]  the counter
-- ARGV[1]  limit: calls allowed in the window
-- ARGV[2]  window, seconds
--
-- Reply: {"ok", count, ttl_left}     count <= limit
--        {"over", count, ttl_left}   count > limit
--   ttl_left is the seconds until the window ends, rounded up

local limit, ttl = tonumber(ARGV[1]), tonumber(ARGV[2])

if not (limit and limit >= 0 and limit % 1 == 0
        and ttl and ttl >= 1 and ttl % 1 == 0)
then
    return redis.error_reply('ERR counter: bad arguments')
end

local n = redis.call('INCR', KEYS[1])
local ms = redis.call('PTTL', KEYS[1])

-- a counter without an expiry would never reset: give it one
if n == 1 or ms == -1 then
    redis.call('EXPIRE', KEYS[1], ttl)
    ms = ttl * 1000
end

local left = math.max(1, math.floor((ms + 999) / 1000))

return {n > limit and 'over' or 'ok', n, left}

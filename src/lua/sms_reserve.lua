-- sms_reserve.lua: may this challenge send a text now?  If so, a slot
-- is reserved under a token, so that racing sends cannot pass the
-- limits together; sms_done.lua then counts the text (the provider
-- accepted it) or gives the slot back (it did not).  Nothing is counted
-- here: a text the provider refused costs the user nothing.
--
-- KEYS[1]  P{u}:c:<id>     challenge (see sms_state.lua for its fields)
-- KEYS[2]  P{u}:u          user record (hash), for the phone number
-- KEYS[3]  P{u}:l          lock marker
-- KEYS[4]  P{u}:sd         texts sent in the window (zset: token, time)
-- KEYS[5]  P{u}:sp         texts being sent (zset: token, reservation end)
-- ARGV[1]  user
-- ARGV[2]  now, unix seconds
-- ARGV[3]  token naming this send
-- ARGV[4]  resend delay, seconds (otp_sms_resend_delay; 0: none)
-- ARGV[5]  texts per challenge (otp_sms_max_sends)
-- ARGV[6]  texts per user in the window (otp_sms_daily_limit)
-- ARGV[7]  wrong codes that burn a challenge (otp_max_attempts)
-- ARGV[8]  "1" if the number must come from the challenge or the user
--          record, "0" if the caller has one
--
-- The window is a day, sliding.  A reservation holds for 5 minutes,
-- longer than any send may take; one left by a worker that died ends
-- by itself then.
-- Reply: {"ok", pending, phone}   reserved; pending is the number the
--                                 challenge enrolls (sealed) or nil,
--                                 phone the user's (sealed) or nil
--        {"locked", secs}         the user is locked
--        {"no_challenge"}         no such challenge for this user
--        {"burnt"}                no attempts left on the challenge
--        {"no_phone"}             nowhere to send a text
--        {"busy", secs}           another send of this challenge is
--                                 under way (at most secs more)
--        {"max_sends", secs}      this challenge sent its texts; secs
--                                 until it ends
--        {"wait", secs}           the resend delay
--        {"daily", secs}          the user's texts in the window; secs
--                                 until the oldest one leaves it

-- include: _prelude.lua

local window, hold = 86400, 300

local user, token = ARGV[1], ARGV[3]
local now, delay = count(ARGV[2], 1), count(ARGV[4], 0)
local max, limit = count(ARGV[5], 1), count(ARGV[6], 1)
local attempts = count(ARGV[7], 1)

if not (now and delay and max and limit and attempts)
   or token == '' or (ARGV[8] ~= '0' and ARGV[8] ~= '1')
then
    return redis.error_reply('ERR sms_reserve: bad arguments')
end

local locked = left(redis.call('PTTL', KEYS[3]))
if locked > 0 then
    return {'locked', locked}
end

local c = redis.call('HMGET', KEYS[1], 'u', 'a', 'sn', 'sl', 'sr', 'sx',
                     'pp')
if c[1] ~= user then
    return {'no_challenge'}
end

if (tonumber(c[2]) or 0) >= attempts then
    return {'burnt'}
end

local phone = redis.call('HGET', KEYS[2], 'phone')

if ARGV[8] == '1' and not c[7] and not phone then
    return {'no_phone'}
end

local busy = tonumber(c[6]) or 0
if c[5] and busy > now then
    return {'busy', busy - now}
end

if (tonumber(c[3]) or 0) >= max then
    return {'max_sends', left(redis.call('PTTL', KEYS[1]))}
end

local last = tonumber(c[4])
if last and now - last < delay then
    return {'wait', last + delay - now}
end

redis.call('ZREMRANGEBYSCORE', KEYS[4], '-inf', now - window)
redis.call('ZREMRANGEBYSCORE', KEYS[5], '-inf', now)

if redis.call('ZCARD', KEYS[4]) + redis.call('ZCARD', KEYS[5]) >= limit then
    local first = redis.call('ZRANGE', KEYS[4], 0, 0, 'WITHSCORES')
    local wait
    if first[2] then
        wait = tonumber(first[2]) + window - now
    else
        first = redis.call('ZRANGE', KEYS[5], 0, 0, 'WITHSCORES')
        wait = tonumber(first[2]) - now
    end
    return {'daily', math.max(1, wait)}
end

redis.call('HSET', KEYS[1], 'sr', token, 'sx', now + hold)
redis.call('ZADD', KEYS[5], now + hold, token)
redis.call('EXPIRE', KEYS[5], hold)

return {'ok', c[7], phone}

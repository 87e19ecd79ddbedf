-- device_session.lua: a browser the user told us to trust comes back
-- without a session.  If its device id is still remembered, and the user
-- is neither locked nor asked to enroll again, it gets a new session
-- (method "remembered"), as session_new.lua makes them.
--
-- KEYS[1]  P d:<user>       remembered devices (sorted set: id, expiry)
-- KEYS[2]  P u:<user>       user record (hash)
-- KEYS[3]  P l:<user>       lock marker
-- KEYS[4]  P s:<sid hash>   the new session
-- KEYS[5]  P su:<user>      set of the user's session keys
-- ARGV[1]  user
-- ARGV[2]  device id (hex)
-- ARGV[3]  now, unix seconds
-- ARGV[4]  idle timeout, seconds (otp_session_idle)
-- ARGV[5]  absolute lifetime, seconds (otp_session_ttl)
-- ARGV[6]  time the code was entered on that browser, unix seconds
--
-- Reply: {"ok"}           a session was made
--        {"unknown"}      the device is not remembered (revoked, expired)
--        {"no_factor"}    no authenticator and no verified phone number,
--                         or an authenticator must be enrolled again
--        {"locked"}       the user is locked
-- Nothing is written unless the reply is "ok".

-- include: _prelude.lua

local now, idle, ttl = count(ARGV[3]), count(ARGV[4]), count(ARGV[5])

if not (now and idle and ttl and count(ARGV[6])) or ARGV[1] == ''
   or ARGV[2] == ''
then
    return redis.error_reply('ERR device_session: bad arguments')
end

local expiry = tonumber(redis.call('ZSCORE', KEYS[1], ARGV[2]))

if not expiry or expiry <= now then
    return {'unknown'}
end

if redis.call('EXISTS', KEYS[3]) == 1 then
    return {'locked'}
end

local u = redis.call('HMGET', KEYS[2], 'totp', 'must_enroll', 'gen', 'phone')

if not (u[1] or u[4]) or u[2] == '1' then
    return {'no_factor'}
end

local gen = tonumber(u[3]) or 0

for _, s in ipairs(redis.call('SMEMBERS', KEYS[5])) do
    if redis.call('EXISTS', s) == 0 then
        redis.call('SREM', KEYS[5], s)
    end
end

redis.call('DEL', KEYS[4])
redis.call('HSET', KEYS[4], 'u', ARGV[1], 'c', now, 'a', ARGV[6],
           'm', 'remembered', 'g', gen, 'l', now)
redis.call('EXPIRE', KEYS[4], math.min(idle, ttl))

redis.call('SADD', KEYS[5], KEYS[4])
redis.call('EXPIRE', KEYS[5], ttl)

return {'ok'}

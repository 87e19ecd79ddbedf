-- session_check.lua: is this session still good for this user?  A good
-- session is touched: its idle timer starts again, never past its
-- absolute lifetime.
--
-- KEYS[1]  P{u}:s:<hash>   session (hash: u c a m g l)
-- KEYS[2]  P{u}:u          user record (hash), for the generation
-- KEYS[3]  P{u}:su         set of the user's session keys
-- ARGV[1]  user
-- ARGV[2]  now, unix seconds
-- ARGV[3]  idle timeout, seconds (otp_session_idle)
-- ARGV[4]  absolute lifetime, seconds (otp_session_ttl)
--
-- Reply: {"ok", created, auth_time, method}
--        {"none"}         no such session (never was, ended, idle)
--        {"other_user"}   the session is another user's; left as it is
--        {"revoked"}      revoked since it was made; now deleted
--        {"expired"}      older than its lifetime; now deleted

-- include: _prelude.lua

local now, idle, ttl = count(ARGV[2]), count(ARGV[3]), count(ARGV[4])

if not (now and idle and ttl) then
    return redis.error_reply('ERR session_check: bad arguments')
end

local s = redis.call('HMGET', KEYS[1], 'u', 'c', 'a', 'm', 'g')

if not s[1] then
    return {'none'}
end

if s[1] ~= ARGV[1] then
    return {'other_user'}
end

local gen = tonumber(redis.call('HGET', KEYS[2], 'gen')) or 0
local created = tonumber(s[2])

if (tonumber(s[5]) or -1) ~= gen then
    redis.call('DEL', KEYS[1])
    redis.call('SREM', KEYS[3], KEYS[1])
    return {'revoked'}
end

if not created or now - created >= ttl then
    redis.call('DEL', KEYS[1])
    redis.call('SREM', KEYS[3], KEYS[1])
    return {'expired'}
end

redis.call('HSET', KEYS[1], 'l', now)
redis.call('EXPIRE', KEYS[1], math.min(idle, ttl - (now - created)))
redis.call('EXPIRE', KEYS[3], ttl)

return {'ok', created, tonumber(s[3]) or 0, s[4]}

-- challenge_new.lua: a new challenge for a user, with no wrong attempts.
--
-- KEYS[1]  P c:<id>   challenge (hash: u user, a wrong attempts)
-- ARGV[1]  user
-- ARGV[2]  ttl, seconds
--
-- Reply: {"ok"}
--        {"exists"}   the id is taken; nothing changed (re-creating a
--                     challenge would reset its attempt counter)

local ttl = tonumber(ARGV[2])

if not ttl or ttl < 1 or ttl % 1 ~= 0 or ARGV[1] == '' then
    return redis.error_reply('ERR challenge_new: bad arguments')
end

if redis.call('EXISTS', KEYS[1]) == 1 then
    return {'exists'}
end

redis.call('HSET', KEYS[1], 'u', ARGV[1], 'a', 0)
redis.call('EXPIRE', KEYS[1], ttl)

return {'ok'}

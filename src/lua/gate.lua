-- gate.lua: everything the gate asks of Redis for a browser, in one trip:
-- the session its cookie names; else the remembered browser its device
-- cookie names, turned into a new session; else what the gate needs to
-- know of the user to send the browser on.
--
-- KEYS[1]  P{u}:s:<hash>   the session presented (hash: u c a m g l)
-- KEYS[2]  P{u}:u          user record (hash)
-- KEYS[3]  P{u}:su         set of the user's session keys
-- KEYS[4]  P{u}:d          remembered devices (sorted set: id, expiry)
-- KEYS[5]  P{u}:l          lock marker
-- KEYS[6]  P{u}:es         the user's pending enrollments (set)
-- KEYS[7]  P{u}:s:<hash>   the session a remembered browser gets
-- ARGV[1]  user
-- ARGV[2]  now, unix seconds
-- ARGV[3]  idle timeout, seconds (otp_session_idle)
-- ARGV[4]  absolute lifetime, seconds (otp_session_ttl)
-- ARGV[5]  "1" if a session cookie came with the request, else "0"
-- ARGV[6]  the device id of a device cookie (hex), or ""
-- ARGV[7]  time the code was entered on that browser, or ""
--
-- Reply: {"ok", created, auth_time, method}   the session is good; its
--                                    idle timer starts again
--        {"device"}                  KEYS[7] is a new session (method
--                                    "remembered")
--        {"none", <user_state.lua's values>}   neither
--
-- A session of another user is left as it is; a revoked or expired one
-- is deleted.  A remembered browser counts only for a user who is not
-- locked, has a factor and is not asked to enroll again.

-- include: _prelude.lua

local user = ARGV[1]
local now, idle, ttl = count(ARGV[2]), count(ARGV[3]), count(ARGV[4])

if not (now and idle and ttl) or user == ''
   or (ARGV[5] ~= '0' and ARGV[5] ~= '1')
   or (ARGV[6] ~= '' and not (ARGV[6]:find('^[0-9a-f]+$')
                              and count(ARGV[7])))
then
    return redis.error_reply('ERR gate: bad arguments')
end

if ARGV[5] == '1' then
    local s = redis.call('HMGET', KEYS[1], 'u', 'c', 'a', 'm', 'g')

    if s[1] == user then
        local gen = tonumber(redis.call('HGET', KEYS[2], 'gen')) or 0
        local created = tonumber(s[2])

        if (tonumber(s[5]) or -1) ~= gen
           or not created or now - created >= ttl
        then
            redis.call('DEL', KEYS[1])
            redis.call('SREM', KEYS[3], KEYS[1])

        else
            redis.call('HSET', KEYS[1], 'l', now)
            redis.call('EXPIRE', KEYS[1],
                       math.min(idle, ttl - (now - created)))
            redis.call('EXPIRE', KEYS[3], ttl)

            return {'ok', created, tonumber(s[3]) or 0, s[4]}
        end
    end
end

local state = user_state(KEYS[2], KEYS[5], KEYS[6])

if ARGV[6] ~= '' then
    local expiry = tonumber(redis.call('ZSCORE', KEYS[4], ARGV[6]))

    -- state: 1 totp, 5 must_enroll, 6 lock_ttl, 12 phone
    if expiry and expiry > now and state[6] == 0
       and (state[1] or state[12]) and state[5] == 0
    then
        session_make(KEYS[7], KEYS[3], KEYS[2], user, now, idle, ttl,
                     'remembered', ARGV[7])
        return {'device'}
    end
end

table.insert(state, 1, 'none')

return state

-- session_new.lua: a session after a second factor.
--
-- KEYS[1]  P{u}:s:<hash>   session (hash: u c a m g l)
-- KEYS[2]  P{u}:su         set of the user's session keys
-- KEYS[3]  P{u}:u          user record (hash), for the generation
-- ARGV[1]  user
-- ARGV[2]  now, unix seconds
-- ARGV[3]  idle timeout, seconds (otp_session_idle)
-- ARGV[4]  absolute lifetime, seconds (otp_session_ttl)
-- ARGV[5]  method (totp, sms, recovery, ...)
-- ARGV[6]  time the code was entered, unix seconds
--
-- Reply: {"ok"}
--
-- Sessions that ended by themselves stay in the set until it expires;
-- they are dropped here, so that a user who signs in every day does not
-- grow the set forever.

-- include: _prelude.lua

local now, idle, ttl = count(ARGV[2]), count(ARGV[3]), count(ARGV[4])

if not (now and idle and ttl and count(ARGV[6])) or ARGV[1] == '' then
    return redis.error_reply('ERR session_new: bad arguments')
end

session_make(KEYS[1], KEYS[2], KEYS[3], ARGV[1], now, idle, ttl, ARGV[5],
             ARGV[6])

return {'ok'}

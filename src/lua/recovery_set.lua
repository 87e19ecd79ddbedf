-- recovery_set.lua: new recovery codes for a user; the old ones stop
-- working.  Only for a user with an authenticator: the codes stand in
-- for it.  A change of factor (SPEC 6.14): every session of the user
-- ends and the remembered browsers are forgotten; the page then starts
-- a new session for the browser that asked.
-- The change is made only from a session whose code was entered within
-- otp_fresh (SPEC 6.14): that session is checked here, in the step that
-- commits, so that one revoked or gone stale since the page's own check
-- changes nothing.
--
-- KEYS[1]  P{u}:u          user record (hash: rc)
-- KEYS[2]  P{u}:su         set of the user's session keys (optional)
-- KEYS[3]  P{u}:d          remembered devices (optional)
-- KEYS[4]  P{u}:s:<hash>   the browser's session (read when ARGV[4] is
--                          not "")
-- ARGV[1]  the codes' keyed hashes, 64 hex digits each, concatenated
-- ARGV[2]  user (with ARGV[4])
-- ARGV[3]  now, unix seconds (with ARGV[4])
-- ARGV[4]  otp_fresh, seconds: KEYS[4] must be a session of the user
--          with a code that fresh; "" (or absent) checks no session
-- ARGV[5]  session lifetime, seconds (otp_session_ttl), with ARGV[4]
--
-- Reply: {"ok", codes}       codes: how many there are now
--        {"no_factor"}       no authenticator, or one must be enrolled
--                            again: nothing changed
--        {"none"}            no such session, or not the user's, or its
--                            code is not within otp_fresh: nothing
--                            changed

-- include: _prelude.lua

local codes = ARGV[1]
local fresh = (ARGV[4] or '') ~= '' and count(ARGV[4], 0)
local now = fresh and count(ARGV[3] or '')
local ttl = fresh and count(ARGV[5] or '')

if not codes or codes == '' or #codes % 64 ~= 0
   or codes:find('[^0-9a-f]')
   or ((ARGV[4] or '') ~= ''
       and not (fresh and now and now > 0 and ttl and KEYS[4]))
then
    return redis.error_reply('ERR recovery_set: bad arguments')
end

if fresh and not session_fresh(KEYS[4], KEYS[1], ARGV[2], now, ttl, fresh)
then
    return {'none'}
end

local u = redis.call('HMGET', KEYS[1], 'totp', 'must_enroll')

if not u[1] or u[2] == '1' then
    return {'no_factor'}
end

redis.call('HSET', KEYS[1], 'rc', codes)

if KEYS[2] then
    revoke(KEYS[1], KEYS[2], KEYS[3])
end

return {'ok', #codes / 64}

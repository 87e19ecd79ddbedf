-- recovery_set.lua: new recovery codes for a user; the old ones stop
-- working.  Only for a user with an authenticator: the codes stand in
-- for it.  A change of factor (SPEC 6.14): every session of the user
-- ends and the remembered browsers are forgotten; the page then starts
-- a new session for the browser that asked.
--
-- KEYS[1]  P{u}:u          user record (hash: rc)
-- KEYS[2]  P{u}:su         set of the user's session keys (optional)
-- KEYS[3]  P{u}:d          remembered devices (optional)
-- ARGV[1]  the codes' keyed hashes, 64 hex digits each, concatenated
--
-- Reply: {"ok", codes}       codes: how many there are now
--        {"no_factor"}       no authenticator, or one must be enrolled
--                            again: nothing changed

-- include: _prelude.lua

local codes = ARGV[1]

if not codes or codes == '' or #codes % 64 ~= 0
   or codes:find('[^0-9a-f]')
then
    return redis.error_reply('ERR recovery_set: bad arguments')
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

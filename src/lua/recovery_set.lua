-- recovery_set.lua: new recovery codes for a user; the old ones stop
-- working.  Only for a user with an authenticator: the codes stand in
-- for it.
--
-- KEYS[1]  P{u}:u          user record (hash: rc)
-- ARGV[1]  the codes' keyed hashes, 64 hex digits each, concatenated
--
-- Reply: {"ok", codes}       codes: how many there are now
--        {"no_factor"}       no authenticator, or one must be enrolled
--                            again: nothing changed

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

return {'ok', #codes / 64}

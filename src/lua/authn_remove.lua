-- authn_remove.lua: an admin removes one authenticator of a user (SPEC
-- 5); with none left, the next sign-in enrolls a new one.  As any
-- change of factor (SPEC 6.14) it ends every session of the user and
-- forgets the remembered browsers.
--
-- KEYS[1]  P{u}:u          user record (hash)
-- KEYS[2]  P{u}:t          last TOTP step of the first authenticator
-- KEYS[3]  P{u}:su         set of the user's session keys
-- KEYS[4]  P{u}:d          remembered browsers
-- ARGV[1]  the authenticator's id
-- ARGV[2]  life of the last-step record, seconds
--
-- Reply: {"ok", left, sessions}   left: authenticators left; sessions:
--                                 the live sessions deleted
--        {"unknown"}              no such authenticator

-- include: _prelude.lua

local step_ttl = count(ARGV[2])

if not (ARGV[1]:find('^%d+$') and step_ttl) then
    return redis.error_reply('ERR authn_remove: bad arguments')
end

local n = authenticator_remove(KEYS[1], KEYS[2], ARGV[1], step_ttl)

if not n then
    return {'unknown'}
end

return {'ok', n, revoke(KEYS[1], KEYS[3], KEYS[4])}

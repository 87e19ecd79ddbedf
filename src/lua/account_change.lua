-- account_change.lua: a change made on the account page (SPEC 10), for
-- a session whose code was entered within otp_fresh, checked here in
-- the same step as the change.  A change of factor (an authenticator
-- removed, the remembered browsers forgotten, the other sessions ended)
-- ends every session of the user and forgets the remembered browsers
-- (SPEC 6.14), and makes the browser that asked a new session of the
-- new generation, with the same time of its code.
--
-- KEYS[1]  P{u}:s:<hash>   the browser's session
-- KEYS[2]  P{u}:s:<hash>   its new session, made after a change of factor
-- KEYS[3]  P{u}:u          user record (hash)
-- KEYS[4]  P{u}:su         set of the user's session keys
-- KEYS[5]  P{u}:d          remembered browsers
-- KEYS[6]  P{u}:t          last TOTP step of the first authenticator
-- KEYS[7]  P{u}:l          lock marker
-- ARGV[1]  user
-- ARGV[2]  "rename", "remove", "browsers" (forget the remembered ones)
--          or "sessions" (sign out everywhere else)
-- ARGV[3]  now, unix seconds
-- ARGV[4]  otp_fresh, seconds
-- ARGV[5]  session idle timeout, seconds (otp_session_idle)
-- ARGV[6]  session lifetime, seconds (otp_session_ttl)
-- ARGV[7]  rename, remove: the authenticator's id, else ""
-- ARGV[8]  rename: its new name, 1 to 64 bytes, else ""
-- ARGV[9]  remove: "1" when the user confirmed removing the last one
-- ARGV[10] life of the last-step record, seconds
-- ARGV[11] "1" when the user has another factor the store cannot see
--          (a number from the configuration), else "0"
-- ARGV[12] "1" when a stored phone number is a factor here (texts are
--          offered), else "0"
--
-- Reply: {"ok", made}       done; made 1: KEYS[2] is the browser's
--                           session now
--        {"none"}           no such session, or not fresh: nothing done
--        {"unknown"}        no such authenticator: nothing done
--        {"no_factor"}      the last authenticator, and no other factor:
--                           nothing done until the user confirms
--        {"locked", secs}   the user is locked: nothing done
--
-- Two browsers removing at once: the first removal ends the other's
-- session, and the last one is never removed without a confirmation.

-- include: _prelude.lua

local user, action = ARGV[1], ARGV[2]
local now, fresh = count(ARGV[3]), count(ARGV[4], 0)
local idle, ttl, step_ttl = count(ARGV[5]), count(ARGV[6]), count(ARGV[10])
local id, name = ARGV[7], ARGV[8]

if user == '' or not (now and fresh and idle and ttl and step_ttl)
   or (action ~= 'rename' and action ~= 'remove' and action ~= 'browsers'
       and action ~= 'sessions')
   or ((action == 'rename' or action == 'remove')
       and not id:find('^%d+$'))
   or (action == 'rename' and (#name < 1 or #name > 64))
then
    return redis.error_reply('ERR account_change: bad arguments')
end

local locked = left(redis.call('PTTL', KEYS[7]))

if locked > 0 then
    return {'locked', locked}
end

local s = session_fresh(KEYS[1], KEYS[3], user, now, ttl, fresh)

if not s then
    return {'none'}
end

if action == 'rename' or action == 'remove' then
    local list = authenticators(KEYS[3])
    local a = authenticator(list, id)

    if not a then
        return {'unknown'}
    end

    if action == 'rename' then
        redis.call('HSET', KEYS[3], 'name' .. a.sfx, name)
        return {'ok', 0}
    end

    if #list == 1 and ARGV[9] ~= '1' and ARGV[11] ~= '1'
       and not (ARGV[12] == '1'
                and redis.call('HEXISTS', KEYS[3], 'phone') == 1)
    then
        return {'no_factor'}
    end

    authenticator_remove(KEYS[3], KEYS[6], id, step_ttl)
end

revoke(KEYS[3], KEYS[4], KEYS[5])
session_make(KEYS[2], KEYS[4], KEYS[3], user, now, idle, ttl, s[2], s[1])

return {'ok', 1}

-- set_phone.lua: an admin sets a user's verified phone number.  The C
-- side has checked it (E.164) and sealed it to the user.
--
-- KEYS[1]  P{u}:u          user record (hash); created if missing
-- ARGV[1]  sealed phone number (binary)
--
-- Reply: {"ok"}

if ARGV[1] == '' then
    return redis.error_reply('ERR set_phone: bad arguments')
end

redis.call('HSET', KEYS[1], 'phone', ARGV[1])

return {'ok'}

-- device_new.lua: remember a browser for a user ("trust this browser").
-- The browser holds a signed cookie with the device id; the id counts
-- only while it is here, so that an admin or a new enrollment can
-- forget every browser of a user at once.
--
-- KEYS[1]  P{u}:d          remembered devices (sorted set: id, score expiry)
-- ARGV[1]  device id (hex)
-- ARGV[2]  expiry, unix seconds
-- ARGV[3]  now, unix seconds
-- ARGV[4]  most devices kept per user; the oldest go first
--
-- Reply: {"ok", devices}
--
-- The set expires with the last of its devices.

-- include: _prelude.lua

local expiry, now, most = count(ARGV[2]), count(ARGV[3]), count(ARGV[4])

if not (expiry and now and most) or expiry <= now
   or not ARGV[1]:find('^[0-9a-f]+$')
then
    return redis.error_reply('ERR device_new: bad arguments')
end

return {'ok', device_add(KEYS[1], ARGV[1], expiry, now, most)}

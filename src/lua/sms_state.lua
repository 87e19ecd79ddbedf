-- sms_state.lua: a challenge's SMS code and what the user has, for the
-- challenge page and for checking a code.  Read-only.
--
-- KEYS[1]  P{u}:c:<id>     challenge (hash: u a, and the SMS fields below)
-- KEYS[2]  P{u}:u          user record (hash)
-- ARGV[1]  user
--
-- Reply: {"ok", own, hash, expires, sends, last, pending, totp, phone}
--   own      1 if the challenge exists and is the user's, else 0 (the
--            next four values are then nil, 0, 0, 0 and pending nil)
--   hash     keyed hash of the current code (binary), nil if none
--   expires  unix time the code expires, 0 if none
--   sends    texts the provider accepted for this challenge
--   last     unix time of the last one, 0 if none
--   pending  the number this challenge enrolls (sealed), nil if none
--   totp     1 if the user has an authenticator, else 0
--   phone    the user's verified number (sealed, binary), nil if none
--
-- Challenge fields of SMS: sh code hash, se its expiry, sn sends, sl last
-- send, sr/sx the send under way and the end of its reservation, pp/pm
-- the number being enrolled and "new" (no factor yet) or "change".

local u = redis.call('HMGET', KEYS[2], 'totp', 'phone')
local c = redis.call('HMGET', KEYS[1], 'u', 'sh', 'se', 'sn', 'sl', 'pp')

if c[1] ~= ARGV[1] then
    return {'ok', 0, false, 0, 0, 0, false, u[1] and 1 or 0, u[2]}
end

return {
    'ok',
    1,
    c[2],
    tonumber(c[3]) or 0,
    tonumber(c[4]) or 0,
    tonumber(c[5]) or 0,
    c[6],
    u[1] and 1 or 0,
    u[2]
}

-- link_show.lua (read-only): the phone's page of a request: what it
-- shows of the browser that asks, while the request can be approved.
--
-- KEYS[1]  P{u}:lk:<hash>  the request (see link_new.lua)
-- ARGV[1]  user
-- ARGV[2]  now, unix seconds
--
-- Reply: {"ok", number, address, user agent, created}
--        {"none"}   no such request of this user, decided, or expired

local now = tonumber(ARGV[2])

if not now or ARGV[1] == '' then
    return redis.error_reply('ERR link_show: bad arguments')
end

local r = redis.call('HMGET', KEYS[1], 'u', 'st', 'x', 'n', 'a', 'ua', 'c')

if r[1] ~= ARGV[1] or r[2] ~= 'pending' or now >= (tonumber(r[3]) or 0)
then
    return {'none'}
end

return {'ok', r[4], r[5], r[6] or '', r[7]}

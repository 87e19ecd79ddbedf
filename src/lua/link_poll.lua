-- link_poll.lua: the waiting browser's refresh.  Only the browser whose
-- binding made the request sees it; an approved one is redeemed once,
-- into a new session (method "link", the approval as the time the code
-- was entered), and every end of a request deletes it.
--
-- KEYS[1]  P{u}:lk:<hash>  the request (see link_new.lua)
-- KEYS[2]  P{u}:ll         the user's live requests
-- KEYS[3]  P{u}:u          user record (hash)
-- KEYS[4]  P{u}:l          lock marker
-- KEYS[5]  P{u}:s:<hash>   the session to make
-- KEYS[6]  P{u}:su         set of the user's session keys
-- ARGV[1]  user
-- ARGV[2]  keyed hash of the browser's binding cookie
-- ARGV[3]  now, unix seconds
-- ARGV[4]  idle timeout, seconds (otp_session_idle)
-- ARGV[5]  absolute lifetime, seconds (otp_session_ttl)
--
-- Reply: {"ok", approved at}   redeemed: the session is made
--        {"pending", number, secs left}
--        {"denied"}    the phone said no, or the user's sessions were
--                      revoked after the approval
--        {"expired"}   not decided in time
--        {"locked", secs}   approved, but the user is locked now
--        {"none"}      no such request of this user and this browser,
--                      or the user is asked to enroll again (then the
--                      request is deleted)

-- include: _prelude.lua

local now, idle, ttl = count(ARGV[3]), count(ARGV[4]), count(ARGV[5])

if not (now and idle and ttl) or ARGV[1] == '' or ARGV[2] == '' then
    return redis.error_reply('ERR link_poll: bad arguments')
end

local r = redis.call('HMGET', KEYS[1], 'u', 'b', 'st', 'x', 'n', 'at', 'g')

if r[1] ~= ARGV[1] or r[2] ~= ARGV[2] then
    return {'none'}
end

local function ended(status, value)
    redis.call('DEL', KEYS[1])
    redis.call('ZREM', KEYS[2], KEYS[1])
    return {status, value}
end

-- asked to enroll again (a lost phone): no request leads to a session,
-- as no code does; the page starts over, which leads to the enrollment
if redis.call('HGET', KEYS[3], 'must_enroll') == '1' then
    return ended('none')
end

if r[3] == 'pending' then
    local x = tonumber(r[4]) or 0

    if now >= x then
        return ended('expired')
    end

    return {'pending', r[5], x - now}
end

if r[3] ~= 'approved' then
    return ended('denied')
end

local lock = left(redis.call('PTTL', KEYS[4]))

if lock > 0 then
    return ended('locked', lock)
end

local gen = tonumber(redis.call('HGET', KEYS[3], 'gen')) or 0

if tonumber(r[7]) ~= gen then
    return ended('denied')
end

session_make(KEYS[5], KEYS[6], KEYS[3], ARGV[1], now, idle, ttl, 'link',
             r[6])

return ended('ok', tonumber(r[6]))

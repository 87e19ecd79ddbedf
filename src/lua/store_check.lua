-- store_check.lua: is this the Redis that the module knew?  A Redis that
-- came back empty (a restart without persistence, FLUSHALL) must not
-- turn enrolled users into new ones (SPEC 6.21).  The store carries a
-- marker with a random id; each nginx remembers the id it last saw.
--
-- KEYS[1]  P{~}:store      the marker (hash: id, how "new"|"accepted",
--                          t); like a user record it never expires
-- ARGV[1]  "check" or "accept" (an admin acknowledged a lost store)
-- ARGV[2]  the id this nginx last saw, or ""
-- ARGV[3]  a new id (32 hex digits), used when a marker is written
-- ARGV[4]  the pattern of user records ("P{*}:u", glob-escaped)
-- ARGV[5]  now, unix seconds
--
-- Reply: {"ok", id, made 0/1} | {"lost", why}
--
-- "check":
-- - a marker: ok, unless this nginx saw another id and the marker is
--   not one an admin accepted ("other": a store made anew by an nginx
--   that remembered nothing);
-- - no marker where this nginx saw one: lost ("gone");
-- - no marker, nothing seen, but user records: lost ("records": the
--   marker alone was deleted, or a version without it ran before);
-- - no marker, nothing seen, no user record: a fresh store, marked now.
-- "accept" writes a new marker whatever was there.

-- include: _prelude.lua

local mode, seen, new, pattern = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local now = count(ARGV[5])

if (mode ~= 'check' and mode ~= 'accept') or not now
   or not new:find('^[0-9a-f]+$') or #new ~= 32 or pattern == ''
then
    return redis.error_reply('ERR store_check: bad arguments')
end

local function mark(how)
    redis.call('DEL', KEYS[1])
    redis.call('HSET', KEYS[1], 'id', new, 'how', how, 't', now)
    return {'ok', new, 1}
end

if mode == 'accept' then
    return mark('accepted')
end

local id = redis.call('HGET', KEYS[1], 'id')

if id then
    if seen == '' or seen == id
       or redis.call('HGET', KEYS[1], 'how') == 'accepted'
    then
        return {'ok', id, 0}
    end

    return {'lost', 'other'}
end

if seen ~= '' then
    return {'lost', 'gone'}
end

-- the first user record found is enough; a fresh store has few keys

local cursor = '0'

repeat
    local r = redis.call('SCAN', cursor, 'MATCH', pattern, 'COUNT', 1000)
    cursor = r[1]

    if #r[2] > 0 then
        return {'lost', 'records'}
    end
until cursor == '0'

return mark('new')

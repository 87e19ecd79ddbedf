-- revoke_user.lua: end every session of a user, and forget the browsers
-- remembered for them.  The new generation also invalidates sessions
-- that workers hold in memory, and any session key the set lost track of.
--
-- KEYS[1]  P{u}:u          user record (hash); created if missing, so that
--                        users with no record (SMS only) can be revoked
-- KEYS[2]  P{u}:su         set of the user's session keys
-- KEYS[3]  P{u}:d          remembered devices (optional)
--
-- Reply: {"ok", sessions}, the number of live sessions deleted
--
-- The session keys come from the set, not from KEYS: with Redis Cluster,
-- they must share the user's hash slot.

-- include: _prelude.lua

return {'ok', revoke(KEYS[1], KEYS[2], KEYS[3])}

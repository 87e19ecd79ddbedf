-- require_enroll.lua: an admin asks a user to enroll a new authenticator
-- at the next sign-in ("configure OTP" as a required action).  Sessions
-- stay; the gate sends the user to enrollment once they end.
--
-- KEYS[1]  P{u}:u          user record (hash); created if missing
--
-- Reply: {"ok"}

redis.call('HSET', KEYS[1], 'must_enroll', 1)

return {'ok'}

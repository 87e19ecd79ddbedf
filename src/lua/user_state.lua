-- user_state.lua: what the gate needs to know about a user, in one trip.
-- Read-only.
--
-- KEYS[1]  P{u}:u          user record (hash)
-- KEYS[2]  P{u}:l          lock marker
-- KEYS[3]  P{u}:es         the user's pending enrollments (set)
--
-- Reply: {"ok", totp, alg, digits, period, must_enroll, lock_ttl, gen,
--         pending, type, counter, recovery, phone}
--   totp, alg    the sealed secret and its algorithm, nil if not enrolled
--   digits       integer, 0 if not enrolled
--   period       integer seconds, 0 if not enrolled
--   must_enroll  1 if an admin asked for a new enrollment, else 0
--   lock_ttl     seconds the user stays locked, 0 if not locked
--   gen          session generation, 0 if never revoked
--   pending      1 if an enrollment is waiting for its first code, else 0
--   type         "hotp" for an HOTP authenticator, nil for TOTP
--   counter      the next HOTP counter expected, 0 for TOTP
--   recovery     recovery codes left
--   phone        the verified phone number (sealed, binary), nil if none
--
-- gate.lua and challenge_new.lua reply the same values after their own
-- status (user_state() in _prelude.lua).

-- include: _prelude.lua

local state = user_state(KEYS[1], KEYS[2], KEYS[3])

table.insert(state, 1, 'ok')

return state

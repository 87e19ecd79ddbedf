-- user_state.lua: what the gate needs to know about a user, in one trip.
-- Read-only.
--
-- KEYS[1]  P u:<user>   user record (hash)
-- KEYS[2]  P l:<user>   lock marker
-- KEYS[3]  P e:<user>   pending enrollment (hash)
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
--   phone        the verified phone number (sealed, binary), nil if none;
--                always the last value (ngx_http_otp_user.c reads it so):
--                values added later go before it

-- include: _prelude.lua

local u = redis.call('HMGET', KEYS[1],
                     'totp', 'alg', 'digits', 'period', 'must_enroll', 'gen',
                     'type', 'counter', 'rc', 'phone')

return {
    'ok',
    u[1],
    u[2],
    tonumber(u[3]) or 0,
    tonumber(u[4]) or 0,
    u[5] == '1' and 1 or 0,
    left(redis.call('PTTL', KEYS[2])),
    tonumber(u[6]) or 0,
    redis.call('EXISTS', KEYS[3]),
    u[7] == 'hotp' and 'hotp' or false,
    tonumber(u[8]) or 0,
    math.floor(#(u[9] or '') / 64),
    u[10]
}


/*
 * Cookie values, CSRF tokens and keyed hashes of short codes, all on
 * HMAC-SHA256 (ngx_http_otp_hmac) and unpadded base64url.
 *
 * Pure C: no nginx headers, no allocation.  Encoders write no NUL.
 */


#ifndef _NGX_HTTP_OTP_TOKEN_H_INCLUDED_
#define _NGX_HTTP_OTP_TOKEN_H_INCLUDED_


#include <stddef.h>
#include <stdint.h>

#include "ngx_http_otp_crypto.h"


#define NGX_HTTP_OTP_TOKEN_OK            0
#define NGX_HTTP_OTP_TOKEN_BAD          -1
#define NGX_HTTP_OTP_TOKEN_EXPIRED      -2

/* user names: 1..512 bytes, no NUL (NUL separates the MAC input) */
#define NGX_HTTP_OTP_TOKEN_MAX_USER     512
#define NGX_HTTP_OTP_TOKEN_MAX_BINDING  128

/* characters of the unpadded encoding of len bytes */
#define ngx_http_otp_b64url_encoded_len(len)  (((len) * 4 + 2) / 3)

/* upper bound of the bytes decoded from len characters */
#define ngx_http_otp_b64url_decoded_len(len)  ((len) * 3 / 4)


/* RFC 4648 section 5 alphabet, no padding; returns the length written */
size_t ngx_http_otp_b64url_encode(const uint8_t *src, size_t len,
    char *dst);

/*
 * Strict: only the base64url alphabet, no "=", no spaces, no length
 * of 4n + 1, and the unused bits of the last character must be zero,
 * so every value has exactly one encoding.
 * dst holds ngx_http_otp_b64url_decoded_len(len) bytes.
 * 0 and *dst_len set, or -1.
 */
int ngx_http_otp_b64url_decode(const char *src, size_t len, uint8_t *dst,
    size_t *dst_len);


/*
 * Signed values: "1." b64url(payload) "." b64url(mac), where
 * mac = HMAC-SHA256(key, purpose "\0" payload), all 32 bytes.  The
 * purpose (a non-empty C string of at most 32 bytes, such as "session"
 * or "device") keeps a value signed for one use from passing for
 * another.  Nothing expires here: put a time in the payload if needed.
 */

#define NGX_HTTP_OTP_SIGNED_MAX_PURPOSE  32
#define NGX_HTTP_OTP_SIGNED_MAX_PAYLOAD  512

#define ngx_http_otp_signed_len(payload_len)                                  \
    (2 + ngx_http_otp_b64url_encoded_len(payload_len) + 1                     \
     + ngx_http_otp_b64url_encoded_len(NGX_HTTP_OTP_MAC_LEN))

/* dst holds ngx_http_otp_signed_len(len); 0 and *dst_len set, or -1 */
int ngx_http_otp_signed_encode(const uint8_t key[NGX_HTTP_OTP_KEY_LEN],
    const char *purpose, const uint8_t *payload, size_t len, char *dst,
    size_t *dst_len);

/*
 * Strict format, MAC compared in constant time.  The payload is written
 * only when the value is good: 0 and *payload_len set; -1 when the
 * value is malformed, forged, for another purpose, or its payload is
 * longer than payload_size.
 */
int ngx_http_otp_signed_decode(const uint8_t key[NGX_HTTP_OTP_KEY_LEN],
    const char *purpose, const char *src, size_t len, uint8_t *payload,
    size_t payload_size, size_t *payload_len);


/*
 * Session cookies: a signed value with purpose "session" and a payload
 * of 32 random bytes (256 bits; at least 128 are required).  The cookie
 * value is always NGX_HTTP_OTP_SESSION_COOKIE_LEN characters.
 */

#define NGX_HTTP_OTP_SESSION_ID_LEN      32
#define NGX_HTTP_OTP_SESSION_COOKIE_LEN                                       \
    ngx_http_otp_signed_len(NGX_HTTP_OTP_SESSION_ID_LEN)

/* a fresh id from the CSPRNG; 0 or -1 */
int ngx_http_otp_session_id_new(uint8_t id[NGX_HTTP_OTP_SESSION_ID_LEN]);

/* writes NGX_HTTP_OTP_SESSION_COOKIE_LEN characters; 0 or -1 */
int ngx_http_otp_session_cookie_encode(
    const uint8_t key[NGX_HTTP_OTP_KEY_LEN],
    const uint8_t id[NGX_HTTP_OTP_SESSION_ID_LEN], char *dst);

/* 0 and the id, or -1 for anything but an intact cookie of ours */
int ngx_http_otp_session_cookie_decode(
    const uint8_t key[NGX_HTTP_OTP_KEY_LEN], const char *src, size_t len,
    uint8_t id[NGX_HTTP_OTP_SESSION_ID_LEN]);


/*
 * Stateless CSRF tokens: "1." b64url(issued_at || mac), issued_at being
 * 8 bytes big-endian (seconds since the epoch) and
 * mac = HMAC-SHA256(key, "csrf\0" user "\0" binding issued_at).
 * The binding ties the token to a challenge or session id; it may be
 * empty.  A token issued up to NGX_HTTP_OTP_CSRF_SLACK seconds in the
 * future (clocks of several nodes) is accepted.
 */

#define NGX_HTTP_OTP_CSRF_LEN                                                 \
    (2 + ngx_http_otp_b64url_encoded_len(8 + NGX_HTTP_OTP_MAC_LEN))
#define NGX_HTTP_OTP_CSRF_SLACK          60

/* writes NGX_HTTP_OTP_CSRF_LEN characters; 0 or -1 */
int ngx_http_otp_csrf_issue(const uint8_t key[NGX_HTTP_OTP_KEY_LEN],
    const char *user, size_t user_len, const char *binding,
    size_t binding_len, int64_t now, char *dst);

/*
 * NGX_HTTP_OTP_TOKEN_OK; _EXPIRED when the token is intact but older
 * than max_age seconds; _BAD for anything else (malformed, forged,
 * other key, user or binding, too far in the future).
 */
int ngx_http_otp_csrf_check(const uint8_t key[NGX_HTTP_OTP_KEY_LEN],
    const char *user, size_t user_len, const char *binding,
    size_t binding_len, const char *token, size_t token_len, int64_t now,
    int64_t max_age);


/*
 * Short codes (SMS codes, recovery codes) are stored only as
 * HMAC-SHA256(key, "code\0" user "\0" normalized code).  Normalizing
 * drops spaces and "-" and upper-cases ASCII letters, so "abcd-efgh"
 * and "ABCD EFGH" are the same code; any other byte outside 0x21..0x7e
 * is refused, as is an empty or overlong result.
 */

#define NGX_HTTP_OTP_CODE_MAX_LEN        64

/* dst holds NGX_HTTP_OTP_CODE_MAX_LEN + 1 (NUL-terminated); 0 or -1 */
int ngx_http_otp_code_normalize(const char *src, size_t len, char *dst,
    size_t *dst_len);

/* 0 and out set, or -1 (bad user or code); compare with ct_equal */
int ngx_http_otp_code_hash(const uint8_t key[NGX_HTTP_OTP_KEY_LEN],
    const char *user, size_t user_len, const char *code, size_t code_len,
    uint8_t out[NGX_HTTP_OTP_MAC_LEN]);


#endif /* _NGX_HTTP_OTP_TOKEN_H_INCLUDED_ */

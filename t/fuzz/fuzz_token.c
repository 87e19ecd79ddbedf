
/*
 * libFuzzer target for base64url, signed values, session cookies, CSRF
 * tokens and code normalization.
 *
 * Properties: base64url decoding is canonical (what decodes re-encodes
 * to the same text); nothing the fuzzer makes up passes as a cookie or
 * token; a valid cookie or token with any change applied (the input is
 * the change) is refused; round trips hold for any payload, user and
 * binding; normalizing is idempotent and the hash follows it.
 */


#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "fuzz.h"
#include "ngx_http_otp_crypto.h"
#include "ngx_http_otp_token.h"


#define FUZZ_NOW      1700000000
#define FUZZ_MAX_AGE  3600


static const uint8_t  fuzz_key[NGX_HTTP_OTP_KEY_LEN] = {
    0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07,
    0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f,
    0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17,
    0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f
};


static void
fuzz_b64url(const uint8_t *data, size_t size)
{
    size_t          n, m;
    static char     text[ngx_http_otp_b64url_encoded_len(4096)];
    static uint8_t  bin[4096];

    if (ngx_http_otp_b64url_decode((const char *) data, size, bin, &n)
        == 0)
    {
        fuzz_assert(n <= ngx_http_otp_b64url_decoded_len(size));
        m = ngx_http_otp_b64url_encode(bin, n, text);
        fuzz_assert(m == size && memcmp(text, data, size) == 0);
    }

    n = ngx_http_otp_b64url_encode(data, size, text);
    fuzz_assert(n == ngx_http_otp_b64url_encoded_len(size));
    fuzz_assert(ngx_http_otp_b64url_decode(text, n, bin, &m) == 0);
    fuzz_assert(m == size && memcmp(bin, data, size) == 0);
}


/* the input as a cookie or token: never accepted unless canonical */

static void
fuzz_forged(const uint8_t *data, size_t size)
{
    char     again[NGX_HTTP_OTP_SESSION_COOKIE_LEN];
    size_t   n;
    uint8_t  id[NGX_HTTP_OTP_SESSION_ID_LEN];
    uint8_t  payload[NGX_HTTP_OTP_SIGNED_MAX_PAYLOAD];

    if (ngx_http_otp_session_cookie_decode(fuzz_key, (const char *) data,
                                           size, id)
        == 0)
    {
        fuzz_assert(ngx_http_otp_session_cookie_encode(fuzz_key, id, again)
                    == 0);
        fuzz_assert(size == sizeof(again)
                    && memcmp(again, data, size) == 0);
    }

    (void) ngx_http_otp_signed_decode(fuzz_key, "device",
                                      (const char *) data, size, payload,
                                      sizeof(payload), &n);

    (void) ngx_http_otp_csrf_check(fuzz_key, "alice", 5, "", 0,
                                   (const char *) data, size, FUZZ_NOW,
                                   FUZZ_MAX_AGE);
}


/* a good value with the input XORed over it, possibly truncated */

static int
fuzz_mutate(const char *good, size_t len, const uint8_t *data, size_t size,
    char *buf, size_t *buf_len)
{
    int     changed;
    size_t  i;

    changed = 0;
    memcpy(buf, good, len);

    for (i = 0; i < len && i < size; i++) {
        buf[i] = (char) (buf[i] ^ data[i]);
        changed |= data[i] != 0;
    }

    *buf_len = len;

    if (size > len) {
        *buf_len = data[len] % (len + 1);
        changed |= *buf_len != len;
    }

    return changed;
}


static void
fuzz_altered(const uint8_t *data, size_t size)
{
    int      changed;
    char     cookie[NGX_HTTP_OTP_SESSION_COOKIE_LEN];
    char     token[NGX_HTTP_OTP_CSRF_LEN];
    char     buf[NGX_HTTP_OTP_SESSION_COOKIE_LEN + NGX_HTTP_OTP_CSRF_LEN];
    size_t   n;
    uint8_t  id[NGX_HTTP_OTP_SESSION_ID_LEN];

    memset(id, 0x42, sizeof(id));

    fuzz_assert(ngx_http_otp_session_cookie_encode(fuzz_key, id, cookie)
                == 0);

    changed = fuzz_mutate(cookie, sizeof(cookie), data, size, buf, &n);
    fuzz_assert(ngx_http_otp_session_cookie_decode(fuzz_key, buf, n, id)
                == (changed ? -1 : 0));

    fuzz_assert(ngx_http_otp_csrf_issue(fuzz_key, "alice", 5, "sid", 3,
                                        FUZZ_NOW, token)
                == 0);

    changed = fuzz_mutate(token, sizeof(token), data, size, buf, &n);
    fuzz_assert(ngx_http_otp_csrf_check(fuzz_key, "alice", 5, "sid", 3, buf,
                                        n, FUZZ_NOW, FUZZ_MAX_AGE)
                == (changed ? NGX_HTTP_OTP_TOKEN_BAD : NGX_HTTP_OTP_TOKEN_OK));
}


static void
fuzz_round_trips(const uint8_t *data, size_t size)
{
    int          rc;
    char         token[NGX_HTTP_OTP_CSRF_LEN];
    size_t       n, m, ulen, blen;
    uint8_t      payload[NGX_HTTP_OTP_SIGNED_MAX_PAYLOAD];
    const char  *user, *binding;
    static char  v[ngx_http_otp_signed_len(NGX_HTTP_OTP_SIGNED_MAX_PAYLOAD)];

    n = size < sizeof(payload) ? size : sizeof(payload);

    fuzz_assert(ngx_http_otp_signed_encode(fuzz_key, "device", data, n, v,
                                           &m)
                == 0);
    fuzz_assert(m == ngx_http_otp_signed_len(n));
    fuzz_assert(ngx_http_otp_signed_decode(fuzz_key, "device", v, m,
                                           payload, sizeof(payload), &m)
                == 0);
    fuzz_assert(m == n && memcmp(payload, data, n) == 0);

    /* first byte: user length; the rest: user, then binding */

    if (size == 0) {
        return;
    }

    ulen = data[0];
    user = (const char *) data + 1;

    if (ulen > size - 1) {
        ulen = size - 1;
    }

    binding = user + ulen;
    blen = size - 1 - ulen;

    rc = ngx_http_otp_csrf_issue(fuzz_key, user, ulen, binding, blen,
                                 FUZZ_NOW, token);

    if (ulen == 0 || memchr(user, '\0', ulen) != NULL
        || blen > NGX_HTTP_OTP_TOKEN_MAX_BINDING)
    {
        fuzz_assert(rc == -1);
        return;
    }

    fuzz_assert(rc == 0);
    fuzz_assert(ngx_http_otp_csrf_check(fuzz_key, user, ulen, binding, blen,
                                        token, sizeof(token), FUZZ_NOW,
                                        FUZZ_MAX_AGE)
                == NGX_HTTP_OTP_TOKEN_OK);
    fuzz_assert(ngx_http_otp_csrf_check(fuzz_key, user, ulen, binding, blen,
                                        token, sizeof(token),
                                        FUZZ_NOW + FUZZ_MAX_AGE + 1,
                                        FUZZ_MAX_AGE)
                == NGX_HTTP_OTP_TOKEN_EXPIRED);

    if (ulen > 1) {
        /* the same bytes split elsewhere are another user and binding */
        fuzz_assert(ngx_http_otp_csrf_check(fuzz_key, user, ulen - 1,
                                            binding - 1, blen + 1, token,
                                            sizeof(token), FUZZ_NOW,
                                            FUZZ_MAX_AGE)
                    == NGX_HTTP_OTP_TOKEN_BAD);
    }
}


static void
fuzz_code(const uint8_t *data, size_t size)
{
    char     norm[NGX_HTTP_OTP_CODE_MAX_LEN + 1];
    char     again[NGX_HTTP_OTP_CODE_MAX_LEN + 1];
    size_t   i, n, m;
    uint8_t  h[NGX_HTTP_OTP_MAC_LEN], h2[NGX_HTTP_OTP_MAC_LEN];
    int      rc;

    rc = ngx_http_otp_code_normalize((const char *) data, size, norm, &n);

    fuzz_assert(ngx_http_otp_code_hash(fuzz_key, "alice", 5,
                                       (const char *) data, size, h)
                == rc);

    if (rc != 0) {
        return;
    }

    fuzz_assert(n >= 1 && n <= NGX_HTTP_OTP_CODE_MAX_LEN);
    fuzz_assert(norm[n] == '\0');

    for (i = 0; i < n; i++) {
        fuzz_assert(norm[i] > 0x20 && norm[i] < 0x7f);
        fuzz_assert(norm[i] != '-' && !(norm[i] >= 'a' && norm[i] <= 'z'));
    }

    fuzz_assert(ngx_http_otp_code_normalize(norm, n, again, &m) == 0);
    fuzz_assert(m == n && memcmp(norm, again, n) == 0);

    fuzz_assert(ngx_http_otp_code_hash(fuzz_key, "alice", 5, norm, n, h2)
                == 0);
    fuzz_assert(memcmp(h, h2, sizeof(h)) == 0);
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_b64url(data, size);
    fuzz_forged(data, size);
    fuzz_altered(data, size);
    fuzz_round_trips(data, size);
    fuzz_code(data, size);

    return 0;
}

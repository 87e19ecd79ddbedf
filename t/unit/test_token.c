
/*
 * Cookie values, CSRF tokens, keyed code hashes and base64url.
 *
 * The fixed vectors were computed with Python's hmac and base64
 * modules, independently of this code; they pin the formats, so a
 * change here logs every user out and breaks stored code hashes.
 */


#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "tap.h"
#include "ngx_http_otp_crypto.h"
#include "ngx_http_otp_token.h"


#define NOW  1700000000


static uint8_t  key[NGX_HTTP_OTP_KEY_LEN];      /* 00 01 .. 1f */
static uint8_t  key2[NGX_HTTP_OTP_KEY_LEN];     /* 00 01 .. 1e 20 */


/* id 40 41 .. 5f */
static const char  *want_session =
    "1.QEFCQ0RFRkdISUpLTE1OT1BRUlNUVVZXWFlaW1xdXl8."
    "xQDsUYhxGD2swoBxgcvAIWoNrlHTi2fszkI52SQy1bA";

/* user "alice", binding "chal-1", issued at 1700000000 */
static const char  *want_csrf =
    "1.AAAAAGVT8QAMtG1azaFP4isC4hQQqx1Spravt11PeGfTna7C13iJgw";

/* purpose "device", payload "hello" */
static const char  *want_device =
    "1.aGVsbG8.WV-QWL2FBn8XM8mwci4H5oGO1XWBSz29IYLIpSt0EPw";

/* user "alice", code "ABCDEFGH" */
static const char  *want_code =
    "8c07423dd97762b164e95954eec59c970905b030dbfb4fc9e108efcfdbd72b31";


static const char *
hex(const uint8_t *p, size_t len)
{
    size_t       i;
    static char  buf[256];

    for (i = 0; i < len && i < sizeof(buf) / 2 - 1; i++) {
        sprintf(buf + 2 * i, "%02x", p[i]);
    }

    buf[2 * i] = '\0';

    return buf;
}


static int
b64_decode(const char *s, uint8_t *out, size_t *n)
{
    return ngx_http_otp_b64url_decode(s, strlen(s), out, n);
}


static void
test_b64url(void)
{
    int       ok;
    char      enc[200];
    size_t    i, len, n, m;
    uint8_t   src[128], dec[128];

    static const char  *vectors[][2] = {
        { "", "" },
        { "f", "Zg" },
        { "fo", "Zm8" },
        { "foo", "Zm9v" },
        { "foob", "Zm9vYg" },
        { "fooba", "Zm9vYmE" },
        { "foobar", "Zm9vYmFy" },
        { "\xfb\xff", "-_8" },
        { "\xff\xff\xff", "____" },
        { "\xfb\xef\xbe", "----" }
    };

    static const char  *bad[] = {
        "Zg==",         /* no padding */
        "Zg=",
        "Zm9v====",
        "=",
        "Z",            /* 4n + 1 */
        "Zm9vY",
        "Zh",           /* "f" is Zg: unused bits set */
        "Zm9",          /* "fo" is Zm8 */
        "Zm9vYh",
        "Zm9+",         /* standard alphabet */
        "Zm9/",
        "Zm 9v",
        " Zm9v",
        "Zm9v\n",
        "Zm9v.",
        "Zm\0v",
        "Zm9v\xc3\xa9",
        "Zm9\x80",
    };

    for (i = 0; i < sizeof(vectors) / sizeof(vectors[0]); i++) {
        len = strlen(vectors[i][0]);

        n = ngx_http_otp_b64url_encode((const uint8_t *) vectors[i][0], len,
                                       enc);
        enc[n] = '\0';
        tap_is_str(enc, vectors[i][1], "b64url encode of %zu bytes", len);

        tap_ok(b64_decode(vectors[i][1], dec, &m) == 0 && m == len
               && memcmp(dec, vectors[i][0], len) == 0,
               "b64url decode \"%s\"", vectors[i][1]);
    }

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        tap_ok(b64_decode(bad[i], dec, &m) == -1, "b64url refuses #%zu",
               i);
    }

    tap_ok(ngx_http_otp_b64url_decode("Zm\0v", 4, dec, &m) == -1,
           "b64url refuses an embedded NUL");

    ok = 1;

    for (len = 0; len <= sizeof(src); len++) {
        if (ngx_http_otp_random(src, len) != 0) {
            ok = 0;
            break;
        }

        n = ngx_http_otp_b64url_encode(src, len, enc);

        if (n != ngx_http_otp_b64url_encoded_len(len)
            || ngx_http_otp_b64url_decoded_len(n) < len
            || ngx_http_otp_b64url_decode(enc, n, dec, &m) != 0
            || m != len || memcmp(src, dec, len) != 0)
        {
            ok = 0;
            tap_diag("round trip of %zu bytes failed", len);
        }
    }

    tap_ok(ok, "random round trips of 0..128 bytes");
}


/* every single-byte change, every truncation, every deletion */

static int
mutations(const char *good, int (*check)(const char *, size_t),
    size_t *tried)
{
    int     ok;
    char    buf[1024];
    size_t  len, i, j;
    int     c;

    len = strlen(good);
    ok = 1;
    *tried = 0;

    for (i = 0; i < len; i++) {
        for (c = 0; c < 256; c++) {
            if (c == (unsigned char) good[i]) {
                continue;
            }

            memcpy(buf, good, len);
            buf[i] = (char) c;
            (*tried)++;

            if (check(buf, len)) {
                ok = 0;
                tap_diag("accepted with byte %zu as 0x%02x", i, c);
            }
        }
    }

    for (i = 0; i < len; i++) {
        (*tried)++;

        if (check(good, i)) {
            ok = 0;
            tap_diag("accepted truncated to %zu", i);
        }

        for (j = 0, c = 0; j < len; j++) {
            if (j != i) {
                buf[c++] = good[j];
            }
        }

        (*tried)++;

        if (check(buf, len - 1)) {
            ok = 0;
            tap_diag("accepted without byte %zu", i);
        }
    }

    for (c = 0; c < 256; c++) {
        memcpy(buf, good, len);
        buf[len] = (char) c;
        (*tried)++;

        if (check(buf, len + 1)) {
            ok = 0;
            tap_diag("accepted with 0x%02x appended", c);
        }
    }

    return ok;
}


static int
session_ok(const char *s, size_t len)
{
    uint8_t  id[NGX_HTTP_OTP_SESSION_ID_LEN];

    return ngx_http_otp_session_cookie_decode(key, s, len, id) == 0;
}


static int
csrf_ok(const char *s, size_t len)
{
    return ngx_http_otp_csrf_check(key, "alice", 5, "chal-1", 6, s, len,
                                   NOW, 3600)
           != NGX_HTTP_OTP_TOKEN_BAD;
}


static int
device_ok(const char *s, size_t len)
{
    size_t   n;
    uint8_t  p[NGX_HTTP_OTP_SIGNED_MAX_PAYLOAD];

    return ngx_http_otp_signed_decode(key, "device", s, len, p, sizeof(p),
                                      &n)
           == 0;
}


static void
test_session(void)
{
    char     c[NGX_HTTP_OTP_SESSION_COOKIE_LEN + 1];
    size_t   i, tried;
    uint8_t  id[NGX_HTTP_OTP_SESSION_ID_LEN], id2[NGX_HTTP_OTP_SESSION_ID_LEN];
    uint8_t  got[NGX_HTTP_OTP_SESSION_ID_LEN];

    tap_ok(NGX_HTTP_OTP_SESSION_COOKIE_LEN == 89, "cookie is 89 chars");

    for (i = 0; i < sizeof(id); i++) {
        id[i] = (uint8_t) (0x40 + i);
    }

    tap_ok(ngx_http_otp_session_cookie_encode(key, id, c) == 0,
           "session cookie encoded");
    c[NGX_HTTP_OTP_SESSION_COOKIE_LEN] = '\0';
    tap_is_str(c, want_session, "session cookie vector");

    memset(got, 0, sizeof(got));
    tap_ok(ngx_http_otp_session_cookie_decode(key, c, strlen(c), got) == 0
           && memcmp(got, id, sizeof(id)) == 0, "session cookie decoded");

    memset(got, 0, sizeof(got));
    tap_ok(ngx_http_otp_session_cookie_decode(key2, c, strlen(c), got)
           == -1, "other key refused");

    tap_ok(ngx_http_otp_session_id_new(id) == 0
           && ngx_http_otp_session_id_new(id2) == 0
           && memcmp(id, id2, sizeof(id)) != 0, "fresh ids differ");

    tap_ok(ngx_http_otp_session_cookie_encode(key, id, c) == 0
           && ngx_http_otp_session_cookie_decode(key, c,
                  NGX_HTTP_OTP_SESSION_COOKIE_LEN, got) == 0
           && memcmp(got, id, sizeof(id)) == 0, "random id round trip");

    tap_ok(mutations(want_session, session_ok, &tried),
           "every altered session cookie refused (%zu variants)", tried);

    tap_ok(!session_ok("", 0), "empty cookie refused");
    tap_ok(!session_ok(want_session, strlen(want_session) + 1),
           "cookie with its NUL refused");
}


static void
test_signed(void)
{
    char     v[ngx_http_otp_signed_len(NGX_HTTP_OTP_SIGNED_MAX_PAYLOAD) + 1];
    char     purpose[40];
    size_t   n, m, tried;
    uint8_t  p[NGX_HTTP_OTP_SIGNED_MAX_PAYLOAD + 1];
    uint8_t  id[NGX_HTTP_OTP_SESSION_ID_LEN];

    tap_ok(ngx_http_otp_signed_encode(key, "device",
                                      (const uint8_t *) "hello", 5, v, &n)
           == 0 && n == ngx_http_otp_signed_len(5), "signed value encoded");
    v[n] = '\0';
    tap_is_str(v, want_device, "signed value vector");

    tap_ok(ngx_http_otp_signed_decode(key, "device", v, n, p, sizeof(p), &m)
           == 0 && m == 5 && memcmp(p, "hello", 5) == 0,
           "signed value decoded");
    tap_ok(ngx_http_otp_signed_decode(key, "devices", v, n, p, sizeof(p),
                                      &m) == -1, "other purpose refused");
    tap_ok(ngx_http_otp_signed_decode(key2, "device", v, n, p, sizeof(p),
                                      &m) == -1, "other key refused");
    tap_ok(ngx_http_otp_signed_decode(key, "device", v, n, p, 4, &m) == -1,
           "payload larger than the buffer refused");

    tap_ok(mutations(want_device, device_ok, &tried),
           "every altered signed value refused (%zu variants)", tried);

    /* a device value of session size does not pass for a session */

    memset(id, 0x5a, sizeof(id));
    tap_ok(ngx_http_otp_signed_encode(key, "device", id, sizeof(id), v, &n)
           == 0 && n == NGX_HTTP_OTP_SESSION_COOKIE_LEN
           && !session_ok(v, n), "device value is no session cookie");

    tap_ok(ngx_http_otp_signed_encode(key, "session", id, sizeof(id), v, &n)
           == 0 && session_ok(v, n), "same value as a session passes");

    tap_ok(ngx_http_otp_signed_encode(key, "device", NULL, 0, v, &n) == 0
           && ngx_http_otp_signed_decode(key, "device", v, n, NULL, 0, &m)
              == 0 && m == 0, "empty payload");

    memset(p, 0xa5, sizeof(p));
    tap_ok(ngx_http_otp_signed_encode(key, "device", p,
                                      NGX_HTTP_OTP_SIGNED_MAX_PAYLOAD, v, &n)
           == 0 && ngx_http_otp_signed_decode(key, "device", v, n, p,
                                              sizeof(p), &m) == 0
           && m == NGX_HTTP_OTP_SIGNED_MAX_PAYLOAD, "largest payload");
    tap_ok(ngx_http_otp_signed_encode(key, "device", p,
                                      NGX_HTTP_OTP_SIGNED_MAX_PAYLOAD + 1, v,
                                      &n) == -1, "payload over the maximum");

    tap_ok(ngx_http_otp_signed_encode(key, "", p, 1, v, &n) == -1,
           "empty purpose refused");

    memset(purpose, 'p', sizeof(purpose));
    purpose[NGX_HTTP_OTP_SIGNED_MAX_PURPOSE] = '\0';
    tap_ok(ngx_http_otp_signed_encode(key, purpose, p, 1, v, &n) == 0,
           "purpose of the maximum length");
    purpose[NGX_HTTP_OTP_SIGNED_MAX_PURPOSE] = 'p';
    purpose[NGX_HTTP_OTP_SIGNED_MAX_PURPOSE + 1] = '\0';
    tap_ok(ngx_http_otp_signed_encode(key, purpose, p, 1, v, &n) == -1,
           "purpose over the maximum refused");
}


static int
check(const char *t, const char *user, const char *binding, int64_t now,
    int64_t max_age)
{
    return ngx_http_otp_csrf_check(key, user, strlen(user), binding,
                                   strlen(binding), t, strlen(t), now,
                                   max_age);
}


static void
test_csrf(void)
{
    char    t[NGX_HTTP_OTP_CSRF_LEN + 1], t2[NGX_HTTP_OTP_CSRF_LEN + 1];
    char    user[NGX_HTTP_OTP_TOKEN_MAX_USER + 2];
    char    binding[NGX_HTTP_OTP_TOKEN_MAX_BINDING + 2];
    size_t  tried;

    tap_ok(NGX_HTTP_OTP_CSRF_LEN == 56, "token is 56 chars");

    tap_ok(ngx_http_otp_csrf_issue(key, "alice", 5, "chal-1", 6, NOW, t)
           == 0, "token issued");
    t[NGX_HTTP_OTP_CSRF_LEN] = '\0';
    tap_is_str(t, want_csrf, "token vector");

    tap_ok(check(t, "alice", "chal-1", NOW, 3600) == NGX_HTTP_OTP_TOKEN_OK,
           "token valid");
    tap_ok(check(t, "bob", "chal-1", NOW, 3600) == NGX_HTTP_OTP_TOKEN_BAD,
           "other user refused");
    tap_ok(check(t, "Alice", "chal-1", NOW, 3600) == NGX_HTTP_OTP_TOKEN_BAD,
           "user compared exactly");
    tap_ok(check(t, "alice", "chal-2", NOW, 3600) == NGX_HTTP_OTP_TOKEN_BAD,
           "other binding refused");
    tap_ok(check(t, "alice", "", NOW, 3600) == NGX_HTTP_OTP_TOKEN_BAD,
           "empty binding refused");
    tap_ok(ngx_http_otp_csrf_check(key2, "alice", 5, "chal-1", 6, t,
                                   strlen(t), NOW, 3600)
           == NGX_HTTP_OTP_TOKEN_BAD, "other key refused");

    /* the NUL between user and binding keeps the split unambiguous */

    tap_ok(ngx_http_otp_csrf_issue(key, "ab", 2, "c", 1, NOW, t2) == 0,
           "token for ab|c");
    t2[NGX_HTTP_OTP_CSRF_LEN] = '\0';
    tap_ok(check(t2, "a", "bc", NOW, 60) == NGX_HTTP_OTP_TOKEN_BAD,
           "not valid for a|bc");
    tap_ok(check(t2, "ab", "c", NOW, 60) == NGX_HTTP_OTP_TOKEN_OK,
           "valid for ab|c");

    tap_ok(ngx_http_otp_csrf_issue(key, "alice", 5, NULL, 0, NOW, t2) == 0,
           "token without a binding");
    t2[NGX_HTTP_OTP_CSRF_LEN] = '\0';
    tap_ok(check(t2, "alice", "", NOW, 60) == NGX_HTTP_OTP_TOKEN_OK,
           "valid without a binding");
    tap_ok(check(t2, "alice", "x", NOW, 60) == NGX_HTTP_OTP_TOKEN_BAD,
           "not valid with one");

    /* time */

    tap_ok(check(t, "alice", "chal-1", NOW + 3600, 3600)
           == NGX_HTTP_OTP_TOKEN_OK, "valid at exactly max_age");
    tap_ok(check(t, "alice", "chal-1", NOW + 3601, 3600)
           == NGX_HTTP_OTP_TOKEN_EXPIRED, "expired after max_age");
    tap_ok(check(t, "alice", "chal-1", NOW, 0) == NGX_HTTP_OTP_TOKEN_OK,
           "max_age 0 and no time passed");
    tap_ok(check(t, "alice", "chal-1", NOW + 1, 0)
           == NGX_HTTP_OTP_TOKEN_EXPIRED, "max_age 0, a second later");
    tap_ok(check(t, "bob", "chal-1", NOW + 9999, 3600)
           == NGX_HTTP_OTP_TOKEN_BAD, "forged and old is bad, not expired");
    tap_ok(check(t, "alice", "chal-1", NOW - NGX_HTTP_OTP_CSRF_SLACK, 3600)
           == NGX_HTTP_OTP_TOKEN_OK, "issued within the slack ahead");
    tap_ok(check(t, "alice", "chal-1", NOW - NGX_HTTP_OTP_CSRF_SLACK - 1,
                 3600) == NGX_HTTP_OTP_TOKEN_BAD, "too far in the future");
    tap_ok(check(t, "alice", "chal-1", -1, 3600) == NGX_HTTP_OTP_TOKEN_BAD,
           "negative clock refused");
    tap_ok(check(t, "alice", "chal-1", NOW, -1) == NGX_HTTP_OTP_TOKEN_BAD,
           "negative max_age refused");
    tap_ok(ngx_http_otp_csrf_issue(key, "alice", 5, "", 0, -1, t2) == -1,
           "negative issue time refused");

    tap_ok(ngx_http_otp_csrf_issue(key, "alice", 5, "", 0, INT64_MAX, t2)
           == 0, "token at the end of time");
    t2[NGX_HTTP_OTP_CSRF_LEN] = '\0';
    tap_ok(check(t2, "alice", "", INT64_MAX, INT64_MAX)
           == NGX_HTTP_OTP_TOKEN_OK && check(t2, "alice", "", 0, INT64_MAX)
           == NGX_HTTP_OTP_TOKEN_BAD, "no overflow at the end of time");

    tap_ok(mutations(want_csrf, csrf_ok, &tried),
           "every altered token refused (%zu variants)", tried);

    /* users and bindings */

    tap_ok(ngx_http_otp_csrf_issue(key, "", 0, "", 0, NOW, t2) == -1,
           "empty user refused");
    tap_ok(ngx_http_otp_csrf_issue(key, "a\0b", 3, "", 0, NOW, t2) == -1,
           "user with NUL refused");
    tap_ok(ngx_http_otp_csrf_check(key, "a\0b", 3, "", 0, t, strlen(t), NOW,
                                   60) == NGX_HTTP_OTP_TOKEN_BAD,
           "check with a NUL user is bad");

    memset(user, 'u', sizeof(user));
    memset(binding, 'b', sizeof(binding));

    tap_ok(ngx_http_otp_csrf_issue(key, user, NGX_HTTP_OTP_TOKEN_MAX_USER,
                                   binding, NGX_HTTP_OTP_TOKEN_MAX_BINDING,
                                   NOW, t2) == 0
           && ngx_http_otp_csrf_check(key, user, NGX_HTTP_OTP_TOKEN_MAX_USER,
                                      binding,
                                      NGX_HTTP_OTP_TOKEN_MAX_BINDING, t2,
                                      NGX_HTTP_OTP_CSRF_LEN, NOW, 60)
              == NGX_HTTP_OTP_TOKEN_OK, "longest user and binding");
    tap_ok(ngx_http_otp_csrf_issue(key, user,
                                   NGX_HTTP_OTP_TOKEN_MAX_USER + 1, "", 0,
                                   NOW, t2) == -1, "user too long");
    tap_ok(ngx_http_otp_csrf_issue(key, "alice", 5, binding,
                                   NGX_HTTP_OTP_TOKEN_MAX_BINDING + 1, NOW,
                                   t2) == -1, "binding too long");

    tap_ok(ngx_http_otp_csrf_issue(key, "alice", 5, "s", 1, NOW, t) == 0
           && ngx_http_otp_csrf_issue(key, "alice", 5, "s", 1, NOW + 1, t2)
              == 0 && memcmp(t, t2, NGX_HTTP_OTP_CSRF_LEN) != 0,
           "tokens of different seconds differ");
}


static int
hash_str(const uint8_t *k, const char *user, const char *code, uint8_t *out)
{
    return ngx_http_otp_code_hash(k, user, strlen(user), code, strlen(code),
                                  out);
}


static void
test_code(void)
{
    char     norm[NGX_HTTP_OTP_CODE_MAX_LEN + 1], code[100];
    size_t   i, n;
    uint8_t  h[NGX_HTTP_OTP_MAC_LEN], h2[NGX_HTTP_OTP_MAC_LEN];

    static const char  *same[] = {
        "abcdefgh", "abcd-efgh", "ABCD EFGH", "AbCd-EfGh", " ab-cd ef-gh ",
        "a-b-c-d-e-f-g-h", "--abcdefgh--"
    };

    static const char  *bad[] = {
        "", " ", "-", " - - ", "abc\tdef", "abc\ndef", "abc\x7f",
        "caf\xc3\xa9", "a\x01"
    };

    tap_ok(hash_str(key, "alice", "ABCDEFGH", h) == 0, "code hashed");
    tap_is_str(hex(h, sizeof(h)), want_code, "code hash vector");

    for (i = 0; i < sizeof(same) / sizeof(same[0]); i++) {
        tap_ok(hash_str(key, "alice", same[i], h2) == 0
               && memcmp(h, h2, sizeof(h)) == 0, "same code: \"%s\"",
               same[i]);
    }

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        tap_ok(ngx_http_otp_code_hash(key, "alice", 5, bad[i],
                                      strlen(bad[i]), h2) == -1,
               "code refused #%zu", i);
    }

    tap_ok(ngx_http_otp_code_hash(key, "alice", 5, "ab\0cd", 5, h2) == -1,
           "code with NUL refused");

    tap_ok(hash_str(key, "bob", "ABCDEFGH", h2) == 0
           && memcmp(h, h2, sizeof(h)) != 0, "other user, other hash");
    tap_ok(hash_str(key2, "alice", "ABCDEFGH", h2) == 0
           && memcmp(h, h2, sizeof(h)) != 0, "other key, other hash");
    tap_ok(hash_str(key, "alice", "ABCDEFGI", h2) == 0
           && memcmp(h, h2, sizeof(h)) != 0, "other code, other hash");
    tap_ok(hash_str(key, "alice", "ABCDEFGH0", h2) == 0
           && memcmp(h, h2, sizeof(h)) != 0, "longer code, other hash");
    tap_ok(hash_str(key, "", "ABCDEFGH", h2) == -1, "empty user refused");
    tap_ok(ngx_http_otp_code_hash(key, "al\0ce", 5, "ABCD", 4, h2) == -1,
           "user with NUL refused");

    memset(code, '7', sizeof(code));
    tap_ok(ngx_http_otp_code_hash(key, "alice", 5, code,
                                  NGX_HTTP_OTP_CODE_MAX_LEN, h2) == 0,
           "code of the maximum length");
    tap_ok(ngx_http_otp_code_hash(key, "alice", 5, code,
                                  NGX_HTTP_OTP_CODE_MAX_LEN + 1, h2) == -1,
           "code over the maximum refused");

    code[0] = '-';
    code[1] = ' ';
    tap_ok(ngx_http_otp_code_hash(key, "alice", 5, code,
                                  NGX_HTTP_OTP_CODE_MAX_LEN + 2, h2) == 0,
           "separators do not count towards the maximum");

    tap_ok(ngx_http_otp_code_normalize(" x7k-9q2 ", 9, norm, &n) == 0
           && n == 6, "normalized");
    tap_is_str(norm, "X7K9Q2", "normalized value");
}


int
main(void)
{
    size_t  i;

    for (i = 0; i < sizeof(key); i++) {
        key[i] = (uint8_t) i;
        key2[i] = (uint8_t) i;
    }

    key2[sizeof(key2) - 1] = 0x20;

    test_b64url();
    test_session();
    test_signed();
    test_csrf();
    test_code();

    return tap_done();
}

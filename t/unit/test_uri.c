
/*
 * otpauth:// URIs: exact strings for plain and awkward names, and
 * uri_max_len as a true upper bound (every build goes into a buffer of
 * exactly max_len bytes, so ASan catches an overrun).
 */


#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tap.h"
#include "ngx_http_otp_crypto.h"
#include "ngx_http_otp_uri.h"


#define S20  "12345678901234567890"
#define S32  "12345678901234567890123456789012"
#define S64  "1234567890123456789012345678901234567890123456789012345678901234"

#define B20  "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"
#define B32  "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQGEZA"
#define B64  "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"           \
             "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQGEZDGNA"


typedef struct {
    const char          *name;
    int                  hotp;
    const char          *issuer;
    const char          *account;
    const char          *secret;
    ngx_http_otp_alg_e   alg;
    unsigned             digits;
    unsigned             period;
    uint64_t             counter;
    const char          *want;
} test_uri_case_t;


static const test_uri_case_t  cases[] = {

    { "plain", 0, "Example", "alice@example.com", S20,
      NGX_HTTP_OTP_SHA1, 6, 30, 0,
      "otpauth://totp/Example:alice%40example.com?secret=" B20
      "&issuer=Example&algorithm=SHA1&digits=6&period=30" },

    { "spaces", 0, "ACME Co", "john doe", S20,
      NGX_HTTP_OTP_SHA1, 6, 30, 0,
      "otpauth://totp/ACME%20Co:john%20doe?secret=" B20
      "&issuer=ACME%20Co&algorithm=SHA1&digits=6&period=30" },

    { "colons", 0, "a:b", "c:d", S20,
      NGX_HTTP_OTP_SHA1, 6, 30, 0,
      "otpauth://totp/a%3Ab:c%3Ad?secret=" B20
      "&issuer=a%3Ab&algorithm=SHA1&digits=6&period=30" },

    { "URI delimiters", 0, "A&B/C?D=E+F%G", "x y+z=1&2/3?4#5", S20,
      NGX_HTTP_OTP_SHA1, 6, 30, 0,
      "otpauth://totp/A%26B%2FC%3FD%3DE%2BF%25G:"
      "x%20y%2Bz%3D1%262%2F3%3F4%235?secret=" B20
      "&issuer=A%26B%2FC%3FD%3DE%2BF%25G&algorithm=SHA1&digits=6"
      "&period=30" },

    { "UTF-8", 0, "Z\xc3\xbcrich", "\xe6\x97\xa5\xe6\x9c\xac", S20,
      NGX_HTTP_OTP_SHA1, 6, 30, 0,
      "otpauth://totp/Z%C3%BCrich:%E6%97%A5%E6%9C%AC?secret=" B20
      "&issuer=Z%C3%BCrich&algorithm=SHA1&digits=6&period=30" },

    { "unreserved kept", 0, "a-b.c_d~e", "AZaz09", S20,
      NGX_HTTP_OTP_SHA1, 6, 30, 0,
      "otpauth://totp/a-b.c_d~e:AZaz09?secret=" B20
      "&issuer=a-b.c_d~e&algorithm=SHA1&digits=6&period=30" },

    { "no issuer", 0, "", "alice", S20,
      NGX_HTTP_OTP_SHA1, 6, 30, 0,
      "otpauth://totp/alice?secret=" B20
      "&algorithm=SHA1&digits=6&period=30" },

    { "hotp", 1, "Example", "bob", S20,
      NGX_HTTP_OTP_SHA1, 6, 30, 42,
      "otpauth://hotp/Example:bob?secret=" B20
      "&issuer=Example&algorithm=SHA1&digits=6&counter=42" },

    { "hotp counter 0", 1, "Example", "bob", S20,
      NGX_HTTP_OTP_SHA1, 6, 0, 0,
      "otpauth://hotp/Example:bob?secret=" B20
      "&issuer=Example&algorithm=SHA1&digits=6&counter=0" },

    { "hotp largest counter", 1, "E", "b", S20,
      NGX_HTTP_OTP_SHA1, 8, 0, UINT64_MAX,
      "otpauth://hotp/E:b?secret=" B20
      "&issuer=E&algorithm=SHA1&digits=8&counter=18446744073709551615" },

    { "SHA256, 8 digits", 0, "Example", "alice", S32,
      NGX_HTTP_OTP_SHA256, 8, 30, 0,
      "otpauth://totp/Example:alice?secret=" B32
      "&issuer=Example&algorithm=SHA256&digits=8&period=30" },

    { "SHA512, 60 s", 0, "Example", "alice", S64,
      NGX_HTTP_OTP_SHA512, 6, 60, 0,
      "otpauth://totp/Example:alice?secret=" B64
      "&issuer=Example&algorithm=SHA512&digits=6&period=60" },

    { "largest period", 0, "I", "a", S20,
      NGX_HTTP_OTP_SHA512, 10, 4294967295u, 0,
      "otpauth://totp/I:a?secret=" B20
      "&issuer=I&algorithm=SHA512&digits=10&period=4294967295" }
};


static void
uri_fill(ngx_http_otp_uri_t *u, const test_uri_case_t *c)
{
    memset(u, 0, sizeof(ngx_http_otp_uri_t));

    u->hotp = c->hotp;
    u->issuer = c->issuer;
    u->issuer_len = strlen(c->issuer);
    u->account = c->account;
    u->account_len = strlen(c->account);
    u->secret = (const uint8_t *) c->secret;
    u->secret_len = strlen(c->secret);
    u->alg = c->alg;
    u->digits = c->digits;
    u->period = c->period;
    u->counter = c->counter;
}


/* builds into a buffer of exactly max_len bytes; NULL on failure */

static char *
uri_make(const ngx_http_otp_uri_t *u, size_t *len, size_t *max)
{
    char  *buf, *s;

    *max = ngx_http_otp_uri_max_len(u);

    buf = malloc(*max > 0 ? *max : 1);
    if (buf == NULL) {
        return NULL;
    }

    *len = ngx_http_otp_uri_build(u, buf);

    s = malloc(*len + 1);
    if (s != NULL) {
        memcpy(s, buf, *len);
        s[*len] = '\0';
    }

    free(buf);

    return s;
}


static void
test_cases(void)
{
    char                *s;
    size_t               i, len, max;
    ngx_http_otp_uri_t   u;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        uri_fill(&u, &cases[i]);

        s = uri_make(&u, &len, &max);
        tap_is_str(s, cases[i].want, "%s", cases[i].name);
        tap_ok(len <= max, "%s: length %zu within max_len %zu",
               cases[i].name, len, max);
        free(s);
    }
}


static void
test_random(void)
{
    int                  ok;
    char                *s;
    size_t               i, len, max;
    uint8_t              rnd[4], issuer[200], account[200], secret[64];
    ngx_http_otp_uri_t   u;

    ok = 1;

    for (i = 0; i < 500; i++) {
        if (ngx_http_otp_random(rnd, sizeof(rnd)) != 0
            || ngx_http_otp_random(issuer, sizeof(issuer)) != 0
            || ngx_http_otp_random(account, sizeof(account)) != 0
            || ngx_http_otp_random(secret, sizeof(secret)) != 0)
        {
            ok = 0;
            break;
        }

        memset(&u, 0, sizeof(ngx_http_otp_uri_t));

        u.hotp = rnd[0] & 1;
        u.issuer = (const char *) issuer;
        u.issuer_len = rnd[1] % sizeof(issuer);
        u.account = (const char *) account;
        u.account_len = rnd[2] % sizeof(account);
        u.secret = secret;
        u.secret_len = rnd[3] % sizeof(secret);
        u.alg = (ngx_http_otp_alg_e) (rnd[0] % 3);
        u.digits = 10;
        u.period = 4294967295u;
        u.counter = UINT64_MAX;

        s = uri_make(&u, &len, &max);

        if (s == NULL || len == 0 || len > max
            || strncmp(s, u.hotp ? "otpauth://hotp/" : "otpauth://totp/",
                       15) != 0
            || strspn(s + 15, "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
                              "abcdefghijklmnopqrstuvwxyz"
                              "0123456789-._~%:?&=") != len - 15)
        {
            ok = 0;
            tap_diag("random case %zu failed", i);
        }

        free(s);
    }

    tap_ok(ok, "random binary names: within max_len, only URI-safe "
           "characters");
}


static void
test_bad(void)
{
    char                 buf[512];
    ngx_http_otp_uri_t   u;

    uri_fill(&u, &cases[0]);
    u.alg = (ngx_http_otp_alg_e) 9;
    tap_ok(ngx_http_otp_uri_build(&u, buf) == 0, "unknown algorithm");

    uri_fill(&u, &cases[0]);
    u.account = NULL;
    tap_ok(ngx_http_otp_uri_build(&u, buf) == 0, "NULL account");

    uri_fill(&u, &cases[0]);
    u.secret = NULL;
    tap_ok(ngx_http_otp_uri_build(&u, buf) == 0, "NULL secret");

    uri_fill(&u, &cases[0]);
    u.issuer_len = SIZE_MAX / 2;
    tap_ok(ngx_http_otp_uri_max_len(&u) == 0
           && ngx_http_otp_uri_build(&u, buf) == 0, "absurd length");

    tap_ok(ngx_http_otp_uri_max_len(NULL) == 0
           && ngx_http_otp_uri_build(NULL, buf) == 0, "NULL uri");
}


int
main(void)
{
    test_cases();
    test_random();
    test_bad();

    return tap_done();
}


/*
 * HOTP and TOTP against RFC 4226 Appendix D and RFC 6238 Appendix B,
 * the verify windows, and malformed codes.
 *
 * "test_hotp batch" reads cases from stdin instead, one a line:
 *     totp <hex key> <sha1|sha256|sha512> <digits> <period> <time>
 *     hotp <hex key> <sha1|sha256|sha512> <digits> <counter>
 * and prints one code a line (t/015-oathtool.t compares them).
 */


#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tap.h"
#include "ngx_http_otp_hotp.h"


typedef struct {
    uint64_t      counter;
    const char   *hotp;       /* 6 digits */
    const char   *trunc;      /* the 31-bit value, in decimal */
} test_hotp_vector_t;


typedef struct {
    int64_t       time;
    uint64_t      step;
    const char   *sha1;
    const char   *sha256;
    const char   *sha512;
} test_totp_vector_t;


static const char  seed20[] = "12345678901234567890";
static const char  seed32[] = "12345678901234567890123456789012";
static const char  seed64[] =
    "1234567890123456789012345678901234567890123456789012345678901234";


/* RFC 4226, Appendix D */
static const test_hotp_vector_t  hotp_vectors[] = {
    { 0, "755224", "1284755224" },
    { 1, "287082", "1094287082" },
    { 2, "359152", "137359152" },
    { 3, "969429", "1726969429" },
    { 4, "338314", "1640338314" },
    { 5, "254676", "868254676" },
    { 6, "287922", "1918287922" },
    { 7, "162583", "82162583" },
    { 8, "399871", "673399871" },
    { 9, "520489", "645520489" }
};


/* RFC 6238, Appendix B */
static const test_totp_vector_t  totp_vectors[] = {
    { 59LL, 0x1, "94287082", "46119246", "90693936" },
    { 1111111109LL, 0x23523EC, "07081804", "68084774", "25091201" },
    { 1111111111LL, 0x23523ED, "14050471", "67062674", "99943326" },
    { 1234567890LL, 0x273EF07, "89005924", "91819424", "93441116" },
    { 2000000000LL, 0x3F940AA, "69279037", "90698825", "38618901" },
    { 20000000000LL, 0x27BC86AA, "65353130", "77737706", "47863826" }
};


static int
hex_decode(const char *hex, uint8_t *out, size_t max, size_t *len)
{
    size_t        i, n;
    unsigned int  byte;

    n = strlen(hex);
    if (n % 2 != 0 || n / 2 > max) {
        return -1;
    }

    for (i = 0; i < n / 2; i++) {
        if (sscanf(hex + 2 * i, "%2x", &byte) != 1) {
            return -1;
        }
        out[i] = (uint8_t) byte;
    }

    *len = n / 2;

    return 0;
}


static int
alg_parse(const char *name, ngx_http_otp_alg_e *alg)
{
    if (strcmp(name, "sha1") == 0) {
        *alg = NGX_HTTP_OTP_SHA1;

    } else if (strcmp(name, "sha256") == 0) {
        *alg = NGX_HTTP_OTP_SHA256;

    } else if (strcmp(name, "sha512") == 0) {
        *alg = NGX_HTTP_OTP_SHA512;

    } else {
        return -1;
    }

    return 0;
}


static int
batch(void)
{
    char                 line[1024], mode[8], hex[300], name[8];
    char                 out[NGX_HTTP_OTP_MAX_DIGITS + 1];
    size_t               key_len;
    uint8_t              key[150];
    uint32_t             code;
    uint64_t             counter;
    unsigned             digits, period;
    long long            t;
    ngx_http_otp_alg_e   alg;

    while (fgets(line, sizeof(line), stdin) != NULL) {

        if (sscanf(line, "%7s %299s %7s %u", mode, hex, name, &digits) != 4
            || hex_decode(hex, key, sizeof(key), &key_len) != 0
            || alg_parse(name, &alg) != 0)
        {
            fprintf(stderr, "bad line: %s", line);
            return 2;
        }

        if (strcmp(mode, "totp") == 0) {
            if (sscanf(line, "%*s %*s %*s %*u %u %lld", &period, &t) != 2
                || period == 0)
            {
                fprintf(stderr, "bad line: %s", line);
                return 2;
            }

            counter = ngx_http_otp_totp_step(t, 0, period);

        } else if (sscanf(line, "%*s %*s %*s %*u %" SCNu64, &counter) != 1) {
            fprintf(stderr, "bad line: %s", line);
            return 2;
        }

        if (ngx_http_otp_hotp(key, key_len, alg, counter, digits, &code)
            != 0)
        {
            fprintf(stderr, "hotp failed: %s", line);
            return 1;
        }

        ngx_http_otp_code_format(code, digits, out);
        printf("%s\n", out);
    }

    return 0;
}


static void
test_rfc4226(void)
{
    char       buf[NGX_HTTP_OTP_MAX_DIGITS + 1];
    size_t     i;
    uint32_t   code;
    int        rc;

    for (i = 0; i < sizeof(hotp_vectors) / sizeof(hotp_vectors[0]); i++) {
        rc = ngx_http_otp_hotp((const uint8_t *) seed20, 20,
                               NGX_HTTP_OTP_SHA1, hotp_vectors[i].counter,
                               6, &code);
        ngx_http_otp_code_format(code, 6, buf);
        tap_ok(rc == 0, "hotp counter %zu", i);
        tap_is_str(buf, hotp_vectors[i].hotp, "RFC 4226 HOTP counter %zu",
                   i);

        /* 10 digits yield the truncated 31-bit value itself */
        rc = ngx_http_otp_hotp((const uint8_t *) seed20, 20,
                               NGX_HTTP_OTP_SHA1, hotp_vectors[i].counter,
                               10, &code);
        snprintf(buf, sizeof(buf), "%" PRIu32, code);
        tap_ok(rc == 0, "hotp 10 digits counter %zu", i);
        tap_is_str(buf, hotp_vectors[i].trunc,
                   "RFC 4226 truncated value counter %zu", i);
    }
}


static void
test_one_totp(const char *seed, size_t seed_len, ngx_http_otp_alg_e alg,
    const char *alg_name, const test_totp_vector_t *v, const char *want)
{
    int        rc;
    char       buf[NGX_HTTP_OTP_MAX_DIGITS + 1];
    uint32_t   code;
    uint64_t   step, matched;

    step = ngx_http_otp_totp_step(v->time, 0, 30);
    tap_ok(step == v->step, "step of %lld", (long long) v->time);

    rc = ngx_http_otp_hotp((const uint8_t *) seed, seed_len, alg, step, 8,
                           &code);
    ngx_http_otp_code_format(code, 8, buf);
    tap_ok(rc == 0, "%s hotp at %lld", alg_name, (long long) v->time);
    tap_is_str(buf, want, "RFC 6238 %s at %lld", alg_name,
               (long long) v->time);

    /* 6 digits are the last 6 of the 8 */
    rc = ngx_http_otp_hotp((const uint8_t *) seed, seed_len, alg, step, 6,
                           &code);
    ngx_http_otp_code_format(code, 6, buf);
    tap_ok(rc == 0, "%s 6 digits at %lld", alg_name, (long long) v->time);
    tap_is_str(buf, want + 2, "RFC 6238 %s 6 digits at %lld", alg_name,
               (long long) v->time);

    matched = 0;
    rc = ngx_http_otp_totp_verify((const uint8_t *) seed, seed_len, alg, 8,
                                  30, 0, v->time, 0, 0, want, 8, &matched);
    tap_ok(rc == 1 && matched == v->step, "%s verify at %lld", alg_name,
           (long long) v->time);
}


static void
test_rfc6238(void)
{
    size_t                     i;
    const test_totp_vector_t  *v;

    for (i = 0; i < sizeof(totp_vectors) / sizeof(totp_vectors[0]); i++) {
        v = &totp_vectors[i];

        test_one_totp(seed20, 20, NGX_HTTP_OTP_SHA1, "SHA1", v, v->sha1);
        test_one_totp(seed32, 32, NGX_HTTP_OTP_SHA256, "SHA256", v,
                      v->sha256);
        test_one_totp(seed64, 64, NGX_HTTP_OTP_SHA512, "SHA512", v,
                      v->sha512);
    }
}


static void
test_format(void)
{
    char  buf[NGX_HTTP_OTP_MAX_DIGITS + 1];

    ngx_http_otp_code_format(42, 6, buf);
    tap_is_str(buf, "000042", "zero padded to 6");

    ngx_http_otp_code_format(0, 8, buf);
    tap_is_str(buf, "00000000", "zero padded to 8");

    ngx_http_otp_code_format(2147483647u, 10, buf);
    tap_is_str(buf, "2147483647", "10 digits");
}


static void
test_bad_params(void)
{
    uint32_t  code;
    uint64_t  m;

    tap_ok(ngx_http_otp_hotp((const uint8_t *) seed20, 20,
                             NGX_HTTP_OTP_SHA1, 0, 5, &code) == -1,
           "5 digits refused");
    tap_ok(ngx_http_otp_hotp((const uint8_t *) seed20, 20,
                             NGX_HTTP_OTP_SHA1, 0, 11, &code) == -1,
           "11 digits refused");
    tap_ok(ngx_http_otp_hotp((const uint8_t *) seed20, 20,
                             (ngx_http_otp_alg_e) 7, 0, 6, &code) == -1,
           "unknown algorithm refused");
    tap_ok(ngx_http_otp_hotp(NULL, 20, NGX_HTTP_OTP_SHA1, 0, 6, &code)
           == -1, "NULL key refused");
    tap_ok(ngx_http_otp_hotp((const uint8_t *) seed20, 0,
                             NGX_HTTP_OTP_SHA1, 0, 6, &code) == -1,
           "empty key refused");
    tap_ok(ngx_http_otp_totp_verify((const uint8_t *) seed20, 0,
                                    NGX_HTTP_OTP_SHA1, 6, 30, 0, 59, 1, 1,
                                    "287082", 6, &m) == -1,
           "empty key is an error for totp_verify");
    tap_ok(ngx_http_otp_hotp((const uint8_t *) seed20, 20,
                             NGX_HTTP_OTP_SHA1, 0, 6, NULL) == -1,
           "NULL output refused");

    tap_ok(ngx_http_otp_totp_verify((const uint8_t *) seed20, 20,
                                    NGX_HTTP_OTP_SHA1, 6, 0, 0, 59, 1, 1,
                                    "287082", 6, &m) == -1,
           "period 0 is an error");
    tap_ok(ngx_http_otp_totp_step(59, 0, 0) == 0, "step with period 0");
    tap_ok(ngx_http_otp_totp_step(10, 100, 30) == 0, "step before t0");
    tap_ok(ngx_http_otp_totp_step(130, 100, 30) == 1, "step after t0");
    tap_ok(ngx_http_otp_totp_step(INT64_MAX, INT64_MIN, 1) == UINT64_MAX,
           "step of the widest range");
}


static void
test_window(void)
{
    int        rc, d;
    char       code[NGX_HTTP_OTP_MAX_DIGITS + 1];
    int64_t    now;
    uint32_t   value;
    uint64_t   step, matched;

    /* the middle of step 1000 */
    now = 1000 * 30 + 15;

    for (d = -3; d <= 3; d++) {
        step = (uint64_t) (1000 + d);
        ngx_http_otp_hotp((const uint8_t *) seed20, 20, NGX_HTTP_OTP_SHA1,
                          step, 6, &value);
        ngx_http_otp_code_format(value, 6, code);

        matched = 0;
        rc = ngx_http_otp_totp_verify((const uint8_t *) seed20, 20,
                                      NGX_HTTP_OTP_SHA1, 6, 30, 0, now, 1, 1,
                                      code, 6, &matched);

        if (d >= -1 && d <= 1) {
            tap_ok(rc == 1 && matched == step,
                   "skew 1/1: step %+d accepted, matched step reported", d);

        } else {
            tap_ok(rc == 0, "skew 1/1: step %+d rejected", d);
        }
    }

    /* an asymmetric window */

    ngx_http_otp_hotp((const uint8_t *) seed20, 20, NGX_HTTP_OTP_SHA1,
                      998, 6, &value);
    ngx_http_otp_code_format(value, 6, code);
    rc = ngx_http_otp_totp_verify((const uint8_t *) seed20, 20,
                                  NGX_HTTP_OTP_SHA1, 6, 30, 0, now, 2, 0,
                                  code, 6, &matched);
    tap_ok(rc == 1 && matched == 998, "skew 2/0: step -2 accepted");

    ngx_http_otp_hotp((const uint8_t *) seed20, 20, NGX_HTTP_OTP_SHA1,
                      1001, 6, &value);
    ngx_http_otp_code_format(value, 6, code);
    rc = ngx_http_otp_totp_verify((const uint8_t *) seed20, 20,
                                  NGX_HTTP_OTP_SHA1, 6, 30, 0, now, 2, 0,
                                  code, 6, &matched);
    tap_ok(rc == 0, "skew 2/0: step +1 rejected");

    /* near t0 the steps before 0 are skipped, not wrapped around */

    ngx_http_otp_hotp((const uint8_t *) seed20, 20, NGX_HTTP_OTP_SHA1,
                      UINT64_MAX, 6, &value);
    ngx_http_otp_code_format(value, 6, code);
    rc = ngx_http_otp_totp_verify((const uint8_t *) seed20, 20,
                                  NGX_HTTP_OTP_SHA1, 6, 30, 0, 5, 3, 0,
                                  code, 6, &matched);
    tap_ok(rc == 0, "no wrap-around below step 0");

    ngx_http_otp_hotp((const uint8_t *) seed20, 20, NGX_HTTP_OTP_SHA1,
                      0, 6, &value);
    ngx_http_otp_code_format(value, 6, code);
    matched = 99;
    rc = ngx_http_otp_totp_verify((const uint8_t *) seed20, 20,
                                  NGX_HTTP_OTP_SHA1, 6, 30, 0, 5, 3, 1,
                                  code, 6, &matched);
    tap_ok(rc == 1 && matched == 0, "step 0 accepted with a wide skew");

    /* t0 moves the steps */

    ngx_http_otp_hotp((const uint8_t *) seed20, 20, NGX_HTTP_OTP_SHA1,
                      2, 6, &value);
    ngx_http_otp_code_format(value, 6, code);
    rc = ngx_http_otp_totp_verify((const uint8_t *) seed20, 20,
                                  NGX_HTTP_OTP_SHA1, 6, 30, 1000, 1065, 0, 0,
                                  code, 6, &matched);
    tap_ok(rc == 1 && matched == 2, "t0 is honoured");

    /* NULL matched_step is allowed */
    rc = ngx_http_otp_totp_verify((const uint8_t *) seed20, 20,
                                  NGX_HTTP_OTP_SHA1, 6, 30, 1000, 1065, 0, 0,
                                  code, 6, NULL);
    tap_ok(rc == 1, "matched_step may be NULL");
}


static void
test_malformed(void)
{
    size_t       i;
    uint64_t     matched;
    const char  *good = "287082";   /* counter 1, time 59 */

    static const char  *bad[] = {
        "", "28708", "2870822", "28708a", "28708 ", " 87082", "+87082",
        "-87082", "abcdef", "\xef\xbc\x92\xef\xbc\x98\xef\xbc\x97"
    };

    tap_ok(ngx_http_otp_totp_verify((const uint8_t *) seed20, 20,
                                    NGX_HTTP_OTP_SHA1, 6, 30, 0, 59, 0, 0,
                                    good, 6, &matched) == 1,
           "the good code passes");

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        tap_ok(ngx_http_otp_totp_verify((const uint8_t *) seed20, 20,
                                        NGX_HTTP_OTP_SHA1, 6, 30, 0, 59,
                                        1, 1, bad[i], strlen(bad[i]),
                                        &matched) == 0,
               "malformed code %zu rejected by totp_verify", i);
        tap_ok(ngx_http_otp_hotp_verify((const uint8_t *) seed20, 20,
                                        NGX_HTTP_OTP_SHA1, 6, 0, 10,
                                        bad[i], strlen(bad[i]),
                                        &matched) == 0,
               "malformed code %zu rejected by hotp_verify", i);
    }

    /* a good prefix with the wrong length */
    tap_ok(ngx_http_otp_totp_verify((const uint8_t *) seed20, 20,
                                    NGX_HTTP_OTP_SHA1, 6, 30, 0, 59, 0, 0,
                                    "2870822", 7, &matched) == 0,
           "right code plus a digit rejected");
    tap_ok(ngx_http_otp_totp_verify((const uint8_t *) seed20, 20,
                                    NGX_HTTP_OTP_SHA1, 6, 30, 0, 59, 0, 0,
                                    good, 5, &matched) == 0,
           "right code minus a digit rejected");
    tap_ok(ngx_http_otp_totp_verify((const uint8_t *) seed20, 20,
                                    NGX_HTTP_OTP_SHA1, 6, 30, 0, 59, 0, 0,
                                    "28708\0", 6, &matched) == 0,
           "embedded NUL rejected");
    tap_ok(ngx_http_otp_totp_verify((const uint8_t *) seed20, 20,
                                    NGX_HTTP_OTP_SHA1, 6, 30, 0, 59, 0, 0,
                                    NULL, 0, &matched) == 0,
           "NULL code rejected");
    tap_ok(ngx_http_otp_totp_verify((const uint8_t *) seed20, 20,
                                    NGX_HTTP_OTP_SHA1, 8, 30, 0, 59, 0, 0,
                                    good, 6, &matched) == 0,
           "6-digit code against 8 digits rejected");
}


static void
test_hotp_verify(void)
{
    int        rc;
    uint64_t   matched;

    /* counter 5 is 254676 */

    matched = 0;
    rc = ngx_http_otp_hotp_verify((const uint8_t *) seed20, 20,
                                  NGX_HTTP_OTP_SHA1, 6, 0, 10, "254676", 6,
                                  &matched);
    tap_ok(rc == 1 && matched == 5, "look-ahead finds counter 5 from 0");

    rc = ngx_http_otp_hotp_verify((const uint8_t *) seed20, 20,
                                  NGX_HTTP_OTP_SHA1, 6, 5, 0, "254676", 6,
                                  &matched);
    tap_ok(rc == 1 && matched == 5, "window 0 matches the counter itself");

    rc = ngx_http_otp_hotp_verify((const uint8_t *) seed20, 20,
                                  NGX_HTTP_OTP_SHA1, 6, 0, 4, "254676", 6,
                                  &matched);
    tap_ok(rc == 0, "counter 5 is beyond window 4 from 0");

    rc = ngx_http_otp_hotp_verify((const uint8_t *) seed20, 20,
                                  NGX_HTTP_OTP_SHA1, 6, 6, 10, "254676", 6,
                                  &matched);
    tap_ok(rc == 0, "no look-behind");

    rc = ngx_http_otp_hotp_verify((const uint8_t *) seed20, 20,
                                  NGX_HTTP_OTP_SHA1, 6, 0, 10, "520489", 6,
                                  &matched);
    tap_ok(rc == 1 && matched == 9, "look-ahead finds counter 9");

    rc = ngx_http_otp_hotp_verify((const uint8_t *) seed20, 20,
                                  NGX_HTTP_OTP_SHA1, 6, UINT64_MAX - 1, 10,
                                  "254676", 6, &matched);
    tap_ok(rc == 0, "no wrap-around past the last counter");

    rc = ngx_http_otp_hotp_verify((const uint8_t *) seed20, 20,
                                  NGX_HTTP_OTP_SHA1, 5, 0, 10, "25467", 5,
                                  &matched);
    tap_ok(rc == -1, "5 digits is an error");
}


int
main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "batch") == 0) {
        return batch();
    }

    test_rfc4226();
    test_rfc6238();
    test_format();
    test_bad_params();
    test_window();
    test_malformed();
    test_hotp_verify();

    return tap_done();
}

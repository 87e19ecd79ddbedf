
/*
 * Base32: RFC 4648 section 10 vectors, random round trips, the relaxed
 * input authenticator apps show (lower case, spaces), and bad input.
 */


#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "tap.h"
#include "ngx_http_otp_base32.h"
#include "ngx_http_otp_crypto.h"


typedef struct {
    const char   *plain;
    const char   *encoded;     /* unpadded */
    const char   *padded;
} test_base32_vector_t;


/* RFC 4648, section 10 */
static const test_base32_vector_t  vectors[] = {
    { "", "", "" },
    { "f", "MY", "MY======" },
    { "fo", "MZXQ", "MZXQ====" },
    { "foo", "MZXW6", "MZXW6===" },
    { "foob", "MZXW6YQ", "MZXW6YQ=" },
    { "fooba", "MZXW6YTB", "MZXW6YTB" },
    { "foobar", "MZXW6YTBOI", "MZXW6YTBOI======" }
};


/* the test names must stay on one line */

static const char *
printable(const char *s)
{
    char          *p;
    static char    buf[256];

    for (p = buf; *s != '\0' && p < buf + sizeof(buf) - 5; s++) {
        if (*s >= 0x20 && *s < 0x7f) {
            *p++ = *s;

        } else {
            p += sprintf(p, "\\x%02x", (unsigned char) *s);
        }
    }

    *p = '\0';

    return buf;
}


static int
decode_str(const char *s, uint8_t *out, size_t *out_len)
{
    return ngx_http_otp_base32_decode(s, strlen(s), out, out_len);
}


static void
test_vectors(void)
{
    char      enc[64];
    size_t    i, n, len;
    uint8_t   dec[64];

    for (i = 0; i < sizeof(vectors) / sizeof(vectors[0]); i++) {
        len = strlen(vectors[i].plain);

        n = ngx_http_otp_base32_encode((const uint8_t *) vectors[i].plain,
                                       len, enc);
        enc[n] = '\0';
        tap_is_str(enc, vectors[i].encoded, "encode \"%s\"",
                   vectors[i].plain);
        tap_ok(n == ngx_http_otp_base32_encoded_len(len),
               "encoded_len of %zu bytes", len);

        n = 99;
        tap_ok(decode_str(vectors[i].encoded, dec, &n) == 0
               && n == len && memcmp(dec, vectors[i].plain, len) == 0,
               "decode unpadded \"%s\"", vectors[i].encoded);

        n = 99;
        tap_ok(decode_str(vectors[i].padded, dec, &n) == 0
               && n == len && memcmp(dec, vectors[i].plain, len) == 0,
               "decode padded \"%s\"", vectors[i].padded);
    }
}


static void
test_round_trips(void)
{
    int       ok;
    char      enc[200];
    size_t    len, n, m;
    uint8_t   src[100], dec[100];

    ok = 1;

    for (len = 0; len <= 100; len++) {
        if (ngx_http_otp_random(src, len) != 0) {
            ok = 0;
            tap_diag("random failed");
            break;
        }

        n = ngx_http_otp_base32_encode(src, len, enc);

        if (n != ngx_http_otp_base32_encoded_len(len)
            || ngx_http_otp_base32_decoded_len(n) < len
            || ngx_http_otp_base32_decode(enc, n, dec, &m) != 0
            || m != len
            || memcmp(src, dec, len) != 0)
        {
            ok = 0;
            tap_diag("round trip of %zu bytes failed", len);
        }
    }

    tap_ok(ok, "random round trips of 0..100 bytes");
}


static void
test_relaxed(void)
{
    size_t    n;
    uint8_t   dec[64];

    tap_ok(decode_str("mzxw6ytboi", dec, &n) == 0 && n == 6
           && memcmp(dec, "foobar", 6) == 0, "lower case");

    tap_ok(decode_str("MzXw6YtBoI", dec, &n) == 0 && n == 6
           && memcmp(dec, "foobar", 6) == 0, "mixed case");

    tap_ok(decode_str("mzxw 6ytb oi", dec, &n) == 0 && n == 6
           && memcmp(dec, "foobar", 6) == 0, "grouped with spaces");

    tap_ok(decode_str("  MZXW6YTBOI  ", dec, &n) == 0 && n == 6
           && memcmp(dec, "foobar", 6) == 0, "leading and trailing spaces");

    tap_ok(decode_str("MZXW6YTBOI== ====", dec, &n) == 0 && n == 6
           && memcmp(dec, "foobar", 6) == 0, "spaces within padding");

    tap_ok(decode_str("mzxw 6yq=", dec, &n) == 0 && n == 4
           && memcmp(dec, "foob", 4) == 0, "spaces and padding");

    tap_ok(decode_str("    ", dec, &n) == 0 && n == 0, "only spaces");

    /* a typical 160-bit secret as apps show it */
    tap_ok(decode_str("jbsw y3dp ehpk 3pxp jbsw y3dp ehpk 3pxp", dec, &n)
           == 0 && n == 20 && memcmp(dec, "Hello!\xde\xad\xbe\xef"
                                     "Hello!\xde\xad\xbe\xef", 20) == 0,
           "grouped 160-bit secret");
}


static void
test_bad(void)
{
    size_t    i, n;
    uint8_t   dec[64];

    static const char  *bad[] = {
        "MZXW6YTBO1",       /* 1 is not in the alphabet */
        "MZXW6YTBO0",       /* nor 0 */
        "MZXW6YTBO8",       /* nor 8 */
        "MZXW-6YTBOI",
        "MZXW6YTBOI\n",
        "MZXW\t6YTBOI",
        "MZXW6YTBOI\xc3\xa9",
        "MZ=XW6YTBOI",      /* padding inside */
        "=MZXW6YTBOI",
        "MZXW6YQ=A",        /* data after padding */
        "MZXW6YQ= A",
        "M",                /* 1 character: impossible */
        "MZX",              /* 3 */
        "MZXW6Y",           /* 6 */
        "MZXW6YTBO",        /* 9 = 8 + 1 */
        "MZXW6YTBOIA",      /* 11 = 8 + 3 */
        "MZXW6YTBOIABCD",   /* 14 = 8 + 6 */
        "M=======",
        "MZX=====",
        "MZ",               /* "f" is MY: Z leaves bits set */
        "MZXR",             /* "fo" is MZXQ */
        "MZXW7",            /* "foo" is MZXW6 */
        "MZXW6YR",          /* "foob" is MZXW6YQ */
        "MZXW6YTBOJ",       /* "foobar" is MZXW6YTBOI */
        "MY=",              /* padding not completing the group */
        "MY=======",
        "MZXW6YTB========",
        "="
    };

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        tap_ok(decode_str(bad[i], dec, &n) == -1, "rejects \"%s\"",
               printable(bad[i]));
    }

    tap_ok(ngx_http_otp_base32_decode("MZ\0W6YTBOI", 10, dec, &n) == -1,
           "rejects NUL");
    tap_ok(ngx_http_otp_base32_decode(NULL, 4, dec, &n) == -1,
           "rejects NULL input");
    tap_ok(ngx_http_otp_base32_decode(NULL, 0, dec, &n) == 0 && n == 0,
           "NULL empty input is empty");
}


int
main(void)
{
    test_vectors();
    test_round_trips();
    test_relaxed();
    test_bad();

    return tap_done();
}


/*
 * Recovery codes: generation, the canonical form of a typed code, and
 * its keyed hash.
 *
 * Pure C: no nginx headers.
 */


#include <string.h>

#include "ngx_http_otp_recovery.h"
#include "ngx_http_otp_token.h"


static const char  ngx_http_otp_crockford[] =
    "0123456789ABCDEFGHJKMNPQRSTVWXYZ";


int
ngx_http_otp_recovery_code(char code[NGX_HTTP_OTP_RECOVERY_CODE_LEN + 1])
{
    char      *p;
    size_t     i;
    uint8_t    rnd[8];
    uint64_t   bits;

    if (code == NULL || ngx_http_otp_random(rnd, sizeof(rnd)) != 0) {
        return -1;
    }

    bits = 0;

    for (i = 0; i < sizeof(rnd); i++) {
        bits = (bits << 8) | rnd[i];
    }

    /* 32 symbols: 5 bits each, no bias */

    p = code;

    for (i = 0; i < NGX_HTTP_OTP_RECOVERY_CHARS; i++) {
        if (i == NGX_HTTP_OTP_RECOVERY_CHARS / 2) {
            *p++ = '-';
        }

        *p++ = ngx_http_otp_crockford[bits & 0x1f];
        bits >>= 5;
    }

    *p = '\0';

    memset(rnd, 0, sizeof(rnd));

    return 0;
}


int
ngx_http_otp_recovery_normalize(const char *src, size_t len,
    char dst[NGX_HTTP_OTP_RECOVERY_CHARS + 1])
{
    char    norm[NGX_HTTP_OTP_CODE_MAX_LEN + 1];
    char    c;
    size_t  i, n;

    if (dst == NULL
        || ngx_http_otp_code_normalize(src, len, norm, &n) != 0
        || n != NGX_HTTP_OTP_RECOVERY_CHARS)
    {
        return -1;
    }

    for (i = 0; i < n; i++) {
        c = norm[i];

        if (c == 'O') {
            c = '0';

        } else if (c == 'I' || c == 'L') {
            c = '1';
        }

        if (c == '\0' || strchr(ngx_http_otp_crockford, c) == NULL) {
            return -1;
        }

        dst[i] = c;
    }

    dst[n] = '\0';

    return 0;
}


int
ngx_http_otp_recovery_hash(const uint8_t key[NGX_HTTP_OTP_KEY_LEN],
    const char *user, size_t user_len, const char *code, size_t len,
    char hex[NGX_HTTP_OTP_RECOVERY_HASH_LEN])
{
    char     canon[NGX_HTTP_OTP_RECOVERY_CHARS + 1];
    size_t   i;
    uint8_t  mac[NGX_HTTP_OTP_MAC_LEN];

    static const char  digits[] = "0123456789abcdef";

    if (hex == NULL
        || ngx_http_otp_recovery_normalize(code, len, canon) != 0
        || ngx_http_otp_code_hash(key, user, user_len, canon,
                                  NGX_HTTP_OTP_RECOVERY_CHARS, mac)
           != 0)
    {
        return -1;
    }

    for (i = 0; i < NGX_HTTP_OTP_MAC_LEN; i++) {
        hex[2 * i] = digits[mac[i] >> 4];
        hex[2 * i + 1] = digits[mac[i] & 0x0f];
    }

    memset(canon, 0, sizeof(canon));

    return 0;
}

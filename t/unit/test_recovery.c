
/*
 * Recovery codes: the format of new codes, their spread, the canonical
 * form of typed codes and their keyed hashes.
 */


#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tap.h"
#include "ngx_http_otp_recovery.h"
#include "ngx_http_otp_token.h"


#define N  2000


static uint8_t  key[NGX_HTTP_OTP_KEY_LEN];


static int
well_formed(const char *c)
{
    size_t  i;

    if (strlen(c) != NGX_HTTP_OTP_RECOVERY_CODE_LEN || c[5] != '-') {
        return 0;
    }

    for (i = 0; i < NGX_HTTP_OTP_RECOVERY_CODE_LEN; i++) {
        if (i == 5) {
            continue;
        }

        if (strchr("0123456789ABCDEFGHJKMNPQRSTVWXYZ", c[i]) == NULL
            || c[i] == '\0')
        {
            return 0;
        }
    }

    return 1;
}


static int
cmp(const void *a, const void *b)
{
    return strcmp(a, b);
}


int
main(void)
{
    int          bad, dup, seen[32];
    char         canon[NGX_HTTP_OTP_RECOVERY_CHARS + 1];
    char         hex[NGX_HTTP_OTP_RECOVERY_HASH_LEN + 1];
    char         hex2[NGX_HTTP_OTP_RECOVERY_HASH_LEN + 1];
    size_t       i, j;
    uint8_t      mac[NGX_HTTP_OTP_MAC_LEN];
    const char  *p;

    static char  codes[N][NGX_HTTP_OTP_RECOVERY_CODE_LEN + 1];

    for (i = 0; i < sizeof(key); i++) {
        key[i] = (uint8_t) i;
    }

    /* new codes */

    bad = 0;
    memset(seen, 0, sizeof(seen));

    for (i = 0; i < N; i++) {
        if (ngx_http_otp_recovery_code(codes[i]) != 0
            || !well_formed(codes[i]))
        {
            bad++;
            continue;
        }

        for (j = 0; j < NGX_HTTP_OTP_RECOVERY_CODE_LEN; j++) {
            if (j != 5) {
                p = strchr("0123456789ABCDEFGHJKMNPQRSTVWXYZ", codes[i][j]);
                seen[p - "0123456789ABCDEFGHJKMNPQRSTVWXYZ"]++;
            }
        }
    }

    tap_ok(bad == 0, "%d codes are XXXXX-XXXXX in Crockford base32 "
           "(%d bad)", N, bad);

    qsort(codes, N, sizeof(codes[0]), cmp);

    for (dup = 0, i = 1; i < N; i++) {
        dup += (strcmp(codes[i - 1], codes[i]) == 0);
    }

    tap_ok(dup == 0, "no two of %d codes alike", N);

    /* 20000 symbols: each of 32 expected 625 times */

    for (bad = 0, i = 0; i < 32; i++) {
        bad += (seen[i] < 400 || seen[i] > 850);
    }

    tap_ok(bad == 0, "every symbol is used about equally");

    /* canonical form */

    tap_ok(ngx_http_otp_recovery_normalize("ABCDE-FGH12", 11, canon) == 0,
           "a code as shown");
    tap_is_str(canon, "ABCDEFGH12", "... in its canonical form");

    tap_ok(ngx_http_otp_recovery_normalize("abcde fgh12", 11, canon) == 0,
           "lower case, a space");
    tap_is_str(canon, "ABCDEFGH12", "... the same code");

    tap_ok(ngx_http_otp_recovery_normalize("ab-cd-ef-gh-12", 14, canon)
           == 0, "dashes anywhere");
    tap_is_str(canon, "ABCDEFGH12", "... the same code");

    tap_ok(ngx_http_otp_recovery_normalize("oOiIl-LxyZ0", 11, canon) == 0,
           "look-alikes");
    tap_is_str(canon, "001111XYZ0", "O reads 0, I and L read 1");

    tap_ok(ngx_http_otp_recovery_normalize("ABCDE-FGH1U", 11, canon) != 0,
           "U is not a symbol");
    tap_ok(ngx_http_otp_recovery_normalize("ABCDE-FGH1", 10, canon) != 0,
           "nine characters: refused");
    tap_ok(ngx_http_otp_recovery_normalize("ABCDE-FGH123", 12, canon) != 0,
           "eleven characters: refused");
    tap_ok(ngx_http_otp_recovery_normalize("ABCDE-FGH1!", 11, canon) != 0,
           "punctuation: refused");
    tap_ok(ngx_http_otp_recovery_normalize("ABCDE\tFGH12", 11, canon) != 0,
           "a tab: refused");
    tap_ok(ngx_http_otp_recovery_normalize("", 0, canon) != 0,
           "empty: refused");
    tap_ok(ngx_http_otp_recovery_normalize("ABCDE\0FGH12", 11, canon) != 0,
           "a NUL: refused");

    /* hashes */

    hex[NGX_HTTP_OTP_RECOVERY_HASH_LEN] = '\0';
    hex2[NGX_HTTP_OTP_RECOVERY_HASH_LEN] = '\0';

    tap_ok(ngx_http_otp_recovery_hash(key, "alice", 5, "abcde-fgh12", 11,
                                      hex)
           == 0, "hash of a code");

    ngx_http_otp_code_hash(key, "alice", 5, "ABCDEFGH12", 10, mac);

    for (i = 0; i < sizeof(mac); i++) {
        snprintf(hex2 + 2 * i, 3, "%02x", mac[i]);
    }

    tap_is_str(hex, hex2, "the keyed code hash of the canonical form, hex");

    ngx_http_otp_recovery_hash(key, "alice", 5, "ABCDE FGHI2", 11, hex2);
    tap_is_str(hex2, hex, "typed another way: the same hash");

    ngx_http_otp_recovery_hash(key, "bob", 3, "ABCDE-FGH12", 11, hex2);
    tap_ok(strcmp(hex, hex2) != 0, "another user: another hash");

    key[0] ^= 1;
    ngx_http_otp_recovery_hash(key, "alice", 5, "ABCDE-FGH12", 11, hex2);
    tap_ok(strcmp(hex, hex2) != 0, "another key: another hash");

    tap_ok(ngx_http_otp_recovery_hash(key, "alice", 5, "123456", 6, hex2)
           != 0, "a TOTP code is no recovery code");

    return tap_done();
}


/*
 * libFuzzer target for the return-URI sanitizer and its encoder.
 *
 * Properties: the result always starts with one "/" not followed by
 * "/" or "\", holds only printable ASCII without "\", fits the maximum,
 * stays so after any number of %XX decodings, is idempotent, and
 * survives the "?r=" encoder and the form decoder unchanged.
 */


#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "fuzz.h"
#include "ngx_http_otp_form.h"
#include "ngx_http_otp_return.h"


/* a decoded form may hold bytes >= 0x80 (UTF-8), the result may not */

static void
fuzz_check_path(const char *p, size_t len, int decoded)
{
    size_t  i;

    fuzz_assert(len >= 1 && len <= NGX_HTTP_OTP_RETURN_MAX_LEN);
    fuzz_assert(p[0] == '/');
    fuzz_assert(len == 1 || (p[1] != '/' && p[1] != '\\'));

    for (i = 0; i < len; i++) {
        fuzz_assert((uint8_t) p[i] >= 0x21 && (uint8_t) p[i] != 0x7f);
        fuzz_assert(decoded || (uint8_t) p[i] < 0x80);
        fuzz_assert(p[i] != '\\');
    }
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int          rc;
    char         out[NGX_HTTP_OTP_RETURN_MAX_LEN + 1];
    char         again[NGX_HTTP_OTP_RETURN_MAX_LEN + 1];
    size_t       n, m, k, depth;
    static char  enc[3 * NGX_HTTP_OTP_RETURN_MAX_LEN];
    static char  dec[2][NGX_HTTP_OTP_RETURN_MAX_LEN + 1];

    rc = ngx_http_otp_return_sanitize((const char *) data, size, out, &n);

    fuzz_assert(rc == 0 || rc == -1);
    fuzz_assert(strlen(out) == n);
    fuzz_check_path(out, n, 0);

    if (rc == -1) {
        fuzz_assert(n == 1);

    } else if (n == size) {
        /* nothing needed escaping: kept byte for byte */
        fuzz_assert(memcmp(out, data, size) == 0);
    }

    /* idempotent ("/" itself is kept) */

    fuzz_assert(ngx_http_otp_return_sanitize(out, n, again, &m) == 0);
    fuzz_assert(m == n && memcmp(out, again, n + 1) == 0);

    /* whatever decodes it later, and however often, sees a path */

    k = n;
    memcpy(dec[0], out, n + 1);

    for (depth = 0; depth < 32; depth++) {
        rc = ngx_http_otp_form_decode((const uint8_t *) dec[depth & 1], k,
                                      dec[(depth + 1) & 1], sizeof(dec[0]),
                                      &m, 0);

        if (rc != NGX_HTTP_OTP_FORM_OK) {
            /* only a "%" that is data, after some decoding */
            fuzz_assert(rc == NGX_HTTP_OTP_FORM_BAD_ESCAPE && depth > 0);
            break;
        }

        fuzz_check_path(dec[(depth + 1) & 1], m, 1);

        if (m == k) {
            break;
        }

        k = m;
    }

    /* the "?r=" round trip */

    k = ngx_http_otp_return_encode(out, n, enc);
    fuzz_assert(k <= ngx_http_otp_return_encoded_len(n));

    fuzz_assert(ngx_http_otp_form_decode((const uint8_t *) enc, k, again,
                                         sizeof(again), &m,
                                         NGX_HTTP_OTP_FORM_PLUS_SPACE)
                == NGX_HTTP_OTP_FORM_OK);
    fuzz_assert(m == n && memcmp(out, again, n) == 0);

    return 0;
}

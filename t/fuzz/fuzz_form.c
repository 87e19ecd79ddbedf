
/*
 * libFuzzer target for the form parser and the single-value decoder.
 *
 * Properties: fields are either found with a NUL-terminated value that
 * fits and holds no NUL, or untouched; an error leaves every field
 * reset; the parser and the decoder agree on what is well-formed.
 */


#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "fuzz.h"
#include "ngx_http_otp_form.h"


#define FUZZ_LIMIT  2048


static void
fuzz_check_fields(ngx_http_otp_form_field_t *f, size_t n, int rc)
{
    size_t  i;

    for (i = 0; i < n; i++) {
        if (rc != NGX_HTTP_OTP_FORM_OK || !f[i].found) {
            fuzz_assert(!f[i].found);
            fuzz_assert(f[i].len == 0);
            fuzz_assert(f[i].value[0] == '\0');
            continue;
        }

        fuzz_assert(f[i].len < f[i].size);
        fuzz_assert(f[i].value[f[i].len] == '\0');
        fuzz_assert(memchr(f[i].value, '\0', f[i].len) == NULL);
    }
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int                        rc, rc2;
    char                       code[7], csrf[64], ret[2049], method[1];
    size_t                     n, m, i;
    static char                dec[4097], dec2[4097], enc[3 * 4096];
    ngx_http_otp_form_field_t  f[4];

    f[0].name = "code";
    f[0].value = code;
    f[0].size = sizeof(code);
    f[1].name = "csrf";
    f[1].value = csrf;
    f[1].size = sizeof(csrf);
    f[2].name = "r";
    f[2].value = ret;
    f[2].size = sizeof(ret);
    f[3].name = "method";
    f[3].value = method;
    f[3].size = sizeof(method);

    rc = ngx_http_otp_form_parse(data, size, FUZZ_LIMIT, f, 4);

    fuzz_assert(rc <= 0 && rc >= NGX_HTTP_OTP_FORM_NUL);
    fuzz_assert((rc == NGX_HTTP_OTP_FORM_TOO_LARGE) == (size > FUZZ_LIMIT));
    fuzz_check_fields(f, 4, rc);

    /* the same bytes as one value */

    rc2 = ngx_http_otp_form_decode(data, size, dec, sizeof(dec), &n,
                                   NGX_HTTP_OTP_FORM_PLUS_SPACE);

    fuzz_assert(rc2 == NGX_HTTP_OTP_FORM_OK
                || rc2 == NGX_HTTP_OTP_FORM_BAD_ESCAPE
                || rc2 == NGX_HTTP_OTP_FORM_NUL);

    if (rc == NGX_HTTP_OTP_FORM_OK) {
        fuzz_assert(rc2 == NGX_HTTP_OTP_FORM_OK);
    }

    if (rc2 == NGX_HTTP_OTP_FORM_OK && size <= FUZZ_LIMIT) {
        fuzz_assert(rc == NGX_HTTP_OTP_FORM_OK
                    || rc == NGX_HTTP_OTP_FORM_REPEATED
                    || rc == NGX_HTTP_OTP_FORM_TOO_LONG);
    }

    if (rc2 != NGX_HTTP_OTP_FORM_OK) {
        fuzz_assert(dec[0] == '\0');
        return 0;
    }

    fuzz_assert(n <= size && dec[n] == '\0');
    fuzz_assert(memchr(dec, '\0', n) == NULL);

    /* every byte escaped decodes back to the same bytes */

    for (i = 0; i < n; i++) {
        enc[3 * i] = '%';
        enc[3 * i + 1] = "0123456789abcdef"[(uint8_t) dec[i] >> 4];
        enc[3 * i + 2] = "0123456789ABCDEF"[(uint8_t) dec[i] & 0x0f];
    }

    fuzz_assert(ngx_http_otp_form_decode((const uint8_t *) enc, 3 * n, dec2,
                                         sizeof(dec2), &m, 0)
                == NGX_HTTP_OTP_FORM_OK);
    fuzz_assert(m == n && memcmp(dec, dec2, n) == 0);

    /* a buffer one byte short is refused, never overrun */

    if (n > 0) {
        fuzz_assert(ngx_http_otp_form_decode(data, size, dec2, n, &m,
                                             NGX_HTTP_OTP_FORM_PLUS_SPACE)
                    == NGX_HTTP_OTP_FORM_TOO_LONG);
    }

    return 0;
}

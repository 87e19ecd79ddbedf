
/*
 * libFuzzer target for the SMS text and phone number parsers.
 *
 * Properties: a template either fails the check or renders to exactly
 * the measured length, with every placeholder replaced (no "{" left
 * when no value has one); the percent-encoding stays within its bound,
 * holds only unreserved characters and "%XX", and decodes back; the
 * UTF-8 repair leaves well-formed UTF-8 and is idempotent; a phone
 * number that normalizes is valid E.164 and masks within its bound.
 */


#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "fuzz.h"
#include "ngx_http_otp_phone.h"
#include "ngx_http_otp_sms_text.h"


#define FUZZ_SMS_MAX  4096


static int
fuzz_hex(uint8_t c)
{
    return (c >= '0' && c <= '9') ? c - '0' : c - 'A' + 10;
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char                       phone[NGX_HTTP_OTP_PHONE_MAX_LEN];
    char                       masked[NGX_HTTP_OTP_PHONE_MASKED_MAX];
    size_t                     i, n, m, off;
    const char                *reason;
    ngx_http_otp_sms_values_t  v;
    static char                out[FUZZ_SMS_MAX * 8];
    static char                enc[FUZZ_SMS_MAX * 3];
    static char                fixed[FUZZ_SMS_MAX];

    if (size > FUZZ_SMS_MAX) {
        return 0;
    }

    /* the template */

    v.code = "123456";
    v.code_len = 6;
    v.issuer = "Acme";
    v.issuer_len = 4;
    v.minutes = "5";
    v.minutes_len = 1;
    v.host = "example.com";
    v.host_len = 11;

    if (ngx_http_otp_sms_template_check((const char *) data, size, &reason,
                                        &off)
        == 0)
    {
        n = ngx_http_otp_sms_template_render((const char *) data, size, &v,
                                             NULL);
        fuzz_assert(n <= size * 2 + 8);
        fuzz_assert(ngx_http_otp_sms_template_render((const char *) data,
                                                     size, &v, out)
                    == n);
        fuzz_assert(memchr(out, '{', n) == NULL);
        fuzz_assert(memchr(out, '}', n) == NULL);

        for (i = 0; i + 6 <= n && memcmp(out + i, "123456", 6) != 0; i++) {
            /* void */
        }

        fuzz_assert(i + 6 <= n);

    } else {
        fuzz_assert(reason != NULL && off <= size);
    }

    /* percent-encoding */

    n = ngx_http_otp_sms_pct_encode((const char *) data, size, enc);
    fuzz_assert(n <= ngx_http_otp_sms_pct_encoded_len(size));

    for (i = 0, m = 0; i < n; m++) {
        if (enc[i] == '%') {
            fuzz_assert(i + 3 <= n);
            fuzz_assert((uint8_t) (fuzz_hex(enc[i + 1]) * 16
                                   + fuzz_hex(enc[i + 2]))
                        == data[m]);
            i += 3;
            continue;
        }

        fuzz_assert((enc[i] >= 'A' && enc[i] <= 'Z')
                    || (enc[i] >= 'a' && enc[i] <= 'z')
                    || (enc[i] >= '0' && enc[i] <= '9')
                    || enc[i] == '-' || enc[i] == '.' || enc[i] == '_'
                    || enc[i] == '~');
        fuzz_assert((uint8_t) enc[i] == data[m]);
        i++;
    }

    fuzz_assert(m == size);

    /* UTF-8 repair: idempotent */

    memcpy(fixed, data, size);
    n = ngx_http_otp_sms_utf8_fix(fixed, size);
    fuzz_assert(n <= size);
    fuzz_assert(ngx_http_otp_sms_utf8_fix(fixed, size) == 0);

    /* phone numbers */

    if (ngx_http_otp_phone_normalize((const char *) data, size, phone, &n)
        == 0)
    {
        fuzz_assert(ngx_http_otp_phone_valid(phone, n) == 0);
        m = ngx_http_otp_phone_mask(phone, n, masked);
        fuzz_assert(m <= NGX_HTTP_OTP_PHONE_MASKED_MAX);
        fuzz_assert(masked[0] == '+');
        fuzz_assert(memcmp(masked + m - 4, phone + n - 4, 4) == 0);
    }

    return 0;
}


/*
 * Phone numbers.
 *
 * Pure C: no nginx headers.
 */


#include <stddef.h>
#include <string.h>

#include "ngx_http_otp_phone.h"


int
ngx_http_otp_phone_valid(const char *phone, size_t len)
{
    size_t  i;

    if (phone == NULL
        || len < 1 + NGX_HTTP_OTP_PHONE_MIN_DIGITS
        || len > 1 + NGX_HTTP_OTP_PHONE_MAX_DIGITS
        || phone[0] != '+' || phone[1] == '0')
    {
        return -1;
    }

    for (i = 1; i < len; i++) {
        if (phone[i] < '0' || phone[i] > '9') {
            return -1;
        }
    }

    return 0;
}


int
ngx_http_otp_phone_normalize(const char *src, size_t len, char *dst,
    size_t *dst_len)
{
    char    c;
    size_t  i, n;

    if ((src == NULL && len > 0) || dst == NULL || dst_len == NULL) {
        return -1;
    }

    n = 0;

    for (i = 0; i < len; i++) {
        c = src[i];

        if (c == ' ' || c == '-' || c == '.' || c == '(' || c == ')') {
            continue;
        }

        if (n == NGX_HTTP_OTP_PHONE_MAX_LEN) {
            return -1;
        }

        dst[n++] = c;
    }

    if (ngx_http_otp_phone_valid(dst, n) != 0) {
        return -1;
    }

    *dst_len = n;

    return 0;
}


size_t
ngx_http_otp_phone_mask(const char *phone, size_t len, char *dst)
{
    size_t  keep;

    /* 1 + 8 digits at least: "+" keep "***" 4, with keep <= len - 8 */

    keep = len - 1 - 4 - 3;

    if (keep > 4) {
        keep = 4;
    }

    memcpy(dst, phone, 1 + keep);
    memcpy(dst + 1 + keep, "***", 3);
    memcpy(dst + 1 + keep + 3, phone + len - 4, 4);

    return 1 + keep + 3 + 4;
}

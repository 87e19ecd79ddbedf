
/*
 * SMS codes and messages.
 *
 * Pure C: no nginx headers.
 */


#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "ngx_http_otp_crypto.h"
#include "ngx_http_otp_sms_text.h"


typedef struct {
    const char   *name;
    size_t        len;
} ngx_http_otp_sms_placeholder_t;


static size_t ngx_http_otp_sms_placeholder(const char *p, size_t left);
static size_t ngx_http_otp_sms_utf8_len(const uint8_t *p, size_t left);


/* in the order of the fields of ngx_http_otp_sms_values_t */

static const ngx_http_otp_sms_placeholder_t  ngx_http_otp_sms_names[] = {
    { "{code}", sizeof("{code}") - 1 },
    { "{issuer}", sizeof("{issuer}") - 1 },
    { "{minutes}", sizeof("{minutes}") - 1 },
    { "{host}", sizeof("{host}") - 1 }
};

#define NGX_HTTP_OTP_SMS_NNAMES                                               \
    (sizeof(ngx_http_otp_sms_names) / sizeof(ngx_http_otp_sms_names[0]))


static const char  ngx_http_otp_sms_digits[] = "0123456789";

/* no 0/O, 1/I/L: nothing to misread on a small screen */
static const char  ngx_http_otp_sms_alnum[] =
    "23456789ABCDEFGHJKMNPQRSTUVWXYZ";

static const char  ngx_http_otp_sms_hex[] = "0123456789ABCDEF";


int
ngx_http_otp_sms_code(int charset, size_t len, char *dst)
{
    size_t       n, i, size, limit;
    uint8_t      buf[64];
    const char  *alphabet;

    if (dst == NULL || len < NGX_HTTP_OTP_SMS_MIN_CODE
        || len > NGX_HTTP_OTP_SMS_MAX_CODE)
    {
        return -1;
    }

    if (charset == NGX_HTTP_OTP_SMS_ALNUM) {
        alphabet = ngx_http_otp_sms_alnum;
        size = sizeof(ngx_http_otp_sms_alnum) - 1;

    } else if (charset == NGX_HTTP_OTP_SMS_DIGITS) {
        alphabet = ngx_http_otp_sms_digits;
        size = sizeof(ngx_http_otp_sms_digits) - 1;

    } else {
        return -1;
    }

    /* bytes at or above the largest multiple of size would bias it */

    limit = 256 - 256 % size;
    n = 0;

    while (n < len) {
        if (ngx_http_otp_random(buf, sizeof(buf)) != 0) {
            memset(buf, 0, sizeof(buf));
            return -1;
        }

        for (i = 0; i < sizeof(buf) && n < len; i++) {
            if (buf[i] < limit) {
                dst[n++] = alphabet[buf[i] % size];
            }
        }
    }

    memset(buf, 0, sizeof(buf));

    return 0;
}


/* the index of the placeholder at p, or NGX_HTTP_OTP_SMS_NNAMES */

static size_t
ngx_http_otp_sms_placeholder(const char *p, size_t left)
{
    size_t  i;

    for (i = 0; i < NGX_HTTP_OTP_SMS_NNAMES; i++) {
        if (left >= ngx_http_otp_sms_names[i].len
            && memcmp(p, ngx_http_otp_sms_names[i].name,
                      ngx_http_otp_sms_names[i].len)
               == 0)
        {
            return i;
        }
    }

    return NGX_HTTP_OTP_SMS_NNAMES;
}


int
ngx_http_otp_sms_template_check(const char *tpl, size_t len,
    const char **reason, size_t *offset)
{
    size_t  i, k, code;

    code = 0;

    for (i = 0; i < len; /* void */) {

        if (tpl[i] == '}') {
            *reason = "has a \"}\" that closes no placeholder";
            *offset = i;
            return -1;
        }

        if (tpl[i] != '{') {
            i++;
            continue;
        }

        k = ngx_http_otp_sms_placeholder(tpl + i, len - i);

        if (k == NGX_HTTP_OTP_SMS_NNAMES) {
            *reason = "has an unknown placeholder (known: {code} {issuer} "
                      "{minutes} {host})";
            *offset = i;
            return -1;
        }

        if (k == 0) {
            code++;
        }

        i += ngx_http_otp_sms_names[k].len;
    }

    if (code == 0) {
        *reason = "has no {code}";
        *offset = len;
        return -1;
    }

    return 0;
}


int
ngx_http_otp_sms_host_check(const char *s, size_t len)
{
    char    c;
    size_t  i, label;

    if (len == 0 || len > 253) {
        return -1;
    }

    label = 0;

    for (i = 0; i < len; i++) {
        c = s[i];

        if (c == '.') {
            if (label == 0 || s[i - 1] == '-') {
                return -1;
            }

            label = 0;
            continue;
        }

        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
              || (c >= '0' && c <= '9') || c == '-'))
        {
            return -1;
        }

        if ((c == '-' && label == 0) || ++label > 63) {
            return -1;
        }
    }

    return (label == 0 || s[len - 1] == '-') ? -1 : 0;
}


size_t
ngx_http_otp_sms_template_render(const char *tpl, size_t len,
    const ngx_http_otp_sms_values_t *values, char *dst)
{
    size_t       i, k, n, vlen;
    const char  *v;

    n = 0;

    for (i = 0; i < len; /* void */) {

        k = (tpl[i] == '{') ? ngx_http_otp_sms_placeholder(tpl + i, len - i)
                            : NGX_HTTP_OTP_SMS_NNAMES;

        if (k == NGX_HTTP_OTP_SMS_NNAMES) {
            if (dst) {
                dst[n] = tpl[i];
            }

            n++;
            i++;
            continue;
        }

        switch (k) {

        case 0:
            v = values->code;
            vlen = values->code_len;
            break;

        case 1:
            v = values->issuer;
            vlen = values->issuer_len;
            break;

        case 2:
            v = values->minutes;
            vlen = values->minutes_len;
            break;

        default:
            v = values->host;
            vlen = values->host_len;
            break;
        }

        if (dst && vlen) {
            memcpy(dst + n, v, vlen);
        }

        n += vlen;
        i += ngx_http_otp_sms_names[k].len;
    }

    return n;
}


size_t
ngx_http_otp_sms_pct_encode(const char *src, size_t len, char *dst)
{
    size_t   i, n;
    uint8_t  c;

    n = 0;

    for (i = 0; i < len; i++) {
        c = (uint8_t) src[i];

        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z')
            || (c >= '0' && c <= '9')
            || c == '-' || c == '.' || c == '_' || c == '~')
        {
            dst[n++] = (char) c;
            continue;
        }

        dst[n++] = '%';
        dst[n++] = ngx_http_otp_sms_hex[c >> 4];
        dst[n++] = ngx_http_otp_sms_hex[c & 0x0f];
    }

    return n;
}


/* the length of the well-formed sequence at p, or 0 */

static size_t
ngx_http_otp_sms_utf8_len(const uint8_t *p, size_t left)
{
    size_t    n, i;
    uint32_t  cp, min;

    if (p[0] < 0x80) {
        return 1;
    }

    if (p[0] >= 0xc2 && p[0] <= 0xdf) {
        n = 2;
        cp = p[0] & 0x1f;
        min = 0x80;

    } else if (p[0] >= 0xe0 && p[0] <= 0xef) {
        n = 3;
        cp = p[0] & 0x0f;
        min = 0x800;

    } else if (p[0] >= 0xf0 && p[0] <= 0xf4) {
        n = 4;
        cp = p[0] & 0x07;
        min = 0x10000;

    } else {
        return 0;
    }

    if (left < n) {
        return 0;
    }

    for (i = 1; i < n; i++) {
        if ((p[i] & 0xc0) != 0x80) {
            return 0;
        }

        cp = (cp << 6) | (p[i] & 0x3f);
    }

    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) {
        return 0;
    }

    return n;
}


size_t
ngx_http_otp_sms_utf8_fix(char *s, size_t len)
{
    size_t    i, n, fixed;
    uint8_t  *p;

    p = (uint8_t *) s;
    fixed = 0;

    for (i = 0; i < len; /* void */) {
        n = ngx_http_otp_sms_utf8_len(p + i, len - i);

        if (n == 0) {
            p[i++] = '?';
            fixed++;
            continue;
        }

        i += n;
    }

    return fixed;
}


/*
 * application/x-www-form-urlencoded bodies and query strings.
 *
 * Pure C: no nginx headers.  Strict on purpose: a browser never sends a
 * broken escape or a NUL, so such input is hostile and fails as a whole.
 */


#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "ngx_http_otp_form.h"


static int ngx_http_otp_form_hex(uint8_t c);
static int ngx_http_otp_form_unescape(const uint8_t *src, size_t len,
    uint8_t *dst, size_t cap, size_t *total, unsigned flags);
static ngx_http_otp_form_field_t *ngx_http_otp_form_lookup(
    const uint8_t *name, size_t len, ngx_http_otp_form_field_t *fields,
    size_t nfields);
static int ngx_http_otp_form_pairs(const uint8_t *src, size_t len,
    ngx_http_otp_form_field_t *fields, size_t nfields);
static void ngx_http_otp_form_reset(ngx_http_otp_form_field_t *fields,
    size_t nfields);


static int
ngx_http_otp_form_hex(uint8_t c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }

    c |= 0x20;

    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }

    return -1;
}


/*
 * Decodes all of src to find every bad escape, but writes only the
 * first "cap" bytes; *total is the full decoded length, so the caller
 * tells "too long" from "fits".  dst may be NULL when cap is 0.
 */

static int
ngx_http_otp_form_unescape(const uint8_t *src, size_t len, uint8_t *dst,
    size_t cap, size_t *total, unsigned flags)
{
    int      hi, lo;
    size_t   i, n;
    uint8_t  c;

    n = 0;

    for (i = 0; i < len; i++) {
        c = src[i];

        if (c == '%') {
            if (len - i < 3) {
                return NGX_HTTP_OTP_FORM_BAD_ESCAPE;
            }

            hi = ngx_http_otp_form_hex(src[i + 1]);
            lo = ngx_http_otp_form_hex(src[i + 2]);

            if (hi < 0 || lo < 0) {
                return NGX_HTTP_OTP_FORM_BAD_ESCAPE;
            }

            c = (uint8_t) (hi << 4 | lo);
            i += 2;

        } else if (c == '+' && (flags & NGX_HTTP_OTP_FORM_PLUS_SPACE)) {
            c = ' ';
        }

        if (c == '\0') {
            return NGX_HTTP_OTP_FORM_NUL;
        }

        if (n < cap) {
            dst[n] = c;
        }

        n++;
    }

    *total = n;

    return NGX_HTTP_OTP_FORM_OK;
}


static ngx_http_otp_form_field_t *
ngx_http_otp_form_lookup(const uint8_t *name, size_t len,
    ngx_http_otp_form_field_t *fields, size_t nfields)
{
    size_t  i;

    for (i = 0; i < nfields; i++) {
        if (strlen(fields[i].name) == len
            && memcmp(fields[i].name, name, len) == 0)
        {
            return &fields[i];
        }
    }

    return NULL;
}


static void
ngx_http_otp_form_reset(ngx_http_otp_form_field_t *fields, size_t nfields)
{
    size_t  i;

    for (i = 0; i < nfields; i++) {
        fields[i].value[0] = '\0';
        fields[i].len = 0;
        fields[i].found = 0;
    }
}


static int
ngx_http_otp_form_pairs(const uint8_t *src, size_t len,
    ngx_http_otp_form_field_t *fields, size_t nfields)
{
    int                         rc;
    size_t                      n, name_len;
    uint8_t                     name[NGX_HTTP_OTP_FORM_MAX_NAME];
    const uint8_t              *p, *end, *amp, *eq;
    ngx_http_otp_form_field_t  *f;

    p = src;
    end = src + len;

    while (p < end) {
        amp = memchr(p, '&', (size_t) (end - p));
        if (amp == NULL) {
            amp = end;
        }

        if (amp == p) {
            p++;
            continue;
        }

        eq = memchr(p, '=', (size_t) (amp - p));
        if (eq == NULL) {
            eq = amp;
        }

        rc = ngx_http_otp_form_unescape(p, (size_t) (eq - p), name,
                                        sizeof(name), &name_len,
                                        NGX_HTTP_OTP_FORM_PLUS_SPACE);
        if (rc != NGX_HTTP_OTP_FORM_OK) {
            return rc;
        }

        f = NULL;

        if (name_len <= sizeof(name)) {
            f = ngx_http_otp_form_lookup(name, name_len, fields, nfields);
        }

        if (eq < amp) {
            eq++;
        }

        if (f == NULL) {
            /* not asked for: only checked */
            rc = ngx_http_otp_form_unescape(eq, (size_t) (amp - eq), NULL,
                                            0, &n,
                                            NGX_HTTP_OTP_FORM_PLUS_SPACE);
            if (rc != NGX_HTTP_OTP_FORM_OK) {
                return rc;
            }

            p = amp;
            continue;
        }

        /* two values for one field: which one is meant is ambiguous */

        if (f->found) {
            return NGX_HTTP_OTP_FORM_REPEATED;
        }

        rc = ngx_http_otp_form_unescape(eq, (size_t) (amp - eq),
                                        (uint8_t *) f->value, f->size - 1,
                                        &n, NGX_HTTP_OTP_FORM_PLUS_SPACE);
        if (rc != NGX_HTTP_OTP_FORM_OK) {
            return rc;
        }

        if (n > f->size - 1) {
            return NGX_HTTP_OTP_FORM_TOO_LONG;
        }

        f->value[n] = '\0';
        f->len = n;
        f->found = 1;

        p = amp;
    }

    return NGX_HTTP_OTP_FORM_OK;
}


int
ngx_http_otp_form_parse(const uint8_t *src, size_t len, size_t max_len,
    ngx_http_otp_form_field_t *fields, size_t nfields)
{
    int     rc;
    size_t  i;

    if ((src == NULL && len > 0) || (fields == NULL && nfields > 0)) {
        return NGX_HTTP_OTP_FORM_ERROR;
    }

    for (i = 0; i < nfields; i++) {
        if (fields[i].name == NULL || fields[i].value == NULL
            || fields[i].size == 0)
        {
            return NGX_HTTP_OTP_FORM_ERROR;
        }
    }

    ngx_http_otp_form_reset(fields, nfields);

    if (len > max_len) {
        return NGX_HTTP_OTP_FORM_TOO_LARGE;
    }

    if (len == 0) {
        return NGX_HTTP_OTP_FORM_OK;
    }

    rc = ngx_http_otp_form_pairs(src, len, fields, nfields);

    /* no half-parsed value is left behind for a careless caller */

    if (rc != NGX_HTTP_OTP_FORM_OK) {
        ngx_http_otp_form_reset(fields, nfields);
    }

    return rc;
}


int
ngx_http_otp_form_decode(const uint8_t *src, size_t len, char *dst,
    size_t dst_size, size_t *dst_len, unsigned flags)
{
    int     rc;
    size_t  n;

    if ((src == NULL && len > 0) || dst == NULL || dst_size == 0
        || dst_len == NULL)
    {
        return NGX_HTTP_OTP_FORM_ERROR;
    }

    dst[0] = '\0';

    rc = ngx_http_otp_form_unescape(src, len, (uint8_t *) dst, dst_size - 1,
                                    &n, flags);
    if (rc != NGX_HTTP_OTP_FORM_OK) {
        dst[0] = '\0';
        return rc;
    }

    if (n > dst_size - 1) {
        dst[0] = '\0';
        return NGX_HTTP_OTP_FORM_TOO_LONG;
    }

    dst[n] = '\0';
    *dst_len = n;

    return NGX_HTTP_OTP_FORM_OK;
}

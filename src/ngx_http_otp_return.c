
/*
 * The "return to the original URI" value.
 *
 * Pure C: no nginx headers.  Browsers drop tabs and newlines anywhere in
 * a URL and treat "\" as "/", and proxies or applications may decode the
 * value again, so a value is judged in every decoded form it has.
 */


#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "ngx_http_otp_return.h"


/* deeper nesting than this is no real URI: refused, not followed */
#define NGX_HTTP_OTP_RETURN_MAX_DEPTH  16


static int ngx_http_otp_return_hex(uint8_t c);
static int ngx_http_otp_return_check(const uint8_t *p, size_t len);
static size_t ngx_http_otp_return_unescape(const uint8_t *src, size_t len,
    uint8_t *dst);
static int ngx_http_otp_return_layers(const uint8_t *src, size_t len);
static int ngx_http_otp_return_copy(const uint8_t *src, size_t len,
    char *dst, size_t *dst_len);
static int ngx_http_otp_return_fallback(char *dst, size_t *dst_len);


static const char  ngx_http_otp_return_xdigits[] = "0123456789ABCDEF";


static int
ngx_http_otp_return_hex(uint8_t c)
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


/* one form of the value: a single leading "/", nothing a browser strips */

static int
ngx_http_otp_return_check(const uint8_t *p, size_t len)
{
    size_t  i;

    if (len == 0 || p[0] != '/') {
        return -1;
    }

    if (len > 1 && (p[1] == '/' || p[1] == '\\')) {
        return -1;
    }

    for (i = 0; i < len; i++) {
        if (p[i] < 0x21 || p[i] == 0x7f || p[i] == '\\') {
            return -1;
        }
    }

    return 0;
}


/* one level of %XX; a "%" that starts no escape is data at this level */

static size_t
ngx_http_otp_return_unescape(const uint8_t *src, size_t len, uint8_t *dst)
{
    int      hi, lo;
    size_t   i, n;

    n = 0;

    for (i = 0; i < len; i++) {
        if (src[i] == '%' && len - i >= 3) {
            hi = ngx_http_otp_return_hex(src[i + 1]);
            lo = ngx_http_otp_return_hex(src[i + 2]);

            if (hi >= 0 && lo >= 0) {
                dst[n++] = (uint8_t) (hi << 4 | lo);
                i += 2;
                continue;
            }
        }

        dst[n++] = src[i];
    }

    return n;
}


static int
ngx_http_otp_return_layers(const uint8_t *src, size_t len)
{
    size_t    i, n;
    uint8_t   buf[2][NGX_HTTP_OTP_RETURN_MAX_LEN];
    unsigned  depth;

    /* the value as sent: every "%" must start an escape */

    for (i = 0; i < len; i++) {
        if (src[i] == '%'
            && (len - i < 3
                || ngx_http_otp_return_hex(src[i + 1]) < 0
                || ngx_http_otp_return_hex(src[i + 2]) < 0))
        {
            return -1;
        }
    }

    if (ngx_http_otp_return_check(src, len) != 0) {
        return -1;
    }

    /* each decoding that changes something is shorter, so this ends */

    for (depth = 0; depth < NGX_HTTP_OTP_RETURN_MAX_DEPTH; depth++) {
        n = ngx_http_otp_return_unescape(src, len, buf[depth & 1]);

        if (n == len) {
            return 0;
        }

        if (ngx_http_otp_return_check(buf[depth & 1], n) != 0) {
            return -1;
        }

        src = buf[depth & 1];
        len = n;
    }

    return -1;
}


static int
ngx_http_otp_return_copy(const uint8_t *src, size_t len, char *dst,
    size_t *dst_len)
{
    size_t   i, n;
    uint8_t  c;

    n = 0;

    for (i = 0; i < len; i++) {
        c = src[i];

        /* characters that need escaping in HTML attributes and headers */

        if (c >= 0x80 || c == '"' || c == '\'' || c == '<' || c == '>'
            || c == '`')
        {
            if (NGX_HTTP_OTP_RETURN_MAX_LEN - n < 3) {
                return -1;
            }

            dst[n++] = '%';
            dst[n++] = ngx_http_otp_return_xdigits[c >> 4];
            dst[n++] = ngx_http_otp_return_xdigits[c & 0x0f];
            continue;
        }

        if (n == NGX_HTTP_OTP_RETURN_MAX_LEN) {
            return -1;
        }

        dst[n++] = (char) c;
    }

    dst[n] = '\0';
    *dst_len = n;

    return 0;
}


static int
ngx_http_otp_return_fallback(char *dst, size_t *dst_len)
{
    dst[0] = '/';
    dst[1] = '\0';
    *dst_len = 1;

    return -1;
}


int
ngx_http_otp_return_sanitize(const char *src, size_t len, char *dst,
    size_t *dst_len)
{
    const uint8_t  *p;

    if (dst == NULL || dst_len == NULL) {
        return -1;
    }

    p = (const uint8_t *) src;

    if (p == NULL || len == 0 || len > NGX_HTTP_OTP_RETURN_MAX_LEN) {
        return ngx_http_otp_return_fallback(dst, dst_len);
    }

    /*
     * The escaped copy is what gets judged: it is what will be used, and
     * judging it makes a second pass see exactly what the first saw.
     */

    if (ngx_http_otp_return_copy(p, len, dst, dst_len) != 0) {
        return ngx_http_otp_return_fallback(dst, dst_len);
    }

    if (ngx_http_otp_return_layers((const uint8_t *) dst, *dst_len) != 0) {
        return ngx_http_otp_return_fallback(dst, dst_len);
    }

    return 0;
}


size_t
ngx_http_otp_return_encode(const char *src, size_t len, char *dst)
{
    char     *d;
    size_t    i;
    uint8_t   c;

    d = dst;

    for (i = 0; i < len; i++) {
        c = (uint8_t) src[i];

        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z')
            || (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_'
            || c == '~' || c == '/')
        {
            *d++ = (char) c;
            continue;
        }

        *d++ = '%';
        *d++ = ngx_http_otp_return_xdigits[c >> 4];
        *d++ = ngx_http_otp_return_xdigits[c & 0x0f];
    }

    return (size_t) (d - dst);
}

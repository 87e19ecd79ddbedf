
/*
 * otpauth:// Key Uri Format (as read by Google Authenticator and FreeOTP).
 *
 * Pure C: no nginx headers.
 */


#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "ngx_http_otp_base32.h"
#include "ngx_http_otp_uri.h"


/*
 * Every fixed part together: scheme and type, ":", "?secret=",
 * "&issuer=", "&algorithm=SHA512", "&digits=" and "&counter=" with
 * their longest numbers (10 and 20 digits), with room to spare.
 */
#define NGX_HTTP_OTP_URI_FIXED_LEN  128

/* a percent-encoded byte takes at most 3 characters */
#define NGX_HTTP_OTP_URI_ESCAPE_MAX  3


static const char *ngx_http_otp_uri_alg_name(ngx_http_otp_alg_e alg);
static char *ngx_http_otp_uri_copy(char *p, const char *s);
static char *ngx_http_otp_uri_escape(char *p, const char *s, size_t len);
static char *ngx_http_otp_uri_number(char *p, uint64_t n);


static const char  ngx_http_otp_uri_hex[] = "0123456789ABCDEF";


static const char *
ngx_http_otp_uri_alg_name(ngx_http_otp_alg_e alg)
{
    switch (alg) {

    case NGX_HTTP_OTP_SHA1:
        return "SHA1";

    case NGX_HTTP_OTP_SHA256:
        return "SHA256";

    case NGX_HTTP_OTP_SHA512:
        return "SHA512";

    default:
        return NULL;
    }
}


static char *
ngx_http_otp_uri_copy(char *p, const char *s)
{
    size_t  n;

    n = strlen(s);
    memcpy(p, s, n);

    return p + n;
}


/* keeps RFC 3986 unreserved characters only, so ":" in a name is safe */

static char *
ngx_http_otp_uri_escape(char *p, const char *s, size_t len)
{
    size_t          i;
    unsigned char   c;

    for (i = 0; i < len; i++) {
        c = (unsigned char) s[i];

        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z')
            || (c >= '0' && c <= '9')
            || c == '-' || c == '.' || c == '_' || c == '~')
        {
            *p++ = (char) c;
            continue;
        }

        *p++ = '%';
        *p++ = ngx_http_otp_uri_hex[c >> 4];
        *p++ = ngx_http_otp_uri_hex[c & 0x0f];
    }

    return p;
}


static char *
ngx_http_otp_uri_number(char *p, uint64_t n)
{
    char   buf[20], *q;

    q = buf + sizeof(buf);

    do {
        *--q = (char) ('0' + n % 10);
        n /= 10;
    } while (n);

    memcpy(p, q, (size_t) (buf + sizeof(buf) - q));

    return p + (buf + sizeof(buf) - q);
}


size_t
ngx_http_otp_uri_max_len(const ngx_http_otp_uri_t *u)
{
    size_t  limit;

    if (u == NULL) {
        return 0;
    }

    /* inputs that large are refused by uri_build as well */

    limit = (SIZE_MAX - NGX_HTTP_OTP_URI_FIXED_LEN) / 16;

    if (u->issuer_len > limit || u->account_len > limit
        || u->secret_len > limit)
    {
        return 0;
    }

    return NGX_HTTP_OTP_URI_FIXED_LEN
           + 2 * NGX_HTTP_OTP_URI_ESCAPE_MAX * u->issuer_len
           + NGX_HTTP_OTP_URI_ESCAPE_MAX * u->account_len
           + ngx_http_otp_base32_encoded_len(u->secret_len);
}


size_t
ngx_http_otp_uri_build(const ngx_http_otp_uri_t *u, char *dst)
{
    char         *p;
    const char   *alg;

    if (u == NULL || dst == NULL || ngx_http_otp_uri_max_len(u) == 0) {
        return 0;
    }

    if ((u->issuer == NULL && u->issuer_len > 0)
        || (u->account == NULL && u->account_len > 0)
        || (u->secret == NULL && u->secret_len > 0))
    {
        return 0;
    }

    alg = ngx_http_otp_uri_alg_name(u->alg);
    if (alg == NULL) {
        return 0;
    }

    p = ngx_http_otp_uri_copy(dst, u->hotp ? "otpauth://hotp/"
                                           : "otpauth://totp/");

    /* without an issuer the label is the account name alone */

    if (u->issuer_len > 0) {
        p = ngx_http_otp_uri_escape(p, u->issuer, u->issuer_len);
        *p++ = ':';
    }

    p = ngx_http_otp_uri_escape(p, u->account, u->account_len);

    p = ngx_http_otp_uri_copy(p, "?secret=");
    p += ngx_http_otp_base32_encode(u->secret, u->secret_len, p);

    if (u->issuer_len > 0) {
        p = ngx_http_otp_uri_copy(p, "&issuer=");
        p = ngx_http_otp_uri_escape(p, u->issuer, u->issuer_len);
    }

    p = ngx_http_otp_uri_copy(p, "&algorithm=");
    p = ngx_http_otp_uri_copy(p, alg);

    p = ngx_http_otp_uri_copy(p, "&digits=");
    p = ngx_http_otp_uri_number(p, u->digits);

    if (u->hotp) {
        p = ngx_http_otp_uri_copy(p, "&counter=");
        p = ngx_http_otp_uri_number(p, u->counter);

    } else {
        p = ngx_http_otp_uri_copy(p, "&period=");
        p = ngx_http_otp_uri_number(p, u->period);
    }

    return (size_t) (p - dst);
}

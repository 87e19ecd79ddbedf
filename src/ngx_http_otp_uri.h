
/*
 * otpauth:// Key Uri Format (as read by Google Authenticator and FreeOTP).
 */


#ifndef _NGX_HTTP_OTP_URI_H_INCLUDED_
#define _NGX_HTTP_OTP_URI_H_INCLUDED_


#include <stddef.h>
#include <stdint.h>

#include "ngx_http_otp_hotp.h"


typedef struct {
    int                  hotp;        /* 0: totp, 1: hotp */
    const char          *issuer;
    size_t               issuer_len;
    const char          *account;
    size_t               account_len;
    const uint8_t       *secret;      /* raw bytes, base32-encoded in URI */
    size_t               secret_len;
    ngx_http_otp_alg_e   alg;
    unsigned             digits;
    unsigned             period;      /* totp */
    uint64_t             counter;     /* hotp */
} ngx_http_otp_uri_t;


/* upper bound of the URI length, NUL not included */
size_t ngx_http_otp_uri_max_len(const ngx_http_otp_uri_t *u);

/*
 * otpauth://totp/<issuer>:<account>?secret=..&issuer=..&algorithm=SHA1
 * &digits=6&period=30 (hotp: counter= instead of period=).  Label parts
 * and the issuer parameter are percent-encoded (UTF-8 bytes kept as
 * %XX, space as %20).  Returns the length written, no NUL.
 */
size_t ngx_http_otp_uri_build(const ngx_http_otp_uri_t *u, char *dst);


#endif /* _NGX_HTTP_OTP_URI_H_INCLUDED_ */

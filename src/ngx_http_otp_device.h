
/*
 * Remembered devices (otp_remember_device): "trust this browser".
 *
 * After a right code with the box ticked, the browser gets a device
 * cookie: a signed value (purpose "device") of a random id, the user and
 * the cookie's expiry.  The id counts only while the user's set in Redis
 * holds it (P d:<user>), so that the admin API and a new enrollment can
 * forget every browser of a user at once.  The gate turns a good device
 * cookie into a new session with method "remembered" (gate.lua).
 */


#ifndef _NGX_HTTP_OTP_DEVICE_H_INCLUDED_
#define _NGX_HTTP_OTP_DEVICE_H_INCLUDED_


#include "ngx_http_otp.h"


#define NGX_HTTP_OTP_DEVICE_ID_LEN    16
#define NGX_HTTP_OTP_DEVICE_MAX       20      /* remembered per user */


typedef struct {
    u_char                      id[2 * NGX_HTTP_OTP_DEVICE_ID_LEN]; /* hex */
    time_t                      issued;       /* the code was entered */
    time_t                      expires;
    ngx_str_t                   cookie;       /* the cookie's value */
} ngx_http_otp_device_t;


/* a new device of user for secs: id, times and the cookie's value */
ngx_int_t ngx_http_otp_device_new(ngx_http_request_t *r, ngx_str_t *user,
    time_t secs, ngx_http_otp_device_t *dev);

/*
 * Set-Cookie with the device cookie, beside the session cookie; a dev of
 * NULL clears it
 */
ngx_int_t ngx_http_otp_device_set_cookie(ngx_http_request_t *r,
    ngx_http_otp_device_t *dev);

/*
 * The device cookie of r, when it is intact, the user's and not expired:
 * NGX_OK and dev filled in; else NGX_DECLINED.
 */
ngx_int_t ngx_http_otp_device_from_cookie(ngx_http_request_t *r,
    ngx_str_t *user, ngx_http_otp_device_t *dev);


#endif /* _NGX_HTTP_OTP_DEVICE_H_INCLUDED_ */

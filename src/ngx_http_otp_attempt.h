
/*
 * One path for a code typed on the challenge, whatever the method (TOTP,
 * HOTP, recovery code, texted code): the arguments attempt.lua and
 * sms_attempt.lua share, and their replies, with a table of what differs
 * from one method to the next.
 */


#ifndef _NGX_HTTP_OTP_ATTEMPT_H_INCLUDED_
#define _NGX_HTTP_OTP_ATTEMPT_H_INCLUDED_


#include "ngx_http_otp.h"


/* $otp_method of a code (ep->factor), in the order of the metrics */
#define NGX_HTTP_OTP_FACTOR_TOTP         0
#define NGX_HTTP_OTP_FACTOR_HOTP         1
#define NGX_HTTP_OTP_FACTOR_RECOVERY     2
#define NGX_HTTP_OTP_FACTOR_SMS          3


/* ep->factor's name */
const char *ngx_http_otp_factor_name(ngx_uint_t factor);

/*
 * The new session's id (ep->sid), and the arguments that make it with a
 * right code: idle, lifetime, the device to remember ("trust this
 * browser", ep->remember) and its expiry, the most devices; five.
 */
ngx_int_t ngx_http_otp_attempt_session_args(ngx_http_request_t *r,
    ngx_str_t *args);

/* 429 for a locked user, counted for ep->factor */
ngx_int_t ngx_http_otp_attempt_locked(ngx_http_request_t *r,
    ngx_int_t secs);

/*
 * The reply of attempt.lua or sms_attempt.lua for ep->factor: a right
 * code's cookies and 303, a wrong code's 401 page, 429 when burnt or
 * locked, a new challenge when it expired.  The callers handle first
 * what is theirs alone (stale, conflict).
 */
void ngx_http_otp_attempt_done(ngx_http_request_t *r,
    ngx_http_otp_store_reply_t *reply);


#endif /* _NGX_HTTP_OTP_ATTEMPT_H_INCLUDED_ */


/*
 * The challenge page and its form: GET challenge and POST verify with a
 * TOTP, HOTP or recovery code, and the session a right code starts.
 */


#ifndef _NGX_HTTP_OTP_VERIFY_H_INCLUDED_
#define _NGX_HTTP_OTP_VERIFY_H_INCLUDED_


#include "ngx_http_otp.h"


/* steps of the endpoint (see ngx_http_otp_endpoint.h) */
ngx_int_t ngx_http_otp_challenge(ngx_http_request_t *r);
ngx_int_t ngx_http_otp_verify(ngx_http_request_t *r);

/* a new challenge, then its page (401 when ep->error is set) */
ngx_int_t ngx_http_otp_challenge_new(ngx_http_request_t *r);
/*
 * A new challenge (ep->challenge) made by challenge_new.lua, whose reply
 * goes to done: made "always", or for a user with a factor ("totp" or
 * "phone", see the script)
 */
ngx_int_t ngx_http_otp_challenge_make(ngx_http_request_t *r,
    const char *when, ngx_http_otp_store_handler_pt done);
/* the page of ep->challenge */
ngx_int_t ngx_http_otp_challenge_page(ngx_http_request_t *r,
    ngx_uint_t status);

/*
 * A new session signed in with method; its reply goes on in the verify
 * or in the enrollment page, after ep->action
 */
ngx_int_t ngx_http_otp_session_start(ngx_http_request_t *r,
    const char *method);


#endif /* _NGX_HTTP_OTP_VERIFY_H_INCLUDED_ */

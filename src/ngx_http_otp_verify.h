
/*
 * The challenge page and its form: GET challenge and POST verify with a
 * TOTP, HOTP or recovery code, and the session a right code starts.
 */


#ifndef _NGX_HTTP_OTP_VERIFY_H_INCLUDED_
#define _NGX_HTTP_OTP_VERIFY_H_INCLUDED_


#include "ngx_http_otp.h"
#include "ngx_http_otp_store.h"


/*
 * Steps of the endpoint (see ngx_http_otp_page_flow.h): GET challenge,
 * a new challenge and its page (401 when ep->error is set), and POST
 * verify
 */
ngx_int_t ngx_http_otp_challenge_new(ngx_http_request_t *r);
ngx_int_t ngx_http_otp_verify(ngx_http_request_t *r);

/*
 * What the challenge page does for the user of a user_state.lua reply:
 * NGX_DECLINED for a user who gets a challenge, else the response
 * (locked, set up a factor)
 */
ngx_int_t ngx_http_otp_challenge_state(ngx_http_request_t *r,
    ngx_http_otp_user_state_t *us);
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

/* a new session signed in with method (session_new.lua); reply to done */
ngx_int_t ngx_http_otp_session_start(ngx_http_request_t *r,
    const char *method, ngx_http_otp_store_handler_pt done);
/* session_new.lua's reply after a right code: the device, the cookie */
void ngx_http_otp_verify_session(ngx_http_request_t *r,
    ngx_http_otp_store_reply_t *reply);


#endif /* _NGX_HTTP_OTP_VERIFY_H_INCLUDED_ */

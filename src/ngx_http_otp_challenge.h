
/*
 * The challenge page: a new challenge and the form for a code, and the
 * key pass the form carries.
 */


#ifndef _NGX_HTTP_OTP_CHALLENGE_H_INCLUDED_
#define _NGX_HTTP_OTP_CHALLENGE_H_INCLUDED_


#include "ngx_http_otp.h"
#include "ngx_http_otp_store.h"


/*
 * A step of the endpoint (see ngx_http_otp_page_flow.h): a new
 * challenge and its page (401 when ep->error is set)
 */
ngx_int_t ngx_http_otp_challenge_new(ngx_http_request_t *r);

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

/* NGX_OK and us set from the form's key pass; NGX_DECLINED: none good */
ngx_int_t ngx_http_otp_pass_open(ngx_http_request_t *r,
    ngx_http_otp_user_state_t *us);


#endif /* _NGX_HTTP_OTP_CHALLENGE_H_INCLUDED_ */


/*
 * POST verify with a TOTP, HOTP or recovery code, and the session that
 * enrollment starts.
 */


#ifndef _NGX_HTTP_OTP_VERIFY_H_INCLUDED_
#define _NGX_HTTP_OTP_VERIFY_H_INCLUDED_


#include "ngx_http_otp.h"


/* a step of the endpoint (see ngx_http_otp_page_flow.h) */
ngx_int_t ngx_http_otp_verify(ngx_http_request_t *r);

/* a new session signed in with method (session_new.lua); reply to done */
ngx_int_t ngx_http_otp_session_start(ngx_http_request_t *r,
    const char *method, ngx_http_otp_store_handler_pt done);


#endif /* _NGX_HTTP_OTP_VERIFY_H_INCLUDED_ */

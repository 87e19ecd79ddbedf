
/*
 * Enrollment: GET and POST enroll, a new authenticator and its first
 * code.
 */


#ifndef _NGX_HTTP_OTP_ENROLL_H_INCLUDED_
#define _NGX_HTTP_OTP_ENROLL_H_INCLUDED_


#include "ngx_http_otp.h"


/* a step of the endpoint (see ngx_http_otp_endpoint.h) */
ngx_int_t ngx_http_otp_enroll(ngx_http_request_t *r);

/* session_new.lua's reply after a new authenticator: the new codes page */
void ngx_http_otp_enroll_session_created(ngx_http_request_t *r,
    ngx_http_otp_store_reply_t *reply);


#endif /* _NGX_HTTP_OTP_ENROLL_H_INCLUDED_ */

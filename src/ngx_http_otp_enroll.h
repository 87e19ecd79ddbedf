
/*
 * Enrollment: GET and POST enroll, a new authenticator and its first
 * code.
 */


#ifndef _NGX_HTTP_OTP_ENROLL_H_INCLUDED_
#define _NGX_HTTP_OTP_ENROLL_H_INCLUDED_


#include "ngx_http_otp.h"


/* a step of the endpoint (see ngx_http_otp_page_flow.h) */
ngx_int_t ngx_http_otp_enroll(ngx_http_request_t *r);


#endif /* _NGX_HTTP_OTP_ENROLL_H_INCLUDED_ */

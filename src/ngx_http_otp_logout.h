
/*
 * Signing out: GET and POST logout.
 */


#ifndef _NGX_HTTP_OTP_LOGOUT_H_INCLUDED_
#define _NGX_HTTP_OTP_LOGOUT_H_INCLUDED_


#include "ngx_http_otp.h"


/* steps of the endpoint (see ngx_http_otp_page_flow.h) */
ngx_int_t ngx_http_otp_logout_form(ngx_http_request_t *r);
ngx_int_t ngx_http_otp_logout(ngx_http_request_t *r);


#endif /* _NGX_HTTP_OTP_LOGOUT_H_INCLUDED_ */

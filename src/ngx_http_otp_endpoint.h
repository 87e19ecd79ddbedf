
/*
 * The otp_endpoint location's handler: the router that sends each path
 * to its page.  What the pages share is in ngx_http_otp_page_flow.h.
 */


#ifndef _NGX_HTTP_OTP_ENDPOINT_H_INCLUDED_
#define _NGX_HTTP_OTP_ENDPOINT_H_INCLUDED_


#include "ngx_http_otp.h"


ngx_int_t ngx_http_otp_endpoint_handler(ngx_http_request_t *r);


#endif /* _NGX_HTTP_OTP_ENDPOINT_H_INCLUDED_ */

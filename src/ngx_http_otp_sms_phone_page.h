
/*
 * The phone number page: GET sms, and POST sms with a number to enroll
 * or change.
 */


#ifndef _NGX_HTTP_OTP_SMS_PHONE_PAGE_H_INCLUDED_
#define _NGX_HTTP_OTP_SMS_PHONE_PAGE_H_INCLUDED_


#include "ngx_http_otp.h"


/* steps of the endpoint (see ngx_http_otp_page_flow.h) */
ngx_int_t ngx_http_otp_sms_form(ngx_http_request_t *r);
ngx_int_t ngx_http_otp_sms_phone_post(ngx_http_request_t *r);


#endif /* _NGX_HTTP_OTP_SMS_PHONE_PAGE_H_INCLUDED_ */


/*
 * A texted code on the challenge page: the challenge a text was sent
 * for, shown again, and POST verify with method=sms.
 */


#ifndef _NGX_HTTP_OTP_SMS_VERIFY_H_INCLUDED_
#define _NGX_HTTP_OTP_SMS_VERIFY_H_INCLUDED_


#include "ngx_http_otp.h"


/*
 * Steps of the endpoint (see ngx_http_otp_page_flow.h): GET challenge
 * with the "c" of a challenge a text was sent for (shown again when it
 * is still the user's, else a new one), and POST verify with method=sms
 */
ngx_int_t ngx_http_otp_sms_challenge(ngx_http_request_t *r);
ngx_int_t ngx_http_otp_sms_verify(ngx_http_request_t *r);


#endif /* _NGX_HTTP_OTP_SMS_VERIFY_H_INCLUDED_ */

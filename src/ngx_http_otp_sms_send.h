
/*
 * Sending a code by text message for the form's challenge: reserved,
 * sent through the provider, counted.
 */


#ifndef _NGX_HTTP_OTP_SMS_SEND_H_INCLUDED_
#define _NGX_HTTP_OTP_SMS_SEND_H_INCLUDED_


#include "ngx_http_otp.h"


/* POST sms without a number (see ngx_http_otp_page_flow.h) */
ngx_int_t ngx_http_otp_sms_post(ngx_http_request_t *r);

/*
 * A text for ep->challenge: sms_reserve.lua, the provider, sms_done.lua,
 * then the response; NGX_DONE while one of them is in flight.  To
 * ctx->sms->to when set, else to the user's number.
 */
ngx_int_t ngx_http_otp_sms_reserve(ngx_http_request_t *r);


#endif /* _NGX_HTTP_OTP_SMS_SEND_H_INCLUDED_ */

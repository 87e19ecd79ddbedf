
/*
 * otp_sms_number_limit: texts to one destination number per day, across
 * users (SPEC 6.17), kept under the number's keyed hash.
 */


#ifndef _NGX_HTTP_OTP_SMS_NUMBER_H_INCLUDED_
#define _NGX_HTTP_OTP_SMS_NUMBER_H_INCLUDED_


#include "ngx_http_otp.h"


/*
 * sms_number.lua "reserve" for the text to ctx->sms->to, before it goes
 * to the provider; done gets the reply (st->number_held or
 * st->number_full set).
 */
ngx_int_t ngx_http_otp_sms_number_reserve(ngx_http_request_t *r,
    ngx_http_otp_store_handler_pt done);

/* "release": the text never reached the provider, it is free */
ngx_int_t ngx_http_otp_sms_number_release(ngx_http_request_t *r,
    ngx_http_otp_store_handler_pt done);


#endif /* _NGX_HTTP_OTP_SMS_NUMBER_H_INCLUDED_ */

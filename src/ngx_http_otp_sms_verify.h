
/*
 * A texted code on the challenge page: the challenge a text was sent
 * for, shown again, and POST verify with method=sms.
 */


#ifndef _NGX_HTTP_OTP_SMS_VERIFY_H_INCLUDED_
#define _NGX_HTTP_OTP_SMS_VERIFY_H_INCLUDED_


#include "ngx_http_otp.h"
#include "ngx_http_otp_store.h"


/* steps of the endpoint (see ngx_http_otp_page_flow.h) */
ngx_int_t ngx_http_otp_sms_verify(ngx_http_request_t *r);

/*
 * GET challenge with the "c" of a challenge a text was sent for (by
 * the user of the user_state.lua reply): shows that challenge again.
 * NGX_DECLINED when there is none to show.
 */
ngx_int_t ngx_http_otp_sms_challenge(ngx_http_request_t *r,
    ngx_http_otp_user_state_t *us);


#endif /* _NGX_HTTP_OTP_SMS_VERIFY_H_INCLUDED_ */


/*
 * SMS as a factor, for the gate and the other pages: whether a user has
 * it, where a user with no factor sets one up, what the challenge and
 * enrollment pages show of it.  The SMS pages have their own headers.
 */


#ifndef _NGX_HTTP_OTP_SMS_H_INCLUDED_
#define _NGX_HTTP_OTP_SMS_H_INCLUDED_


#include "ngx_http_otp.h"
#include "ngx_http_otp_page.h"
#include "ngx_http_otp_store.h"


/* what user_state.lua said of the user, for the pages */
void ngx_http_otp_sms_user(ngx_http_request_t *r,
    ngx_http_otp_user_state_t *us);

/* NGX_OK and phone set when otp_sms_phone names a number for r */
ngx_int_t ngx_http_otp_sms_configured(ngx_http_request_t *r,
    ngx_str_t *phone);

/*
 * 1 if the user of a user_state.lua reply has SMS as a factor here: sms
 * in otp_methods, and a number from otp_sms_phone or a verified one.
 */
ngx_uint_t ngx_http_otp_sms_factor(ngx_http_request_t *r,
    ngx_http_otp_user_state_t *us);

/*
 * The challenge page's SMS values; NGX_OK when the page asks for a
 * texted code, NGX_DECLINED when for another one, or NGX_ERROR.
 */
ngx_int_t ngx_http_otp_sms_page_vars(ngx_http_request_t *r,
    ngx_http_otp_page_vars_t *pv);

/* 1 when the challenge page must not offer the authenticator app */
ngx_uint_t ngx_http_otp_sms_no_totp(ngx_http_request_t *r);

/* where a user with no factor sets one up: "enroll" or "sms" */
const char *ngx_http_otp_setup_page(ngx_http_otp_loc_conf_t *olcf);

/* the enrollment page's way to text messages instead */
ngx_int_t ngx_http_otp_sms_enroll_vars(ngx_http_request_t *r,
    ngx_http_otp_page_vars_t *pv);


#endif /* _NGX_HTTP_OTP_SMS_H_INCLUDED_ */

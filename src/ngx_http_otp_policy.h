
/*
 * Policy: which methods the challenge offers, who passes without a
 * second factor (otp_bypass), how recent a code must be (otp_max_age),
 * and the directives that set them.
 */


#ifndef _NGX_HTTP_OTP_POLICY_H_INCLUDED_
#define _NGX_HTTP_OTP_POLICY_H_INCLUDED_


#include "ngx_http_otp.h"


/* browsers cap a cookie's Max-Age at 400 days */
#define NGX_HTTP_OTP_MAX_REMEMBER   (400 * 24 * 60 * 60)


/* "otp_methods totp | sms | recovery | link ...;" */
char *ngx_http_otp_methods(ngx_conf_t *cf, ngx_command_t *cmd, void *conf);

/* "<time> | off" into a time_t at cmd->offset; off is 0 */
char *ngx_http_otp_time_or_off(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);

/*
 * otp_bypass: NGX_OK when one of its values is non-empty and not "0",
 * NGX_DECLINED when none is (or there is no otp_bypass), NGX_ERROR.
 */
ngx_int_t ngx_http_otp_bypassed(ngx_http_request_t *r,
    ngx_http_otp_loc_conf_t *olcf);

/* otp_max_age: 1 when a code entered at auth_time is too old here */
ngx_uint_t ngx_http_otp_stale(ngx_http_otp_loc_conf_t *olcf,
    time_t auth_time);


#endif /* _NGX_HTTP_OTP_POLICY_H_INCLUDED_ */

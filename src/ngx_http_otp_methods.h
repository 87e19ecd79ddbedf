
/*
 * otp_methods: which second factors a location offers and accepts.
 */


#ifndef _NGX_HTTP_OTP_METHODS_H_INCLUDED_
#define _NGX_HTTP_OTP_METHODS_H_INCLUDED_


#include "ngx_http_otp.h"


#define NGX_HTTP_OTP_METHODS_DEFAULT                                          \
    (NGX_HTTP_OTP_METHOD_TOTP | NGX_HTTP_OTP_METHOD_RECOVERY)


char *ngx_http_otp_methods(ngx_conf_t *cf, ngx_command_t *cmd, void *conf);

/* the page where a user with no factor sets one up: "enroll" or "sms" */
const char *ngx_http_otp_setup_page(ngx_http_otp_loc_conf_t *olcf);


#endif /* _NGX_HTTP_OTP_METHODS_H_INCLUDED_ */

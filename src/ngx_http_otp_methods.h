
/*
 * otp_methods: which second factors a location offers and accepts, as
 * a ngx_conf_bitmask_t in the location's configuration.
 */


#ifndef _NGX_HTTP_OTP_METHODS_H_INCLUDED_
#define _NGX_HTTP_OTP_METHODS_H_INCLUDED_


#include "ngx_http_otp.h"


char *ngx_http_otp_methods(ngx_conf_t *cf, ngx_command_t *cmd, void *conf);


#endif /* _NGX_HTTP_OTP_METHODS_H_INCLUDED_ */


/*
 * The otp_admin location: a JSON API to look at users and act on them.
 */


#ifndef _NGX_HTTP_OTP_ADMIN_H_INCLUDED_
#define _NGX_HTTP_OTP_ADMIN_H_INCLUDED_


#include "ngx_http_otp.h"


/* "otp_admin;" */
char *ngx_http_otp_admin(ngx_conf_t *cf, ngx_command_t *cmd, void *conf);


#endif /* _NGX_HTTP_OTP_ADMIN_H_INCLUDED_ */


/*
 * Handlers of the directives that need more than a stock slot.
 */


#ifndef _NGX_HTTP_OTP_CONF_H_INCLUDED_
#define _NGX_HTTP_OTP_CONF_H_INCLUDED_


#include "ngx_http_otp.h"


char *ngx_http_otp_redis(ngx_conf_t *cf, ngx_command_t *cmd, void *conf);
char *ngx_http_otp_secret_file(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);

char *ngx_http_otp_cookie(ngx_conf_t *cf, ngx_command_t *cmd, void *conf);
char *ngx_http_otp_lockout(ngx_conf_t *cf, ngx_command_t *cmd, void *conf);
char *ngx_http_otp_endpoint(ngx_conf_t *cf, ngx_command_t *cmd, void *conf);
char *ngx_http_otp_templates(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);

void ngx_http_otp_redis_conf_default(ngx_http_otp_redis_conf_t *rc);
void ngx_http_otp_cookie_conf_default(ngx_http_otp_cookie_t *ck);


#endif /* _NGX_HTTP_OTP_CONF_H_INCLUDED_ */

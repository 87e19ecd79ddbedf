
/*
 * The options of "otp_redis" that scale out: sentinel=, master=,
 * sentinel_password=, sentinel_password_file=, cluster=, replicas=.
 */


#ifndef _NGX_HTTP_OTP_REDIS_CONF_H_INCLUDED_
#define _NGX_HTTP_OTP_REDIS_CONF_H_INCLUDED_


#include "ngx_http_otp.h"


/* host[:port] (resolved now) or unix:/path into rc */
char *ngx_http_otp_redis_address(ngx_conf_t *cf,
    ngx_http_otp_redis_conf_t *rc, ngx_str_t *addr);

/* the first argument names servers through Sentinel or Cluster */
ngx_uint_t ngx_http_otp_redis_scaled(ngx_str_t *arg);

/* what scale_option returns for an option that is not one of these */
#define NGX_HTTP_OTP_REDIS_NOT_SCALE  ngx_http_otp_redis_not_scale

extern char  ngx_http_otp_redis_not_scale[];

/* NGX_HTTP_OTP_REDIS_NOT_SCALE: not one of these options */
char *ngx_http_otp_redis_scale_option(ngx_conf_t *cf,
    ngx_http_otp_redis_conf_t *rc, ngx_str_t *opt);

/* the options together, once all are read */
char *ngx_http_otp_redis_scale_check(ngx_conf_t *cf,
    ngx_http_otp_redis_conf_t *rc);


#endif /* _NGX_HTTP_OTP_REDIS_CONF_H_INCLUDED_ */


/*
 * Redis Sentinel: the master is asked of the sentinels and followed
 * across failovers.
 */


#ifndef _NGX_HTTP_OTP_REDIS_SENTINEL_H_INCLUDED_
#define _NGX_HTTP_OTP_REDIS_SENTINEL_H_INCLUDED_


#include "ngx_http_otp_redis_node.h"


/* master: a node set up for the store; it is connected where told */
ngx_int_t ngx_http_otp_redis_sentinel_init(ngx_http_otp_redis_env_t *env,
    ngx_http_otp_redis_node_t *master);
void ngx_http_otp_redis_sentinel_exit(void);

/* the master answered READONLY: it was demoted */
void ngx_http_otp_redis_sentinel_readonly(void);


#endif /* _NGX_HTTP_OTP_REDIS_SENTINEL_H_INCLUDED_ */

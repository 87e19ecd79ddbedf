
/*
 * Redis Cluster: the slot map, a node per master, and where each call
 * goes.
 */


#ifndef _NGX_HTTP_OTP_REDIS_CLUSTER_H_INCLUDED_
#define _NGX_HTTP_OTP_REDIS_CLUSTER_H_INCLUDED_


#include "ngx_http_otp_redis_node.h"


ngx_int_t ngx_http_otp_redis_cluster_init(ngx_http_otp_redis_env_t *env);
void ngx_http_otp_redis_cluster_exit(void);

/* the slot map is known and every master is ready */
ngx_uint_t ngx_http_otp_redis_cluster_ready(void);

/* the master of the key's slot, or NULL */
ngx_http_otp_redis_node_t *ngx_http_otp_redis_cluster_route(ngx_str_t *key);

/*
 * A "MOVED slot host:port" or "ASK slot host:port" reply: the node named
 * (NULL if unknown), *ask set for ASK.  MOVED refreshes the map.
 */
ngx_http_otp_redis_node_t *ngx_http_otp_redis_cluster_redirect(char *err,
    size_t len, ngx_uint_t *ask);

/* Redis Cluster's slot of a key: CRC16 of its hash tag, mod 16384 */
ngx_uint_t ngx_http_otp_redis_cluster_slot(u_char *key, size_t len);


#endif /* _NGX_HTTP_OTP_REDIS_CLUSTER_H_INCLUDED_ */

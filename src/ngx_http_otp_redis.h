
/*
 * Redis for the store: one asynchronous connection per server per worker
 * (hiredis on nginx's event loop), shared by every request of that worker
 * and pipelined; one server, a master found through Sentinel, or the
 * masters of a Redis Cluster, each call sent where its keys are.
 */


#ifndef _NGX_HTTP_OTP_REDIS_H_INCLUDED_
#define _NGX_HTTP_OTP_REDIS_H_INCLUDED_


/* the types of scripts and events come with the connections */
#include "ngx_http_otp_redis_node.h"


/*
 * Called exactly once per call that was not detached: with the reply, or
 * with NULL on a timeout, a disconnect or any other failure.  A reply may
 * itself be a Redis error (REDIS_REPLY_ERROR).  The reply is freed when
 * the handler returns.
 */
typedef void (*ngx_http_otp_redis_handler_pt)(void *data, redisReply *reply);


ngx_int_t ngx_http_otp_redis_init_process(ngx_cycle_t *cycle,
    ngx_http_otp_redis_conf_t *conf, ngx_http_otp_redis_script_t *scripts,
    ngx_uint_t nscripts);
void ngx_http_otp_redis_exit_process(ngx_cycle_t *cycle);

/* who is told of the events, set before init_process; NULL: nobody */
void ngx_http_otp_redis_on_event(ngx_http_otp_redis_event_pt handler);

/*
 * ready for commands: connected, authenticated, scripts loaded (in a
 * cluster: the slot map known and every master ready)
 */
ngx_uint_t ngx_http_otp_redis_ready(void);

/*
 * Runs one of the scripts given to init_process (EVALSHA, and EVAL once
 * when Redis answers NOSCRIPT); argv holds the keys, then the arguments.
 * The call goes to the master of its first key's slot; keys of one call
 * must share a hash tag.  NULL when that master is not ready (callers
 * fail fast, nothing is queued) or on an internal error.  The arguments
 * are copied.
 */
ngx_http_otp_redis_call_t *ngx_http_otp_redis_script(ngx_log_t *log,
    ngx_uint_t script, ngx_http_otp_redis_handler_pt handler, void *data,
    ngx_uint_t nkeys, ngx_uint_t argc, ngx_str_t *argv);

/* the handler will not be called: its request has gone away */
void ngx_http_otp_redis_detach(ngx_http_otp_redis_call_t *call);


#endif /* _NGX_HTTP_OTP_REDIS_H_INCLUDED_ */

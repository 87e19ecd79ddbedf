
/*
 * One question to a list of servers, asked of each in turn until one
 * answers: the master's address of the sentinels, the slot map of the
 * cluster's nodes.
 */


#ifndef _NGX_HTTP_OTP_REDIS_ASK_H_INCLUDED_
#define _NGX_HTTP_OTP_REDIS_ASK_H_INCLUDED_


#include "ngx_http_otp_redis_node.h"


typedef struct ngx_http_otp_redis_ask_s  ngx_http_otp_redis_ask_t;

/* the i-th server to ask; NGX_DECLINED: none there now */
typedef ngx_int_t (*ngx_http_otp_redis_ask_addr_pt)(
    ngx_http_otp_redis_ask_t *ask, ngx_uint_t i, ngx_str_t *host,
    in_port_t *port);

/* the answer of the server asked; NGX_OK: the round is over */
typedef ngx_int_t (*ngx_http_otp_redis_ask_answer_pt)(
    ngx_http_otp_redis_ask_t *ask, redisReply *reply);


struct ngx_http_otp_redis_ask_s {
    ngx_http_otp_redis_node_t           probe;   /* the server asked */

    ngx_uint_t                          argc;    /* the question */
    ngx_str_t                           argv[3];
    const char                         *who;     /* for the logs */

    ngx_uint_t                          n;       /* servers to ask */
    ngx_http_otp_redis_ask_addr_pt      addr;
    ngx_http_otp_redis_ask_answer_pt    answer;

    ngx_uint_t                          next;    /* the one to ask next */
    ngx_uint_t                          tried;   /* asked this round */
    ngx_uint_t                          asking;

    ngx_event_t                         deadline;
    ngx_event_t                         step;    /* the next one, now */
    ngx_event_t                         retry;   /* the next round */
    ngx_msec_t                          backoff;
};


/* the question, who, n, addr and answer are set by the caller after */
void ngx_http_otp_redis_ask_init(ngx_http_otp_redis_ask_t *ask,
    ngx_http_otp_redis_env_t *env, ngx_str_t *password);

/* a round, unless one is under way */
void ngx_http_otp_redis_ask_start(ngx_http_otp_redis_ask_t *ask);

/* a round after a while, which grows until backoff is reset */
void ngx_http_otp_redis_ask_later(ngx_http_otp_redis_ask_t *ask);

void ngx_http_otp_redis_ask_exit(ngx_http_otp_redis_ask_t *ask);


#endif /* _NGX_HTTP_OTP_REDIS_ASK_H_INCLUDED_ */

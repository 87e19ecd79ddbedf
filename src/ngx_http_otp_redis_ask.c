
/*
 * A question asked of servers in turn, each on a short-lived connection
 * that has connect_timeout for all of it, from the one that answered
 * last.  Another round may be asked for after a while that doubles up
 * to half a second; the caller resets it when the answer proved good.
 * Nothing here runs inside the hiredis callback that told of a failure:
 * the next server is asked from a timer.
 */


#include "ngx_http_otp_redis_ask.h"


#define NGX_HTTP_OTP_REDIS_ASK_BACKOFF_MIN   50
#define NGX_HTTP_OTP_REDIS_ASK_BACKOFF_MAX   500


#define ngx_http_otp_redis_ask_of(ev, field)                                 \
    ((ngx_http_otp_redis_ask_t *) ((u_char *) (ev)                            \
        - offsetof(ngx_http_otp_redis_ask_t, field)))


static void ngx_http_otp_redis_ask_next(ngx_http_otp_redis_ask_t *ask);
static void ngx_http_otp_redis_ask_skip(ngx_http_otp_redis_ask_t *ask);
static void ngx_http_otp_redis_ask_timeout(ngx_event_t *ev);
static void ngx_http_otp_redis_ask_step(ngx_event_t *ev);
static void ngx_http_otp_redis_ask_retry(ngx_event_t *ev);
static void ngx_http_otp_redis_ask_ready(ngx_http_otp_redis_node_t *node);
static void ngx_http_otp_redis_ask_lost(ngx_http_otp_redis_node_t *node);
static void ngx_http_otp_redis_ask_reply(redisAsyncContext *ac, void *r,
    void *privdata);


void
ngx_http_otp_redis_ask_init(ngx_http_otp_redis_ask_t *ask,
    ngx_http_otp_redis_env_t *env, ngx_str_t *password)
{
    ngx_memzero(ask, sizeof(ngx_http_otp_redis_ask_t));

    ngx_http_otp_redis_node_init(&ask->probe, env);
    ask->probe.password = password;
    ask->probe.on_ready = ngx_http_otp_redis_ask_ready;
    ask->probe.on_lost = ngx_http_otp_redis_ask_lost;
    ask->probe.data = ask;

    ngx_http_otp_redis_timer_init(&ask->deadline,
                                  ngx_http_otp_redis_ask_timeout, env->log);
    ngx_http_otp_redis_timer_init(&ask->step, ngx_http_otp_redis_ask_step,
                                  env->log);
    ngx_http_otp_redis_timer_init(&ask->retry, ngx_http_otp_redis_ask_retry,
                                  env->log);
}


void
ngx_http_otp_redis_ask_exit(ngx_http_otp_redis_ask_t *ask)
{
    if (ask->deadline.timer_set) {
        ngx_del_timer(&ask->deadline);
    }

    if (ask->step.timer_set) {
        ngx_del_timer(&ask->step);
    }

    if (ask->retry.timer_set) {
        ngx_del_timer(&ask->retry);
    }

    ngx_http_otp_redis_node_close(&ask->probe);
}


void
ngx_http_otp_redis_ask_start(ngx_http_otp_redis_ask_t *ask)
{
    if (ask->asking || ask->probe.env->exiting) {
        return;
    }

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, ask->probe.env->log, 0,
                   "otp redis: asking the %s", ask->who);

    ask->asking = 1;
    ask->tried = 0;

    ngx_http_otp_redis_ask_next(ask);
}


void
ngx_http_otp_redis_ask_later(ngx_http_otp_redis_ask_t *ask)
{
    if (ask->probe.env->exiting || ask->retry.timer_set) {
        return;
    }

    ask->backoff = ask->backoff
                   ? ngx_min(ask->backoff * 2,
                             NGX_HTTP_OTP_REDIS_ASK_BACKOFF_MAX)
                   : NGX_HTTP_OTP_REDIS_ASK_BACKOFF_MIN;

    ngx_add_timer(&ask->retry, ask->backoff);
}


static void
ngx_http_otp_redis_ask_next(ngx_http_otp_redis_ask_t *ask)
{
    in_port_t   port;
    ngx_str_t   host;
    ngx_uint_t  i;

    ngx_http_otp_redis_node_close(&ask->probe);

    for ( ;; ) {
        if (ask->tried == ask->n) {
            ngx_http_otp_redis_error(ask->probe.env->log, 0,
                                     "otp: none of the %s answered",
                                     ask->who);
            ask->asking = 0;
            ngx_http_otp_redis_ask_later(ask);
            return;
        }

        ask->tried++;
        i = ask->next;
        ask->next = (ask->next + 1) % ask->n;

        if (ask->addr(ask, i, &host, &port) == NGX_OK) {
            break;
        }
    }

    ngx_http_otp_redis_node_set_addr(&ask->probe, &host, port);

    if (ask->deadline.timer_set) {
        ngx_del_timer(&ask->deadline);
    }

    ngx_add_timer(&ask->deadline, ask->probe.env->conf->connect_timeout);

    ngx_http_otp_redis_node_connect(&ask->probe);
}


/* this one could not say: the next one, from a timer */

static void
ngx_http_otp_redis_ask_skip(ngx_http_otp_redis_ask_t *ask)
{
    if (ask->deadline.timer_set) {
        ngx_del_timer(&ask->deadline);
    }

    if (!ask->asking || ask->step.timer_set) {
        return;
    }

    ngx_add_timer(&ask->step, 1);
}


static void
ngx_http_otp_redis_ask_timeout(ngx_event_t *ev)
{
    ngx_http_otp_redis_ask_t  *ask;

    ask = ngx_http_otp_redis_ask_of(ev, deadline);

    ngx_http_otp_redis_error(ask->probe.env->log, NGX_ETIMEDOUT,
                             "otp: %s:%d of the %s did not answer in time",
                             ask->probe.host, (int) ask->probe.port,
                             ask->who);

    ngx_http_otp_redis_ask_next(ask);
}


static void
ngx_http_otp_redis_ask_step(ngx_event_t *ev)
{
    ngx_http_otp_redis_ask_next(ngx_http_otp_redis_ask_of(ev, step));
}


static void
ngx_http_otp_redis_ask_retry(ngx_event_t *ev)
{
    ngx_http_otp_redis_ask_start(ngx_http_otp_redis_ask_of(ev, retry));
}


static void
ngx_http_otp_redis_ask_ready(ngx_http_otp_redis_node_t *node)
{
    ngx_http_otp_redis_ask_t  *ask = node->data;

    if (ngx_http_otp_redis_node_command(node, ngx_http_otp_redis_ask_reply,
                                        ask, ask->argc, ask->argv)
        != NGX_OK)
    {
        ngx_http_otp_redis_node_drop(node);
    }
}


static void
ngx_http_otp_redis_ask_lost(ngx_http_otp_redis_node_t *node)
{
    ngx_http_otp_redis_ask_skip(node->data);
}


static void
ngx_http_otp_redis_ask_reply(redisAsyncContext *ac, void *r, void *privdata)
{
    redisReply                *reply = r;
    ngx_http_otp_redis_ask_t  *ask = privdata;

    if (reply == NULL || ask->probe.ac != ac) {
        return;
    }

    if (ask->answer(ask, reply) != NGX_OK) {
        ngx_http_otp_redis_error(ask->probe.env->log, 0,
                                 "otp: %s:%d of the %s gave no usable "
                                 "answer%s%s", ask->probe.host,
                                 (int) ask->probe.port, ask->who,
                                 reply->type == REDIS_REPLY_ERROR
                                 ? ": " : "",
                                 reply->type == REDIS_REPLY_ERROR
                                 ? reply->str : "");

        ngx_http_otp_redis_ask_skip(ask);
        return;
    }

    if (ask->deadline.timer_set) {
        ngx_del_timer(&ask->deadline);
    }

    /* the one that answered is asked first next time */

    ask->next = (ask->next + ask->n - 1) % ask->n;
    ask->asking = 0;

    ngx_http_otp_redis_node_close(&ask->probe);
}

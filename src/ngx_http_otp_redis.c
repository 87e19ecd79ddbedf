
/*
 * The calls of the store: each one a script, sent with EVALSHA to the
 * node that holds its keys, its reply handed back to the caller once.
 *
 * Where a call goes: the one server of "otp_redis host:port", the master
 * that Sentinel names (ngx_http_otp_redis_sentinel.c), or the master of
 * the slot of the call's first key in a Redis Cluster
 * (ngx_http_otp_redis_cluster.c).  Each connection is a node
 * (ngx_http_otp_redis_node.c).  A call is never queued for a node that
 * is not ready: it fails at once, and the request gets 503.
 *
 * A reply may send the call on once: NOSCRIPT (EVAL with the source, on
 * the same node), MOVED and ASK (to the node named, ASKING first for an
 * ASK).  With "replicas=", a script that decides security is followed on
 * the same connection by WAIT, and its reply counts only when WAIT says
 * that enough replicas have it.
 *
 * Privdata given to hiredis is always a call object owned here, never a
 * request; a request that goes away detaches its call and the reply is
 * dropped.  A call lives until the last hiredis callback that names it.
 */


#include "ngx_http_otp_redis.h"
#include "ngx_http_otp_redis_sentinel.h"
#include "ngx_http_otp_redis_cluster.h"

#include <openssl/sha.h>


#define NGX_HTTP_OTP_REDIS_NO_SCRIPT        ((ngx_uint_t) -1)


struct ngx_http_otp_redis_call_s {
    ngx_http_otp_redis_handler_pt   handler;
    void                           *data;
    ngx_log_t                      *log;
    ngx_event_t                     timer;
    ngx_http_otp_redis_call_t      *next;      /* on the free list */

    /* a script call keeps its arguments to be sent again */
    ngx_uint_t                      script;
    ngx_uint_t                      nkeys;
    ngx_uint_t                      argc;
    ngx_str_t                       argv[NGX_HTTP_OTP_REDIS_MAX_ARGS];
    u_char                         *buf;
    size_t                          buf_size;

    ngx_http_otp_redis_node_t      *node;      /* sent there last */
    ngx_uint_t                      pending;   /* hiredis callbacks due */
    ngx_uint_t                      stale_waits;
    redisReply                     *kept;      /* the reply, while WAIT */

    unsigned                        retried:1;     /* NOSCRIPT */
    unsigned                        redirected:1;  /* MOVED or ASK */
    unsigned                        asking:1;      /* sent after ASKING */
    unsigned                        wait:1;
    unsigned                        done:1;
};


typedef enum {
    NGX_HTTP_OTP_REDIS_SINGLE = 0,
    NGX_HTTP_OTP_REDIS_SENTINEL,
    NGX_HTTP_OTP_REDIS_CLUSTER
} ngx_http_otp_redis_mode_e;


typedef struct {
    ngx_http_otp_redis_env_t        env;
    ngx_http_otp_redis_mode_e       mode;

    /* the one server, or the master that Sentinel names */
    ngx_http_otp_redis_node_t       master;

    ngx_http_otp_redis_call_t      *free;
} ngx_http_otp_redis_t;


static ngx_http_otp_redis_node_t *ngx_http_otp_redis_route(
    ngx_http_otp_redis_call_t *call);
static ngx_http_otp_redis_call_t *ngx_http_otp_redis_call_get(
    ngx_log_t *log, ngx_http_otp_redis_handler_pt handler, void *data);
static void ngx_http_otp_redis_call_end(ngx_http_otp_redis_call_t *call,
    redisReply *reply);
static void ngx_http_otp_redis_call_release(ngx_http_otp_redis_call_t *call);
static ngx_uint_t ngx_http_otp_redis_call_over(
    ngx_http_otp_redis_call_t *call);
static ngx_int_t ngx_http_otp_redis_call_keep_args(
    ngx_http_otp_redis_call_t *call, ngx_uint_t argc, ngx_str_t *argv);
static ngx_int_t ngx_http_otp_redis_send_script(
    ngx_http_otp_redis_call_t *call, ngx_http_otp_redis_node_t *node,
    ngx_uint_t by_source, ngx_uint_t asking);
static void ngx_http_otp_redis_reply(redisAsyncContext *ac, void *r,
    void *privdata);
static ngx_int_t ngx_http_otp_redis_resend(ngx_http_otp_redis_call_t *call,
    redisReply *reply);
static void ngx_http_otp_redis_asking_reply(redisAsyncContext *ac, void *r,
    void *privdata);
static void ngx_http_otp_redis_wait_reply(redisAsyncContext *ac, void *r,
    void *privdata);
static redisReply *ngx_http_otp_redis_reply_copy(redisReply *reply);
static void ngx_http_otp_redis_reply_free(redisReply *reply);
static void ngx_http_otp_redis_call_timeout(ngx_event_t *ev);
static void ngx_http_otp_redis_master_ready(ngx_http_otp_redis_node_t *node);


static ngx_http_otp_redis_t  ngx_http_otp_redis;



ngx_int_t
ngx_http_otp_redis_init_process(ngx_cycle_t *cycle,
    ngx_http_otp_redis_conf_t *conf, ngx_http_otp_redis_script_t *scripts,
    ngx_uint_t nscripts)
{
    u_char                      sha[SHA_DIGEST_LENGTH];
    ngx_uint_t                  i;
    ngx_http_otp_redis_t       *rd;
    ngx_http_otp_redis_node_t  *master;

    rd = &ngx_http_otp_redis;

    ngx_memzero(rd, sizeof(ngx_http_otp_redis_t));

    rd->env.conf = conf;
    rd->env.scripts = scripts;
    rd->env.nscripts = nscripts;
    rd->env.log = cycle->log;

    for (i = 0; i < nscripts; i++) {
        SHA1(scripts[i].source.data, scripts[i].source.len, sha);
        ngx_hex_dump(scripts[i].sha1, sha, SHA_DIGEST_LENGTH);
    }

    if (conf->cluster) {
        rd->mode = NGX_HTTP_OTP_REDIS_CLUSTER;
        return ngx_http_otp_redis_cluster_init(&rd->env);
    }

    master = &rd->master;

    ngx_http_otp_redis_node_init(master, &rd->env);

    master->handshake = NGX_HTTP_OTP_REDIS_HS_SELECT
                        | NGX_HTTP_OTP_REDIS_HS_POLICY
                        | NGX_HTTP_OTP_REDIS_HS_SCRIPTS;
    master->password = &conf->password;
    master->on_ready = ngx_http_otp_redis_master_ready;

    if (conf->sentinels) {
        rd->mode = NGX_HTTP_OTP_REDIS_SENTINEL;
        master->handshake |= NGX_HTTP_OTP_REDIS_HS_ROLE;

        return ngx_http_otp_redis_sentinel_init(&rd->env, master);
    }

    master->reconnect = 1;

    /* a unix socket's path is its "host" in the logs */

    master->unix_socket = (conf->unix_path.len != 0);
    ngx_http_otp_redis_node_set_addr(master,
                                     master->unix_socket ? &conf->unix_path
                                                         : &conf->host,
                                     conf->port);

    ngx_http_otp_redis_node_connect(master);

    return NGX_OK;
}


void
ngx_http_otp_redis_exit_process(ngx_cycle_t *cycle)
{
    ngx_http_otp_redis_t       *rd;
    ngx_http_otp_redis_call_t  *call;

    rd = &ngx_http_otp_redis;

    /*
     * On a fast shutdown calls may still be pending: their requests are
     * closed with the worker, their handlers are not run.
     */

    rd->env.exiting = 1;

    switch (rd->mode) {

    case NGX_HTTP_OTP_REDIS_CLUSTER:
        ngx_http_otp_redis_cluster_exit();
        break;

    case NGX_HTTP_OTP_REDIS_SENTINEL:
        ngx_http_otp_redis_sentinel_exit();

        /* fall through */

    default:
        ngx_http_otp_redis_node_close(&rd->master);
    }

    while (rd->free) {
        call = rd->free;
        rd->free = call->next;

        if (call->buf) {
            ngx_free(call->buf);
        }

        ngx_free(call);
    }
}


static void
ngx_http_otp_redis_master_ready(ngx_http_otp_redis_node_t *node)
{
    ngx_http_otp_redis_node_back(node);
}


ngx_uint_t
ngx_http_otp_redis_ready(void)
{
    if (ngx_http_otp_redis.mode == NGX_HTTP_OTP_REDIS_CLUSTER) {
        return ngx_http_otp_redis_cluster_ready();
    }

    return ngx_http_otp_redis_node_ready(&ngx_http_otp_redis.master);
}


ngx_http_otp_redis_call_t *
ngx_http_otp_redis_script(ngx_log_t *log, ngx_uint_t script,
    ngx_http_otp_redis_handler_pt handler, void *data, ngx_uint_t nkeys,
    ngx_uint_t argc, ngx_str_t *argv)
{
    ngx_http_otp_redis_t       *rd;
    ngx_http_otp_redis_node_t  *node;
    ngx_http_otp_redis_call_t  *call;

    rd = &ngx_http_otp_redis;

    /* EVALSHA, the hash and the key count come before the arguments */

    if (script >= rd->env.nscripts
        || nkeys > argc || argc + 3 > NGX_HTTP_OTP_REDIS_MAX_ARGS)
    {
        ngx_http_otp_redis_tell(NGX_HTTP_OTP_REDIS_EV_ERROR);
        return NULL;
    }

    call = ngx_http_otp_redis_call_get(log, handler, data);
    if (call == NULL) {
        return NULL;
    }

    call->script = script;
    call->nkeys = nkeys;
    call->wait = (rd->env.conf->replicas && rd->env.scripts[script].security);

    if (ngx_http_otp_redis_call_keep_args(call, argc, argv) != NGX_OK) {
        ngx_http_otp_redis_call_release(call);
        return NULL;
    }

    node = ngx_http_otp_redis_route(call);

    if (node == NULL || !ngx_http_otp_redis_node_ready(node)) {
        ngx_http_otp_redis_tell(NGX_HTTP_OTP_REDIS_EV_ERROR);
        ngx_http_otp_redis_call_release(call);
        return NULL;
    }

    if (ngx_http_otp_redis_send_script(call, node, 0, 0) != NGX_OK) {
        ngx_http_otp_redis_tell(NGX_HTTP_OTP_REDIS_EV_ERROR);

        /* what was sent of it still answers: it goes then */

        call->handler = NULL;
        ngx_http_otp_redis_call_end(call, NULL);
        return NULL;
    }

    return call;
}


void
ngx_http_otp_redis_detach(ngx_http_otp_redis_call_t *call)
{
    call->handler = NULL;
    call->data = NULL;
}


static ngx_http_otp_redis_node_t *
ngx_http_otp_redis_route(ngx_http_otp_redis_call_t *call)
{
    if (ngx_http_otp_redis.mode != NGX_HTTP_OTP_REDIS_CLUSTER) {
        return &ngx_http_otp_redis.master;
    }

    if (call->nkeys == 0) {
        return NULL;
    }

    return ngx_http_otp_redis_cluster_route(&call->argv[0]);
}


static ngx_http_otp_redis_call_t *
ngx_http_otp_redis_call_get(ngx_log_t *log,
    ngx_http_otp_redis_handler_pt handler, void *data)
{
    ngx_http_otp_redis_t       *rd;
    ngx_http_otp_redis_call_t  *call;

    rd = &ngx_http_otp_redis;

    call = rd->free;

    if (call) {
        rd->free = call->next;

    } else {
        call = ngx_alloc(sizeof(ngx_http_otp_redis_call_t), rd->env.log);
        if (call == NULL) {
            return NULL;
        }

        call->buf = NULL;
        call->buf_size = 0;
    }

    call->handler = handler;
    call->data = data;
    call->log = log;
    call->next = NULL;
    call->script = NGX_HTTP_OTP_REDIS_NO_SCRIPT;
    call->nkeys = 0;
    call->argc = 0;
    call->node = NULL;
    call->pending = 0;
    call->stale_waits = 0;
    call->kept = NULL;
    call->retried = 0;
    call->redirected = 0;
    call->asking = 0;
    call->wait = 0;
    call->done = 0;

    ngx_memzero(&call->timer, sizeof(ngx_event_t));
    call->timer.handler = ngx_http_otp_redis_call_timeout;
    call->timer.data = &ngx_http_otp_redis_dummy;
    call->timer.log = rd->env.log;

    return call;
}


/* the answer of the call, given once; the call goes when nothing is due */

static void
ngx_http_otp_redis_call_end(ngx_http_otp_redis_call_t *call,
    redisReply *reply)
{
    if (!call->done) {
        call->done = 1;

        if (call->timer.timer_set) {
            ngx_del_timer(&call->timer);
        }

        if (call->handler && !ngx_http_otp_redis.env.exiting) {
            call->handler(call->data, reply);
        }

        call->handler = NULL;
        call->data = NULL;
    }

    ngx_http_otp_redis_call_release(call);
}


static void
ngx_http_otp_redis_call_release(ngx_http_otp_redis_call_t *call)
{
    if (call->pending) {
        return;
    }

    if (call->timer.timer_set) {
        ngx_del_timer(&call->timer);
    }

    if (call->kept) {
        ngx_http_otp_redis_reply_free(call->kept);
        call->kept = NULL;
    }

    call->handler = NULL;
    call->data = NULL;
    call->next = ngx_http_otp_redis.free;
    ngx_http_otp_redis.free = call;
}


/* a callback of the call came: 1 if the call had been answered before */

static ngx_uint_t
ngx_http_otp_redis_call_over(ngx_http_otp_redis_call_t *call)
{
    call->pending--;

    if (call->done) {
        ngx_http_otp_redis_call_release(call);
        return 1;
    }

    return 0;
}


static ngx_int_t
ngx_http_otp_redis_call_keep_args(ngx_http_otp_redis_call_t *call,
    ngx_uint_t argc, ngx_str_t *argv)
{
    u_char      *p;
    size_t       size;
    ngx_uint_t   i;

    size = 0;

    for (i = 0; i < argc; i++) {
        size += argv[i].len;
    }

    if (size > call->buf_size) {
        if (call->buf) {
            ngx_free(call->buf);
            call->buf_size = 0;
        }

        call->buf = ngx_alloc(size, ngx_http_otp_redis.env.log);
        if (call->buf == NULL) {
            return NGX_ERROR;
        }

        call->buf_size = size;
    }

    p = call->buf;

    for (i = 0; i < argc; i++) {
        call->argv[i].data = p;
        call->argv[i].len = argv[i].len;
        p = ngx_cpymem(p, argv[i].data, argv[i].len);
    }

    call->argc = argc;

    return NGX_OK;
}


static ngx_int_t
ngx_http_otp_redis_send_script(ngx_http_otp_redis_call_t *call,
    ngx_http_otp_redis_node_t *node, ngx_uint_t by_source, ngx_uint_t asking)
{
    u_char                        *p;
    ngx_str_t                      argv[NGX_HTTP_OTP_REDIS_MAX_ARGS];
    ngx_uint_t                     i;
    u_char                         nkeys[NGX_INT_T_LEN];
    u_char                         wait[2][NGX_INT_T_LEN];
    ngx_http_otp_redis_conf_t     *conf;
    ngx_http_otp_redis_script_t   *script;

    conf = ngx_http_otp_redis.env.conf;
    script = &ngx_http_otp_redis.env.scripts[call->script];

    call->node = node;
    call->asking = asking;

    if (asking) {
        ngx_str_set(&argv[0], "ASKING");

        if (ngx_http_otp_redis_node_command(node,
                                            ngx_http_otp_redis_asking_reply,
                                            call, 1, argv)
            != NGX_OK)
        {
            return NGX_ERROR;
        }

        call->pending++;
    }

    if (by_source) {
        ngx_str_set(&argv[0], "EVAL");
        argv[1] = script->source;

    } else {
        ngx_str_set(&argv[0], "EVALSHA");
        argv[1].data = script->sha1;
        argv[1].len = 40;
    }

    p = ngx_sprintf(nkeys, "%ui", call->nkeys);
    argv[2].data = nkeys;
    argv[2].len = p - nkeys;

    for (i = 0; i < call->argc; i++) {
        argv[3 + i] = call->argv[i];
    }

    if (ngx_http_otp_redis_node_command(node, ngx_http_otp_redis_reply, call,
                                        call->argc + 3, argv)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    call->pending++;

    if (!call->timer.timer_set) {
        ngx_add_timer(&call->timer, conf->timeout);
    }

    if (!call->wait) {
        return NGX_OK;
    }

    /*
     * WAIT right behind the script on the same connection: it counts the
     * replicas that have everything this connection wrote so far.  It
     * gives up within half the call's time, so that its answer, not the
     * call's timeout, says what happened.
     */

    ngx_str_set(&argv[0], "WAIT");

    p = ngx_sprintf(wait[0], "%ui", conf->replicas);
    argv[1].data = wait[0];
    argv[1].len = p - wait[0];

    p = ngx_sprintf(wait[1], "%M", ngx_max(conf->timeout / 2, 1));
    argv[2].data = wait[1];
    argv[2].len = p - wait[1];

    if (ngx_http_otp_redis_node_command(node, ngx_http_otp_redis_wait_reply,
                                        call, 3, argv)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    call->pending++;

    return NGX_OK;
}


static void
ngx_http_otp_redis_reply(redisAsyncContext *ac, void *r, void *privdata)
{
    redisReply                 *reply = r;
    ngx_http_otp_redis_call_t  *call = privdata;

    if (ngx_http_otp_redis_call_over(call)) {
        return;
    }

    if (reply != NULL && reply->type == REDIS_REPLY_ERROR) {

        if (ngx_http_otp_redis_resend(call, reply) == NGX_OK) {
            return;
        }

        ngx_http_otp_redis_error(ngx_http_otp_redis.env.log, 0,
                                 "otp: redis error: %s", reply->str);
    }

    if (reply == NULL || reply->type == REDIS_REPLY_ERROR) {
        ngx_http_otp_redis_tell(NGX_HTTP_OTP_REDIS_EV_ERROR);
        ngx_http_otp_redis_call_end(call, reply);

        if (reply != NULL
            && ngx_http_otp_redis.mode == NGX_HTTP_OTP_REDIS_SENTINEL
            && ngx_strncmp(reply->str, "READONLY", 8) == 0)
        {
            /* the master was demoted: every call on it fails too */
            ngx_http_otp_redis_sentinel_readonly();
        }

        return;
    }

    if (call->wait) {
        call->kept = ngx_http_otp_redis_reply_copy(reply);

        if (call->kept == NULL) {
            ngx_http_otp_redis_call_end(call, NULL);
        }

        return;
    }

    ngx_http_otp_redis_call_end(call, reply);
}


/*
 * An error reply that sends the call on, once each: NOSCRIPT (Redis
 * restarted, SCRIPT FLUSH, a new master) with the source, MOVED and ASK
 * to the node that has the slot now.
 */

static ngx_int_t
ngx_http_otp_redis_resend(ngx_http_otp_redis_call_t *call, redisReply *reply)
{
    ngx_uint_t                  ask;
    ngx_http_otp_redis_node_t  *node;

    if (ngx_strncmp(reply->str, "NOSCRIPT", 8) == 0) {
        if (call->retried || !ngx_http_otp_redis_node_ready(call->node)) {
            return NGX_DECLINED;
        }

        call->retried = 1;
        node = call->node;
        ask = call->asking;

    } else if (ngx_http_otp_redis.mode == NGX_HTTP_OTP_REDIS_CLUSTER
               && (ngx_strncmp(reply->str, "MOVED ", 6) == 0
                   || ngx_strncmp(reply->str, "ASK ", 4) == 0))
    {
        if (call->redirected) {
            return NGX_DECLINED;
        }

        call->redirected = 1;

        node = ngx_http_otp_redis_cluster_redirect(reply->str, reply->len,
                                                   &ask);

        ngx_http_otp_redis_tell(ask ? NGX_HTTP_OTP_REDIS_EV_ASK
                                    : NGX_HTTP_OTP_REDIS_EV_MOVED);

        if (node == NULL || !ngx_http_otp_redis_node_ready(node)) {
            return NGX_DECLINED;
        }

    } else {
        return NGX_DECLINED;
    }

    ngx_log_debug3(NGX_LOG_DEBUG_HTTP, ngx_http_otp_redis.env.log, 0,
                   "otp redis: %*s, again on %s", (size_t) 8, reply->str,
                   node->host);

    /* a WAIT behind the first try on this connection is not the answer */

    if (call->wait && node == call->node) {
        call->stale_waits++;
    }

    if (ngx_http_otp_redis_send_script(call, node, call->retried, ask)
        != NGX_OK)
    {
        return NGX_DECLINED;
    }

    return NGX_OK;
}


static void
ngx_http_otp_redis_asking_reply(redisAsyncContext *ac, void *r,
    void *privdata)
{
    ngx_http_otp_redis_call_t  *call = privdata;

    /* a failed ASKING shows in the script's own reply */

    (void) ngx_http_otp_redis_call_over(call);
}


static void
ngx_http_otp_redis_wait_reply(redisAsyncContext *ac, void *r, void *privdata)
{
    redisReply                 *reply = r;
    ngx_http_otp_redis_call_t  *call = privdata;

    if (ngx_http_otp_redis_call_over(call)) {
        return;
    }

    /* behind a try that was sent on: the answer comes later */

    if (call->node == NULL || call->node->ac != ac) {
        return;
    }

    if (call->stale_waits) {
        call->stale_waits--;
        return;
    }

    if (call->kept == NULL) {
        ngx_http_otp_redis_call_end(call, NULL);
        return;
    }

    if (reply == NULL || reply->type != REDIS_REPLY_INTEGER
        || reply->integer < (long long) ngx_http_otp_redis.env.conf->replicas)
    {
        ngx_http_otp_redis_error(ngx_http_otp_redis.env.log, 0,
                                 "otp: redis WAIT: %L of %ui replicas "
                                 "acknowledged a write in time",
                                 (reply && reply->type == REDIS_REPLY_INTEGER)
                                 ? (int64_t) reply->integer : (int64_t) 0,
                                 ngx_http_otp_redis.env.conf->replicas);
        ngx_http_otp_redis_tell(NGX_HTTP_OTP_REDIS_EV_ERROR);
        ngx_http_otp_redis_call_end(call, NULL);
        return;
    }

    ngx_http_otp_redis_call_end(call, call->kept);
}


/* hiredis frees a reply when its callback returns: WAIT needs it later */

static redisReply *
ngx_http_otp_redis_reply_copy(redisReply *reply)
{
    size_t       i;
    redisReply  *copy;

    copy = ngx_calloc(sizeof(redisReply), ngx_http_otp_redis.env.log);
    if (copy == NULL) {
        return NULL;
    }

    copy->type = reply->type;
    copy->integer = reply->integer;

    if (reply->str) {
        copy->str = ngx_alloc(reply->len + 1, ngx_http_otp_redis.env.log);
        if (copy->str == NULL) {
            goto failed;
        }

        ngx_memcpy(copy->str, reply->str, reply->len);
        copy->str[reply->len] = '\0';
        copy->len = reply->len;
    }

    if (reply->elements) {
        copy->element = ngx_calloc(reply->elements * sizeof(redisReply *),
                                   ngx_http_otp_redis.env.log);
        if (copy->element == NULL) {
            goto failed;
        }

        copy->elements = reply->elements;

        for (i = 0; i < reply->elements; i++) {
            copy->element[i] = ngx_http_otp_redis_reply_copy(
                                                        reply->element[i]);
            if (copy->element[i] == NULL) {
                goto failed;
            }
        }
    }

    return copy;

failed:

    ngx_http_otp_redis_reply_free(copy);

    return NULL;
}


static void
ngx_http_otp_redis_reply_free(redisReply *reply)
{
    size_t  i;

    for (i = 0; i < reply->elements; i++) {
        if (reply->element[i]) {
            ngx_http_otp_redis_reply_free(reply->element[i]);
        }
    }

    if (reply->element) {
        ngx_free(reply->element);
    }

    if (reply->str) {
        ngx_free(reply->str);
    }

    ngx_free(reply);
}


static void
ngx_http_otp_redis_call_timeout(ngx_event_t *ev)
{
    ngx_http_otp_redis_call_t  *call;

    call = (ngx_http_otp_redis_call_t *) ((u_char *) ev
               - offsetof(ngx_http_otp_redis_call_t, timer));

    ngx_http_otp_redis_error(ngx_http_otp_redis.env.log, NGX_ETIMEDOUT,
                             "otp: redis did not answer within %M ms, "
                             "reconnecting",
                             ngx_http_otp_redis.env.conf->timeout);

    /* replies may come in order no longer: every pending call fails */

    ngx_http_otp_redis_node_drop(call->node);
}

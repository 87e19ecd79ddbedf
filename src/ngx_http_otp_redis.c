
/*
 * One asynchronous Redis connection per worker: hiredis's async context
 * with its socket wrapped in an ngx_connection_t, so that replies are
 * read on nginx's event loop and a worker never blocks on Redis.
 *
 * Life of the connection: connect (connect_timeout covers the TCP
 * connect and the handshake), AUTH, SELECT, CONFIG GET maxmemory-policy
 * and SCRIPT LOAD pipelined, then ready.  Any failure, a command timeout
 * included, drops the whole connection: hiredis then fails every pending
 * command at once, and a late reply can never be matched to a newer
 * command.  A cancelable timer reconnects with capped exponential
 * backoff.  While not ready, commands fail at once; nothing is queued.
 *
 * hiredis owns the socket: on cleanup the nginx connection is freed and
 * hiredis closes the descriptor.  Privdata given to hiredis is always a
 * call object owned here, never a request; a request that goes away
 * detaches its call and the reply is dropped.
 */


#include "ngx_http_otp_redis.h"

#include <hiredis/async.h>
#include <openssl/sha.h>


#define NGX_HTTP_OTP_REDIS_BACKOFF_MIN      100
#define NGX_HTTP_OTP_REDIS_BACKOFF_MAX      3000
#define NGX_HTTP_OTP_REDIS_READS_PER_EVENT  64
#define NGX_HTTP_OTP_REDIS_ERRORS_PER_SEC   5
#define NGX_HTTP_OTP_REDIS_NO_SCRIPT        ((ngx_uint_t) -1)


typedef enum {
    NGX_HTTP_OTP_REDIS_IDLE = 0,
    NGX_HTTP_OTP_REDIS_CONNECTING,
    NGX_HTTP_OTP_REDIS_READY
} ngx_http_otp_redis_state_e;


struct ngx_http_otp_redis_call_s {
    ngx_http_otp_redis_handler_pt   handler;
    void                           *data;
    ngx_log_t                      *log;
    ngx_event_t                     timer;
    ngx_http_otp_redis_call_t      *next;      /* on the free list */

    /* a script call keeps its arguments for the one NOSCRIPT retry */
    ngx_uint_t                      script;
    ngx_uint_t                      nkeys;
    ngx_uint_t                      argc;
    ngx_str_t                       argv[NGX_HTTP_OTP_REDIS_MAX_ARGS];
    u_char                         *buf;
    size_t                          buf_size;
    unsigned                        retried:1;
};


typedef struct {
    redisAsyncContext              *ac;
    ngx_connection_t               *conn;
    ngx_http_otp_redis_state_e      state;

    ngx_uint_t                      handshake_pending;
    ngx_uint_t                      handshake_failed;

    ngx_event_t                     connect_timer;
    ngx_event_t                     reconnect_timer;
    ngx_msec_t                      backoff;

    ngx_uint_t                      write_wanted;
    ngx_uint_t                      writing;

    ngx_http_otp_redis_conf_t      *conf;
    ngx_http_otp_redis_script_t    *scripts;
    ngx_uint_t                      nscripts;
    ngx_log_t                      *log;

    ngx_http_otp_redis_call_t      *free;

    time_t                          error_time;
    ngx_uint_t                      error_count;

    ngx_uint_t                      exiting;
} ngx_http_otp_redis_t;


static void ngx_http_otp_redis_connect(void);
static void ngx_http_otp_redis_drop(void);
static void ngx_http_otp_redis_schedule(void);
static void ngx_http_otp_redis_reconnect_handler(ngx_event_t *ev);
static void ngx_http_otp_redis_connect_timeout(ngx_event_t *ev);
static void ngx_http_otp_redis_on_connect(const redisAsyncContext *ac,
    int status);
static void ngx_http_otp_redis_on_disconnect(const redisAsyncContext *ac,
    int status);
static void ngx_http_otp_redis_handshake(void);
static void ngx_http_otp_redis_handshake_reply(redisAsyncContext *ac,
    void *r, void *privdata);

static void ngx_http_otp_redis_policy(redisReply *reply);
static void ngx_http_otp_redis_add_read(void *privdata);
static void ngx_http_otp_redis_del_read(void *privdata);
static void ngx_http_otp_redis_add_write(void *privdata);
static void ngx_http_otp_redis_del_write(void *privdata);
static void ngx_http_otp_redis_cleanup(void *privdata);
static void ngx_http_otp_redis_read_handler(ngx_event_t *rev);
static void ngx_http_otp_redis_write_handler(ngx_event_t *wev);

static ngx_http_otp_redis_call_t *ngx_http_otp_redis_call_get(
    ngx_log_t *log, ngx_http_otp_redis_handler_pt handler, void *data);
static void ngx_http_otp_redis_call_free(ngx_http_otp_redis_call_t *call);
static ngx_int_t ngx_http_otp_redis_call_keep_args(
    ngx_http_otp_redis_call_t *call, ngx_uint_t argc, ngx_str_t *argv);
static ngx_int_t ngx_http_otp_redis_send(ngx_http_otp_redis_call_t *call,
    ngx_uint_t argc, ngx_str_t *argv);
static ngx_int_t ngx_http_otp_redis_send_script(
    ngx_http_otp_redis_call_t *call, ngx_uint_t by_source);
static void ngx_http_otp_redis_reply(redisAsyncContext *ac, void *r,
    void *privdata);
static void ngx_http_otp_redis_call_timeout(ngx_event_t *ev);
static ngx_uint_t ngx_http_otp_redis_log_allowed(void);
static void ngx_http_otp_redis_tell(ngx_http_otp_redis_event_e event);


static ngx_http_otp_redis_t  ngx_http_otp_redis;

/* told of failed calls and reconnects: the layer above counts them */
static ngx_http_otp_redis_event_pt  ngx_http_otp_redis_event;

/* what the timers point at: nginx's debug log reads a connection's fd */
static ngx_connection_t      ngx_http_otp_redis_dummy;


#define ngx_http_otp_redis_error(log, err, ...)                              \
    if (ngx_http_otp_redis_log_allowed()) {                                  \
        ngx_log_error(NGX_LOG_ERR, log, err, __VA_ARGS__);                    \
    }


ngx_int_t
ngx_http_otp_redis_init_process(ngx_cycle_t *cycle,
    ngx_http_otp_redis_conf_t *conf, ngx_http_otp_redis_script_t *scripts,
    ngx_uint_t nscripts)
{
    u_char                sha[SHA_DIGEST_LENGTH];
    ngx_uint_t            i;
    ngx_http_otp_redis_t  *rd;

    rd = &ngx_http_otp_redis;

    ngx_memzero(rd, sizeof(ngx_http_otp_redis_t));

    rd->conf = conf;
    rd->scripts = scripts;
    rd->nscripts = nscripts;
    rd->log = cycle->log;

    for (i = 0; i < nscripts; i++) {
        SHA1(scripts[i].source.data, scripts[i].source.len, sha);
        ngx_hex_dump(scripts[i].sha1, sha, SHA_DIGEST_LENGTH);
    }

    ngx_http_otp_redis_dummy.fd = (ngx_socket_t) -1;

    rd->connect_timer.handler = ngx_http_otp_redis_connect_timeout;
    rd->connect_timer.data = &ngx_http_otp_redis_dummy;
    rd->connect_timer.log = cycle->log;
    rd->connect_timer.cancelable = 1;

    rd->reconnect_timer.handler = ngx_http_otp_redis_reconnect_handler;
    rd->reconnect_timer.data = &ngx_http_otp_redis_dummy;
    rd->reconnect_timer.log = cycle->log;
    rd->reconnect_timer.cancelable = 1;

    ngx_http_otp_redis_connect();

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

    rd->exiting = 1;

    if (rd->reconnect_timer.timer_set) {
        ngx_del_timer(&rd->reconnect_timer);
    }

    if (rd->ac) {
        ngx_http_otp_redis_drop();

        if (rd->reconnect_timer.timer_set) {
            ngx_del_timer(&rd->reconnect_timer);
        }
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


void
ngx_http_otp_redis_on_event(ngx_http_otp_redis_event_pt handler)
{
    ngx_http_otp_redis_event = handler;
}


static void
ngx_http_otp_redis_tell(ngx_http_otp_redis_event_e event)
{
    if (ngx_http_otp_redis_event) {
        ngx_http_otp_redis_event(event);
    }
}


ngx_uint_t
ngx_http_otp_redis_ready(void)
{
    return ngx_http_otp_redis.state == NGX_HTTP_OTP_REDIS_READY;
}


ngx_http_otp_redis_call_t *
ngx_http_otp_redis_script(ngx_log_t *log, ngx_uint_t script,
    ngx_http_otp_redis_handler_pt handler, void *data, ngx_uint_t nkeys,
    ngx_uint_t argc, ngx_str_t *argv)
{
    ngx_http_otp_redis_call_t  *call;

    /* EVALSHA, the hash and the key count come before the arguments */

    if (!ngx_http_otp_redis_ready()
        || script >= ngx_http_otp_redis.nscripts
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

    if (ngx_http_otp_redis_call_keep_args(call, argc, argv) != NGX_OK
        || ngx_http_otp_redis_send_script(call, 0) != NGX_OK)
    {
        ngx_http_otp_redis_call_free(call);
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


static void
ngx_http_otp_redis_connect(void)
{
    ngx_connection_t           *c;
    redisAsyncContext          *ac;
    ngx_http_otp_redis_t       *rd;
    ngx_http_otp_redis_conf_t  *conf;

    rd = &ngx_http_otp_redis;
    conf = rd->conf;

    if (conf->unix_path.len) {
        ac = redisAsyncConnectUnix((char *) conf->unix_path.data);

    } else {
        ac = redisAsyncConnect((char *) conf->host.data, conf->port);
    }

    if (ac == NULL) {
        ngx_http_otp_redis_error(rd->log, 0,
                                 "otp: redis connection not created: "
                                 "out of memory");
        ngx_http_otp_redis_schedule();
        return;
    }

    if (ac->err) {
        ngx_http_otp_redis_error(rd->log, 0,
                                 "otp: redis connect failed: %s",
                                 ac->errstr);
        redisAsyncFree(ac);
        ngx_http_otp_redis_schedule();
        return;
    }

    c = ngx_get_connection(ac->c.fd, rd->log);
    if (c == NULL) {
        redisAsyncFree(ac);
        ngx_http_otp_redis_schedule();
        return;
    }

    c->read->handler = ngx_http_otp_redis_read_handler;
    c->write->handler = ngx_http_otp_redis_write_handler;
    c->read->log = rd->log;
    c->write->log = rd->log;

    rd->ac = ac;
    rd->conn = c;
    rd->state = NGX_HTTP_OTP_REDIS_CONNECTING;
    rd->write_wanted = 0;
    rd->writing = 0;

    ac->ev.data = c;
    ac->ev.addRead = ngx_http_otp_redis_add_read;
    ac->ev.delRead = ngx_http_otp_redis_del_read;
    ac->ev.addWrite = ngx_http_otp_redis_add_write;
    ac->ev.delWrite = ngx_http_otp_redis_del_write;
    ac->ev.cleanup = ngx_http_otp_redis_cleanup;

    ngx_add_timer(&rd->connect_timer, conf->connect_timeout);

    /* the connect callback asks for the first write event */

    redisAsyncSetDisconnectCallback(ac, ngx_http_otp_redis_on_disconnect);
    redisAsyncSetConnectCallback(ac, ngx_http_otp_redis_on_connect);
}


/*
 * Gives up the connection: hiredis fails every pending command, calls the
 * cleanup hook and closes the socket.  Inside a hiredis callback the free
 * is deferred by hiredis until the callback returns.
 */

static void
ngx_http_otp_redis_drop(void)
{
    redisAsyncContext     *ac;
    ngx_http_otp_redis_t  *rd;

    rd = &ngx_http_otp_redis;

    ac = rd->ac;

    rd->ac = NULL;
    rd->state = NGX_HTTP_OTP_REDIS_IDLE;

    if (rd->connect_timer.timer_set) {
        ngx_del_timer(&rd->connect_timer);
    }

    ngx_http_otp_redis_schedule();

    if (ac) {
        redisAsyncFree(ac);
    }
}


static void
ngx_http_otp_redis_schedule(void)
{
    ngx_http_otp_redis_t  *rd;

    rd = &ngx_http_otp_redis;

    if (ngx_exiting || ngx_quit || ngx_terminate
        || rd->reconnect_timer.timer_set)
    {
        return;
    }

    if (rd->backoff == 0) {
        rd->backoff = NGX_HTTP_OTP_REDIS_BACKOFF_MIN;

    } else {
        rd->backoff = ngx_min(rd->backoff * 2,
                              NGX_HTTP_OTP_REDIS_BACKOFF_MAX);
    }

    ngx_add_timer(&rd->reconnect_timer, rd->backoff);
}


static void
ngx_http_otp_redis_reconnect_handler(ngx_event_t *ev)
{
    if (ngx_exiting || ngx_http_otp_redis.ac) {
        return;
    }

    ngx_http_otp_redis_connect();
}


static void
ngx_http_otp_redis_connect_timeout(ngx_event_t *ev)
{
    ngx_http_otp_redis_error(ngx_http_otp_redis.log, NGX_ETIMEDOUT,
                             "otp: redis connect or handshake timed out");

    ngx_http_otp_redis_drop();
}


static void
ngx_http_otp_redis_on_connect(const redisAsyncContext *ac, int status)
{
    ngx_http_otp_redis_t  *rd;

    rd = &ngx_http_otp_redis;

    if (rd->ac != ac) {
        return;
    }

    if (status != REDIS_OK) {
        ngx_http_otp_redis_error(rd->log, 0, "otp: redis connect failed: %s",
                                 ac->errstr);

        /* hiredis frees the context when this callback returns */

        rd->ac = NULL;
        rd->state = NGX_HTTP_OTP_REDIS_IDLE;

        if (rd->connect_timer.timer_set) {
            ngx_del_timer(&rd->connect_timer);
        }

        ngx_http_otp_redis_schedule();
        return;
    }

    ngx_http_otp_redis_handshake();
}


static void
ngx_http_otp_redis_on_disconnect(const redisAsyncContext *ac, int status)
{
    ngx_http_otp_redis_t  *rd;

    rd = &ngx_http_otp_redis;

    if (rd->ac != ac) {
        /* dropped by us */
        return;
    }

    ngx_http_otp_redis_error(rd->log, 0, "otp: redis connection lost%s%s",
                             ac->err ? ": " : "",
                             ac->err ? ac->errstr : "");

    rd->ac = NULL;
    rd->state = NGX_HTTP_OTP_REDIS_IDLE;

    if (rd->connect_timer.timer_set) {
        ngx_del_timer(&rd->connect_timer);
    }

    ngx_http_otp_redis_schedule();
}


static void
ngx_http_otp_redis_handshake(void)
{
    u_char                *p;
    ngx_uint_t             i;
    const char            *argv[3];
    size_t                 argvlen[3];
    u_char                 db[NGX_INT_T_LEN];
    ngx_http_otp_redis_t  *rd;

    rd = &ngx_http_otp_redis;

    rd->handshake_pending = 0;
    rd->handshake_failed = 0;

    /* pipelined: a failed AUTH fails the rest, and the drop follows */

    if (rd->conf->password.len) {
        argv[0] = "AUTH";
        argvlen[0] = 4;
        argv[1] = (const char *) rd->conf->password.data;
        argvlen[1] = rd->conf->password.len;

        if (redisAsyncCommandArgv(rd->ac,
                                  ngx_http_otp_redis_handshake_reply,
                                  "AUTH", 2, argv, argvlen)
            != REDIS_OK)
        {
            goto failed;
        }

        rd->handshake_pending++;
    }

    if (rd->conf->db) {
        p = ngx_sprintf(db, "%ui", rd->conf->db);

        argv[0] = "SELECT";
        argvlen[0] = 6;
        argv[1] = (const char *) db;
        argvlen[1] = p - db;

        if (redisAsyncCommandArgv(rd->ac,
                                  ngx_http_otp_redis_handshake_reply,
                                  "SELECT", 2, argv, argvlen)
            != REDIS_OK)
        {
            goto failed;
        }

        rd->handshake_pending++;
    }

    /* an eviction policy that can drop user records (SPEC 6.21) */

    argv[0] = "CONFIG";
    argvlen[0] = 6;
    argv[1] = "GET";
    argvlen[1] = 3;
    argv[2] = "maxmemory-policy";
    argvlen[2] = sizeof("maxmemory-policy") - 1;

    if (redisAsyncCommandArgv(rd->ac, ngx_http_otp_redis_handshake_reply,
                              "CONFIG", 3, argv, argvlen)
        != REDIS_OK)
    {
        goto failed;
    }

    rd->handshake_pending++;

    for (i = 0; i < rd->nscripts; i++) {
        argv[0] = "SCRIPT";
        argvlen[0] = 6;
        argv[1] = "LOAD";
        argvlen[1] = 4;
        argv[2] = (const char *) rd->scripts[i].source.data;
        argvlen[2] = rd->scripts[i].source.len;

        if (redisAsyncCommandArgv(rd->ac,
                                  ngx_http_otp_redis_handshake_reply,
                                  &rd->scripts[i], 3, argv, argvlen)
            != REDIS_OK)
        {
            goto failed;
        }

        rd->handshake_pending++;
    }

    if (rd->handshake_pending == 0) {
        if (rd->connect_timer.timer_set) {
            ngx_del_timer(&rd->connect_timer);
        }

        rd->state = NGX_HTTP_OTP_REDIS_READY;
        rd->backoff = 0;
    }

    return;

failed:

    ngx_http_otp_redis_error(rd->log, 0, "otp: redis handshake not sent");
    ngx_http_otp_redis_drop();
}


static void
ngx_http_otp_redis_handshake_reply(redisAsyncContext *ac, void *r,
    void *privdata)
{
    redisReply                   *reply = r;
    ngx_http_otp_redis_t         *rd;
    ngx_http_otp_redis_script_t  *script;

    rd = &ngx_http_otp_redis;

    if (reply == NULL || rd->ac != ac) {
        /* the connection is gone and its failure already handled */
        return;
    }

    rd->handshake_pending--;

    if (privdata == (void *) "CONFIG") {
        ngx_http_otp_redis_policy(reply);

    } else if (privdata != (void *) "AUTH" && privdata != (void *) "SELECT") {
        script = privdata;

        if (reply->type != REDIS_REPLY_STRING
            || reply->len != 40
            || ngx_strncasecmp((u_char *) reply->str, script->sha1, 40) != 0)
        {
            ngx_http_otp_redis_error(rd->log, 0,
                                     "otp: redis SCRIPT LOAD of \"%V\" "
                                     "failed: %s", &script->name,
                                     reply->type == REDIS_REPLY_ERROR
                                     ? reply->str : "unexpected reply");
            rd->handshake_failed = 1;
        }

    } else if (reply->type == REDIS_REPLY_ERROR) {
        ngx_http_otp_redis_error(rd->log, 0, "otp: redis %s failed: %s",
                                 (char *) privdata, reply->str);
        rd->handshake_failed = 1;
    }

    if (rd->handshake_pending) {
        return;
    }

    if (rd->handshake_failed) {
        ngx_http_otp_redis_drop();
        return;
    }

    if (rd->connect_timer.timer_set) {
        ngx_del_timer(&rd->connect_timer);
    }

    if (rd->backoff) {
        ngx_http_otp_redis_tell(NGX_HTTP_OTP_REDIS_EV_RECONNECT);
        ngx_log_error(NGX_LOG_NOTICE, rd->log, 0,
                      "otp: redis connection restored");
    }

    rd->state = NGX_HTTP_OTP_REDIS_READY;
    rd->backoff = 0;

    ngx_http_otp_redis_tell(NGX_HTTP_OTP_REDIS_EV_READY);
}


/*
 * CONFIG GET maxmemory-policy: an "allkeys-*" policy evicts keys without
 * an expiry under memory pressure, the user records among them, and an
 * enrolled user would be asked to enroll again with the password alone.
 * The module refuses such a Redis (every request that needs it gets 503)
 * until the policy changes.  Where CONFIG is not allowed (managed Redis,
 * an ACL user without it), the policy cannot be checked: said, once a
 * connection, and the connection is used.
 */

static void
ngx_http_otp_redis_policy(redisReply *reply)
{
    redisReply            *value;
    ngx_http_otp_redis_t  *rd;

    rd = &ngx_http_otp_redis;

    if (reply->type != REDIS_REPLY_ARRAY || reply->elements != 2
        || reply->element[1]->type != REDIS_REPLY_STRING)
    {
        ngx_log_error(NGX_LOG_ERR, rd->log, 0,
                      "otp: redis maxmemory-policy could not be checked "
                      "(%s); it must not be an \"allkeys-*\" policy",
                      reply->type == REDIS_REPLY_ERROR
                      ? reply->str : "no such setting");
        return;
    }

    value = reply->element[1];

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, rd->log, 0,
                   "otp redis: maxmemory-policy %s", value->str);

    if (value->len >= sizeof("allkeys-") - 1
        && ngx_strncmp(value->str, "allkeys-", sizeof("allkeys-") - 1) == 0)
    {
        ngx_http_otp_redis_error(rd->log, 0,
                                 "otp: redis maxmemory-policy \"%s\" can "
                                 "evict user records: not used until it is "
                                 "\"noeviction\" (or a \"volatile-*\" "
                                 "policy)", value->str);
        rd->handshake_failed = 1;
    }
}


static void
ngx_http_otp_redis_add_read(void *privdata)
{
    ngx_connection_t  *c = privdata;

    if (!c->read->active) {
        if (ngx_add_event(c->read, NGX_READ_EVENT,
                          (ngx_event_flags & NGX_USE_CLEAR_EVENT)
                          ? NGX_CLEAR_EVENT : NGX_LEVEL_EVENT)
            != NGX_OK)
        {
            ngx_http_otp_redis_error(c->log, 0,
                                     "otp: redis read event not added");
        }
    }
}


static void
ngx_http_otp_redis_del_read(void *privdata)
{
    ngx_connection_t  *c = privdata;

    if (c->read->active) {
        (void) ngx_del_event(c->read, NGX_READ_EVENT, 0);
    }
}


static void
ngx_http_otp_redis_add_write(void *privdata)
{
    ngx_connection_t  *c = privdata;

    ngx_http_otp_redis.write_wanted = 1;

    if (!c->write->active) {
        if (ngx_add_event(c->write, NGX_WRITE_EVENT,
                          (ngx_event_flags & NGX_USE_CLEAR_EVENT)
                          ? NGX_CLEAR_EVENT : NGX_LEVEL_EVENT)
            != NGX_OK)
        {
            ngx_http_otp_redis_error(c->log, 0,
                                     "otp: redis write event not added");
        }
    }

    /*
     * An edge-triggered socket that is already writable reports no new
     * edge: write in this loop iteration, once for all the commands that
     * requests add meanwhile.
     */

    if (c->write->ready && !ngx_http_otp_redis.writing && !c->write->posted)
    {
        ngx_post_event(c->write, &ngx_posted_events);
    }
}


static void
ngx_http_otp_redis_del_write(void *privdata)
{
    ngx_connection_t  *c = privdata;

    ngx_http_otp_redis.write_wanted = 0;

    /* level-triggered methods would report a writable socket forever */

    if (!(ngx_event_flags & NGX_USE_CLEAR_EVENT) && c->write->active) {
        (void) ngx_del_event(c->write, NGX_WRITE_EVENT, 0);
    }
}


static void
ngx_http_otp_redis_cleanup(void *privdata)
{
    ngx_connection_t  *c = privdata;

    if (c->read->timer_set) {
        ngx_del_timer(c->read);
    }

    if (c->write->timer_set) {
        ngx_del_timer(c->write);
    }

    if (c->read->posted) {
        ngx_delete_posted_event(c->read);
    }

    if (c->write->posted) {
        ngx_delete_posted_event(c->write);
    }

    /* hiredis closes the socket right after this hook */

    if (ngx_del_conn) {
        (void) ngx_del_conn(c, NGX_CLOSE_EVENT);

    } else {
        if (c->read->active || c->read->disabled) {
            (void) ngx_del_event(c->read, NGX_READ_EVENT, NGX_CLOSE_EVENT);
        }

        if (c->write->active || c->write->disabled) {
            (void) ngx_del_event(c->write, NGX_WRITE_EVENT, NGX_CLOSE_EVENT);
        }
    }

    if (ngx_http_otp_redis.conn == c) {
        ngx_http_otp_redis.conn = NULL;
    }

    ngx_free_connection(c);

    c->fd = (ngx_socket_t) -1;
}


static void
ngx_http_otp_redis_read_handler(ngx_event_t *rev)
{
    u_char             byte;
    ssize_t            n;
    ngx_err_t          err;
    ngx_uint_t         i;
    ngx_connection_t  *c;

    c = rev->data;

    /*
     * Edge-triggered: read until the socket is drained, or hiredis will
     * not hear of the rest until more data arrives.  A peek tells whether
     * anything (or the end of the stream) is left.
     */

    for (i = 0; i < NGX_HTTP_OTP_REDIS_READS_PER_EVENT; i++) {

        if (ngx_http_otp_redis.conn != c || ngx_http_otp_redis.ac == NULL) {
            return;
        }

        redisAsyncHandleRead(ngx_http_otp_redis.ac);

        if (ngx_http_otp_redis.conn != c) {
            /* disconnected: c is free */
            return;
        }

        n = recv(c->fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT);

        if (n == -1) {
            err = ngx_socket_errno;

            if (err == NGX_EAGAIN) {
                return;
            }

            if (err == NGX_EINTR) {
                continue;
            }
        }

        /* data, the end of stream or an error: hiredis handles each */
    }

    /* fairness to other connections: the rest in the next iteration */

    ngx_post_event(rev, &ngx_posted_events);
}


static void
ngx_http_otp_redis_write_handler(ngx_event_t *wev)
{
    ngx_connection_t      *c;
    ngx_http_otp_redis_t  *rd;

    c = wev->data;
    rd = &ngx_http_otp_redis;

    if (rd->conn != c || rd->ac == NULL) {
        return;
    }

    if (!rd->write_wanted && rd->state != NGX_HTTP_OTP_REDIS_CONNECTING) {
        return;
    }

    rd->writing = 1;

    redisAsyncHandleWrite(rd->ac);

    rd->writing = 0;

    if (rd->conn != c) {
        return;
    }

    if (rd->write_wanted) {
        /* the socket buffer is full: wait for the edge */
        wev->ready = 0;
    }
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
        call = ngx_alloc(sizeof(ngx_http_otp_redis_call_t), rd->log);
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
    call->retried = 0;

    ngx_memzero(&call->timer, sizeof(ngx_event_t));
    call->timer.handler = ngx_http_otp_redis_call_timeout;
    call->timer.data = &ngx_http_otp_redis_dummy;
    call->timer.log = rd->log;

    return call;
}


static void
ngx_http_otp_redis_call_free(ngx_http_otp_redis_call_t *call)
{
    if (call->timer.timer_set) {
        ngx_del_timer(&call->timer);
    }

    call->handler = NULL;
    call->data = NULL;
    call->next = ngx_http_otp_redis.free;
    ngx_http_otp_redis.free = call;
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

        call->buf = ngx_alloc(size, ngx_http_otp_redis.log);
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
ngx_http_otp_redis_send(ngx_http_otp_redis_call_t *call, ngx_uint_t argc,
    ngx_str_t *argv)
{
    ngx_uint_t   i;
    const char  *args[NGX_HTTP_OTP_REDIS_MAX_ARGS];
    size_t       lens[NGX_HTTP_OTP_REDIS_MAX_ARGS];

    for (i = 0; i < argc; i++) {
        args[i] = (const char *) argv[i].data;
        lens[i] = argv[i].len;
    }

    if (redisAsyncCommandArgv(ngx_http_otp_redis.ac,
                              ngx_http_otp_redis_reply, call,
                              (int) argc, args, lens)
        != REDIS_OK)
    {
        return NGX_ERROR;
    }

    ngx_add_timer(&call->timer, ngx_http_otp_redis.conf->timeout);

    return NGX_OK;
}


static ngx_int_t
ngx_http_otp_redis_send_script(ngx_http_otp_redis_call_t *call,
    ngx_uint_t by_source)
{
    u_char                        *p;
    ngx_str_t                      argv[NGX_HTTP_OTP_REDIS_MAX_ARGS];
    ngx_uint_t                     i;
    u_char                         nkeys[NGX_INT_T_LEN];
    ngx_http_otp_redis_script_t   *script;

    script = &ngx_http_otp_redis.scripts[call->script];

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

    return ngx_http_otp_redis_send(call, call->argc + 3, argv);
}


static void
ngx_http_otp_redis_reply(redisAsyncContext *ac, void *r, void *privdata)
{
    redisReply                 *reply = r;
    ngx_http_otp_redis_call_t  *call = privdata;

    if (call->timer.timer_set) {
        ngx_del_timer(&call->timer);
    }

    /* Redis restarted or SCRIPT FLUSH: the script goes along, once */

    if (reply != NULL
        && reply->type == REDIS_REPLY_ERROR
        && call->script != NGX_HTTP_OTP_REDIS_NO_SCRIPT
        && !call->retried
        && ngx_strncmp(reply->str, "NOSCRIPT", 8) == 0
        && ngx_http_otp_redis.ac == ac
        && ngx_http_otp_redis.state == NGX_HTTP_OTP_REDIS_READY)
    {
        call->retried = 1;

        if (ngx_http_otp_redis_send_script(call, 1) == NGX_OK) {
            return;
        }

        reply = NULL;
    }

    if (reply != NULL && reply->type == REDIS_REPLY_ERROR) {
        ngx_http_otp_redis_error(ngx_http_otp_redis.log, 0,
                                 "otp: redis error: %s", reply->str);
    }

    if (reply == NULL || reply->type == REDIS_REPLY_ERROR) {
        ngx_http_otp_redis_tell(NGX_HTTP_OTP_REDIS_EV_ERROR);
    }

    if (call->handler && !ngx_http_otp_redis.exiting) {
        call->handler(call->data, reply);
    }

    ngx_http_otp_redis_call_free(call);
}


static void
ngx_http_otp_redis_call_timeout(ngx_event_t *ev)
{
    ngx_http_otp_redis_error(ngx_http_otp_redis.log, NGX_ETIMEDOUT,
                             "otp: redis did not answer within %M ms, "
                             "reconnecting",
                             ngx_http_otp_redis.conf->timeout);

    /* replies may come in order no longer: every pending call fails */

    ngx_http_otp_redis_drop();
}


static ngx_uint_t
ngx_http_otp_redis_log_allowed(void)
{
    ngx_http_otp_redis_t  *rd;

    rd = &ngx_http_otp_redis;

    if (rd->error_time != ngx_time()) {
        rd->error_time = ngx_time();
        rd->error_count = 0;
    }

    return rd->error_count++ < NGX_HTTP_OTP_REDIS_ERRORS_PER_SEC;
}

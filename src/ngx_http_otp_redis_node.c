
/*
 * One asynchronous connection to one server: hiredis's async context with
 * its socket wrapped in an ngx_connection_t, so that replies are read on
 * nginx's event loop and a worker never blocks on Redis.
 *
 * Life of a node: connect (connect_timeout covers the TCP connect and the
 * handshake), then AUTH, SELECT, CONFIG GET maxmemory-policy, ROLE and
 * SCRIPT LOAD pipelined, as the node asks; then ready.  Any failure drops
 * the whole connection: hiredis then fails every pending command at once,
 * and a late reply can never be matched to a newer command.  A node that
 * reconnects by itself does so from a cancelable timer with capped
 * exponential backoff; the others are reconnected by their topology.
 *
 * hiredis owns the socket: on cleanup the nginx connection is freed and
 * hiredis closes the descriptor.
 */


#include "ngx_http_otp_redis_node.h"


#define NGX_HTTP_OTP_REDIS_BACKOFF_MIN      100
#define NGX_HTTP_OTP_REDIS_BACKOFF_MAX      3000
#define NGX_HTTP_OTP_REDIS_READS_PER_EVENT  64
#define NGX_HTTP_OTP_REDIS_ERRORS_PER_SEC   5


static void ngx_http_otp_redis_node_lost(ngx_http_otp_redis_node_t *node);
static void ngx_http_otp_redis_schedule(ngx_http_otp_redis_node_t *node);
static void ngx_http_otp_redis_reconnect_handler(ngx_event_t *ev);
static void ngx_http_otp_redis_connect_timeout(ngx_event_t *ev);
static void ngx_http_otp_redis_on_connect(const redisAsyncContext *ac,
    int status);
static void ngx_http_otp_redis_on_disconnect(const redisAsyncContext *ac,
    int status);
static void ngx_http_otp_redis_ended(const redisAsyncContext *ac,
    const char *what);
static void ngx_http_otp_redis_handshake(ngx_http_otp_redis_node_t *node);
static void ngx_http_otp_redis_handshake_reply(redisAsyncContext *ac,
    void *r, void *privdata);
static void ngx_http_otp_redis_handshake_step(
    ngx_http_otp_redis_node_t *node);
static ngx_uint_t ngx_http_otp_redis_policy(ngx_http_otp_redis_node_t *node,
    redisReply *reply);
static ngx_uint_t ngx_http_otp_redis_role(ngx_http_otp_redis_node_t *node,
    redisReply *reply);
static ngx_uint_t ngx_http_otp_redis_script_loaded(
    ngx_http_otp_redis_node_t *node, redisReply *reply,
    ngx_http_otp_redis_script_t *script);

static void ngx_http_otp_redis_add_read(void *privdata);
static void ngx_http_otp_redis_del_read(void *privdata);
static void ngx_http_otp_redis_add_write(void *privdata);
static void ngx_http_otp_redis_del_write(void *privdata);
static void ngx_http_otp_redis_cleanup(void *privdata);
static void ngx_http_otp_redis_read_handler(ngx_event_t *rev);
static void ngx_http_otp_redis_write_handler(ngx_event_t *wev);


ngx_connection_t  ngx_http_otp_redis_dummy;

/* the handshake's commands; their addresses tell the replies apart */
static char  ngx_http_otp_redis_cmd_auth[] = "AUTH";
static char  ngx_http_otp_redis_cmd_select[] = "SELECT";
static char  ngx_http_otp_redis_cmd_config[] = "CONFIG";
static char  ngx_http_otp_redis_cmd_role[] = "ROLE";

/* told of failed calls and reconnects: the layer above counts them */
static ngx_http_otp_redis_event_pt  ngx_http_otp_redis_event_handler;

static time_t      ngx_http_otp_redis_error_time;
static ngx_uint_t  ngx_http_otp_redis_error_count;


void
ngx_http_otp_redis_node_init(ngx_http_otp_redis_node_t *node,
    ngx_http_otp_redis_env_t *env)
{
    ngx_memzero(node, sizeof(ngx_http_otp_redis_node_t));

    node->env = env;

    ngx_http_otp_redis_timer_init(&node->connect_timer,
                                  ngx_http_otp_redis_connect_timeout,
                                  env->log);
    ngx_http_otp_redis_timer_init(&node->reconnect_timer,
                                  ngx_http_otp_redis_reconnect_handler,
                                  env->log);
}


/* a timer that does not hold up a graceful shutdown */

void
ngx_http_otp_redis_timer_init(ngx_event_t *ev, ngx_event_handler_pt handler,
    ngx_log_t *log)
{
    ngx_http_otp_redis_dummy.fd = (ngx_socket_t) -1;

    ngx_memzero(ev, sizeof(ngx_event_t));

    ev->handler = handler;
    ev->data = &ngx_http_otp_redis_dummy;
    ev->log = log;
    ev->cancelable = 1;
}


void
ngx_http_otp_redis_node_set_addr(ngx_http_otp_redis_node_t *node,
    ngx_str_t *host, in_port_t port)
{
    size_t  len;

    len = ngx_min(host->len, NGX_HTTP_OTP_REDIS_HOST_LEN - 1);

    ngx_memcpy(node->host, host->data, len);
    node->host[len] = '\0';
    node->port = port;
}


void
ngx_http_otp_redis_node_connect(ngx_http_otp_redis_node_t *node)
{
    ngx_connection_t   *c;
    redisAsyncContext  *ac;
    ngx_log_t          *log;

    log = node->env->log;

    if (node->ac) {
        return;
    }

    if (node->reconnect_timer.timer_set) {
        ngx_del_timer(&node->reconnect_timer);
    }

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, log, 0,
                   "otp redis: connecting to %s:%d",
                   node->unix_socket
                   ? node->env->conf->unix_path.data : node->host,
                   (int) node->port);

    if (node->unix_socket) {
        ac = redisAsyncConnectUnix((char *) node->env->conf->unix_path.data);

    } else {
        ac = redisAsyncConnect((char *) node->host, node->port);
    }

    if (ac == NULL) {
        ngx_http_otp_redis_error(log, 0, "otp: redis connection not created: "
                                 "out of memory");
        ngx_http_otp_redis_node_lost(node);
        return;
    }

    if (ac->err) {
        ngx_http_otp_redis_error(log, 0, "otp: redis connect to %s:%d "
                                 "failed: %s", node->host, (int) node->port,
                                 ac->errstr);
        redisAsyncFree(ac);
        ngx_http_otp_redis_node_lost(node);
        return;
    }

    c = ngx_get_connection(ac->c.fd, log);
    if (c == NULL) {
        redisAsyncFree(ac);
        ngx_http_otp_redis_node_lost(node);
        return;
    }

    c->data = node;
    c->read->handler = ngx_http_otp_redis_read_handler;
    c->write->handler = ngx_http_otp_redis_write_handler;
    c->read->log = log;
    c->write->log = log;

    node->ac = ac;
    node->conn = c;
    node->state = NGX_HTTP_OTP_REDIS_CONNECTING;
    node->write_wanted = 0;
    node->writing = 0;

    ac->data = node;
    ac->ev.data = c;
    ac->ev.addRead = ngx_http_otp_redis_add_read;
    ac->ev.delRead = ngx_http_otp_redis_del_read;
    ac->ev.addWrite = ngx_http_otp_redis_add_write;
    ac->ev.delWrite = ngx_http_otp_redis_del_write;
    ac->ev.cleanup = ngx_http_otp_redis_cleanup;

    ngx_add_timer(&node->connect_timer, node->env->conf->connect_timeout);

    /* the connect callback asks for the first write event */

    redisAsyncSetDisconnectCallback(ac, ngx_http_otp_redis_on_disconnect);
    redisAsyncSetConnectCallback(ac, ngx_http_otp_redis_on_connect);
}


/*
 * Gives up the connection: hiredis fails every pending command, calls the
 * cleanup hook and closes the socket.  Inside a hiredis callback the free
 * is deferred by hiredis until the callback returns.
 */

void
ngx_http_otp_redis_node_close(ngx_http_otp_redis_node_t *node)
{
    redisAsyncContext  *ac;

    ac = node->ac;

    node->ac = NULL;
    node->state = NGX_HTTP_OTP_REDIS_IDLE;

    if (node->connect_timer.timer_set) {
        ngx_del_timer(&node->connect_timer);
    }

    if (node->reconnect_timer.timer_set) {
        ngx_del_timer(&node->reconnect_timer);
    }

    if (ac) {
        redisAsyncFree(ac);
    }
}


void
ngx_http_otp_redis_node_drop(ngx_http_otp_redis_node_t *node)
{
    ngx_http_otp_redis_node_close(node);
    ngx_http_otp_redis_node_lost(node);
}


/* the connection failed or ended: the topology decides what comes next */

static void
ngx_http_otp_redis_node_lost(ngx_http_otp_redis_node_t *node)
{
    node->ac = NULL;
    node->state = NGX_HTTP_OTP_REDIS_IDLE;
    node->lost = 1;

    if (node->connect_timer.timer_set) {
        ngx_del_timer(&node->connect_timer);
    }

    if (node->env->exiting) {
        return;
    }

    if (node->reconnect) {
        ngx_http_otp_redis_schedule(node);
    }

    if (node->on_lost) {
        node->on_lost(node);
    }
}


static void
ngx_http_otp_redis_schedule(ngx_http_otp_redis_node_t *node)
{
    if (ngx_exiting || ngx_quit || ngx_terminate
        || node->reconnect_timer.timer_set)
    {
        return;
    }

    if (node->backoff == 0) {
        node->backoff = NGX_HTTP_OTP_REDIS_BACKOFF_MIN;

    } else {
        node->backoff = ngx_min(node->backoff * 2,
                                NGX_HTTP_OTP_REDIS_BACKOFF_MAX);
    }

    ngx_add_timer(&node->reconnect_timer, node->backoff);
}


static void
ngx_http_otp_redis_reconnect_handler(ngx_event_t *ev)
{
    ngx_http_otp_redis_node_t  *node;

    node = (ngx_http_otp_redis_node_t *) ((u_char *) ev
               - offsetof(ngx_http_otp_redis_node_t, reconnect_timer));

    if (ngx_exiting || node->ac) {
        return;
    }

    ngx_http_otp_redis_node_connect(node);
}


static void
ngx_http_otp_redis_connect_timeout(ngx_event_t *ev)
{
    ngx_http_otp_redis_node_t  *node;

    node = (ngx_http_otp_redis_node_t *) ((u_char *) ev
               - offsetof(ngx_http_otp_redis_node_t, connect_timer));

    ngx_http_otp_redis_error(node->env->log, NGX_ETIMEDOUT,
                             "otp: redis connect or handshake to %s:%d "
                             "timed out", node->host, (int) node->port);

    ngx_http_otp_redis_node_drop(node);
}


static void
ngx_http_otp_redis_on_connect(const redisAsyncContext *ac, int status)
{
    ngx_http_otp_redis_node_t  *node;

    if (status != REDIS_OK) {
        /* hiredis frees the context when this callback returns */
        ngx_http_otp_redis_ended(ac, "connect failed");
        return;
    }

    node = ac->data;

    if (node == NULL || node->ac != ac) {
        return;
    }

    ngx_http_otp_redis_handshake(node);
}


static void
ngx_http_otp_redis_on_disconnect(const redisAsyncContext *ac, int status)
{
    ngx_http_otp_redis_ended(ac, "connection lost");
}


static void
ngx_http_otp_redis_ended(const redisAsyncContext *ac, const char *what)
{
    ngx_http_otp_redis_node_t  *node;

    node = ac->data;

    if (node == NULL || node->ac != ac) {
        /* dropped by us */
        return;
    }

    /* the context's error is copied from the connection's only later */

    ngx_http_otp_redis_error(node->env->log, 0,
                             "otp: redis %s%s%s (%s:%d)", what,
                             ac->c.err ? ": " : "",
                             ac->c.err ? ac->c.errstr : "",
                             node->host, (int) node->port);

    ngx_http_otp_redis_node_lost(node);
}


static void
ngx_http_otp_redis_handshake(ngx_http_otp_redis_node_t *node)
{
    u_char                    *p;
    size_t                     lens[3];
    ngx_uint_t                 i, n;
    const char                *args[3];
    u_char                     db[NGX_INT_T_LEN];
    ngx_http_otp_redis_env_t  *env;

    /* the commands before the scripts, each if the node asks for it */
    struct {
        ngx_uint_t             want;
        ngx_uint_t             argc;
        ngx_str_t              argv[3];
    } cmd[4];

    env = node->env;

    node->handshake_pending = 0;
    node->handshake_failed = 0;

    ngx_memzero(cmd, sizeof(cmd));

    /* pipelined: a failed AUTH fails the rest, and the drop follows */

    cmd[0].want = (node->password && node->password->len);
    cmd[0].argc = 2;
    cmd[0].argv[0].data = (u_char *) ngx_http_otp_redis_cmd_auth;

    if (cmd[0].want) {
        cmd[0].argv[1] = *node->password;
    }

    p = ngx_sprintf(db, "%ui", env->conf->db);

    cmd[1].want = (node->handshake & NGX_HTTP_OTP_REDIS_HS_SELECT)
                  && env->conf->db;
    cmd[1].argc = 2;
    cmd[1].argv[0].data = (u_char *) ngx_http_otp_redis_cmd_select;
    cmd[1].argv[1].data = db;
    cmd[1].argv[1].len = p - db;

    /* an eviction policy that can drop user records (SPEC 6.21) */

    cmd[2].want = node->handshake & NGX_HTTP_OTP_REDIS_HS_POLICY;
    cmd[2].argc = 3;
    cmd[2].argv[0].data = (u_char *) ngx_http_otp_redis_cmd_config;
    ngx_str_set(&cmd[2].argv[1], "GET");
    ngx_str_set(&cmd[2].argv[2], "maxmemory-policy");

    /* what a sentinel named may have been demoted meanwhile */

    cmd[3].want = node->handshake & NGX_HTTP_OTP_REDIS_HS_ROLE;
    cmd[3].argc = 1;
    cmd[3].argv[0].data = (u_char *) ngx_http_otp_redis_cmd_role;

    for (i = 0; i < 4; i++) {
        if (!cmd[i].want) {
            continue;
        }

        cmd[i].argv[0].len = ngx_strlen(cmd[i].argv[0].data);

        for (n = 0; n < cmd[i].argc; n++) {
            args[n] = (const char *) cmd[i].argv[n].data;
            lens[n] = cmd[i].argv[n].len;
        }

        if (redisAsyncCommandArgv(node->ac,
                                  ngx_http_otp_redis_handshake_reply,
                                  (void *) args[0],
                                  (int) cmd[i].argc, args, lens)
            != REDIS_OK)
        {
            goto failed;
        }

        node->handshake_pending++;
    }

    if (node->handshake & NGX_HTTP_OTP_REDIS_HS_SCRIPTS) {
        for (i = 0; i < env->nscripts; i++) {
            args[0] = "SCRIPT";
            lens[0] = 6;
            args[1] = "LOAD";
            lens[1] = 4;
            args[2] = (const char *) env->scripts[i].source.data;
            lens[2] = env->scripts[i].source.len;

            if (redisAsyncCommandArgv(node->ac,
                                      ngx_http_otp_redis_handshake_reply,
                                      &env->scripts[i], 3, args, lens)
                != REDIS_OK)
            {
                goto failed;
            }

            node->handshake_pending++;
        }
    }

    if (node->handshake_pending == 0) {
        node->handshake_pending = 1;
        ngx_http_otp_redis_handshake_step(node);
    }

    return;

failed:

    ngx_http_otp_redis_error(env->log, 0, "otp: redis handshake not sent");
    ngx_http_otp_redis_node_drop(node);
}


/*
 * Every reply of the handshake; privdata says to what: the command's
 * name, or the script that was loaded.
 */

static void
ngx_http_otp_redis_handshake_reply(redisAsyncContext *ac, void *r,
    void *privdata)
{
    redisReply                 *reply = r;
    ngx_uint_t                  ok;
    ngx_http_otp_redis_node_t  *node;

    node = ac->data;

    if (reply == NULL || node == NULL || node->ac != ac) {
        /* the connection is gone and its failure already handled */
        return;
    }

    if (privdata == (void *) ngx_http_otp_redis_cmd_config) {
        ok = ngx_http_otp_redis_policy(node, reply);

    } else if (privdata == (void *) ngx_http_otp_redis_cmd_role) {
        ok = ngx_http_otp_redis_role(node, reply);

    } else if (privdata == (void *) ngx_http_otp_redis_cmd_auth
               || privdata == (void *) ngx_http_otp_redis_cmd_select)
    {
        ok = (reply->type != REDIS_REPLY_ERROR);

        if (!ok) {
            ngx_http_otp_redis_error(node->env->log, 0,
                                     "otp: redis %s failed: %s (%s:%d)",
                                     (char *) privdata, reply->str,
                                     node->host, (int) node->port);
        }

    } else {
        ok = ngx_http_otp_redis_script_loaded(node, reply, privdata);
    }

    if (!ok) {
        node->handshake_failed = 1;
    }

    ngx_http_otp_redis_handshake_step(node);
}


/* one reply of the handshake is in: the node is ready after the last */

static void
ngx_http_otp_redis_handshake_step(ngx_http_otp_redis_node_t *node)
{
    if (--node->handshake_pending) {
        return;
    }

    if (node->handshake_failed) {
        ngx_http_otp_redis_node_drop(node);
        return;
    }

    if (node->connect_timer.timer_set) {
        ngx_del_timer(&node->connect_timer);
    }

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, node->env->log, 0,
                   "otp redis: %s:%d ready", node->host, (int) node->port);

    node->state = NGX_HTTP_OTP_REDIS_READY;
    node->backoff = 0;

    if (node->on_ready) {
        node->on_ready(node);
    }

    node->lost = 0;
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

static ngx_uint_t
ngx_http_otp_redis_policy(ngx_http_otp_redis_node_t *node, redisReply *reply)
{
    redisReply  *value;
    ngx_log_t   *log;

    log = node->env->log;

    if (reply->type != REDIS_REPLY_ARRAY || reply->elements != 2
        || reply->element[1]->type != REDIS_REPLY_STRING)
    {
        ngx_log_error(NGX_LOG_ERR, log, 0,
                      "otp: redis maxmemory-policy could not be checked "
                      "(%s); it must not be an \"allkeys-*\" policy",
                      reply->type == REDIS_REPLY_ERROR
                      ? reply->str : "no such setting");
        return 1;
    }

    value = reply->element[1];

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, log, 0,
                   "otp redis: maxmemory-policy %s", value->str);

    if (value->len >= sizeof("allkeys-") - 1
        && ngx_strncmp(value->str, "allkeys-", sizeof("allkeys-") - 1) == 0)
    {
        ngx_http_otp_redis_error(log, 0,
                                 "otp: redis maxmemory-policy \"%s\" can "
                                 "evict user records: not used until it is "
                                 "\"noeviction\" (or a \"volatile-*\" "
                                 "policy)", value->str);
        return 0;
    }

    return 1;
}


static ngx_uint_t
ngx_http_otp_redis_role(ngx_http_otp_redis_node_t *node, redisReply *reply)
{
    if (reply->type != REDIS_REPLY_ARRAY || reply->elements == 0
        || reply->element[0]->type != REDIS_REPLY_STRING
        || ngx_strcmp(reply->element[0]->str, "master") != 0)
    {
        ngx_http_otp_redis_error(node->env->log, 0,
                                 "otp: redis %s:%d is not a master",
                                 node->host, (int) node->port);
        return 0;
    }

    return 1;
}


static ngx_uint_t
ngx_http_otp_redis_script_loaded(ngx_http_otp_redis_node_t *node,
    redisReply *reply, ngx_http_otp_redis_script_t *script)
{
    if (reply->type != REDIS_REPLY_STRING
        || reply->len != 40
        || ngx_strncasecmp((u_char *) reply->str, script->sha1, 40) != 0)
    {
        ngx_http_otp_redis_error(node->env->log, 0,
                                 "otp: redis SCRIPT LOAD of \"%V\" "
                                 "failed: %s", &script->name,
                                 reply->type == REDIS_REPLY_ERROR
                                 ? reply->str : "unexpected reply");
        return 0;
    }

    return 1;
}


ngx_int_t
ngx_http_otp_redis_node_command(ngx_http_otp_redis_node_t *node,
    redisCallbackFn *fn, void *privdata, ngx_uint_t argc, ngx_str_t *argv)
{
    ngx_uint_t   i;
    const char  *args[NGX_HTTP_OTP_REDIS_MAX_ARGS];
    size_t       lens[NGX_HTTP_OTP_REDIS_MAX_ARGS];

    if (node->ac == NULL || argc > NGX_HTTP_OTP_REDIS_MAX_ARGS) {
        return NGX_ERROR;
    }

    for (i = 0; i < argc; i++) {
        args[i] = (const char *) argv[i].data;
        lens[i] = argv[i].len;
    }

    if (redisAsyncCommandArgv(node->ac, fn, privdata, (int) argc, args,
                              lens)
        != REDIS_OK)
    {
        return NGX_ERROR;
    }

    return NGX_OK;
}


/* declared in ngx_http_otp_redis.h: the events are told from here */

void
ngx_http_otp_redis_on_event(ngx_http_otp_redis_event_pt handler)
{
    ngx_http_otp_redis_event_handler = handler;
}


void
ngx_http_otp_redis_tell(ngx_http_otp_redis_event_e event)
{
    if (ngx_http_otp_redis_event_handler) {
        ngx_http_otp_redis_event_handler(event);
    }
}


/* a node with the store's scripts is ready: back after a failure? */

void
ngx_http_otp_redis_node_back(ngx_http_otp_redis_node_t *node)
{
    /* after every handshake: the store's marker is checked again */
    ngx_http_otp_redis_tell(NGX_HTTP_OTP_REDIS_EV_READY);

    if (!node->lost) {
        return;
    }

    ngx_log_error(NGX_LOG_NOTICE, node->env->log, 0,
                  "otp: redis connection to %s:%d restored",
                  node->host, (int) node->port);

    ngx_http_otp_redis_tell(NGX_HTTP_OTP_REDIS_EV_RECONNECT);
}


ngx_uint_t
ngx_http_otp_redis_log_allowed(void)
{
    if (ngx_http_otp_redis_error_time != ngx_time()) {
        ngx_http_otp_redis_error_time = ngx_time();
        ngx_http_otp_redis_error_count = 0;
    }

    return ngx_http_otp_redis_error_count++
           < NGX_HTTP_OTP_REDIS_ERRORS_PER_SEC;
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

    ngx_http_otp_redis_node_t  *node;

    node = c->data;
    node->write_wanted = 1;

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

    if (c->write->ready && !node->writing && !c->write->posted)
    {
        ngx_post_event(c->write, &ngx_posted_events);
    }
}


static void
ngx_http_otp_redis_del_write(void *privdata)
{
    ngx_connection_t  *c = privdata;

    ngx_http_otp_redis_node_t  *node;

    node = c->data;
    node->write_wanted = 0;

    /* level-triggered methods would report a writable socket forever */

    if (!(ngx_event_flags & NGX_USE_CLEAR_EVENT) && c->write->active) {
        (void) ngx_del_event(c->write, NGX_WRITE_EVENT, 0);
    }
}


static void
ngx_http_otp_redis_cleanup(void *privdata)
{
    ngx_connection_t  *c = privdata;

    ngx_http_otp_redis_node_t  *node;

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

    node = c->data;

    if (node->conn == c) {
        node->conn = NULL;
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
    ngx_uint_t                  i;
    ngx_connection_t           *c;
    ngx_http_otp_redis_node_t  *node;

    c = rev->data;
    node = c->data;

    /*
     * Edge-triggered: read until the socket is drained, or hiredis will
     * not hear of the rest until more data arrives.  A peek tells whether
     * anything (or the end of the stream) is left.
     */

    for (i = 0; i < NGX_HTTP_OTP_REDIS_READS_PER_EVENT; i++) {

        if (node->conn != c || node->ac == NULL) {
            return;
        }

        redisAsyncHandleRead(node->ac);

        if (node->conn != c) {
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
    ngx_connection_t           *c;
    ngx_http_otp_redis_node_t  *node;

    c = wev->data;
    node = c->data;

    if (node->conn != c || node->ac == NULL) {
        return;
    }

    if (!node->write_wanted && node->state != NGX_HTTP_OTP_REDIS_CONNECTING) {
        return;
    }

    node->writing = 1;

    redisAsyncHandleWrite(node->ac);

    node->writing = 0;

    if (node->conn != c) {
        return;
    }

    if (node->write_wanted) {
        /* the socket buffer is full: wait for the edge */
        wev->ready = 0;
    }
}


/*
 * Redis Sentinel.  The sentinels are asked in turn (ngx_http_otp_redis_ask.c)
 * "SENTINEL get-master-addr-by-name"; the first that names the master
 * wins.  The master node is then connected there, and its handshake asks
 * ROLE: a server that is no master (yet, or any more) is not used.
 *
 * Rediscovery: when the master's connection fails or is lost, and when a
 * write is answered READONLY (a master demoted while its clients stayed
 * connected).  There is no subscription to +switch-master: a failover
 * ends the old master's role, so the first call after it fails
 * (connection lost, or READONLY) and starts rediscovery, and the calls
 * meanwhile fail at once (503).  A subscription would cost a connection
 * per sentinel per worker and would tell no sooner than the lost
 * connection does when the master dies.
 */


#include "ngx_http_otp_redis_sentinel.h"
#include "ngx_http_otp_redis_ask.h"


typedef struct {
    ngx_http_otp_redis_ask_t        ask;
    ngx_http_otp_redis_node_t      *master;
    ngx_uint_t                      known;       /* master has an address */
    ngx_uint_t                      lost;        /* lost since ready */
} ngx_http_otp_redis_sentinel_t;


static ngx_int_t ngx_http_otp_redis_sentinel_addr(
    ngx_http_otp_redis_ask_t *ask, ngx_uint_t i, ngx_str_t *host,
    in_port_t *port);
static ngx_int_t ngx_http_otp_redis_sentinel_answer(
    ngx_http_otp_redis_ask_t *ask, redisReply *reply);
static void ngx_http_otp_redis_sentinel_master_ready(
    ngx_http_otp_redis_node_t *node);
static void ngx_http_otp_redis_sentinel_master_lost(
    ngx_http_otp_redis_node_t *node);


static ngx_http_otp_redis_sentinel_t  ngx_http_otp_redis_sentinel;


ngx_int_t
ngx_http_otp_redis_sentinel_init(ngx_http_otp_redis_env_t *env,
    ngx_http_otp_redis_node_t *master)
{
    ngx_http_otp_redis_ask_t       *ask;
    ngx_http_otp_redis_sentinel_t  *sn;

    sn = &ngx_http_otp_redis_sentinel;

    sn->master = master;
    sn->known = 0;
    sn->lost = 0;

    master->on_ready = ngx_http_otp_redis_sentinel_master_ready;
    master->on_lost = ngx_http_otp_redis_sentinel_master_lost;

    ask = &sn->ask;

    ngx_http_otp_redis_ask_init(ask, env, &env->conf->sentinel_password);

    ask->argc = 3;
    ngx_str_set(&ask->argv[0], "SENTINEL");
    ngx_str_set(&ask->argv[1], "get-master-addr-by-name");
    ask->argv[2] = env->conf->master;
    ask->who = "sentinels";
    ask->n = env->conf->sentinels->nelts;
    ask->addr = ngx_http_otp_redis_sentinel_addr;
    ask->answer = ngx_http_otp_redis_sentinel_answer;

    ngx_http_otp_redis_ask_start(ask);

    return NGX_OK;
}


void
ngx_http_otp_redis_sentinel_exit(void)
{
    ngx_http_otp_redis_ask_exit(&ngx_http_otp_redis_sentinel.ask);
}


void
ngx_http_otp_redis_sentinel_readonly(void)
{
    ngx_http_otp_redis_node_t  *master;

    master = ngx_http_otp_redis_sentinel.master;

    if (!ngx_http_otp_redis_node_ready(master)) {
        return;
    }

    ngx_http_otp_redis_error(master->env->log, 0,
                             "otp: redis %s:%d answers READONLY: "
                             "asking the sentinels for the master",
                             master->host, (int) master->port);

    ngx_http_otp_redis_node_drop(master);
}


static ngx_int_t
ngx_http_otp_redis_sentinel_addr(ngx_http_otp_redis_ask_t *ask, ngx_uint_t i,
    ngx_str_t *host, in_port_t *port)
{
    ngx_http_otp_redis_addr_t  *addr;

    addr = ask->probe.env->conf->sentinels->elts;

    *host = addr[i].host;
    *port = addr[i].port;

    return NGX_OK;
}


/* [host, port] of the master; nil if the sentinel does not know it */

static ngx_int_t
ngx_http_otp_redis_sentinel_answer(ngx_http_otp_redis_ask_t *ask,
    redisReply *reply)
{
    ngx_int_t                       port;
    ngx_str_t                       host;
    ngx_http_otp_redis_node_t      *master;
    ngx_http_otp_redis_sentinel_t  *sn;

    sn = &ngx_http_otp_redis_sentinel;
    master = sn->master;

    if (reply->type != REDIS_REPLY_ARRAY || reply->elements != 2
        || reply->element[0]->type != REDIS_REPLY_STRING
        || reply->element[1]->type != REDIS_REPLY_STRING
        || reply->element[0]->len == 0
        || reply->element[0]->len >= NGX_HTTP_OTP_REDIS_HOST_LEN)
    {
        return NGX_DECLINED;
    }

    port = ngx_atoi((u_char *) reply->element[1]->str,
                    reply->element[1]->len);

    if (port < 1 || port > 65535) {
        return NGX_DECLINED;
    }

    host.data = (u_char *) reply->element[0]->str;
    host.len = reply->element[0]->len;

    if (sn->known
        && master->port == (in_port_t) port
        && ngx_strlen(master->host) == host.len
        && ngx_strncmp(master->host, host.data, host.len) == 0)
    {
        ngx_log_debug2(NGX_LOG_DEBUG_HTTP, master->env->log, 0,
                       "otp redis: the sentinels name %s:%d still",
                       master->host, (int) master->port);

        ngx_http_otp_redis_node_connect(master);
        return NGX_OK;
    }

    if (sn->known) {
        ngx_http_otp_redis_tell(NGX_HTTP_OTP_REDIS_EV_FAILOVER);
    }

    /*
     * The old master's calls fail now, and are answered 503; the new
     * one, once ready, is told as a reconnect (whatever was lost in the
     * failover is checked then).
     */

    ngx_http_otp_redis_node_close(master);

    if (sn->known) {
        master->lost = 1;
    }

    ngx_http_otp_redis_node_set_addr(master, &host, (in_port_t) port);
    sn->known = 1;

    ngx_log_error(NGX_LOG_NOTICE, master->env->log, 0,
                  "otp: the sentinels name %s:%d master \"%V\"",
                  master->host, (int) master->port,
                  &master->env->conf->master);

    ngx_http_otp_redis_node_connect(master);

    return NGX_OK;
}


static void
ngx_http_otp_redis_sentinel_master_ready(ngx_http_otp_redis_node_t *node)
{
    ngx_http_otp_redis_sentinel.lost = 0;
    ngx_http_otp_redis_sentinel.ask.backoff = 0;

    ngx_http_otp_redis_node_back(node);
}


/* the first loss is followed at once, the next ones after a while */

static void
ngx_http_otp_redis_sentinel_master_lost(ngx_http_otp_redis_node_t *node)
{
    ngx_http_otp_redis_sentinel_t  *sn;

    sn = &ngx_http_otp_redis_sentinel;

    if (!sn->lost) {
        sn->lost = 1;
        sn->ask.backoff = 0;
    }

    ngx_http_otp_redis_ask_later(&sn->ask);
}

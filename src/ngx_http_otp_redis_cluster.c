
/*
 * Redis Cluster.  The slot map comes from CLUSTER SLOTS, asked of the
 * seeds and of the masters already known in turn
 * (ngx_http_otp_redis_ask.c); each master gets a node of its own (one
 * connection per master per worker) that loads the scripts and
 * reconnects by itself.
 * A call goes to the master of its first key's slot: the store puts every
 * key of a user under one hash tag, so a script touches one slot.
 *
 * The map is asked again when a MOVED reply says it is stale and when a
 * master's connection is lost (it may have failed over); a call that met
 * MOVED or ASK is sent once more where the reply says.
 */


#include "ngx_http_otp_redis_cluster.h"
#include "ngx_http_otp_redis_ask.h"


#define NGX_HTTP_OTP_CLUSTER_SLOTS         16384
#define NGX_HTTP_OTP_CLUSTER_MAX_NODES     64


typedef struct {
    ngx_http_otp_redis_env_t       *env;

    ngx_http_otp_redis_node_t       nodes[NGX_HTTP_OTP_CLUSTER_MAX_NODES];
    u_char                          used[NGX_HTTP_OTP_CLUSTER_MAX_NODES];

    /* a node's index + 1 for each slot; 0: nobody known */
    u_char                          slots[NGX_HTTP_OTP_CLUSTER_SLOTS];
    ngx_uint_t                      known;

    /* the seeds, then the masters in use */
    ngx_http_otp_redis_ask_t        ask;
} ngx_http_otp_redis_cluster_t;


static void ngx_http_otp_redis_cluster_refresh(void);
static ngx_int_t ngx_http_otp_redis_cluster_addr(
    ngx_http_otp_redis_ask_t *ask, ngx_uint_t i, ngx_str_t *host,
    in_port_t *port);
static ngx_int_t ngx_http_otp_redis_cluster_answer(
    ngx_http_otp_redis_ask_t *ask, redisReply *reply);
static ngx_int_t ngx_http_otp_redis_cluster_node(ngx_str_t *host,
    ngx_int_t port);
static void ngx_http_otp_redis_cluster_node_ready(
    ngx_http_otp_redis_node_t *node);
static void ngx_http_otp_redis_cluster_node_lost(
    ngx_http_otp_redis_node_t *node);


static ngx_http_otp_redis_cluster_t  *ngx_http_otp_redis_cluster;


ngx_int_t
ngx_http_otp_redis_cluster_init(ngx_http_otp_redis_env_t *env)
{
    ngx_http_otp_redis_cluster_t  *cl;

    cl = ngx_calloc(sizeof(ngx_http_otp_redis_cluster_t), env->log);
    if (cl == NULL) {
        return NGX_ERROR;
    }

    ngx_http_otp_redis_cluster = cl;

    cl->env = env;

    ngx_http_otp_redis_ask_init(&cl->ask, env, &env->conf->password);

    cl->ask.argc = 2;
    ngx_str_set(&cl->ask.argv[0], "CLUSTER");
    ngx_str_set(&cl->ask.argv[1], "SLOTS");
    cl->ask.who = "redis cluster nodes";
    cl->ask.n = env->conf->cluster->nelts + NGX_HTTP_OTP_CLUSTER_MAX_NODES;
    cl->ask.addr = ngx_http_otp_redis_cluster_addr;
    cl->ask.answer = ngx_http_otp_redis_cluster_answer;

    ngx_http_otp_redis_cluster_refresh();

    return NGX_OK;
}


void
ngx_http_otp_redis_cluster_exit(void)
{
    ngx_uint_t                     i;
    ngx_http_otp_redis_cluster_t  *cl;

    cl = ngx_http_otp_redis_cluster;

    if (cl == NULL) {
        return;
    }

    ngx_http_otp_redis_ask_exit(&cl->ask);

    for (i = 0; i < NGX_HTTP_OTP_CLUSTER_MAX_NODES; i++) {
        if (cl->used[i]) {
            ngx_http_otp_redis_node_close(&cl->nodes[i]);
        }
    }

    ngx_free(cl);
    ngx_http_otp_redis_cluster = NULL;
}


ngx_uint_t
ngx_http_otp_redis_cluster_ready(void)
{
    ngx_uint_t                     i;
    ngx_http_otp_redis_cluster_t  *cl;

    cl = ngx_http_otp_redis_cluster;

    if (cl == NULL || !cl->known) {
        return 0;
    }

    for (i = 0; i < NGX_HTTP_OTP_CLUSTER_MAX_NODES; i++) {
        if (cl->used[i] && !ngx_http_otp_redis_node_ready(&cl->nodes[i])) {
            return 0;
        }
    }

    return 1;
}


ngx_http_otp_redis_node_t *
ngx_http_otp_redis_cluster_route(ngx_str_t *key)
{
    ngx_uint_t                     n;
    ngx_http_otp_redis_cluster_t  *cl;

    cl = ngx_http_otp_redis_cluster;

    n = cl->slots[ngx_http_otp_redis_cluster_slot(key->data, key->len)];

    return n ? &cl->nodes[n - 1] : NULL;
}


ngx_http_otp_redis_node_t *
ngx_http_otp_redis_cluster_redirect(char *err, size_t len, ngx_uint_t *ask)
{
    u_char                        *p, *last, *colon;
    ngx_int_t                      slot, port, n;
    ngx_str_t                      host;
    ngx_http_otp_redis_cluster_t  *cl;

    cl = ngx_http_otp_redis_cluster;

    p = (u_char *) err;
    last = p + len;

    *ask = (p[0] == 'A');

    /* "MOVED 3999 127.0.0.1:6381", "ASK 3999 127.0.0.1:6381" */

    p = ngx_strlchr(p, last, ' ');
    if (p == NULL) {
        return NULL;
    }

    host.data = ngx_strlchr(++p, last, ' ');
    if (host.data == NULL) {
        return NULL;
    }

    slot = ngx_atoi(p, host.data - p);

    host.data++;
    colon = NULL;

    for (p = host.data; p < last; p++) {
        if (*p == ':') {
            colon = p;
        }
    }

    if (slot < 0 || slot >= NGX_HTTP_OTP_CLUSTER_SLOTS || colon == NULL) {
        return NULL;
    }

    host.len = colon - host.data;
    port = ngx_atoi(colon + 1, last - colon - 1);

    if (!*ask) {
        ngx_http_otp_redis_cluster_refresh();
    }

    n = ngx_http_otp_redis_cluster_node(&host, port);
    if (n == NGX_ERROR) {
        return NULL;
    }

    if (!*ask) {
        cl->slots[slot] = (u_char) (n + 1);
    }

    return &cl->nodes[n];
}


/* the node of a master at host:port, made and connected if new */

static ngx_int_t
ngx_http_otp_redis_cluster_node(ngx_str_t *host, ngx_int_t port)
{
    ngx_uint_t                     i, free;
    ngx_http_otp_redis_node_t     *node;
    ngx_http_otp_redis_cluster_t  *cl;

    cl = ngx_http_otp_redis_cluster;

    if (port < 1 || port > 65535 || host->len == 0
        || host->len >= NGX_HTTP_OTP_REDIS_HOST_LEN)
    {
        return NGX_ERROR;
    }

    free = NGX_HTTP_OTP_CLUSTER_MAX_NODES;

    for (i = 0; i < NGX_HTTP_OTP_CLUSTER_MAX_NODES; i++) {
        node = &cl->nodes[i];

        if (!cl->used[i]) {
            if (free == NGX_HTTP_OTP_CLUSTER_MAX_NODES) {
                free = i;
            }

            continue;
        }

        if (node->port == (in_port_t) port
            && ngx_strlen(node->host) == host->len
            && ngx_strncmp(node->host, host->data, host->len) == 0)
        {
            return i;
        }
    }

    if (free == NGX_HTTP_OTP_CLUSTER_MAX_NODES) {
        ngx_http_otp_redis_error(cl->env->log, 0,
                                 "otp: redis cluster has more than %d "
                                 "masters", NGX_HTTP_OTP_CLUSTER_MAX_NODES);
        return NGX_ERROR;
    }

    node = &cl->nodes[free];

    ngx_http_otp_redis_node_init(node, cl->env);
    ngx_http_otp_redis_node_set_addr(node, host, (in_port_t) port);

    node->handshake = NGX_HTTP_OTP_REDIS_HS_POLICY
                      | NGX_HTTP_OTP_REDIS_HS_SCRIPTS;
    node->password = &cl->env->conf->password;
    node->reconnect = 1;
    node->on_ready = ngx_http_otp_redis_cluster_node_ready;
    node->on_lost = ngx_http_otp_redis_cluster_node_lost;

    cl->used[free] = 1;

    ngx_log_error(NGX_LOG_NOTICE, cl->env->log, 0,
                  "otp: redis cluster master %s:%d", node->host,
                  (int) node->port);

    ngx_http_otp_redis_node_connect(node);

    return free;
}


static void
ngx_http_otp_redis_cluster_node_ready(ngx_http_otp_redis_node_t *node)
{
    ngx_http_otp_redis_node_back(node);
}


static void
ngx_http_otp_redis_cluster_node_lost(ngx_http_otp_redis_node_t *node)
{
    /* the node reconnects by itself; it may no longer be a master */

    ngx_http_otp_redis_cluster_refresh();
}


static void
ngx_http_otp_redis_cluster_refresh(void)
{
    ngx_http_otp_redis_ask_start(&ngx_http_otp_redis_cluster->ask);
}


static ngx_int_t
ngx_http_otp_redis_cluster_addr(ngx_http_otp_redis_ask_t *ask, ngx_uint_t i,
    ngx_str_t *host, in_port_t *port)
{
    ngx_uint_t                     nseeds;
    ngx_http_otp_redis_addr_t     *seeds;
    ngx_http_otp_redis_cluster_t  *cl;

    cl = ngx_http_otp_redis_cluster;

    seeds = cl->env->conf->cluster->elts;
    nseeds = cl->env->conf->cluster->nelts;

    if (i < nseeds) {
        *host = seeds[i].host;
        *port = seeds[i].port;
        return NGX_OK;
    }

    i -= nseeds;

    if (!cl->used[i]) {
        return NGX_DECLINED;
    }

    host->data = cl->nodes[i].host;
    host->len = ngx_strlen(host->data);
    *port = cl->nodes[i].port;

    return NGX_OK;
}


/*
 * CLUSTER SLOTS: [ [start, end, [host, port, id, ...], replicas...], ...].
 * Masters that hold no slot any more are let go.  A map that does not
 * cover every slot is used: calls for the slots it lacks fail.
 */

static ngx_int_t
ngx_http_otp_redis_cluster_answer(ngx_http_otp_redis_ask_t *ask,
    redisReply *reply)
{
    u_char                         in_map[NGX_HTTP_OTP_CLUSTER_MAX_NODES];
    u_char                        *slots;
    size_t                         i;
    ngx_int_t                      start, end, n, s, port;
    ngx_str_t                      host;
    ngx_uint_t                     changed;
    redisReply                    *range, *master;
    ngx_http_otp_redis_cluster_t  *cl;

    cl = ngx_http_otp_redis_cluster;

    if (reply->type != REDIS_REPLY_ARRAY || reply->elements == 0) {
        return NGX_ERROR;
    }

    slots = ngx_alloc(NGX_HTTP_OTP_CLUSTER_SLOTS, cl->env->log);
    if (slots == NULL) {
        return NGX_ERROR;
    }

    ngx_memzero(slots, NGX_HTTP_OTP_CLUSTER_SLOTS);
    ngx_memzero(in_map, sizeof(in_map));

    for (i = 0; i < reply->elements; i++) {
        range = reply->element[i];

        if (range->type != REDIS_REPLY_ARRAY || range->elements < 3
            || range->element[0]->type != REDIS_REPLY_INTEGER
            || range->element[1]->type != REDIS_REPLY_INTEGER
            || range->element[2]->type != REDIS_REPLY_ARRAY
            || range->element[2]->elements < 2
            || range->element[2]->element[0]->type != REDIS_REPLY_STRING
            || range->element[2]->element[1]->type != REDIS_REPLY_INTEGER)
        {
            goto failed;
        }

        start = (ngx_int_t) range->element[0]->integer;
        end = (ngx_int_t) range->element[1]->integer;
        master = range->element[2];

        if (start < 0 || end >= NGX_HTTP_OTP_CLUSTER_SLOTS || start > end) {
            goto failed;
        }

        /* an empty host: the node that was asked */

        host.data = (u_char *) master->element[0]->str;
        host.len = master->element[0]->len;

        if (host.len == 0) {
            host.data = cl->ask.probe.host;
            host.len = ngx_strlen(host.data);
        }

        port = (ngx_int_t) master->element[1]->integer;

        n = ngx_http_otp_redis_cluster_node(&host, port);
        if (n == NGX_ERROR) {
            goto failed;
        }

        in_map[n] = 1;

        for (s = start; s <= end; s++) {
            slots[s] = (u_char) (n + 1);
        }
    }

    changed = cl->known
              && ngx_memcmp(slots, cl->slots, NGX_HTTP_OTP_CLUSTER_SLOTS) != 0;

    ngx_memcpy(cl->slots, slots, NGX_HTTP_OTP_CLUSTER_SLOTS);
    ngx_free(slots);

    cl->known = 1;

    for (n = 0; n < NGX_HTTP_OTP_CLUSTER_MAX_NODES; n++) {
        if (cl->used[n] && !in_map[n]) {
            ngx_log_error(NGX_LOG_NOTICE, cl->env->log, 0,
                          "otp: redis cluster master %s:%d holds no slot "
                          "any more", cl->nodes[n].host,
                          (int) cl->nodes[n].port);

            cl->used[n] = 0;
            ngx_http_otp_redis_node_close(&cl->nodes[n]);
        }
    }

    if (changed) {
        ngx_http_otp_redis_tell(NGX_HTTP_OTP_REDIS_EV_FAILOVER);
    }

    cl->ask.backoff = 0;

    return NGX_OK;

failed:

    ngx_free(slots);

    return NGX_ERROR;
}


/* CRC16-CCITT (XMODEM), as Redis Cluster computes a key's slot */

ngx_uint_t
ngx_http_otp_redis_cluster_slot(u_char *key, size_t len)
{
    size_t      i, s, e;
    uint16_t    crc;
    ngx_uint_t  b;

    /* only what is between the first "{" and the next "}", if anything */

    for (s = 0; s < len && key[s] != '{'; s++) { /* void */ }

    if (s < len) {
        for (e = s + 1; e < len && key[e] != '}'; e++) { /* void */ }

        if (e < len && e > s + 1) {
            key += s + 1;
            len = e - s - 1;
        }
    }

    crc = 0;

    for (i = 0; i < len; i++) {
        crc ^= (uint16_t) key[i] << 8;

        for (b = 0; b < 8; b++) {
            crc = (crc & 0x8000) ? (uint16_t) ((crc << 1) ^ 0x1021)
                                 : (uint16_t) (crc << 1);
        }
    }

    return crc & (NGX_HTTP_OTP_CLUSTER_SLOTS - 1);
}

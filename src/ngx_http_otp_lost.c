
/*
 * Lost state never lowers the bar (SPEC 6.21).  A Redis that came back
 * empty (a restart without persistence, FLUSHALL, a failover to an empty
 * replica) would make every enrolled user a new one, whom enrollment
 * lets set up a key with the password alone.
 *
 * The store carries a marker, P{~}:store, with a random id; a shared
 * memory zone keeps the id this nginx last saw, across workers and
 * reloads.  store_check.lua compares them each time a worker's
 * connection becomes ready and before every step that enrolls a factor
 * (FLUSHALL keeps the connection): a store that is not the one known is
 * "lost", and enrollment answers 503 until an administrator, having
 * checked or restored the user records, sends POST store/accept-reset,
 * which writes a new marker.  Everything else goes on: users whose
 * records are there sign in as before.
 */


#include "ngx_http_otp_lost.h"
#include "ngx_http_otp_metrics.h"
#include "ngx_http_otp_page.h"
#include "ngx_http_otp_page_flow.h"
#include "ngx_http_otp_store.h"


#define NGX_HTTP_OTP_LOST_ID_LEN      32      /* hex digits */
#define NGX_HTTP_OTP_LOST_LOG_EVERY   10      /* seconds, per worker */


typedef struct {
    ngx_atomic_t                lost;         /* 1: enrollment refused */
    ngx_uint_t                  seen;         /* id holds the last seen */
    u_char                      id[NGX_HTTP_OTP_LOST_ID_LEN];
} ngx_http_otp_lost_shm_t;


static ngx_int_t ngx_http_otp_lost_init_zone(ngx_shm_zone_t *shm_zone,
    void *data);
static ngx_int_t ngx_http_otp_lost_args(ngx_pool_t *pool,
    ngx_http_otp_main_conf_t *omcf, const char *mode, ngx_str_t *args);
static void ngx_http_otp_lost_checked(void *data,
    ngx_http_otp_store_reply_t *reply);
static void ngx_http_otp_lost_answered(ngx_http_request_t *r,
    ngx_http_otp_store_reply_t *reply);
static ngx_uint_t ngx_http_otp_lost_update(ngx_log_t *log,
    ngx_http_otp_store_reply_t *reply);


static ngx_shm_zone_t  *ngx_http_otp_lost_zone;


ngx_int_t
ngx_http_otp_lost_add_zone(ngx_conf_t *cf)
{
    ngx_shm_zone_t            *zone;
    ngx_http_otp_main_conf_t  *omcf;

    static ngx_str_t  name = ngx_string("ngx_http_otp_store");

    omcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_otp_module);

    if (omcf->lost_zone) {
        return NGX_OK;
    }

    zone = ngx_shared_memory_add(cf, &name, 2 * ngx_pagesize,
                                 &ngx_http_otp_module);
    if (zone == NULL) {
        return NGX_ERROR;
    }

    zone->init = ngx_http_otp_lost_init_zone;

    omcf->lost_zone = zone;

    return NGX_OK;
}


/* a reload keeps what was seen: the zone of the old cycle is reused */

static ngx_int_t
ngx_http_otp_lost_init_zone(ngx_shm_zone_t *shm_zone, void *data)
{
    ngx_slab_pool_t          *shpool;
    ngx_http_otp_lost_shm_t  *st;

    shpool = (ngx_slab_pool_t *) shm_zone->shm.addr;

    if (data) {
        shm_zone->data = data;
        return NGX_OK;
    }

    if (shm_zone->shm.exists) {
        shm_zone->data = shpool->data;
        return NGX_OK;
    }

    st = ngx_slab_calloc(shpool, sizeof(ngx_http_otp_lost_shm_t));
    if (st == NULL) {
        return NGX_ERROR;
    }

    shpool->data = st;
    shm_zone->data = st;

    return NGX_OK;
}


void
ngx_http_otp_lost_init_process(ngx_cycle_t *cycle)
{
    ngx_http_otp_lost_shm_t   *st;
    ngx_http_otp_main_conf_t  *omcf;

    omcf = ngx_http_cycle_get_module_main_conf(cycle, ngx_http_otp_module);

    ngx_http_otp_lost_zone = omcf ? omcf->lost_zone : NULL;

    if (ngx_http_otp_lost_zone) {
        st = ngx_http_otp_lost_zone->data;
        ngx_http_otp_metric_set(NGX_HTTP_OTP_M_STORE_LOST, st->lost);
    }
}


/*
 * The arguments of store_check.lua: mode, the id seen or "", a new id,
 * the pattern of user records, now.
 */

static ngx_int_t
ngx_http_otp_lost_args(ngx_pool_t *pool, ngx_http_otp_main_conf_t *omcf,
    const char *mode, ngx_str_t *args)
{
    u_char                    raw[NGX_HTTP_OTP_LOST_ID_LEN / 2], *p;
    ngx_slab_pool_t          *shpool;
    ngx_http_otp_lost_shm_t  *st;

    if (ngx_http_otp_lost_zone == NULL) {
        return NGX_ERROR;
    }

    shpool = (ngx_slab_pool_t *) ngx_http_otp_lost_zone->shm.addr;
    st = ngx_http_otp_lost_zone->data;

    args[0].data = (u_char *) mode;
    args[0].len = ngx_strlen(mode);

    args[1].data = ngx_pnalloc(pool, NGX_HTTP_OTP_LOST_ID_LEN);
    args[2].data = ngx_pnalloc(pool, NGX_HTTP_OTP_LOST_ID_LEN);
    args[4].data = ngx_pnalloc(pool, NGX_TIME_T_LEN);

    if (args[1].data == NULL || args[2].data == NULL || args[4].data == NULL
        || ngx_http_otp_random(raw, sizeof(raw)) != 0
        || ngx_http_otp_store_records(pool, &omcf->redis.prefix, &args[3])
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    ngx_shmtx_lock(&shpool->mutex);

    args[1].len = st->seen ? NGX_HTTP_OTP_LOST_ID_LEN : 0;
    ngx_memcpy(args[1].data, st->id, args[1].len);

    ngx_shmtx_unlock(&shpool->mutex);

    p = ngx_hex_dump(args[2].data, raw, sizeof(raw));
    args[2].len = p - args[2].data;

    p = ngx_sprintf(args[4].data, "%T", ngx_time());
    args[4].len = p - args[4].data;

    return NGX_OK;
}


void
ngx_http_otp_lost_connected(void)
{
    ngx_str_t                  args[5];
    ngx_pool_t                *pool;
    ngx_http_otp_main_conf_t  *omcf;

    omcf = ngx_http_cycle_get_module_main_conf(ngx_cycle,
                                               ngx_http_otp_module);

    if (omcf == NULL || ngx_http_otp_lost_zone == NULL) {
        return;
    }

    /* the arguments are copied by the redis layer */

    pool = ngx_create_pool(1024, ngx_cycle->log);
    if (pool == NULL) {
        return;
    }

    if (ngx_http_otp_lost_args(pool, omcf, "check", args) == NGX_OK) {
        (void) ngx_http_otp_store_run_bg(ngx_cycle->log, omcf,
                                         NGX_HTTP_OTP_STORE_CHECK, args, 5,
                                         ngx_http_otp_lost_checked, NULL);
    }

    ngx_destroy_pool(pool);
}


static void
ngx_http_otp_lost_checked(void *data, ngx_http_otp_store_reply_t *reply)
{
    if (reply) {
        (void) ngx_http_otp_lost_update(ngx_cycle->log, reply);
    }
}


ngx_int_t
ngx_http_otp_lost_check(ngx_http_request_t *r,
    ngx_http_otp_lost_next_pt next)
{
    ngx_str_t                  args[5];
    ngx_http_otp_ep_t         *ep;
    ngx_http_otp_main_conf_t  *omcf;

    omcf = ngx_http_get_module_main_conf(r, ngx_http_otp_module);
    ep = ngx_http_otp_ep(r);

    if (ngx_http_otp_lost_args(r->pool, omcf, "check", args) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ep->after_check = next;

    return ngx_http_otp_ep_run(r, NGX_HTTP_OTP_STORE_CHECK, args, 5,
                               ngx_http_otp_lost_answered);
}


static void
ngx_http_otp_lost_answered(ngx_http_request_t *r,
    ngx_http_otp_store_reply_t *reply)
{
    ngx_http_otp_ep_t   *ep;
    ngx_http_otp_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_otp_module);
    ep = ctx->endpoint;

    if (ngx_http_otp_lost_update(r->connection->log, reply) == 0) {
        ngx_http_otp_ep_finish(r, ep->after_check(r));
        return;
    }

    ctx->status = NGX_HTTP_OTP_STATUS_ERROR;

    ngx_http_otp_ep_finish(r,
        ngx_http_otp_send_error(r, NGX_HTTP_SERVICE_UNAVAILABLE,
                                "Setup is paused",
                                "Second-factor setup is paused while an "
                                "administrator checks the sign-in "
                                "service. Try again later."));
}


ngx_uint_t
ngx_http_otp_lost_now(void)
{
    ngx_http_otp_lost_shm_t  *st;

    if (ngx_http_otp_lost_zone == NULL) {
        return 0;
    }

    st = ngx_http_otp_lost_zone->data;

    return st->lost == 1;
}


ngx_int_t
ngx_http_otp_lost_accept_args(ngx_http_request_t *r, ngx_str_t *args)
{
    ngx_http_otp_main_conf_t  *omcf;

    omcf = ngx_http_get_module_main_conf(r, ngx_http_otp_module);

    return ngx_http_otp_lost_args(r->pool, omcf, "accept", args);
}


void
ngx_http_otp_lost_accepted(ngx_http_request_t *r,
    ngx_http_otp_store_reply_t *reply)
{
    ngx_log_error(NGX_LOG_NOTICE, r->connection->log, 0,
                  "otp: admin accepted the Redis store as it is; "
                  "enrollment is open again");

    (void) ngx_http_otp_lost_update(r->connection->log, reply);
}


/*
 * What store_check.lua said, into the zone: the id of an "ok" is the one
 * known from now on; "lost" refuses enrollment, said at error when it
 * happens and then once in a while.  Returns 1 while lost.
 */

static ngx_uint_t
ngx_http_otp_lost_update(ngx_log_t *log, ngx_http_otp_store_reply_t *reply)
{
    const char                        *why;
    ngx_slab_pool_t                   *shpool;
    ngx_http_otp_lost_shm_t           *st;
    ngx_http_otp_store_check_reply_t  *cr;

    static time_t  logged;

    cr = (ngx_http_otp_store_check_reply_t *) reply;
    shpool = (ngx_slab_pool_t *) ngx_http_otp_lost_zone->shm.addr;
    st = ngx_http_otp_lost_zone->data;

    if (reply->status == NGX_HTTP_OTP_ST_OK
        && cr->id.len == NGX_HTTP_OTP_LOST_ID_LEN)
    {
        ngx_shmtx_lock(&shpool->mutex);

        ngx_memcpy(st->id, cr->id.data, NGX_HTTP_OTP_LOST_ID_LEN);
        st->seen = 1;

        ngx_shmtx_unlock(&shpool->mutex);

        ngx_log_debug1(NGX_LOG_DEBUG_HTTP, log, 0,
                       "otp lost: the store is the one known%s",
                       cr->made ? " (marked now)" : "");

        if (ngx_atomic_cmp_set(&st->lost, 1, 0)) {
            ngx_log_error(NGX_LOG_NOTICE, log, 0,
                          "otp: the Redis store is marked again; "
                          "enrollment is open");
        }

        ngx_http_otp_metric_set(NGX_HTTP_OTP_M_STORE_LOST, 0);
        return 0;
    }

    ngx_http_otp_metric_set(NGX_HTTP_OTP_M_STORE_LOST, 1);

    /* said when it happens, then once in a while */

    if (!ngx_atomic_cmp_set(&st->lost, 0, 1)
        && ngx_time() - logged < NGX_HTTP_OTP_LOST_LOG_EVERY)
    {
        return 1;
    }

    logged = ngx_time();

    why = ngx_http_otp_is(&cr->why, "gone")
          ? "its marker is gone: Redis came back empty (a restart "
            "without persistence, FLUSHALL)"
          : ngx_http_otp_is(&cr->why, "other")
          ? "its marker is not the one this nginx knew: Redis came back "
            "empty and was marked anew by another nginx"
          : "it has user records but no marker: the marker was deleted, "
            "or a version of the module without it ran before";

    ngx_log_error(NGX_LOG_ERR, log, 0,
                  "otp: the Redis store was lost (%s); enrollment is "
                  "refused (503) until an administrator restores the "
                  "user records or accepts their loss with POST "
                  "store/accept-reset on the otp_admin location", why);

    return 1;
}

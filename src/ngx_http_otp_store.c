
/*
 * The store: the module's state in Redis.  Every operation is one Lua
 * script (src/lua/, compiled in), so that each is atomic and costs one
 * round trip; this file runs them on behalf of requests.
 *
 * The request is never what hiredis holds: the redis layer holds a call,
 * the call points at the request's context, and a pool cleanup detaches
 * the call when the request goes away before its reply.
 */


#include "ngx_http_otp_store.h"
#include "ngx_http_otp_redis.h"

#include "ngx_http_otp_lua.h"


static void ngx_http_otp_ctx_cleanup(void *data);
static void ngx_http_otp_store_reply(void *data, redisReply *reply);
static ngx_int_t ngx_http_otp_store_value(ngx_pool_t *pool,
    redisReply *element, ngx_str_t *value);


/* in the order of ngx_http_otp_script_e */

#define ngx_http_otp_script(name)                                             \
    { ngx_string(#name),                                                      \
      { sizeof(ngx_http_otp_lua_##name) - 1,                                  \
        (u_char *) ngx_http_otp_lua_##name },                                 \
      { 0 } }

static ngx_http_otp_redis_script_t  ngx_http_otp_scripts[] = {
    ngx_http_otp_script(user_state),
    ngx_http_otp_script(challenge_new),
    ngx_http_otp_script(attempt),
    ngx_http_otp_script(enroll_begin),
    ngx_http_otp_script(enroll_confirm),
    ngx_http_otp_script(session_new),
    ngx_http_otp_script(session_check),
    ngx_http_otp_script(session_end),
    ngx_http_otp_script(revoke_user),
    ngx_http_otp_script(counter),
    ngx_http_otp_script(unlock),
    ngx_http_otp_script(admin_status),
    ngx_http_otp_script(forget_totp),
    ngx_http_otp_script(require_enroll),
    ngx_http_otp_script(set_phone),
    ngx_http_otp_script(attempt_consume),
    ngx_http_otp_script(recovery_set),
    ngx_http_otp_script(device_new),
    ngx_http_otp_script(device_session),
    ngx_http_otp_script(sms_state),
    ngx_http_otp_script(sms_reserve),
    ngx_http_otp_script(sms_done),
    ngx_http_otp_script(sms_attempt)
};


ngx_http_otp_ctx_t *
ngx_http_otp_get_ctx(ngx_http_request_t *r)
{
    ngx_pool_cleanup_t  *cln;
    ngx_http_otp_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_otp_module);
    if (ctx) {
        return ctx;
    }

    ctx = ngx_pcalloc(r->pool, sizeof(ngx_http_otp_ctx_t));
    if (ctx == NULL) {
        return NULL;
    }

    cln = ngx_pool_cleanup_add(r->pool, 0);
    if (cln == NULL) {
        return NULL;
    }

    cln->handler = ngx_http_otp_ctx_cleanup;
    cln->data = ctx;

    ctx->request = r;

    ngx_http_set_ctx(r, ctx, ngx_http_otp_module);

    return ctx;
}


static void
ngx_http_otp_ctx_cleanup(void *data)
{
    ngx_http_otp_ctx_t  *ctx = data;

    if (ctx->call) {
        ngx_http_otp_redis_detach(ctx->call);
        ctx->call = NULL;
    }
}


ngx_int_t
ngx_http_otp_store_init_process(ngx_cycle_t *cycle,
    ngx_http_otp_main_conf_t *omcf)
{
    return ngx_http_otp_redis_init_process(cycle, &omcf->redis,
                                           ngx_http_otp_scripts,
                                           NGX_HTTP_OTP_NSCRIPTS);
}


void
ngx_http_otp_store_exit_process(ngx_cycle_t *cycle)
{
    ngx_http_otp_redis_exit_process(cycle);
}


ngx_int_t
ngx_http_otp_store_run(ngx_http_request_t *r, ngx_http_otp_script_e script,
    ngx_str_t *keys, ngx_uint_t nkeys, ngx_str_t *args, ngx_uint_t nargs,
    ngx_http_otp_store_handler_pt handler)
{
    u_char                    *p;
    ngx_str_t                  argv[NGX_HTTP_OTP_REDIS_MAX_ARGS];
    ngx_str_t                 *prefix;
    ngx_uint_t                 i;
    ngx_http_otp_ctx_t        *ctx;
    ngx_http_otp_main_conf_t  *omcf;

    if (nkeys + nargs > NGX_HTTP_OTP_REDIS_MAX_ARGS - 3) {
        return NGX_ERROR;
    }

    ctx = ngx_http_otp_get_ctx(r);
    if (ctx == NULL || ctx->call != NULL) {
        return NGX_ERROR;
    }

    omcf = ngx_http_get_module_main_conf(r, ngx_http_otp_module);
    prefix = &omcf->redis.prefix;

    for (i = 0; i < nkeys; i++) {
        argv[i].len = prefix->len + keys[2 * i].len + 1
                      + keys[2 * i + 1].len;

        p = ngx_pnalloc(r->pool, argv[i].len);
        if (p == NULL) {
            return NGX_ERROR;
        }

        argv[i].data = p;

        p = ngx_cpymem(p, prefix->data, prefix->len);
        p = ngx_cpymem(p, keys[2 * i].data, keys[2 * i].len);
        *p++ = ':';
        ngx_memcpy(p, keys[2 * i + 1].data, keys[2 * i + 1].len);
    }

    for (i = 0; i < nargs; i++) {
        argv[nkeys + i] = args[i];
    }

    ctx->call = ngx_http_otp_redis_script(r->connection->log, script,
                                          ngx_http_otp_store_reply, ctx,
                                          nkeys, nkeys + nargs, argv);
    if (ctx->call == NULL) {
        return NGX_ERROR;
    }

    ctx->handler = handler;

    return NGX_OK;
}


static void
ngx_http_otp_store_reply(void *data, redisReply *reply)
{
    ngx_http_otp_ctx_t *ctx = data;

    size_t                       i;
    ngx_connection_t            *c;
    ngx_http_request_t          *r;
    ngx_http_otp_store_reply_t  *sr;

    r = ctx->request;
    c = r->connection;

    ctx->call = NULL;

    sr = NULL;

    if (reply != NULL
        && reply->type == REDIS_REPLY_ARRAY
        && reply->elements >= 1
        && reply->elements <= NGX_HTTP_OTP_STORE_MAX_VALUES + 1)
    {
        sr = ngx_pcalloc(r->pool, sizeof(ngx_http_otp_store_reply_t));

        if (sr != NULL) {
            if (ngx_http_otp_store_value(r->pool, reply->element[0],
                                         &sr->status)
                != NGX_OK
                || sr->status.data == NULL)
            {
                sr = NULL;
            }
        }

        for (i = 1; sr != NULL && i < reply->elements; i++) {
            if (ngx_http_otp_store_value(r->pool, reply->element[i],
                                         &sr->values[i - 1])
                != NGX_OK)
            {
                sr = NULL;
                break;
            }

            sr->nvalues = i;
        }
    }

    ctx->handler(r, sr);

    ngx_http_run_posted_requests(c);
}


static ngx_int_t
ngx_http_otp_store_value(ngx_pool_t *pool, redisReply *element,
    ngx_str_t *value)
{
    u_char  *p;

    switch (element->type) {

    case REDIS_REPLY_STRING:
    case REDIS_REPLY_STATUS:
        value->len = element->len;
        value->data = ngx_pnalloc(pool, element->len + 1);
        if (value->data == NULL) {
            return NGX_ERROR;
        }

        ngx_memcpy(value->data, element->str, element->len);
        value->data[value->len] = '\0';
        return NGX_OK;

    case REDIS_REPLY_INTEGER:
        value->data = ngx_pnalloc(pool, NGX_INT64_LEN + 1);
        if (value->data == NULL) {
            return NGX_ERROR;
        }

        p = ngx_sprintf(value->data, "%L", (int64_t) element->integer);
        *p = '\0';
        value->len = p - value->data;
        return NGX_OK;

    case REDIS_REPLY_NIL:
        /* Lua false arrives as nil */
        ngx_str_null(value);
        return NGX_OK;

    default:
        return NGX_ERROR;
    }
}


ngx_int_t
ngx_http_otp_store_int(ngx_http_otp_store_reply_t *reply, ngx_uint_t i)
{
    if (i >= reply->nvalues || reply->values[i].data == NULL) {
        return NGX_ERROR;
    }

    return ngx_atoi(reply->values[i].data, reply->values[i].len);
}


ngx_int_t
ngx_http_otp_store_open(ngx_http_request_t *r, ngx_str_t *user,
    ngx_str_t *sealed, size_t max, ngx_str_t *value)
{
    ngx_http_otp_main_conf_t  *omcf;

    omcf = ngx_http_get_module_main_conf(r, ngx_http_otp_module);

    if (sealed->data == NULL
        || sealed->len <= NGX_HTTP_OTP_SEAL_OVERHEAD
        || sealed->len > NGX_HTTP_OTP_SEAL_OVERHEAD + max)
    {
        return NGX_DECLINED;
    }

    value->len = sealed->len - NGX_HTTP_OTP_SEAL_OVERHEAD;
    value->data = ngx_pnalloc(r->pool, value->len);
    if (value->data == NULL) {
        return NGX_ERROR;
    }

    if (ngx_http_otp_open(omcf->keys.seal, user->data, user->len,
                          sealed->data, sealed->len, value->data)
        != 0)
    {
        return NGX_DECLINED;
    }

    return NGX_OK;
}


ngx_int_t
ngx_http_otp_store_num(ngx_http_request_t *r, ngx_str_t *s, int64_t n)
{
    u_char  *p;

    p = ngx_pnalloc(r->pool, NGX_INT64_LEN);
    if (p == NULL) {
        return NGX_ERROR;
    }

    s->data = p;
    s->len = ngx_sprintf(p, "%L", n) - p;

    return NGX_OK;
}

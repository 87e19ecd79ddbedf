
/*
 * Sessions: the cookie, its id, and each worker's short-lived memory of
 * sessions that Redis confirmed.
 *
 * The cookie carries a random 256-bit id and a MAC (ngx_http_otp_token);
 * Redis knows the session by a keyed hash of the id, so that reading
 * Redis does not yield cookies.  A worker remembers a confirmed session
 * for otp_session_recheck, in a fixed-size table: the steady state costs
 * no round trip and the memory never grows.
 */


#include "ngx_http_otp_session.h"
#include "ngx_http_otp_cookie.h"
#include "ngx_http_otp_store.h"


#define NGX_HTTP_OTP_CACHE_SIZE        4096     /* a power of two */
#define NGX_HTTP_OTP_CACHE_MAX_USER    128
#define NGX_HTTP_OTP_CACHE_MAX_METHOD  16


typedef struct {
    u_char                      cookie[NGX_HTTP_OTP_SESSION_COOKIE_LEN];
    u_char                      user[NGX_HTTP_OTP_CACHE_MAX_USER];
    u_char                      method[NGX_HTTP_OTP_CACHE_MAX_METHOD];
    size_t                      user_len;
    size_t                      method_len;
    ngx_msec_t                  checked;
    time_t                      auth_time;
    ngx_uint_t                  used;
} ngx_http_otp_cache_entry_t;


static ngx_http_otp_cache_entry_t *ngx_http_otp_cache_slot(
    ngx_http_otp_sid_t *sid);


static ngx_http_otp_cache_entry_t  *ngx_http_otp_cache;


ngx_int_t
ngx_http_otp_session_init_process(ngx_cycle_t *cycle)
{
    ngx_http_otp_cache = ngx_calloc(NGX_HTTP_OTP_CACHE_SIZE
                                    * sizeof(ngx_http_otp_cache_entry_t),
                                    cycle->log);
    if (ngx_http_otp_cache == NULL) {
        return NGX_ERROR;
    }

    return NGX_OK;
}


void
ngx_http_otp_session_exit_process(ngx_cycle_t *cycle)
{
    if (ngx_http_otp_cache) {
        ngx_explicit_memzero(ngx_http_otp_cache, NGX_HTTP_OTP_CACHE_SIZE
                             * sizeof(ngx_http_otp_cache_entry_t));
        ngx_free(ngx_http_otp_cache);
        ngx_http_otp_cache = NULL;
    }
}


ngx_int_t
ngx_http_otp_get_cookie(ngx_http_request_t *r, ngx_str_t *name,
    ngx_str_t *value)
{
#if (nginx_version >= 1023000)

    if (ngx_http_parse_multi_header_lines(r, r->headers_in.cookie, name,
                                          value)
        == NULL)
    {
        return NGX_DECLINED;
    }

#else

    if (ngx_http_parse_multi_header_lines(&r->headers_in.cookies, name,
                                          value)
        == NGX_DECLINED)
    {
        return NGX_DECLINED;
    }

#endif

    return NGX_OK;
}


/* computed only on the way to Redis: the cached path needs no hash */

void
ngx_http_otp_session_hash(ngx_http_request_t *r, ngx_http_otp_sid_t *sid)
{
    u_char                     mac[NGX_HTTP_OTP_MAC_LEN];
    ngx_http_otp_main_conf_t  *omcf;

    omcf = ngx_http_get_module_main_conf(r, ngx_http_otp_module);

    /* the id is secret; what Redis sees cannot be turned back into it */

    if (ngx_http_otp_hmac(omcf->keys.cookie, sid->id,
                          NGX_HTTP_OTP_SESSION_ID_LEN, mac)
        != 0)
    {
        ngx_memzero(mac, sizeof(mac));
    }

    ngx_hex_dump(sid->hash, mac, NGX_HTTP_OTP_MAC_LEN);
}


ngx_int_t
ngx_http_otp_session_cookie(ngx_http_request_t *r, ngx_http_otp_sid_t *sid)
{
    ngx_str_t                 value;
    ngx_http_otp_loc_conf_t  *olcf;

    olcf = ngx_http_get_module_loc_conf(r, ngx_http_otp_module);

    if (ngx_http_otp_get_cookie(r, &olcf->cookie.name, &value) != NGX_OK
        || value.len != NGX_HTTP_OTP_SESSION_COOKIE_LEN)
    {
        return NGX_DECLINED;
    }

    ngx_memcpy(sid->cookie, value.data, NGX_HTTP_OTP_SESSION_COOKIE_LEN);

    return NGX_OK;
}


ngx_int_t
ngx_http_otp_session_decode(ngx_http_request_t *r, ngx_http_otp_sid_t *sid)
{
    ngx_http_otp_main_conf_t  *omcf;

    omcf = ngx_http_get_module_main_conf(r, ngx_http_otp_module);

    if (ngx_http_otp_session_cookie_decode(omcf->keys.cookie,
                                           (char *) sid->cookie,
                                           NGX_HTTP_OTP_SESSION_COOKIE_LEN,
                                           sid->id)
        != 0)
    {
        return NGX_DECLINED;
    }

    return NGX_OK;
}


ngx_int_t
ngx_http_otp_session_from_cookie(ngx_http_request_t *r,
    ngx_http_otp_sid_t *sid)
{
    if (ngx_http_otp_session_cookie(r, sid) != NGX_OK) {
        return NGX_DECLINED;
    }

    return ngx_http_otp_session_decode(r, sid);
}


ngx_int_t
ngx_http_otp_session_new_id(ngx_http_request_t *r, ngx_http_otp_sid_t *sid)
{
    ngx_http_otp_main_conf_t  *omcf;

    omcf = ngx_http_get_module_main_conf(r, ngx_http_otp_module);

    if (ngx_http_otp_session_id_new(sid->id) != 0
        || ngx_http_otp_session_cookie_encode(omcf->keys.cookie, sid->id,
                                              (char *) sid->cookie)
           != 0)
    {
        return NGX_ERROR;
    }

    ngx_http_otp_session_hash(r, sid);

    return NGX_OK;
}


ngx_int_t
ngx_http_otp_session_set_cookie(ngx_http_request_t *r,
    ngx_http_otp_sid_t *sid)
{
    ngx_str_t                 suffix = ngx_null_string;
    ngx_http_otp_loc_conf_t  *olcf;

    if (sid == NULL) {
        return ngx_http_otp_cookie_set(r, &suffix, NULL, 0, NULL, 0);
    }

    olcf = ngx_http_get_module_loc_conf(r, ngx_http_otp_module);

    return ngx_http_otp_cookie_set(r, &suffix, sid->cookie,
                                   NGX_HTTP_OTP_SESSION_COOKIE_LEN, NULL,
                                   olcf->session_ttl);
}


static ngx_http_otp_cache_entry_t *
ngx_http_otp_cache_slot(ngx_http_otp_sid_t *sid)
{
    u_char      *p;
    ngx_uint_t   i;

    /* "1." and then the base64url of the random id: it indexes evenly */

    p = sid->cookie + 2;
    i = ((ngx_uint_t) p[0] << 16) ^ ((ngx_uint_t) p[1] << 8) ^ p[2]
        ^ ((ngx_uint_t) p[3] << 5);

    return &ngx_http_otp_cache[i & (NGX_HTTP_OTP_CACHE_SIZE - 1)];
}


ngx_int_t
ngx_http_otp_session_cached(ngx_http_request_t *r, ngx_http_otp_sid_t *sid,
    ngx_str_t *user, ngx_msec_t recheck, time_t *auth_time,
    ngx_str_t *method)
{
    ngx_http_otp_cache_entry_t  *e;

    if (ngx_http_otp_cache == NULL || recheck == 0) {
        return NGX_DECLINED;
    }

    e = ngx_http_otp_cache_slot(sid);

    if (!e->used
        || ngx_current_msec - e->checked >= recheck
        || !ngx_http_otp_ct_equal(e->cookie, sid->cookie,
                                  NGX_HTTP_OTP_SESSION_COOKIE_LEN)
        || e->user_len != user->len
        || ngx_memcmp(e->user, user->data, user->len) != 0)
    {
        return NGX_DECLINED;
    }

    *auth_time = e->auth_time;

    method->len = e->method_len;
    method->data = ngx_pnalloc(r->pool, e->method_len);
    if (method->data == NULL) {
        return NGX_DECLINED;
    }

    ngx_memcpy(method->data, e->method, e->method_len);

    return NGX_OK;
}


void
ngx_http_otp_session_remember(ngx_http_otp_sid_t *sid, ngx_str_t *user,
    time_t auth_time, ngx_str_t *method)
{
    ngx_http_otp_cache_entry_t  *e;

    if (ngx_http_otp_cache == NULL
        || user->len > NGX_HTTP_OTP_CACHE_MAX_USER
        || method->len > NGX_HTTP_OTP_CACHE_MAX_METHOD)
    {
        return;
    }

    e = ngx_http_otp_cache_slot(sid);

    ngx_memcpy(e->cookie, sid->cookie, NGX_HTTP_OTP_SESSION_COOKIE_LEN);
    ngx_memcpy(e->user, user->data, user->len);
    e->user_len = user->len;
    ngx_memcpy(e->method, method->data, method->len);
    e->method_len = method->len;
    e->auth_time = auth_time;
    e->checked = ngx_current_msec;
    e->used = 1;
}


void
ngx_http_otp_session_forget(ngx_http_otp_sid_t *sid)
{
    ngx_http_otp_cache_entry_t  *e;

    if (ngx_http_otp_cache == NULL) {
        return;
    }

    e = ngx_http_otp_cache_slot(sid);

    if (e->used
        && ngx_http_otp_ct_equal(e->cookie, sid->cookie,
                                 NGX_HTTP_OTP_SESSION_COOKIE_LEN))
    {
        ngx_explicit_memzero(e, sizeof(ngx_http_otp_cache_entry_t));
    }
}

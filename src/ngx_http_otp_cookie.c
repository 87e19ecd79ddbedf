
/*
 * The module's cookies.
 *
 * nginx logs the response header at debug level, Set-Cookie included:
 * while the header of a response that sets a session or device cookie
 * is made, the connection's log takes no debug lines (as for the SMS
 * provider's subrequest).
 */


#include "ngx_http_otp_cookie.h"


static ngx_int_t ngx_http_otp_cookie_header_filter(ngx_http_request_t *r);


static ngx_http_output_header_filter_pt  ngx_http_otp_next_header_filter;


ngx_int_t
ngx_http_otp_cookie_set(ngx_http_request_t *r, ngx_str_t *suffix,
    u_char *value, size_t len, ngx_str_t *path, time_t max_age)
{
    u_char                   *p;
    size_t                    size;
    ngx_uint_t                secure;
    ngx_table_elt_t          *h;
    ngx_http_otp_cookie_t    *ck;
    ngx_http_otp_loc_conf_t  *olcf;

    olcf = ngx_http_get_module_loc_conf(r, ngx_http_otp_module);
    ck = &olcf->cookie;

    if (path == NULL) {
        path = &ck->path;
    }

    secure = (ck->secure == NGX_HTTP_OTP_SECURE_ON);

#if (NGX_HTTP_SSL || NGX_COMPAT)
    if (ck->secure == NGX_HTTP_OTP_SECURE_AUTO && r->connection->ssl) {
        secure = 1;
    }
#endif

    size = ck->name.len + suffix->len + 1 + len
           + sizeof("; Path=") - 1 + path->len
           + sizeof("; Domain=") - 1 + ck->domain.len
           + sizeof("; Max-Age=") - 1 + NGX_TIME_T_LEN
           + sizeof("; HttpOnly; SameSite=") - 1 + ck->samesite.len
           + sizeof("; Secure") - 1;

    p = ngx_pnalloc(r->pool, size);
    if (p == NULL) {
        return NGX_ERROR;
    }

    h = ngx_list_push(&r->headers_out.headers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    h->hash = 1;
#if (nginx_version >= 1023000)
    h->next = NULL;
#endif
    ngx_str_set(&h->key, "Set-Cookie");
    h->value.data = p;

    p = ngx_cpymem(p, ck->name.data, ck->name.len);
    /* an empty suffix or value may have no data: memcpy takes no NULL */

    if (suffix->len) {
        p = ngx_cpymem(p, suffix->data, suffix->len);
    }

    *p++ = '=';

    if (len) {
        p = ngx_cpymem(p, value, len);
    }

    p = ngx_cpymem(p, "; Path=", sizeof("; Path=") - 1);
    p = ngx_cpymem(p, path->data, path->len);

    if (ck->domain.len) {
        p = ngx_cpymem(p, "; Domain=", sizeof("; Domain=") - 1);
        p = ngx_cpymem(p, ck->domain.data, ck->domain.len);
    }

    p = ngx_sprintf(p, "; Max-Age=%T", max_age);
    p = ngx_cpymem(p, "; HttpOnly; SameSite=",
                   sizeof("; HttpOnly; SameSite=") - 1);
    p = ngx_cpymem(p, ck->samesite.data, ck->samesite.len);

    if (secure) {
        p = ngx_cpymem(p, "; Secure", sizeof("; Secure") - 1);
    }

    h->value.len = p - h->value.data;

    ngx_http_otp_cookie_quiet(r);

    return NGX_OK;
}


ngx_int_t
ngx_http_otp_cookie_filter_init(ngx_conf_t *cf)
{
    ngx_http_otp_next_header_filter = ngx_http_top_header_filter;
    ngx_http_top_header_filter = ngx_http_otp_cookie_header_filter;

    return NGX_OK;
}


void
ngx_http_otp_cookie_quiet(ngx_http_request_t *r)
{
    ngx_http_otp_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_otp_module);

    if (ctx) {
        ctx->sets_cookie = 1;
    }
}


static ngx_int_t
ngx_http_otp_cookie_header_filter(ngx_http_request_t *r)
{
    ngx_int_t            rc;
    ngx_uint_t           level;
    ngx_log_t           *log;
    ngx_http_otp_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_otp_module);
    log = r->connection->log;

    if (ctx == NULL || !ctx->sets_cookie
        || !(log->log_level & NGX_LOG_DEBUG_ALL))
    {
        return ngx_http_otp_next_header_filter(r);
    }

    level = log->log_level;
    log->log_level = NGX_LOG_INFO;

    rc = ngx_http_otp_next_header_filter(r);

    log->log_level = level;

    return rc;
}

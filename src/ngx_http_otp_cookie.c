
/*
 * The module's cookies.
 *
 * nginx logs the response header at debug level, Set-Cookie included:
 * while the header of a response that sets a session or device cookie
 * is made, the connection's log takes no debug lines (as for the SMS
 * provider's subrequest).
 */


#include "ngx_http_otp_cookie.h"


static ngx_uint_t ngx_http_otp_cookie_secure(ngx_http_request_t *r);
static ngx_int_t ngx_http_otp_cookie_header(ngx_http_request_t *r,
    const char *prefix, ngx_str_t *suffix, u_char *value, size_t len,
    ngx_str_t *path, ngx_str_t *domain, ngx_str_t *samesite,
    ngx_uint_t secure, time_t max_age);
static ngx_int_t ngx_http_otp_cookie_header_filter(ngx_http_request_t *r);


static ngx_http_output_header_filter_pt  ngx_http_otp_next_header_filter;


ngx_int_t
ngx_http_otp_cookie_set(ngx_http_request_t *r, ngx_str_t *suffix,
    u_char *value, size_t len, ngx_str_t *path, time_t max_age)
{
    ngx_http_otp_cookie_t    *ck;
    ngx_http_otp_loc_conf_t  *olcf;

    olcf = ngx_http_get_module_loc_conf(r, ngx_http_otp_module);
    ck = &olcf->cookie;

    return ngx_http_otp_cookie_header(r, NULL, suffix, value, len,
                                      path ? path : &ck->path, &ck->domain,
                                      &ck->samesite,
                                      ngx_http_otp_cookie_secure(r),
                                      max_age);
}


/*
 * A cookie that only this host sees: "__Host-" in front of the name
 * where it is Secure (https), Path=/, no Domain, SameSite=Lax.
 */

ngx_int_t
ngx_http_otp_cookie_set_host(ngx_http_request_t *r, ngx_str_t *suffix,
    u_char *value, size_t len, time_t max_age)
{
    ngx_uint_t  secure;

    static ngx_str_t  root = ngx_string("/");
    static ngx_str_t  none = ngx_null_string;
    static ngx_str_t  lax = ngx_string("Lax");

    secure = ngx_http_otp_cookie_secure(r);

    return ngx_http_otp_cookie_header(r, secure ? "__Host-" : NULL, suffix,
                                      value, len, &root, &none, &lax, secure,
                                      max_age);
}


ngx_int_t
ngx_http_otp_cookie_host_name(ngx_http_request_t *r, ngx_str_t *suffix,
    ngx_str_t *name)
{
    u_char                   *p;
    ngx_http_otp_cookie_t    *ck;
    ngx_http_otp_loc_conf_t  *olcf;

    olcf = ngx_http_get_module_loc_conf(r, ngx_http_otp_module);
    ck = &olcf->cookie;

    p = ngx_pnalloc(r->pool, sizeof("__Host-") - 1 + ck->name.len
                             + suffix->len);
    if (p == NULL) {
        return NGX_ERROR;
    }

    name->data = p;

    if (ngx_http_otp_cookie_secure(r)) {
        p = ngx_cpymem(p, "__Host-", sizeof("__Host-") - 1);
    }

    p = ngx_cpymem(p, ck->name.data, ck->name.len);
    p = ngx_cpymem(p, suffix->data, suffix->len);

    name->len = p - name->data;

    return NGX_OK;
}


/* otp_cookie secure, or secure=auto on https */

static ngx_uint_t
ngx_http_otp_cookie_secure(ngx_http_request_t *r)
{
    ngx_http_otp_loc_conf_t  *olcf;

    olcf = ngx_http_get_module_loc_conf(r, ngx_http_otp_module);

    if (olcf->cookie.secure == NGX_HTTP_OTP_SECURE_ON) {
        return 1;
    }

#if (NGX_HTTP_SSL || NGX_COMPAT)
    if (olcf->cookie.secure == NGX_HTTP_OTP_SECURE_AUTO
        && r->connection->ssl)
    {
        return 1;
    }
#endif

    return 0;
}


static ngx_int_t
ngx_http_otp_cookie_header(ngx_http_request_t *r, const char *prefix,
    ngx_str_t *suffix, u_char *value, size_t len, ngx_str_t *path,
    ngx_str_t *domain, ngx_str_t *samesite, ngx_uint_t secure,
    time_t max_age)
{
    u_char                   *p;
    size_t                    size, plen;
    ngx_table_elt_t          *h;
    ngx_http_otp_cookie_t    *ck;
    ngx_http_otp_loc_conf_t  *olcf;

    olcf = ngx_http_get_module_loc_conf(r, ngx_http_otp_module);
    ck = &olcf->cookie;

    plen = prefix ? ngx_strlen(prefix) : 0;

    size = plen + ck->name.len + suffix->len + 1 + len
           + sizeof("; Path=") - 1 + path->len
           + sizeof("; Domain=") - 1 + domain->len
           + sizeof("; Max-Age=") - 1 + NGX_TIME_T_LEN
           + sizeof("; HttpOnly; SameSite=") - 1 + samesite->len
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

    if (plen) {
        p = ngx_cpymem(p, prefix, plen);
    }

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

    if (domain->len) {
        p = ngx_cpymem(p, "; Domain=", sizeof("; Domain=") - 1);
        p = ngx_cpymem(p, domain->data, domain->len);
    }

    p = ngx_sprintf(p, "; Max-Age=%T", max_age);
    p = ngx_cpymem(p, "; HttpOnly; SameSite=",
                   sizeof("; HttpOnly; SameSite=") - 1);
    p = ngx_cpymem(p, samesite->data, samesite->len);

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

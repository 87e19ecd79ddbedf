
/*
 * $otp_user, $otp_method, $otp_status and $otp_session_age: what the
 * module decided for a request, for logs, headers to upstreams, maps.
 */


#include "ngx_http_otp_variables.h"


static ngx_int_t ngx_http_otp_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);


enum {
    NGX_HTTP_OTP_VAR_USER = 0,
    NGX_HTTP_OTP_VAR_METHOD,
    NGX_HTTP_OTP_VAR_STATUS,
    NGX_HTTP_OTP_VAR_SESSION_AGE
};


static ngx_http_variable_t  ngx_http_otp_vars[] = {

    { ngx_string("otp_user"), NULL, ngx_http_otp_variable,
      NGX_HTTP_OTP_VAR_USER, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("otp_method"), NULL, ngx_http_otp_variable,
      NGX_HTTP_OTP_VAR_METHOD, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("otp_status"), NULL, ngx_http_otp_variable,
      NGX_HTTP_OTP_VAR_STATUS, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("otp_session_age"), NULL, ngx_http_otp_variable,
      NGX_HTTP_OTP_VAR_SESSION_AGE, NGX_HTTP_VAR_NOCACHEABLE, 0 },

      ngx_http_null_variable
};


/* in the order of ngx_http_otp_status_e */

static ngx_str_t  ngx_http_otp_status_names[] = {
    ngx_null_string,
    ngx_string("passed"),
    ngx_string("challenged"),
    ngx_string("bypassed"),
    ngx_string("denied"),
    ngx_string("locked"),
    ngx_string("error")
};


ngx_int_t
ngx_http_otp_add_variables(ngx_conf_t *cf)
{
    ngx_http_variable_t  *var, *v;

    for (v = ngx_http_otp_vars; v->name.len; v++) {
        var = ngx_http_add_variable(cf, &v->name, v->flags);
        if (var == NULL) {
            return NGX_ERROR;
        }

        var->get_handler = v->get_handler;
        var->data = v->data;
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_otp_variable(ngx_http_request_t *r, ngx_http_variable_value_t *v,
    uintptr_t data)
{
    u_char              *p;
    ngx_str_t            s;
    ngx_http_otp_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r->main, ngx_http_otp_module);

    if (ctx == NULL) {
        v->not_found = 1;
        return NGX_OK;
    }

    switch (data) {

    case NGX_HTTP_OTP_VAR_USER:
        s = ctx->user;
        break;

    case NGX_HTTP_OTP_VAR_METHOD:
        s = (ctx->status == NGX_HTTP_OTP_STATUS_PASSED) ? ctx->method
                                        : (ngx_str_t) ngx_null_string;
        break;

    case NGX_HTTP_OTP_VAR_STATUS:
        s = ngx_http_otp_status_names[ctx->status];
        break;

    default: /* NGX_HTTP_OTP_VAR_SESSION_AGE */

        if (ctx->status != NGX_HTTP_OTP_STATUS_PASSED
            || ctx->auth_time == 0)
        {
            v->not_found = 1;
            return NGX_OK;
        }

        p = ngx_pnalloc(r->pool, NGX_TIME_T_LEN);
        if (p == NULL) {
            return NGX_ERROR;
        }

        s.data = p;
        s.len = ngx_sprintf(p, "%T", ngx_max(ngx_time() - ctx->auth_time, 0))
                - p;
        break;
    }

    if (s.len == 0) {
        v->not_found = 1;
        return NGX_OK;
    }

    v->data = s.data;
    v->len = s.len;
    v->valid = 1;
    v->no_cacheable = 1;
    v->not_found = 0;

    return NGX_OK;
}

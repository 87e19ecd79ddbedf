
/*
 * Policy knobs: otp_methods, otp_bypass, otp_max_age and the "<time> |
 * off" directives (otp_max_age, otp_remember_device).
 */


#include "ngx_http_otp_policy.h"


static ngx_conf_bitmask_t  ngx_http_otp_method_names[] = {
    { ngx_string("totp"), NGX_HTTP_OTP_METHOD_TOTP },
    { ngx_string("sms"), NGX_HTTP_OTP_METHOD_SMS },
    { ngx_string("recovery"), NGX_HTTP_OTP_METHOD_RECOVERY },
    { ngx_string("link"), NGX_HTTP_OTP_METHOD_LINK },
    { ngx_null_string, 0 }
};


/*
 * ngx_conf_set_bitmask_slot() with a message that names the directive
 * and the accepted values, and without duplicates.
 */

char *
ngx_http_otp_methods(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    char  *p = conf;

    ngx_str_t           *value;
    ngx_uint_t          *np, i, m;
    ngx_conf_bitmask_t  *b;

    np = (ngx_uint_t *) (p + cmd->offset);

    if (*np != 0) {
        return "is duplicate";
    }

    value = cf->args->elts;
    *np = NGX_CONF_BITMASK_SET;

    for (i = 1; i < cf->args->nelts; i++) {

        for (m = 0, b = ngx_http_otp_method_names; b->name.len; b++) {
            if (b->name.len == value[i].len
                && ngx_strcasecmp(b->name.data, value[i].data) == 0)
            {
                m = b->mask;
                break;
            }
        }

        if (m == 0) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "\"otp_methods\": unknown method \"%V\", "
                               "must be one of: totp sms recovery link",
                               &value[i]);
            return NGX_CONF_ERROR;
        }

        if (*np & m) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "\"otp_methods\": \"%V\" is given twice",
                               &value[i]);
            return NGX_CONF_ERROR;
        }

        *np |= m;
    }

    return NGX_CONF_OK;
}


char *
ngx_http_otp_time_or_off(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    char  *p = conf;

    time_t     *tp, t;
    ngx_str_t  *value;

    tp = (time_t *) (p + cmd->offset);

    if (*tp != NGX_CONF_UNSET) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (value[1].len == 3 && ngx_strncmp(value[1].data, "off", 3) == 0) {
        *tp = 0;
        return NGX_CONF_OK;
    }

    t = ngx_parse_time(&value[1], 1);

    if (t == (time_t) NGX_ERROR || t < 1) {
        return "must be a time of at least 1s, or \"off\"";
    }

    if (t > NGX_HTTP_OTP_MAX_REMEMBER) {
        return "must be at most 400d";
    }

    *tp = t;

    return NGX_CONF_OK;
}


ngx_int_t
ngx_http_otp_bypassed(ngx_http_request_t *r, ngx_http_otp_loc_conf_t *olcf)
{
    ngx_int_t  rc;

    if (olcf->bypass == NULL) {
        return NGX_DECLINED;
    }

    rc = ngx_http_test_predicates(r, olcf->bypass);

    if (rc == NGX_ERROR) {
        return NGX_ERROR;
    }

    /* like proxy_cache_bypass: a value that is set "declines" the test */

    return (rc == NGX_DECLINED) ? NGX_OK : NGX_DECLINED;
}


ngx_uint_t
ngx_http_otp_stale(ngx_http_otp_loc_conf_t *olcf, time_t auth_time)
{
    return olcf->max_age > 0 && ngx_time() - auth_time > olcf->max_age;
}


/*
 * otp_methods: which second factors a location offers and accepts, as
 * a ngx_conf_bitmask_t in the location's configuration (0 while unset;
 * merged with ngx_conf_merge_bitmask_value(), default "totp recovery").
 */


#include "ngx_http_otp_methods.h"


static ngx_conf_bitmask_t  ngx_http_otp_method_names[] = {
    { ngx_string("totp"), NGX_HTTP_OTP_METHOD_TOTP },
    { ngx_string("sms"), NGX_HTTP_OTP_METHOD_SMS },
    { ngx_string("recovery"), NGX_HTTP_OTP_METHOD_RECOVERY },
    { ngx_string("link"), NGX_HTTP_OTP_METHOD_LINK },
    { ngx_null_string, 0 }
};


/* ngx_conf_set_bitmask_slot() that names the directive, no duplicates */

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

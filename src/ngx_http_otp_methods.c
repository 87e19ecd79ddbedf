
/*
 * otp_methods: which second factors a location offers and accepts, as
 * a bit mask in the location's configuration.
 */


#include "ngx_http_otp_methods.h"


static ngx_conf_bitmask_t  ngx_http_otp_method_names[] = {
    { ngx_string("totp"), NGX_HTTP_OTP_METHOD_TOTP },
    { ngx_string("sms"), NGX_HTTP_OTP_METHOD_SMS },
    { ngx_string("recovery"), NGX_HTTP_OTP_METHOD_RECOVERY },
    { ngx_string("link"), NGX_HTTP_OTP_METHOD_LINK },
    { ngx_null_string, 0 }
};


char *
ngx_http_otp_methods(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_otp_loc_conf_t *olcf = conf;

    ngx_str_t           *value;
    ngx_uint_t           i, m;
    ngx_conf_bitmask_t  *b;

    if (olcf->methods != NGX_CONF_UNSET_UINT) {
        return "is duplicate";
    }

    value = cf->args->elts;
    m = 0;

    for (i = 1; i < cf->args->nelts; i++) {

        for (b = ngx_http_otp_method_names; b->name.len; b++) {
            if (b->name.len == value[i].len
                && ngx_strcasecmp(b->name.data, value[i].data) == 0)
            {
                break;
            }
        }

        if (b->name.len == 0) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid \"otp_methods\" value \"%V\": "
                               "must be totp, sms, recovery or link",
                               &value[i]);
            return NGX_CONF_ERROR;
        }

        if (m & b->mask) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "\"otp_methods\" has \"%V\" twice",
                               &value[i]);
            return NGX_CONF_ERROR;
        }

        m |= b->mask;
    }

    olcf->methods = m;

    return NGX_CONF_OK;
}


const char *
ngx_http_otp_setup_page(ngx_http_otp_loc_conf_t *olcf)
{
    if (!(olcf->methods & NGX_HTTP_OTP_METHOD_TOTP)
        && (olcf->methods & NGX_HTTP_OTP_METHOD_SMS))
    {
        return "sms";
    }

    return "enroll";
}

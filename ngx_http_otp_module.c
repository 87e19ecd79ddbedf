
/*
 * ngx_http_otp_module: a second factor (one-time passwords) in front of
 * any nginx location.
 *
 * This file is the module at a glance: its directives, configuration and
 * hooks.  The work is done in src/.
 */


#include "ngx_http_otp.h"
#include "ngx_http_otp_conf.h"
#include "ngx_http_otp_gate.h"


#define NGX_HTTP_OTP_MAX_SKEW          10
#define NGX_HTTP_OTP_MAX_HOTP_WINDOW   100
#define NGX_HTTP_OTP_MAX_PERIOD        3600


static void *ngx_http_otp_create_main_conf(ngx_conf_t *cf);
static char *ngx_http_otp_init_main_conf(ngx_conf_t *cf, void *conf);
static void *ngx_http_otp_create_loc_conf(ngx_conf_t *cf);
static char *ngx_http_otp_merge_loc_conf(ngx_conf_t *cf, void *parent,
    void *child);
static ngx_int_t ngx_http_otp_postconfiguration(ngx_conf_t *cf);

static char *ngx_http_otp_check_digits(ngx_conf_t *cf, void *post,
    void *data);
static char *ngx_http_otp_check_period(ngx_conf_t *cf, void *post,
    void *data);
static char *ngx_http_otp_check_bounds(ngx_conf_t *cf, void *post,
    void *data);
static char *ngx_http_otp_set_enum(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);


static ngx_conf_post_handler_pt  ngx_http_otp_digits_post =
    ngx_http_otp_check_digits;

static ngx_conf_post_handler_pt  ngx_http_otp_period_post =
    ngx_http_otp_check_period;

/* the stock bounds check logs without the directive's name */

static ngx_conf_num_bounds_t  ngx_http_otp_skew_bounds = {
    ngx_http_otp_check_bounds, 0, NGX_HTTP_OTP_MAX_SKEW
};

static ngx_conf_num_bounds_t  ngx_http_otp_hotp_window_bounds = {
    ngx_http_otp_check_bounds, 0, NGX_HTTP_OTP_MAX_HOTP_WINDOW
};


static ngx_conf_enum_t  ngx_http_otp_algorithms[] = {
    { ngx_string("sha1"), NGX_HTTP_OTP_SHA1 },
    { ngx_string("sha256"), NGX_HTTP_OTP_SHA256 },
    { ngx_string("sha512"), NGX_HTTP_OTP_SHA512 },
    { ngx_null_string, 0 }
};


static ngx_command_t  ngx_http_otp_commands[] = {

    { ngx_string("otp_redis"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_1MORE,
      ngx_http_otp_redis,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("otp_secret_file"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_http_otp_secret_file,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("otp"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_otp_loc_conf_t, enable),
      NULL },

    { ngx_string("otp_user"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_set_complex_value_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_otp_loc_conf_t, user),
      NULL },

    { ngx_string("otp_totp_digits"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_otp_loc_conf_t, totp_digits),
      &ngx_http_otp_digits_post },

    { ngx_string("otp_totp_period"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_sec_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_otp_loc_conf_t, totp_period),
      &ngx_http_otp_period_post },

    { ngx_string("otp_totp_algorithm"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_otp_set_enum,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_otp_loc_conf_t, totp_algorithm),
      &ngx_http_otp_algorithms },

    { ngx_string("otp_totp_skew"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_otp_loc_conf_t, totp_skew),
      &ngx_http_otp_skew_bounds },

    { ngx_string("otp_hotp_window"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_otp_loc_conf_t, hotp_window),
      &ngx_http_otp_hotp_window_bounds },

      ngx_null_command
};


static ngx_http_module_t  ngx_http_otp_module_ctx = {
    NULL,                                  /* preconfiguration */
    ngx_http_otp_postconfiguration,        /* postconfiguration */

    ngx_http_otp_create_main_conf,         /* create main configuration */
    ngx_http_otp_init_main_conf,           /* init main configuration */

    NULL,                                  /* create server configuration */
    NULL,                                  /* merge server configuration */

    ngx_http_otp_create_loc_conf,          /* create location configuration */
    ngx_http_otp_merge_loc_conf            /* merge location configuration */
};


ngx_module_t  ngx_http_otp_module = {
    NGX_MODULE_V1,
    &ngx_http_otp_module_ctx,              /* module context */
    ngx_http_otp_commands,                 /* module directives */
    NGX_HTTP_MODULE,                       /* module type */
    NULL,                                  /* init master */
    NULL,                                  /* init module */
    NULL,                                  /* init process */
    NULL,                                  /* init thread */
    NULL,                                  /* exit thread */
    NULL,                                  /* exit process */
    NULL,                                  /* exit master */
    NGX_MODULE_V1_PADDING
};


static void *
ngx_http_otp_create_main_conf(ngx_conf_t *cf)
{
    ngx_http_otp_main_conf_t  *omcf;

    omcf = ngx_pcalloc(cf->pool, sizeof(ngx_http_otp_main_conf_t));
    if (omcf == NULL) {
        return NULL;
    }

    /*
     * set by ngx_pcalloc():
     *
     *     omcf->redis_set = 0;
     *     omcf->keys_loaded = 0;
     *     omcf->default_user = NULL;
     *     omcf->gate_used = 0;
     */

    return omcf;
}


static char *
ngx_http_otp_init_main_conf(ngx_conf_t *cf, void *conf)
{
    ngx_http_otp_main_conf_t *omcf = conf;

    ngx_http_compile_complex_value_t   ccv;

    static ngx_str_t  remote_user = ngx_string("$remote_user");

    if (!omcf->redis_set) {
        ngx_http_otp_redis_conf_default(&omcf->redis);
    }

    omcf->default_user = ngx_palloc(cf->pool,
                                    sizeof(ngx_http_complex_value_t));
    if (omcf->default_user == NULL) {
        return NGX_CONF_ERROR;
    }

    ngx_memzero(&ccv, sizeof(ngx_http_compile_complex_value_t));

    ccv.cf = cf;
    ccv.value = &remote_user;
    ccv.complex_value = omcf->default_user;

    if (ngx_http_compile_complex_value(&ccv) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


static void *
ngx_http_otp_create_loc_conf(ngx_conf_t *cf)
{
    ngx_http_otp_loc_conf_t  *olcf;

    olcf = ngx_pcalloc(cf->pool, sizeof(ngx_http_otp_loc_conf_t));
    if (olcf == NULL) {
        return NULL;
    }

    /*
     * set by ngx_pcalloc():
     *
     *     olcf->user = NULL;
     */

    olcf->enable = NGX_CONF_UNSET;
    olcf->totp_digits = NGX_CONF_UNSET_UINT;
    olcf->totp_period = NGX_CONF_UNSET;
    olcf->totp_algorithm = NGX_CONF_UNSET_UINT;
    olcf->totp_skew = NGX_CONF_UNSET_UINT;
    olcf->hotp_window = NGX_CONF_UNSET_UINT;

    return olcf;
}


static char *
ngx_http_otp_merge_loc_conf(ngx_conf_t *cf, void *parent, void *child)
{
    ngx_http_otp_loc_conf_t *prev = parent;
    ngx_http_otp_loc_conf_t *conf = child;

    ngx_http_otp_main_conf_t  *omcf;

    omcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_otp_module);

    ngx_conf_merge_value(conf->enable, prev->enable, 0);

    if (conf->user == NULL) {
        conf->user = prev->user ? prev->user : omcf->default_user;
    }

    ngx_conf_merge_uint_value(conf->totp_digits, prev->totp_digits, 6);
    ngx_conf_merge_sec_value(conf->totp_period, prev->totp_period, 30);
    ngx_conf_merge_uint_value(conf->totp_algorithm, prev->totp_algorithm,
                              NGX_HTTP_OTP_SHA1);
    ngx_conf_merge_uint_value(conf->totp_skew, prev->totp_skew, 1);
    ngx_conf_merge_uint_value(conf->hotp_window, prev->hotp_window, 10);

    if (conf->enable) {
        omcf->gate_used = 1;
    }

    return NGX_CONF_OK;
}


static ngx_int_t
ngx_http_otp_postconfiguration(ngx_conf_t *cf)
{
    ngx_http_otp_main_conf_t  *omcf;

    omcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_otp_module);

    if (!omcf->gate_used) {
        return NGX_OK;
    }

    if (!omcf->keys_loaded) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"otp on\" requires \"otp_secret_file\" "
                           "in the http block");
        return NGX_ERROR;
    }

    return ngx_http_otp_gate_init(cf);
}


static char *
ngx_http_otp_check_digits(ngx_conf_t *cf, void *post, void *data)
{
    ngx_uint_t  *digits = data;

    if (*digits != 6 && *digits != 8) {
        return "must be 6 or 8";
    }

    return NGX_CONF_OK;
}


static char *
ngx_http_otp_check_period(ngx_conf_t *cf, void *post, void *data)
{
    time_t  *period = data;

    if (*period < 1 || *period > NGX_HTTP_OTP_MAX_PERIOD) {
        return "must be from 1s to 1h";
    }

    return NGX_CONF_OK;
}


static char *
ngx_http_otp_check_bounds(ngx_conf_t *cf, void *post, void *data)
{
    ngx_conf_num_bounds_t  *bounds = post;
    ngx_int_t              *np = data;

    u_char  *msg, *last;

    if (*np >= bounds->low && *np <= bounds->high) {
        return NGX_CONF_OK;
    }

    msg = ngx_pnalloc(cf->pool,
                      sizeof("must be from  to ") + 2 * NGX_INT_T_LEN);
    if (msg == NULL) {
        return NGX_CONF_ERROR;
    }

    last = ngx_sprintf(msg, "must be from %i to %i", bounds->low,
                       bounds->high);
    *last = '\0';

    return (char *) msg;
}


/*
 * ngx_conf_set_enum_slot() with a message that names the directive and
 * the accepted values.
 */

static char *
ngx_http_otp_set_enum(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    char  *p = conf;

    u_char           *msg, *last;
    size_t            len;
    ngx_str_t        *value;
    ngx_uint_t       *np, i;
    ngx_conf_enum_t  *e;

    np = (ngx_uint_t *) (p + cmd->offset);

    if (*np != NGX_CONF_UNSET_UINT) {
        return "is duplicate";
    }

    value = cf->args->elts;
    e = cmd->post;

    len = sizeof("must be one of:");

    for (i = 0; e[i].name.len != 0; i++) {
        if (e[i].name.len == value[1].len
            && ngx_strcasecmp(e[i].name.data, value[1].data) == 0)
        {
            *np = e[i].value;
            return NGX_CONF_OK;
        }

        len += 1 + e[i].name.len;
    }

    msg = ngx_pnalloc(cf->pool, len);
    if (msg == NULL) {
        return NGX_CONF_ERROR;
    }

    last = ngx_cpymem(msg, "must be one of:", sizeof("must be one of:") - 1);

    for (i = 0; e[i].name.len != 0; i++) {
        *last++ = ' ';
        last = ngx_cpymem(last, e[i].name.data, e[i].name.len);
    }

    *last = '\0';

    return (char *) msg;
}

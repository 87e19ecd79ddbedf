
/*
 * ngx_http_otp_module: a second factor (one-time passwords) in front of
 * any nginx location.
 *
 * This file is the module at a glance: its directives, configuration and
 * hooks.  The work is done in src/.
 */


#include "ngx_http_otp.h"
#include "ngx_http_otp_admin.h"
#include "ngx_http_otp_check.h"
#include "ngx_http_otp_conf.h"
#include "ngx_http_otp_cookie.h"
#include "ngx_http_otp_endpoint.h"
#include "ngx_http_otp_gate.h"
#include "ngx_http_otp_language.h"
#include "ngx_http_otp_lost.h"
#include "ngx_http_otp_metrics.h"
#include "ngx_http_otp_policy.h"
#include "ngx_http_otp_provider.h"
#include "ngx_http_otp_redis.h"
#include "ngx_http_otp_session.h"
#include "ngx_http_otp_store.h"
#include "ngx_http_otp_variables.h"
#include "ngx_http_otp_version.h"


#define NGX_HTTP_OTP_MAX_SKEW          10
#define NGX_HTTP_OTP_MAX_HOTP_WINDOW   100
#define NGX_HTTP_OTP_MAX_PERIOD        3600
#define NGX_HTTP_OTP_MAX_ATTEMPTS      100
#define NGX_HTTP_OTP_MAX_SMS_SENDS     100
#define NGX_HTTP_OTP_MAX_SMS_DAILY     10000


static void *ngx_http_otp_create_main_conf(ngx_conf_t *cf);
static char *ngx_http_otp_init_main_conf(ngx_conf_t *cf, void *conf);
static void *ngx_http_otp_create_srv_conf(ngx_conf_t *cf);
static void *ngx_http_otp_create_loc_conf(ngx_conf_t *cf);
static char *ngx_http_otp_merge_loc_conf(ngx_conf_t *cf, void *parent,
    void *child);
static void ngx_http_otp_warn_rewrite(ngx_conf_t *cf);
static char *ngx_http_otp_note_slashes(ngx_conf_t *cf);
static ngx_int_t ngx_http_otp_preconfiguration(ngx_conf_t *cf);
static ngx_int_t ngx_http_otp_postconfiguration(ngx_conf_t *cf);
static ngx_int_t ngx_http_otp_init_module(ngx_cycle_t *cycle);
static ngx_int_t ngx_http_otp_init_process(ngx_cycle_t *cycle);
static void ngx_http_otp_redis_event(ngx_http_otp_redis_event_e event);
static void ngx_http_otp_exit_process(ngx_cycle_t *cycle);

static char *ngx_http_otp_check_digits(ngx_conf_t *cf, void *post,
    void *data);
static char *ngx_http_otp_check_period(ngx_conf_t *cf, void *post,
    void *data);
static char *ngx_http_otp_check_positive(ngx_conf_t *cf, void *post,
    void *data);
static char *ngx_http_otp_check_bounds(ngx_conf_t *cf, void *post,
    void *data);
static char *ngx_http_otp_set_enum(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);


static ngx_conf_post_handler_pt  ngx_http_otp_digits_post =
    ngx_http_otp_check_digits;

static ngx_conf_post_handler_pt  ngx_http_otp_period_post =
    ngx_http_otp_check_period;

static ngx_conf_post_handler_pt  ngx_http_otp_positive_post =
    ngx_http_otp_check_positive;

/* the stock bounds check logs without the directive's name */

static ngx_conf_num_bounds_t  ngx_http_otp_skew_bounds = {
    ngx_http_otp_check_bounds, 0, NGX_HTTP_OTP_MAX_SKEW
};

static ngx_conf_num_bounds_t  ngx_http_otp_hotp_window_bounds = {
    ngx_http_otp_check_bounds, 0, NGX_HTTP_OTP_MAX_HOTP_WINDOW
};


static ngx_conf_num_bounds_t  ngx_http_otp_attempts_bounds = {
    ngx_http_otp_check_bounds, 1, NGX_HTTP_OTP_MAX_ATTEMPTS
};


static ngx_conf_num_bounds_t  ngx_http_otp_sms_code_bounds = {
    ngx_http_otp_check_bounds, NGX_HTTP_OTP_SMS_MIN_CODE,
    NGX_HTTP_OTP_SMS_MAX_CODE
};


static ngx_conf_num_bounds_t  ngx_http_otp_sms_sends_bounds = {
    ngx_http_otp_check_bounds, 1, NGX_HTTP_OTP_MAX_SMS_SENDS
};


static ngx_conf_num_bounds_t  ngx_http_otp_sms_daily_bounds = {
    ngx_http_otp_check_bounds, 1, NGX_HTTP_OTP_MAX_SMS_DAILY
};


static ngx_conf_post_handler_pt  ngx_http_otp_sms_ttl_post =
    ngx_http_otp_sms_check_ttl;


static ngx_conf_post_handler_pt  ngx_http_otp_sms_origin_post =
    ngx_http_otp_sms_check_origin;


static ngx_conf_enum_t  ngx_http_otp_sms_charsets[] = {
    { ngx_string("digits"), NGX_HTTP_OTP_SMS_DIGITS },
    { ngx_string("alnum"), NGX_HTTP_OTP_SMS_ALNUM },
    { ngx_null_string, 0 }
};


static ngx_conf_enum_t  ngx_http_otp_enroll_modes[] = {
    { ngx_string("required"), NGX_HTTP_OTP_ENROLL_REQUIRED },
    { ngx_string("optional"), NGX_HTTP_OTP_ENROLL_OPTIONAL },
    { ngx_string("off"), NGX_HTTP_OTP_ENROLL_OFF },
    { ngx_null_string, 0 }
};


static ngx_conf_enum_t  ngx_http_otp_log_levels[] = {
    { ngx_string("info"), NGX_LOG_INFO },
    { ngx_string("notice"), NGX_LOG_NOTICE },
    { ngx_string("warn"), NGX_LOG_WARN },
    { ngx_string("error"), NGX_LOG_ERR },
    { ngx_null_string, 0 }
};


static ngx_conf_enum_t  ngx_http_otp_enroll_types[] = {
    { ngx_string("totp"), NGX_HTTP_OTP_TYPE_TOTP },
    { ngx_string("hotp"), NGX_HTTP_OTP_TYPE_HOTP },
    { ngx_null_string, 0 }
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

    { ngx_string("otp_endpoint"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_http_otp_endpoint,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("otp_enroll"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_otp_set_enum,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_otp_loc_conf_t, enroll),
      &ngx_http_otp_enroll_modes },

    { ngx_string("otp_issuer"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_set_complex_value_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_otp_loc_conf_t, issuer),
      NULL },

    { ngx_string("otp_cookie"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_1MORE,
      ngx_http_otp_cookie,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("otp_session_ttl"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_sec_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_otp_loc_conf_t, session_ttl),
      &ngx_http_otp_positive_post },

    { ngx_string("otp_session_idle"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_sec_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_otp_loc_conf_t, session_idle),
      &ngx_http_otp_positive_post },

    { ngx_string("otp_session_recheck"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_otp_loc_conf_t, session_recheck),
      NULL },

    { ngx_string("otp_max_attempts"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_otp_loc_conf_t, max_attempts),
      &ngx_http_otp_attempts_bounds },

    { ngx_string("otp_lockout"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE2,
      ngx_http_otp_lockout,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("otp_templates"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_otp_templates,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("otp_language"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_otp_language_directive,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("otp_log_level"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_otp_set_enum,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_otp_loc_conf_t, log_level),
      &ngx_http_otp_log_levels },

    { ngx_string("otp_admin"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_http_otp_admin,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("otp_status"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_http_otp_status,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    /* policy (src/ngx_http_otp_policy.c) */

    { ngx_string("otp_methods"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_1MORE,
      ngx_http_otp_methods,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_otp_loc_conf_t, methods),
      NULL },

    { ngx_string("otp_bypass"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_1MORE,
      ngx_http_set_predicate_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_otp_loc_conf_t, bypass),
      NULL },

    { ngx_string("otp_max_age"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_otp_time_or_off,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_otp_loc_conf_t, max_age),
      NULL },

    { ngx_string("otp_fresh"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_sec_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_otp_loc_conf_t, fresh),
      &ngx_http_otp_positive_post },

    { ngx_string("otp_link_ttl"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_sec_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_otp_loc_conf_t, link_ttl),
      &ngx_http_otp_positive_post },

    { ngx_string("otp_remember_device"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_otp_time_or_off,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_otp_loc_conf_t, remember),
      NULL },

    { ngx_string("otp_enroll_type"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_otp_set_enum,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_otp_loc_conf_t, enroll_type),
      &ngx_http_otp_enroll_types },

    /* SMS (src/ngx_http_otp_provider.c) */

    { ngx_string("otp_sms_provider"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_otp_sms_provider,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("otp_sms_phone"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_set_complex_value_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_otp_loc_conf_t, sms.phone),
      NULL },

    { ngx_string("otp_sms_template"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_otp_sms_template,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("otp_sms_code_length"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_otp_loc_conf_t, sms.code_length),
      &ngx_http_otp_sms_code_bounds },

    { ngx_string("otp_sms_code_charset"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_otp_set_enum,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_otp_loc_conf_t, sms.charset),
      &ngx_http_otp_sms_charsets },

    { ngx_string("otp_sms_ttl"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_sec_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_otp_loc_conf_t, sms.ttl),
      &ngx_http_otp_sms_ttl_post },

    { ngx_string("otp_sms_resend_delay"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_sec_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_otp_loc_conf_t, sms.resend_delay),
      NULL },

    { ngx_string("otp_sms_max_sends"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_otp_loc_conf_t, sms.max_sends),
      &ngx_http_otp_sms_sends_bounds },

    { ngx_string("otp_sms_daily_limit"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_otp_loc_conf_t, sms.daily_limit),
      &ngx_http_otp_sms_daily_bounds },

    { ngx_string("otp_sms_number_limit"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_otp_loc_conf_t, sms.number_limit),
      &ngx_http_otp_sms_daily_bounds },

    { ngx_string("otp_sms_origin"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_otp_loc_conf_t, sms.origin),
      &ngx_http_otp_sms_origin_post },

      ngx_null_command
};


static ngx_http_module_t  ngx_http_otp_module_ctx = {
    ngx_http_otp_preconfiguration,         /* preconfiguration */
    ngx_http_otp_postconfiguration,        /* postconfiguration */

    ngx_http_otp_create_main_conf,         /* create main configuration */
    ngx_http_otp_init_main_conf,           /* init main configuration */

    ngx_http_otp_create_srv_conf,          /* create server configuration */
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
    ngx_http_otp_init_module,              /* init module */
    ngx_http_otp_init_process,             /* init process */
    NULL,                                  /* init thread */
    NULL,                                  /* exit thread */
    ngx_http_otp_exit_process,             /* exit process */
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
ngx_http_otp_create_srv_conf(ngx_conf_t *cf)
{
    ngx_http_otp_srv_conf_t  *oscf;

    oscf = ngx_pcalloc(cf->pool, sizeof(ngx_http_otp_srv_conf_t));
    if (oscf == NULL) {
        return NULL;
    }

    /*
     * set by ngx_pcalloc():
     *
     *     oscf->endpoint = { 0, NULL };
     *     oscf->gated = NULL;
     */

    return oscf;
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
     *     olcf->cookie = { 0 };
     *     olcf->issuer = NULL;
     *     olcf->methods = 0;
     */

    olcf->enable = NGX_CONF_UNSET;
    olcf->totp_digits = NGX_CONF_UNSET_UINT;
    olcf->totp_period = NGX_CONF_UNSET;
    olcf->totp_algorithm = NGX_CONF_UNSET_UINT;
    olcf->totp_skew = NGX_CONF_UNSET_UINT;
    olcf->hotp_window = NGX_CONF_UNSET_UINT;
    olcf->session_ttl = NGX_CONF_UNSET;
    olcf->session_idle = NGX_CONF_UNSET;
    olcf->session_recheck = NGX_CONF_UNSET_MSEC;
    olcf->max_attempts = NGX_CONF_UNSET_UINT;
    olcf->lockout_failures = NGX_CONF_UNSET_UINT;
    olcf->lockout_time = NGX_CONF_UNSET;
    olcf->enroll = NGX_CONF_UNSET_UINT;
    olcf->log_level = NGX_CONF_UNSET_UINT;
    olcf->templates = NGX_CONF_UNSET_PTR;
    olcf->bypass = NGX_CONF_UNSET_PTR;
    olcf->max_age = NGX_CONF_UNSET;
    olcf->fresh = NGX_CONF_UNSET;
    olcf->link_ttl = NGX_CONF_UNSET;
    olcf->remember = NGX_CONF_UNSET;
    olcf->enroll_type = NGX_CONF_UNSET_UINT;

    ngx_http_otp_sms_create_conf(&olcf->sms);

    return olcf;
}


static char *
ngx_http_otp_merge_loc_conf(ngx_conf_t *cf, void *parent, void *child)
{
    ngx_http_otp_loc_conf_t *prev = parent;
    ngx_http_otp_loc_conf_t *conf = child;

    ngx_http_otp_main_conf_t  *omcf;
    ngx_http_core_loc_conf_t  *clcf;

    omcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_otp_module);
    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);

    ngx_conf_merge_value(conf->enable, prev->enable, 0);

    /* "if" and "limit_except" in the endpoint's location are the endpoint */

    if (clcf->noname && prev->endpoint) {
        conf->endpoint = 1;
    }

    /* the gate sends browsers to the endpoint: it is never gated itself */

    if (conf->endpoint) {
        conf->enable = 0;
    }

    if (conf->user == NULL) {
        conf->user = prev->user ? prev->user : omcf->default_user;
    }

    ngx_conf_merge_uint_value(conf->totp_digits, prev->totp_digits, 6);
    ngx_conf_merge_sec_value(conf->totp_period, prev->totp_period, 30);
    ngx_conf_merge_uint_value(conf->totp_algorithm, prev->totp_algorithm,
                              NGX_HTTP_OTP_SHA1);
    ngx_conf_merge_uint_value(conf->totp_skew, prev->totp_skew, 1);
    ngx_conf_merge_uint_value(conf->hotp_window, prev->hotp_window, 10);

    if (conf->cookie.name.len == 0) {
        if (prev->cookie.name.len == 0) {
            ngx_http_otp_cookie_conf_default(&prev->cookie);
        }

        conf->cookie = prev->cookie;
    }

    ngx_conf_merge_sec_value(conf->session_ttl, prev->session_ttl,
                             12 * 60 * 60);
    ngx_conf_merge_sec_value(conf->session_idle, prev->session_idle,
                             30 * 60);
    ngx_conf_merge_msec_value(conf->session_recheck, prev->session_recheck,
                              5000);
    ngx_conf_merge_uint_value(conf->max_attempts, prev->max_attempts, 5);

    if (conf->lockout_failures == NGX_CONF_UNSET_UINT) {
        if (prev->lockout_failures == NGX_CONF_UNSET_UINT) {
            prev->lockout_failures = 10;
            prev->lockout_time = 15 * 60;
        }

        conf->lockout_failures = prev->lockout_failures;
        conf->lockout_time = prev->lockout_time;
    }

    ngx_conf_merge_uint_value(conf->enroll, prev->enroll,
                              NGX_HTTP_OTP_ENROLL_REQUIRED);
    ngx_conf_merge_uint_value(conf->log_level, prev->log_level,
                              NGX_LOG_INFO);
    ngx_conf_merge_ptr_value(conf->templates, prev->templates, NULL);
    ngx_conf_merge_str_value(conf->language, prev->language, "auto");

    if (conf->issuer == NULL) {
        conf->issuer = prev->issuer;
    }

    /* policy */

    ngx_conf_merge_bitmask_value(conf->methods, prev->methods,
                                 (NGX_CONF_BITMASK_SET
                                  |NGX_HTTP_OTP_METHOD_TOTP
                                  |NGX_HTTP_OTP_METHOD_RECOVERY));
    ngx_conf_merge_ptr_value(conf->bypass, prev->bypass, NULL);
    ngx_conf_merge_sec_value(conf->max_age, prev->max_age, 0);
    ngx_conf_merge_sec_value(conf->fresh, prev->fresh, 600);
    ngx_conf_merge_sec_value(conf->link_ttl, prev->link_ttl, 120);

    /* the token in a QR code on a screen is not to last */

    if (conf->link_ttl > 3600) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"otp_link_ttl\" must be at most 1h");
        return NGX_CONF_ERROR;
    }
    ngx_conf_merge_sec_value(conf->remember, prev->remember, 0);
    ngx_conf_merge_uint_value(conf->enroll_type, prev->enroll_type,
                              NGX_HTTP_OTP_TYPE_TOTP);

    if (ngx_http_otp_sms_merge_conf(cf, &prev->sms, &conf->sms)
        != NGX_CONF_OK)
    {
        return NGX_CONF_ERROR;
    }

    /* the pages send codes: they need somewhere to send them */

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);

    if ((conf->methods & NGX_HTTP_OTP_METHOD_SMS)
        && conf->sms.provider.len == 0
        && clcf->handler == ngx_http_otp_endpoint_handler)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"otp_methods\" has \"sms\" in location "
                           "\"%V\", which has \"otp_endpoint\" but no "
                           "\"otp_sms_provider\"", &clcf->name);
        return NGX_CONF_ERROR;
    }

    if (conf->session_idle > conf->session_ttl) {
        ngx_conf_log_error(NGX_LOG_WARN, cf, 0,
                           "\"otp_session_idle\" is longer than "
                           "\"otp_session_ttl\": sessions end at "
                           "otp_session_ttl");
    }

    if (ngx_http_otp_check_note(cf, conf) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    if (conf->enable) {
        omcf->gate_used = 1;
        ngx_http_otp_warn_rewrite(cf);
        return ngx_http_otp_note_slashes(cf);
    }

    return NGX_CONF_OK;
}


/*
 * return, rewrite, if and set run in the rewrite phase, before any access
 * check: a gated location that has them may answer without the gate.
 * The rewrite module's configuration begins with its array of codes.
 */

static void
ngx_http_otp_warn_rewrite(ngx_conf_t *cf)
{
    ngx_uint_t                 i;
    ngx_array_t              **codes;
    ngx_http_conf_ctx_t       *ctx;
    ngx_http_core_loc_conf_t  *clcf;

    ctx = cf->ctx;

    for (i = 0; cf->cycle->modules[i]; i++) {
        if (ngx_strcmp(cf->cycle->modules[i]->name,
                       "ngx_http_rewrite_module")
            != 0)
        {
            continue;
        }

        codes = ctx->loc_conf[cf->cycle->modules[i]->ctx_index];

        if (codes == NULL || *codes == NULL) {
            return;
        }

        clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);

        ngx_conf_log_error(NGX_LOG_WARN, cf, 0,
                           "\"otp on\" in location \"%V\", which has "
                           "\"return\", \"rewrite\", \"if\" or \"set\": "
                           "they run before the gate and can answer "
                           "without it", &clcf->name);
        return;
    }
}


/*
 * With merge_slashes off, "//private/x" does not match the prefix
 * location "/private/" and lands in another one.  The gate remembers the
 * server's gated prefixes to refuse such URIs there; regular expression
 * and named locations it cannot check for, so it warns.
 */

static char *
ngx_http_otp_note_slashes(ngx_conf_t *cf)
{
    ngx_str_t                 *name;
    ngx_http_otp_srv_conf_t   *oscf;
    ngx_http_core_srv_conf_t  *cscf;
    ngx_http_core_loc_conf_t  *clcf;

    cscf = ngx_http_conf_get_module_srv_conf(cf, ngx_http_core_module);

    if (cscf->merge_slashes) {
        return NGX_CONF_OK;
    }

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);

    if (clcf->named
#if (NGX_PCRE)
        || clcf->regex
#endif
        || clcf->name.len == 0)
    {
        ngx_conf_log_error(NGX_LOG_WARN, cf, 0,
                           "\"otp on\" in location \"%V\" of a server "
                           "with \"merge_slashes off\": a URI with \"//\" "
                           "can reach another location, without the gate",
                           &clcf->name);
        return NGX_CONF_OK;
    }

    oscf = ngx_http_conf_get_module_srv_conf(cf, ngx_http_otp_module);

    if (oscf->gated == NULL) {
        oscf->gated = ngx_array_create(cf->pool, 4, sizeof(ngx_str_t));
        if (oscf->gated == NULL) {
            return NGX_CONF_ERROR;
        }
    }

    name = ngx_array_push(oscf->gated);
    if (name == NULL) {
        return NGX_CONF_ERROR;
    }

    *name = clcf->name;

    return NGX_CONF_OK;
}


static ngx_int_t
ngx_http_otp_preconfiguration(ngx_conf_t *cf)
{
    if (ngx_http_otp_sms_add_variables(cf) != NGX_OK) {
        return NGX_ERROR;
    }

    return ngx_http_otp_add_variables(cf);
}


static ngx_int_t
ngx_http_otp_postconfiguration(ngx_conf_t *cf)
{
    ngx_http_otp_main_conf_t  *omcf;

    omcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_otp_module);

    if (!omcf->gate_used && !omcf->endpoint_used && !omcf->admin_used
        && !omcf->status_used)
    {
        return NGX_OK;
    }

    if (ngx_http_otp_metrics_add_zone(cf) != NGX_OK) {
        return NGX_ERROR;
    }

    if (!omcf->gate_used && !omcf->endpoint_used && !omcf->admin_used) {
        return NGX_OK;
    }

    if (ngx_http_otp_lost_add_zone(cf) != NGX_OK) {
        return NGX_ERROR;
    }

    if (!omcf->keys_loaded) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"%s\" requires \"otp_secret_file\" "
                           "in the http block",
                           omcf->gate_used ? "otp on"
                           : omcf->endpoint_used ? "otp_endpoint"
                           : "otp_admin");
        return NGX_ERROR;
    }

    if (ngx_http_otp_check_all(cf) != NGX_OK) {
        return NGX_ERROR;
    }

    if (ngx_http_otp_cookie_filter_init(cf) != NGX_OK) {
        return NGX_ERROR;
    }

    if (!omcf->gate_used) {
        return NGX_OK;
    }

    return ngx_http_otp_gate_init(cf);
}


/* the master, once per configuration it loads */

static ngx_int_t
ngx_http_otp_init_module(ngx_cycle_t *cycle)
{
    ngx_log_error(NGX_LOG_NOTICE, cycle->log, 0,
                  "otp module " NGX_HTTP_OTP_VERSION);

    return NGX_OK;
}


/*
 * Every worker counts into the metrics zone; those of a configuration
 * with a gate, pages or the admin API talk to Redis.
 */

static ngx_int_t
ngx_http_otp_init_process(ngx_cycle_t *cycle)
{
    ngx_http_otp_main_conf_t  *omcf;

    /* the cache manager and loader serve no requests: no Redis there */

    if (ngx_process != NGX_PROCESS_WORKER
        && ngx_process != NGX_PROCESS_SINGLE)
    {
        return NGX_OK;
    }

    omcf = ngx_http_cycle_get_module_main_conf(cycle, ngx_http_otp_module);

    ngx_http_otp_metrics_init_process(cycle);
    ngx_http_otp_lost_init_process(cycle);
    ngx_http_otp_redis_on_event(ngx_http_otp_redis_event);

    if (omcf == NULL
        || (!omcf->gate_used && !omcf->endpoint_used && !omcf->admin_used))
    {
        return NGX_OK;
    }

    if (ngx_http_otp_session_init_process(cycle) != NGX_OK) {
        return NGX_ERROR;
    }

    return ngx_http_otp_store_init_process(cycle, omcf);
}


/*
 * The Redis connection's events: the metrics are told, and a connection
 * ready again checks that the store is the one known (SPEC 6.21)
 */

static void
ngx_http_otp_redis_event(ngx_http_otp_redis_event_e event)
{
    /* in the order of ngx_http_otp_redis_event_e */
    static ngx_http_otp_metric_e  metrics[] = {
        NGX_HTTP_OTP_M_REDIS_ERRORS,
        NGX_HTTP_OTP_M_REDIS_RECONNECTS,
        NGX_HTTP_OTP_M_REDIS_FAILOVERS,
        NGX_HTTP_OTP_M_REDIS_MOVED,
        NGX_HTTP_OTP_M_REDIS_ASK
    };

    if (event == NGX_HTTP_OTP_REDIS_EV_READY) {
        ngx_http_otp_lost_connected();
        return;
    }

    if ((ngx_uint_t) event < sizeof(metrics) / sizeof(metrics[0])) {
        ngx_http_otp_metric_inc(metrics[event]);
    }
}


static void
ngx_http_otp_exit_process(ngx_cycle_t *cycle)
{
    ngx_http_otp_main_conf_t  *omcf;

    omcf = ngx_http_cycle_get_module_main_conf(cycle, ngx_http_otp_module);

    if (omcf == NULL
        || (!omcf->gate_used && !omcf->endpoint_used && !omcf->admin_used))
    {
        return;
    }

    ngx_http_otp_store_exit_process(cycle);
    ngx_http_otp_session_exit_process(cycle);
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
ngx_http_otp_check_positive(ngx_conf_t *cf, void *post, void *data)
{
    time_t  *t = data;

    if (*t < 1) {
        return "must be at least 1s";
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


/*
 * Types shared by every part of ngx_http_otp_module that uses nginx.
 */


#ifndef _NGX_HTTP_OTP_H_INCLUDED_
#define _NGX_HTTP_OTP_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_otp_crypto.h"
#include "ngx_http_otp_hotp.h"
#include "ngx_http_otp_html.h"


#define NGX_HTTP_OTP_REDIS_DEFAULT_PORT     6379
#define NGX_HTTP_OTP_REDIS_MAX_DB           1023
#define NGX_HTTP_OTP_REDIS_MAX_PASSWORD     512


typedef struct {
    ngx_str_t                   host;         /* numeric, NUL-terminated */
    in_port_t                   port;
} ngx_http_otp_redis_addr_t;


typedef struct {
    ngx_str_t                   host;         /* TCP host, or empty */
    in_port_t                   port;
    ngx_str_t                   unix_path;    /* unix socket, or empty */
    ngx_uint_t                  db;
    ngx_str_t                   password;     /* empty: no AUTH */
    ngx_str_t                   prefix;
    ngx_msec_t                  connect_timeout;
    ngx_msec_t                  timeout;

    /* scaling out (SPEC 12): ngx_http_otp_redis_addr_t each, or NULL */
    ngx_array_t                *sentinels;
    ngx_str_t                   master;       /* its name in Sentinel */
    ngx_str_t                   sentinel_password;
    ngx_array_t                *cluster;      /* the seeds */
    ngx_uint_t                  replicas;     /* WAIT for as many */
} ngx_http_otp_redis_conf_t;


#define NGX_HTTP_OTP_SECURE_OFF             0
#define NGX_HTTP_OTP_SECURE_ON              1
#define NGX_HTTP_OTP_SECURE_AUTO            2

#define NGX_HTTP_OTP_ENROLL_REQUIRED        0
#define NGX_HTTP_OTP_ENROLL_OPTIONAL        1
#define NGX_HTTP_OTP_ENROLL_OFF             2

/* otp_methods: bits of a ngx_conf_bitmask_t (bit 0 is "set") */
#define NGX_HTTP_OTP_METHOD_TOTP            0x0002
#define NGX_HTTP_OTP_METHOD_SMS             0x0004
#define NGX_HTTP_OTP_METHOD_RECOVERY        0x0008
#define NGX_HTTP_OTP_METHOD_LINK            0x0010

/* otp_enroll_type */
#define NGX_HTTP_OTP_TYPE_TOTP              0
#define NGX_HTTP_OTP_TYPE_HOTP              1


typedef struct {
    ngx_str_t                   name;
    ngx_uint_t                  secure;
    ngx_str_t                   samesite;     /* "Strict" or "Lax" */
    ngx_str_t                   domain;
    ngx_str_t                   path;
} ngx_http_otp_cookie_t;


typedef struct {
    ngx_http_otp_redis_conf_t   redis;
    ngx_flag_t                  redis_set;

    ngx_str_t                   secret_file;
    ngx_http_otp_keys_t         keys;
    ngx_flag_t                  keys_loaded;

    ngx_http_complex_value_t   *default_user; /* $remote_user */
    ngx_flag_t                  gate_used;    /* some "otp on" exists */
    ngx_flag_t                  endpoint_used;

    ngx_array_t                *checks;       /* for nginx -t: check.c */

    ngx_flag_t                  admin_used;   /* some "otp_admin" */
    ngx_flag_t                  status_used;  /* some "otp_status" */
    ngx_shm_zone_t             *metrics_zone;
    ngx_shm_zone_t             *lost_zone;    /* the store id seen */
} ngx_http_otp_main_conf_t;


typedef struct {
    ngx_str_t                   endpoint;     /* "/_otp/", or empty */

    /* with merge_slashes off: the prefixes of the gated locations */
    ngx_array_t                *gated;
} ngx_http_otp_srv_conf_t;


/* SMS codes (otp_sms_*) */
typedef struct {
    ngx_str_t                   provider;     /* URI, or empty */
    ngx_str_t                   provider_args;
    ngx_http_complex_value_t   *phone;        /* NULL: the stored one */
    ngx_str_t                   template;     /* checked at nginx -t */
    ngx_uint_t                  code_length;
    ngx_uint_t                  charset;      /* NGX_HTTP_OTP_SMS_* */
    time_t                      ttl;
    time_t                      resend_delay;
    ngx_uint_t                  max_sends;
    ngx_uint_t                  daily_limit;
    ngx_uint_t                  number_limit; /* texts per number, a day */
    ngx_str_t                   origin;       /* the host of "@host #code" */
} ngx_http_otp_sms_conf_t;


typedef struct {
    ngx_flag_t                  enable;
    ngx_flag_t                  endpoint;     /* otp_endpoint here */
    ngx_http_complex_value_t   *user;

    ngx_uint_t                  totp_digits;
    time_t                      totp_period;
    ngx_uint_t                  totp_algorithm;
    ngx_uint_t                  totp_skew;
    ngx_uint_t                  hotp_window;

    ngx_http_otp_cookie_t       cookie;
    time_t                      session_ttl;
    time_t                      session_idle;
    ngx_msec_t                  session_recheck;

    ngx_uint_t                  max_attempts;
    ngx_uint_t                  lockout_failures;
    time_t                      lockout_time;

    ngx_uint_t                  enroll;
    ngx_http_complex_value_t   *issuer;       /* NULL: the server name */
    ngx_uint_t                  log_level;

    ngx_http_otp_html_set_t    *templates;    /* NULL: the built-in */
    ngx_str_t                   language;     /* otp_language; "auto" */

    /* policy (ngx_http_otp_policy.c) */
    ngx_uint_t                  methods;      /* NGX_HTTP_OTP_METHOD_* */
    ngx_array_t                *bypass;       /* otp_bypass predicates */
    time_t                      max_age;      /* otp_max_age; 0: none */
    time_t                      fresh;        /* otp_fresh */
    time_t                      link_ttl;     /* otp_link_ttl */
    time_t                      remember;     /* otp_remember_device */
    ngx_uint_t                  enroll_type;  /* NGX_HTTP_OTP_TYPE_* */

    ngx_http_otp_sms_conf_t     sms;          /* otp_sms_* */
} ngx_http_otp_loc_conf_t;


typedef struct ngx_http_otp_redis_call_s  ngx_http_otp_redis_call_t;
typedef struct ngx_http_otp_ctx_s         ngx_http_otp_ctx_t;
typedef struct ngx_http_otp_store_reply_s  ngx_http_otp_store_reply_t;

/* reply is NULL when Redis failed: timeout, disconnect, error reply */
typedef void (*ngx_http_otp_store_handler_pt)(ngx_http_request_t *r,
    ngx_http_otp_store_reply_t *reply);


/* $otp_status */
typedef enum {
    NGX_HTTP_OTP_STATUS_NONE = 0,
    NGX_HTTP_OTP_STATUS_PASSED,
    NGX_HTTP_OTP_STATUS_CHALLENGED,
    NGX_HTTP_OTP_STATUS_BYPASSED,
    NGX_HTTP_OTP_STATUS_DENIED,
    NGX_HTTP_OTP_STATUS_LOCKED,
    NGX_HTTP_OTP_STATUS_ERROR
} ngx_http_otp_status_e;


/* what a request has to do with this module, in both phases */
struct ngx_http_otp_ctx_s {
    ngx_http_request_t         *request;

    /* the one Redis script in flight, and who gets its reply */
    ngx_http_otp_redis_call_t  *call;
    ngx_uint_t                  script;
    ngx_http_otp_store_handler_pt   handler;

    ngx_str_t                   user;
    ngx_http_otp_status_e       status;
    ngx_str_t                   method;
    time_t                      auth_time;

    ngx_int_t                   gate_rc;
    void                       *endpoint;     /* the endpoint's state */
    ngx_str_t                   back;         /* the page wanted, if known */

    unsigned                    gate_waiting:1;
    unsigned                    gate_done:1;
    unsigned                    sets_cookie:1; /* no debug log of headers */

    void                       *admin;        /* the admin API's state */
    void                       *sms;          /* the SMS method's state */
};


extern ngx_module_t  ngx_http_otp_module;


#endif /* _NGX_HTTP_OTP_H_INCLUDED_ */

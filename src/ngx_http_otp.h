
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


#define NGX_HTTP_OTP_REDIS_DEFAULT_PORT     6379
#define NGX_HTTP_OTP_REDIS_MAX_DB           1023
#define NGX_HTTP_OTP_REDIS_MAX_PASSWORD     512


typedef struct {
    ngx_str_t                   host;         /* TCP host, or empty */
    in_port_t                   port;
    ngx_str_t                   unix_path;    /* unix socket, or empty */
    ngx_uint_t                  db;
    ngx_str_t                   password;     /* empty: no AUTH */
    ngx_str_t                   prefix;
    ngx_msec_t                  connect_timeout;
    ngx_msec_t                  timeout;
} ngx_http_otp_redis_conf_t;


typedef struct {
    ngx_http_otp_redis_conf_t   redis;
    ngx_flag_t                  redis_set;

    ngx_str_t                   secret_file;
    ngx_http_otp_keys_t         keys;
    ngx_flag_t                  keys_loaded;

    ngx_http_complex_value_t   *default_user; /* $remote_user */
    ngx_flag_t                  gate_used;    /* some "otp on" exists */
} ngx_http_otp_main_conf_t;


typedef struct {
    ngx_flag_t                  enable;
    ngx_http_complex_value_t   *user;

    ngx_uint_t                  totp_digits;
    time_t                      totp_period;
    ngx_uint_t                  totp_algorithm;
    ngx_uint_t                  totp_skew;
    ngx_uint_t                  hotp_window;
} ngx_http_otp_loc_conf_t;


extern ngx_module_t  ngx_http_otp_module;


#endif /* _NGX_HTTP_OTP_H_INCLUDED_ */

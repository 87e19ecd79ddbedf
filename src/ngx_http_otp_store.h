
/*
 * The store: the module's state in Redis, one atomic Lua script per
 * operation (src/lua/), run on behalf of a request.
 */


#ifndef _NGX_HTTP_OTP_STORE_H_INCLUDED_
#define _NGX_HTTP_OTP_STORE_H_INCLUDED_


#include "ngx_http_otp.h"


#define NGX_HTTP_OTP_STORE_MAX_VALUES   12


typedef enum {
    NGX_HTTP_OTP_USER_STATE = 0,
    NGX_HTTP_OTP_CHALLENGE_NEW,
    NGX_HTTP_OTP_ATTEMPT,
    NGX_HTTP_OTP_ENROLL_BEGIN,
    NGX_HTTP_OTP_ENROLL_CONFIRM,
    NGX_HTTP_OTP_SESSION_NEW,
    NGX_HTTP_OTP_SESSION_CHECK,
    NGX_HTTP_OTP_SESSION_END,
    NGX_HTTP_OTP_REVOKE_USER,
    NGX_HTTP_OTP_COUNTER,
    NGX_HTTP_OTP_UNLOCK,
    NGX_HTTP_OTP_ADMIN_STATUS,
    NGX_HTTP_OTP_FORGET_TOTP,
    NGX_HTTP_OTP_REQUIRE_ENROLL,
    NGX_HTTP_OTP_SET_PHONE,
    NGX_HTTP_OTP_ATTEMPT_CONSUME,
    NGX_HTTP_OTP_RECOVERY_SET,
    NGX_HTTP_OTP_DEVICE_NEW,
    NGX_HTTP_OTP_DEVICE_SESSION,
    NGX_HTTP_OTP_SMS_STATE,
    NGX_HTTP_OTP_SMS_RESERVE,
    NGX_HTTP_OTP_SMS_DONE,
    NGX_HTTP_OTP_SMS_ATTEMPT,
    NGX_HTTP_OTP_NSCRIPTS
} ngx_http_otp_script_e;


/* a script's reply: a status word, then values (nil: data == NULL) */
struct ngx_http_otp_store_reply_s {
    ngx_str_t                   status;
    ngx_uint_t                  nvalues;
    ngx_str_t                   values[NGX_HTTP_OTP_STORE_MAX_VALUES];
};


ngx_http_otp_ctx_t *ngx_http_otp_get_ctx(ngx_http_request_t *r);

ngx_int_t ngx_http_otp_store_init_process(ngx_cycle_t *cycle,
    ngx_http_otp_main_conf_t *omcf);
void ngx_http_otp_store_exit_process(ngx_cycle_t *cycle);

/*
 * Runs a script for r.  Keys are given without the prefix: a kind ("s")
 * and an id each, in keys[2 * i] and keys[2 * i + 1].  NGX_OK: the
 * handler will be called (unless r goes away first); NGX_ERROR: Redis is
 * not available and nothing was sent, answer 503.
 */
ngx_int_t ngx_http_otp_store_run(ngx_http_request_t *r,
    ngx_http_otp_script_e script, ngx_str_t *keys, ngx_uint_t nkeys,
    ngx_str_t *args, ngx_uint_t nargs,
    ngx_http_otp_store_handler_pt handler);

/* a value of the reply as a non-negative integer, or NGX_ERROR */
ngx_int_t ngx_http_otp_store_int(ngx_http_otp_store_reply_t *reply,
    ngx_uint_t i);

/*
 * A value sealed to a user (an enrolled secret, a phone number), opened
 * into r's pool.  NGX_DECLINED: none, longer than max, or not sealed for
 * this user under this key; NGX_ERROR: no memory.
 */
ngx_int_t ngx_http_otp_store_open(ngx_http_request_t *r, ngx_str_t *user,
    ngx_str_t *sealed, size_t max, ngx_str_t *value);

/* a decimal string in r's pool */
ngx_int_t ngx_http_otp_store_num(ngx_http_request_t *r, ngx_str_t *s,
    int64_t n);


#endif /* _NGX_HTTP_OTP_STORE_H_INCLUDED_ */

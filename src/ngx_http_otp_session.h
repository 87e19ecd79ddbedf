
/*
 * Sessions: the cookie, its id, and each worker's short-lived memory of
 * sessions Redis confirmed (otp_session_recheck).
 */


#ifndef _NGX_HTTP_OTP_SESSION_H_INCLUDED_
#define _NGX_HTTP_OTP_SESSION_H_INCLUDED_


#include "ngx_http_otp.h"
#include "ngx_http_otp_token.h"


#define NGX_HTTP_OTP_SID_HASH_LEN  (2 * NGX_HTTP_OTP_MAC_LEN)


typedef struct {
    u_char      cookie[NGX_HTTP_OTP_SESSION_COOKIE_LEN];  /* as sent */
    u_char      id[NGX_HTTP_OTP_SESSION_ID_LEN];
    u_char      hash[NGX_HTTP_OTP_SID_HASH_LEN];   /* the Redis key id */
} ngx_http_otp_sid_t;


/* the header filter that keeps the cookies set out of the debug log */
ngx_int_t ngx_http_otp_cookie_filter_init(ngx_conf_t *cf);
/* r's response sets a cookie: no debug lines while its header is made */
void ngx_http_otp_cookie_quiet(ngx_http_request_t *r);

ngx_int_t ngx_http_otp_session_init_process(ngx_cycle_t *cycle);
void ngx_http_otp_session_exit_process(ngx_cycle_t *cycle);

/* NGX_OK and sid->cookie set when r carries a cookie of the right size */
ngx_int_t ngx_http_otp_session_cookie(ngx_http_request_t *r,
    ngx_http_otp_sid_t *sid);

/* NGX_OK and sid->id set when sid->cookie is intact (its MAC checks) */
ngx_int_t ngx_http_otp_session_decode(ngx_http_request_t *r,
    ngx_http_otp_sid_t *sid);

/* both of the above */
ngx_int_t ngx_http_otp_session_from_cookie(ngx_http_request_t *r,
    ngx_http_otp_sid_t *sid);

/* the id's keyed hash, the session's name in Redis */
void ngx_http_otp_session_hash(ngx_http_request_t *r,
    ngx_http_otp_sid_t *sid);

/* a new random id, hashed */
ngx_int_t ngx_http_otp_session_new_id(ngx_http_request_t *r,
    ngx_http_otp_sid_t *sid);

/* Set-Cookie with the session, or clearing it when sid is NULL */
ngx_int_t ngx_http_otp_session_set_cookie(ngx_http_request_t *r,
    ngx_http_otp_sid_t *sid);

/*
 * The worker's memory: a session Redis confirmed for this user less than
 * otp_session_recheck ago, known by its whole cookie, whose MAC was
 * checked before it was remembered.  NGX_OK and auth_time set on a hit.
 */
ngx_int_t ngx_http_otp_session_cached(ngx_http_request_t *r,
    ngx_http_otp_sid_t *sid, ngx_str_t *user, ngx_msec_t recheck,
    time_t *auth_time, ngx_str_t *method);
void ngx_http_otp_session_remember(ngx_http_otp_sid_t *sid, ngx_str_t *user,
    time_t auth_time, ngx_str_t *method);
void ngx_http_otp_session_forget(ngx_http_otp_sid_t *sid);

/*
 * Set-Cookie: name=value with otp_cookie's attributes, at path (NULL:
 * otp_cookie's path), for max_age seconds (0 clears it)
 */
ngx_int_t ngx_http_otp_cookie_set(ngx_http_request_t *r, ngx_str_t *name,
    ngx_str_t *value, ngx_str_t *path, time_t max_age);

/* a cookie value from the request, on either side of nginx 1.23 */
ngx_int_t ngx_http_otp_get_cookie(ngx_http_request_t *r, ngx_str_t *name,
    ngx_str_t *value);


#endif /* _NGX_HTTP_OTP_SESSION_H_INCLUDED_ */


/*
 * What user_state.lua says of a user, read once from its reply for the
 * gate, the endpoint's pages and the SMS method.
 */


#ifndef _NGX_HTTP_OTP_USER_H_INCLUDED_
#define _NGX_HTTP_OTP_USER_H_INCLUDED_


#include "ngx_http_otp.h"


typedef struct {
    ngx_str_t                   secret;       /* sealed; no data: none */
    ngx_str_t                   alg;          /* "sha1", ..., or no data */
    ngx_int_t                   digits;       /* NGX_ERROR: not a number */
    ngx_int_t                   period;
    ngx_int_t                   lock_ttl;     /* > 0: locked this long */
    ngx_int_t                   counter;      /* the next HOTP counter */
    ngx_int_t                   recovery;     /* recovery codes left */
    ngx_str_t                   phone;        /* sealed; no data: none */

    unsigned                    must_enroll:1;
    unsigned                    hotp:1;       /* the key is HOTP */

    /* the reply has the count of recovery codes */
    unsigned                    has_recovery:1;
} ngx_http_otp_user_state_t;


/* user_state.lua's keys for user: three (prefix, user) pairs */
#define NGX_HTTP_OTP_USER_STATE_KEYS  3

void ngx_http_otp_user_state_keys(ngx_str_t *user, ngx_str_t *keys);

/*
 * NGX_OK and us filled in; NGX_ERROR when Redis failed or the reply is
 * too short to tell (answer 503).
 */
ngx_int_t ngx_http_otp_user_state_parse(ngx_http_otp_store_reply_t *reply,
    ngx_http_otp_user_state_t *us);


#endif /* _NGX_HTTP_OTP_USER_H_INCLUDED_ */


/*
 * user_state.lua's reply, read once.  Its values after "ok", as the
 * script lists them: the sealed secret, its algorithm, digits, period,
 * must_enroll, lock_ttl, gen, pending, type, counter, recovery, and the
 * sealed phone number always last, so that values added later go before
 * it.
 */


#include "ngx_http_otp_user.h"
#include "ngx_http_otp_store.h"


/* the positions of the values */
#define NGX_HTTP_OTP_USER_SECRET        0
#define NGX_HTTP_OTP_USER_ALG           1
#define NGX_HTTP_OTP_USER_DIGITS        2
#define NGX_HTTP_OTP_USER_PERIOD        3
#define NGX_HTTP_OTP_USER_MUST_ENROLL   4
#define NGX_HTTP_OTP_USER_LOCK_TTL      5
#define NGX_HTTP_OTP_USER_TYPE          8
#define NGX_HTTP_OTP_USER_COUNTER       9
#define NGX_HTTP_OTP_USER_RECOVERY      10

/* the values every reply has: up to pending */
#define NGX_HTTP_OTP_USER_MIN_VALUES    8

/* the sealed phone number: the last value, the ninth or a later one */
#define NGX_HTTP_OTP_USER_PHONE         8


void
ngx_http_otp_user_state_keys(ngx_str_t *user, ngx_str_t *keys)
{
    /* the user record, the lock marker, the enrollment requirement */

    ngx_str_set(&keys[0], "u");
    keys[1] = *user;
    ngx_str_set(&keys[2], "l");
    keys[3] = *user;
    ngx_str_set(&keys[4], "e");
    keys[5] = *user;
}


ngx_int_t
ngx_http_otp_user_state_parse(ngx_http_otp_store_reply_t *reply,
    ngx_http_otp_user_state_t *us)
{
    ngx_memzero(us, sizeof(ngx_http_otp_user_state_t));

    if (reply == NULL || reply->nvalues < NGX_HTTP_OTP_USER_MIN_VALUES) {
        return NGX_ERROR;
    }

    us->secret = reply->values[NGX_HTTP_OTP_USER_SECRET];
    us->alg = reply->values[NGX_HTTP_OTP_USER_ALG];
    us->digits = ngx_http_otp_store_int(reply, NGX_HTTP_OTP_USER_DIGITS);
    us->period = ngx_http_otp_store_int(reply, NGX_HTTP_OTP_USER_PERIOD);
    us->lock_ttl = ngx_http_otp_store_int(reply, NGX_HTTP_OTP_USER_LOCK_TTL);
    us->must_enroll = (ngx_http_otp_store_int(reply,
                                              NGX_HTTP_OTP_USER_MUST_ENROLL)
                       == 1);

    /* a value the reply does not have reads as nil */

    us->hotp = (reply->nvalues > NGX_HTTP_OTP_USER_TYPE
                && reply->values[NGX_HTTP_OTP_USER_TYPE].data != NULL);
    us->counter = ngx_max(ngx_http_otp_store_int(reply,
                                                 NGX_HTTP_OTP_USER_COUNTER),
                          0);
    us->recovery = ngx_max(ngx_http_otp_store_int(reply,
                                                  NGX_HTTP_OTP_USER_RECOVERY),
                           0);
    us->has_recovery = (reply->nvalues > NGX_HTTP_OTP_USER_RECOVERY);

    if (reply->nvalues > NGX_HTTP_OTP_USER_PHONE) {
        us->phone = reply->values[reply->nvalues - 1];
    }

    return NGX_OK;
}

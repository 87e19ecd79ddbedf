
/*
 * The SMS state of a request (ctx->sms), shared by the SMS files and no
 * others: ngx_http_otp_sms.c (what the other pages ask of SMS),
 * ngx_http_otp_sms_phone_page.c, ngx_http_otp_sms_send.c and
 * ngx_http_otp_sms_verify.c.
 */


#ifndef _NGX_HTTP_OTP_SMS_CTX_H_INCLUDED_
#define _NGX_HTTP_OTP_SMS_CTX_H_INCLUDED_


#include "ngx_http_otp.h"
#include "ngx_http_otp_provider.h"
#include "ngx_http_otp_store.h"


#define NGX_HTTP_OTP_SMS_ID_LEN         16
#define NGX_HTTP_OTP_SMS_ID_B64_LEN     22


typedef struct {
    /* the user, from user_state.lua or sms_state.lua */
    ngx_str_t                   phone;        /* sealed, or no data */
    unsigned                    known:1;
    unsigned                    totp:1;
    unsigned                    factor:1;

    /* the challenge's code, from sms_state.lua */
    unsigned                    own:1;
    ngx_str_t                   hash;
    time_t                      expires;
    ngx_uint_t                  sends;
    time_t                      last;
    ngx_str_t                   pending;      /* sealed, or no data */

    /* a send */
    ngx_str_t                   token;
    ngx_str_t                   to;           /* E.164, in the clear */
    ngx_str_t                   enroll;       /* sealed number to enroll */
    const char                 *mode;         /* "new" or "change" */
    u_char                      code_hash[NGX_HTTP_OTP_MAC_LEN];
    ngx_http_otp_sms_message_t  msg;
    ngx_uint_t                  sent;

    /* otp_sms_number_limit: reserved for the number, or at its limit */
    unsigned                    number_held:1;
    ngx_int_t                   number_full;  /* > 0: secs to wait */
    ngx_http_otp_store_handler_pt   done_number;
} ngx_http_otp_sms_t;


/* ctx->sms, made on first use; NULL when out of memory */
ngx_http_otp_sms_t *ngx_http_otp_sms_get(ngx_http_request_t *r);
/* sms in otp_methods, and a provider to send through */
ngx_int_t ngx_http_otp_sms_offered(ngx_http_request_t *r);
/* a sealed number: NGX_OK, NGX_DECLINED (none, or it does not open) */
ngx_int_t ngx_http_otp_sms_open(ngx_http_request_t *r, ngx_str_t *sealed,
    ngx_str_t *phone);
/* sms_state.lua for the user and ep->challenge */
ngx_int_t ngx_http_otp_sms_state(ngx_http_request_t *r,
    ngx_http_otp_store_handler_pt done);
/* what sms_state.lua said of the challenge, kept in ctx->sms */
void ngx_http_otp_sms_keep_state(ngx_http_request_t *r,
    ngx_http_otp_store_reply_t *reply);
/*
 * What POST sms checks first: NGX_DECLINED when the page goes on, with
 * *configured NGX_OK when otp_sms_phone names a number
 */
ngx_int_t ngx_http_otp_sms_post_checked(ngx_http_request_t *r,
    ngx_int_t *configured);


#endif /* _NGX_HTTP_OTP_SMS_CTX_H_INCLUDED_ */

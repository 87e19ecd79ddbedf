
/*
 * Texts per destination number (otp_sms_number_limit, SPEC 6.17): a
 * user without a factor may ask for texts to any number, and the same
 * number may be enrolled by many users, so the per-user limits do not
 * bound what one number receives.  sms_number.lua counts the texts to
 * a number in a day under its own key, P{#<hash>}:n: the hash is an
 * HMAC of the E.164 number under the module's key (hex), so Redis never
 * holds the number in the clear, and its own hash tag puts it in a slot
 * of its own.
 *
 * A text is reserved for the number before it goes to the provider and
 * counts from then on; only a text that never reached the provider (or
 * that the provider refused) is released (SPEC 6.20).
 */


#include "ngx_http_otp_sms_number.h"
#include "ngx_http_otp_page_flow.h"
#include "ngx_http_otp_sms_ctx.h"


static ngx_int_t ngx_http_otp_sms_number_run(ngx_http_request_t *r,
    const char *mode, ngx_http_otp_store_handler_pt done);
static void ngx_http_otp_sms_number_reserved(ngx_http_request_t *r,
    ngx_http_otp_store_reply_t *reply);


ngx_int_t
ngx_http_otp_sms_number_reserve(ngx_http_request_t *r,
    ngx_http_otp_store_handler_pt done)
{
    u_char                     mac[NGX_HTTP_OTP_MAC_LEN], *p;
    ngx_http_otp_ep_t         *ep;
    ngx_http_otp_sms_t        *st;
    ngx_http_otp_main_conf_t  *omcf;

    static u_char  label[] = "otp number ";

    omcf = ngx_http_get_module_main_conf(r, ngx_http_otp_module);
    ep = ngx_http_otp_ep(r);
    st = ngx_http_otp_sms_get(r);

    /* HMAC("otp number " + E.164) under the code key, in hex */

    p = ngx_pnalloc(r->pool, sizeof(label) - 1 + st->to.len);
    ep->number.data = ngx_pnalloc(r->pool, 2 * NGX_HTTP_OTP_MAC_LEN);

    if (p == NULL || ep->number.data == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_memcpy(ngx_cpymem(p, label, sizeof(label) - 1), st->to.data,
               st->to.len);

    if (ngx_http_otp_hmac(omcf->keys.code, p, sizeof(label) - 1 + st->to.len,
                          mac)
        != 0)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ep->number.len = ngx_hex_dump(ep->number.data, mac, sizeof(mac))
                     - ep->number.data;

    st->done_number = done;

    return ngx_http_otp_sms_number_run(r, "reserve",
                                       ngx_http_otp_sms_number_reserved);
}


static void
ngx_http_otp_sms_number_reserved(ngx_http_request_t *r,
    ngx_http_otp_store_reply_t *reply)
{
    ngx_http_otp_sms_t  *st;

    st = ngx_http_otp_sms_get(r);

    if (reply->status == NGX_HTTP_OTP_ST_OK) {
        st->number_held = 1;

    } else {
        st->number_full = ngx_max(((ngx_http_otp_number_reply_t *) reply)
                                  ->secs, 1);
    }

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "otp sms: the number %s",
                   st->number_held ? "reserved" : "is at its limit");

    st->done_number(r, reply);
}


ngx_int_t
ngx_http_otp_sms_number_release(ngx_http_request_t *r,
    ngx_http_otp_store_handler_pt done)
{
    ngx_http_otp_sms_t  *st;

    st = ngx_http_otp_sms_get(r);
    st->number_held = 0;

    return ngx_http_otp_sms_number_run(r, "release", done);
}


static ngx_int_t
ngx_http_otp_sms_number_run(ngx_http_request_t *r, const char *mode,
    ngx_http_otp_store_handler_pt done)
{
    ngx_str_t                 args[4];
    ngx_http_otp_sms_t       *st;
    ngx_http_otp_loc_conf_t  *olcf;

    olcf = ngx_http_get_module_loc_conf(r, ngx_http_otp_module);
    st = ngx_http_otp_sms_get(r);

    args[0].data = (u_char *) mode;
    args[0].len = ngx_strlen(mode);
    args[1] = st->token;

    if (ngx_http_otp_store_num(r, &args[2], ngx_time()) != NGX_OK
        || ngx_http_otp_store_num(r, &args[3], olcf->sms.number_limit)
           != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_otp_ep_run(r, NGX_HTTP_OTP_SMS_NUMBER, args, 4, done);
}

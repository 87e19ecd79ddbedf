
/*
 * SMS as a factor, for the other pages and the gate: whether a user
 * has it (a number from otp_sms_phone, or a verified one), where a user
 * with no factor sets one up, what the challenge and enrollment pages
 * show of it; and the SMS state of a request that the SMS pages share
 * (ngx_http_otp_sms_ctx.h).
 *
 * The SMS pages: ngx_http_otp_sms_phone_page.c (a number to enroll or
 * change), ngx_http_otp_sms_send.c (a text, through the provider of
 * ngx_http_otp_provider.c), ngx_http_otp_sms_verify.c (a texted code).
 */


#include "ngx_http_otp_sms.h"
#include "ngx_http_otp_page_flow.h"
#include "ngx_http_otp_phone.h"
#include "ngx_http_otp_return.h"
#include "ngx_http_otp_sms_ctx.h"


static ngx_int_t ngx_http_otp_sms_masked(ngx_http_request_t *r,
    ngx_str_t *masked);


/* ------------------------------------------------------------- helpers */


const char *
ngx_http_otp_setup_page(ngx_http_otp_loc_conf_t *olcf)
{
    if (!(olcf->methods & NGX_HTTP_OTP_METHOD_TOTP)
        && (olcf->methods & NGX_HTTP_OTP_METHOD_SMS))
    {
        return "sms";
    }

    return "enroll";
}


ngx_http_otp_sms_t *
ngx_http_otp_sms_get(ngx_http_request_t *r)
{
    ngx_http_otp_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_otp_module);

    if (ctx->sms == NULL) {
        ctx->sms = ngx_pcalloc(r->pool, sizeof(ngx_http_otp_sms_t));
    }

    return ctx->sms;
}


/* sms in otp_methods, and a provider to send through */

ngx_int_t
ngx_http_otp_sms_offered(ngx_http_request_t *r)
{
    ngx_http_otp_loc_conf_t  *olcf;

    olcf = ngx_http_get_module_loc_conf(r, ngx_http_otp_module);

    return (olcf->methods & NGX_HTTP_OTP_METHOD_SMS)
           && olcf->sms.provider.len;
}


/*
 * The number otp_sms_phone gives: NGX_OK, NGX_DECLINED when there is
 * none (not configured, empty, or not E.164), NGX_ERROR.
 */

ngx_int_t
ngx_http_otp_sms_configured(ngx_http_request_t *r, ngx_str_t *phone)
{
    ngx_http_otp_ctx_t       *ctx;
    ngx_http_otp_loc_conf_t  *olcf;

    olcf = ngx_http_get_module_loc_conf(r, ngx_http_otp_module);

    if (olcf->sms.phone == NULL) {
        return NGX_DECLINED;
    }

    if (ngx_http_complex_value(r, olcf->sms.phone, phone) != NGX_OK) {
        return NGX_ERROR;
    }

    if (phone->len == 0) {
        return NGX_DECLINED;
    }

    if (ngx_http_otp_phone_valid((char *) phone->data, phone->len) != 0) {
        ctx = ngx_http_get_module_ctx(r, ngx_http_otp_module);

        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "otp: \"otp_sms_phone\" of user \"%V\" is not an "
                      "E.164 number (\"+\" and 8 to 15 digits): ignored",
                      &ctx->user);
        return NGX_DECLINED;
    }

    return NGX_OK;
}


ngx_int_t
ngx_http_otp_sms_open(ngx_http_request_t *r, ngx_str_t *sealed,
    ngx_str_t *phone)
{
    ngx_int_t            rc;
    ngx_http_otp_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_otp_module);

    /* no number, or none of a number's size: nothing to say */

    if (sealed->data == NULL
        || sealed->len <= NGX_HTTP_OTP_SEAL_OVERHEAD
        || sealed->len > NGX_HTTP_OTP_SEAL_OVERHEAD
                         + NGX_HTTP_OTP_PHONE_MAX_LEN)
    {
        return NGX_DECLINED;
    }

    rc = ngx_http_otp_store_open(r, &ctx->user, sealed,
                                 NGX_HTTP_OTP_PHONE_MAX_LEN, phone);
    if (rc == NGX_ERROR) {
        return NGX_ERROR;
    }

    if (rc != NGX_OK
        || ngx_http_otp_phone_valid((char *) phone->data, phone->len) != 0)
    {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "otp: the phone number of user \"%V\" does not "
                      "open; was otp_secret_file changed?", &ctx->user);
        return NGX_DECLINED;
    }

    return NGX_OK;
}


/*
 * Where the challenge's texts go, masked: the number it enrolls, else
 * the one from otp_sms_phone, else the user's.  NGX_DECLINED: nowhere.
 */

static ngx_int_t
ngx_http_otp_sms_masked(ngx_http_request_t *r, ngx_str_t *masked)
{
    ngx_int_t            rc;
    ngx_str_t            phone;
    ngx_http_otp_sms_t  *st;

    st = ngx_http_otp_sms_get(r);
    if (st == NULL) {
        return NGX_ERROR;
    }

    rc = NGX_DECLINED;

    if (st->own && st->pending.data) {
        rc = ngx_http_otp_sms_open(r, &st->pending, &phone);
    }

    if (rc == NGX_DECLINED) {
        rc = ngx_http_otp_sms_configured(r, &phone);
    }

    if (rc == NGX_DECLINED && st->phone.data) {
        rc = ngx_http_otp_sms_open(r, &st->phone, &phone);
    }

    if (rc != NGX_OK) {
        return rc;
    }

    masked->data = ngx_pnalloc(r->pool, NGX_HTTP_OTP_PHONE_MASKED_MAX);
    if (masked->data == NULL) {
        return NGX_ERROR;
    }

    masked->len = ngx_http_otp_phone_mask((char *) phone.data, phone.len,
                                          (char *) masked->data);

    ngx_explicit_memzero(phone.data, phone.len);

    return NGX_OK;
}


ngx_int_t
ngx_http_otp_sms_state(ngx_http_request_t *r,
    ngx_http_otp_store_handler_pt done)
{
    ngx_http_otp_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_otp_module);

    return ngx_http_otp_ep_run(r, NGX_HTTP_OTP_SMS_STATE,
                               &ctx->user, 1, done);
}


/* what sms_state.lua says of the challenge */

void
ngx_http_otp_sms_keep_state(ngx_http_request_t *r,
    ngx_http_otp_store_reply_t *reply)
{
    ngx_http_otp_sms_t        *st;
    ngx_http_otp_sms_reply_t  *sr;

    st = ngx_http_otp_sms_get(r);
    sr = (ngx_http_otp_sms_reply_t *) reply;

    if (st == NULL) {
        return;
    }

    st->own = (sr->own == 1);
    st->hash = sr->hash;
    st->expires = sr->expires;
    st->sends = sr->sends;
    st->last = sr->last;
    st->pending = sr->pending;
    st->totp = (sr->totp == 1);
    st->phone = sr->phone;
    st->known = 1;
}


/*
 * What POST sms checks first, with a number or without: SMS offered,
 * the form's token, otp_sms_phone (*configured: NGX_OK when it names a
 * number).  NGX_DECLINED when the page goes on, else the response.
 */

ngx_int_t
ngx_http_otp_sms_post_checked(ngx_http_request_t *r, ngx_int_t *configured)
{
    ngx_str_t  phone;

    if (!ngx_http_otp_sms_offered(r)) {
        return ngx_http_otp_send_error(r, NGX_HTTP_BAD_REQUEST,
                                       "Bad request",
                                       "Codes by text message are not "
                                       "offered here.");
    }

    if (ngx_http_otp_sms_get(r) == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (ngx_http_otp_ep_challenge_csrf(r) != NGX_OK) {
        return ngx_http_otp_ep_refused(r);
    }

    *configured = ngx_http_otp_sms_configured(r, &phone);

    if (*configured == NGX_ERROR) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return NGX_DECLINED;
}


/* ---------------------------------------------------- the user's state */


void
ngx_http_otp_sms_user(ngx_http_request_t *r, ngx_http_otp_user_state_t *us)
{
    ngx_http_otp_sms_t  *st;

    st = ngx_http_otp_sms_get(r);

    if (st == NULL) {
        return;
    }

    st->totp = (us->secret.data != NULL);
    st->phone = us->phone;
    st->known = 1;
}


ngx_uint_t
ngx_http_otp_sms_factor(ngx_http_request_t *r, ngx_http_otp_user_state_t *us)
{
    ngx_str_t                 phone;
    ngx_http_otp_loc_conf_t  *olcf;

    olcf = ngx_http_get_module_loc_conf(r, ngx_http_otp_module);

    if (!(olcf->methods & NGX_HTTP_OTP_METHOD_SMS)) {
        return 0;
    }

    if (us->phone.data != NULL) {
        return 1;
    }

    return ngx_http_otp_sms_configured(r, &phone) == NGX_OK;
}


/* ------------------------------------------ the challenge page's values */


ngx_int_t
ngx_http_otp_sms_page_vars(ngx_http_request_t *r,
    ngx_http_otp_page_vars_t *pv)
{
    time_t                    wait;
    ngx_int_t                 rc;
    ngx_str_t                 masked, phone, s;
    ngx_uint_t                has_sms, sent, totp;
    ngx_http_otp_sms_t       *st;
    ngx_http_otp_ep_t        *ep;
    ngx_http_otp_loc_conf_t  *olcf;

    olcf = ngx_http_get_module_loc_conf(r, ngx_http_otp_module);

    if (!ngx_http_otp_sms_offered(r)) {
        return NGX_DECLINED;
    }

    st = ngx_http_otp_sms_get(r);
    if (st == NULL) {
        return NGX_ERROR;
    }

    ep = ngx_http_otp_ep(r);

    rc = ngx_http_otp_sms_configured(r, &phone);
    if (rc == NGX_ERROR) {
        return NGX_ERROR;
    }

    has_sms = (rc == NGX_OK || st->phone.data
               || (st->own && st->pending.data));

    if (!has_sms) {
        return NGX_DECLINED;
    }

    sent = (st->own && st->sends > 0);

    if (!st->own || st->sends < olcf->sms.max_sends) {
        /* the form that sends a text: while texts are left */
        ngx_http_otp_page_var_cstr(pv, "has_sms", "1");
    }

    if (sent) {
        rc = ngx_http_otp_sms_masked(r, &masked);
        if (rc == NGX_ERROR) {
            return NGX_ERROR;
        }

        ngx_http_otp_page_var_cstr(pv, "sms_sent", "1");

        if (rc == NGX_OK) {
            ngx_http_otp_page_var(pv, "sms_phone", &masked);
        }

        wait = st->last + olcf->sms.resend_delay - ngx_time();

        if (wait > 0) {
            if (ngx_http_otp_store_num(r, &s, wait) != NGX_OK) {
                return NGX_ERROR;
            }

            ngx_http_otp_page_var(pv, "sms_wait", &s);
        }
    }

    /* a method asked for by name; else texts once one was sent */

    if (ep->method.len && !ngx_http_otp_is(&ep->method, "sms")) {
        return NGX_DECLINED;
    }

    totp = !ngx_http_otp_sms_no_totp(r);

    if (!sent && totp && !ngx_http_otp_is(&ep->method, "sms")) {
        return NGX_DECLINED;
    }

    ngx_http_otp_page_var_cstr(pv, "method", "sms");
    ngx_http_otp_page_var_cstr(pv, "method_sms", "1");

    if (!sent) {
        /* no code to enter yet: sending one is the step */
        ngx_http_otp_page_var_cstr(pv, "sms_first", "1");
    }

    if (olcf->sms.charset == NGX_HTTP_OTP_SMS_DIGITS) {
        ngx_http_otp_page_var_cstr(pv, "numeric", "1");
    }

    return NGX_OK;
}


ngx_uint_t
ngx_http_otp_sms_no_totp(ngx_http_request_t *r)
{
    ngx_str_t                 phone;
    ngx_http_otp_ctx_t       *ctx;
    ngx_http_otp_sms_t       *st;
    ngx_http_otp_loc_conf_t  *olcf;

    olcf = ngx_http_get_module_loc_conf(r, ngx_http_otp_module);

    if (!(olcf->methods & NGX_HTTP_OTP_METHOD_TOTP)) {
        return 1;
    }

    ctx = ngx_http_get_module_ctx(r, ngx_http_otp_module);
    st = ctx->sms;

    if (st == NULL || !st->known || st->totp || !ngx_http_otp_sms_offered(r))
    {
        return 0;
    }

    /*
     * Only a user who has texts instead: a user with neither gets the
     * page an enrolled user gets after a wrong code (SPEC 6.10).
     */

    return st->phone.data || (st->own && st->pending.data)
           || ngx_http_otp_sms_configured(r, &phone) == NGX_OK;
}


ngx_int_t
ngx_http_otp_sms_enroll_vars(ngx_http_request_t *r,
    ngx_http_otp_page_vars_t *pv)
{
    ngx_int_t           rc;
    ngx_str_t           phone, ret_q;
    ngx_http_otp_ep_t  *ep;

    if (!ngx_http_otp_sms_offered(r)) {
        return NGX_OK;
    }

    rc = ngx_http_otp_sms_configured(r, &phone);

    if (rc != NGX_DECLINED) {
        /* a number from the identity layer: nothing to enroll */
        return (rc == NGX_ERROR) ? NGX_ERROR : NGX_OK;
    }

    ep = ngx_http_otp_ep(r);

    ret_q.data = ngx_pnalloc(r->pool,
                             ngx_http_otp_return_encoded_len(ep->ret.len));
    if (ret_q.data == NULL) {
        return NGX_ERROR;
    }

    ret_q.len = ngx_http_otp_return_encode((char *) ep->ret.data, ep->ret.len,
                                           (char *) ret_q.data);

    ngx_http_otp_page_var_cstr(pv, "has_sms", "1");
    ngx_http_otp_page_var(pv, "return_q", &ret_q);

    return NGX_OK;
}

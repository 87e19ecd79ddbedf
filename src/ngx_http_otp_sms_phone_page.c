
/*
 * The phone number page: GET sms shows the form, POST sms with a phone
 * number sends a code to it (ngx_http_otp_sms_send.c); the number is
 * stored (sealed) once that code signs in.  A user with no second
 * factor enrolls a number; a user with one changes it within a session.
 */


#include "ngx_http_otp_sms_phone_page.h"
#include "ngx_http_otp_lost.h"
#include "ngx_http_otp_page_flow.h"
#include "ngx_http_otp_phone.h"
#include "ngx_http_otp_return.h"
#include "ngx_http_otp_session.h"
#include "ngx_http_otp_sms.h"
#include "ngx_http_otp_sms_ctx.h"
#include "ngx_http_otp_sms_send.h"
#include "ngx_http_otp_challenge.h"


static ngx_int_t ngx_http_otp_sms_user_checked(ngx_http_request_t *r,
    ngx_http_otp_store_reply_t *reply, ngx_uint_t *has_factor);
static void ngx_http_otp_sms_form_user(ngx_http_request_t *r,
    ngx_http_otp_store_reply_t *reply);
static void ngx_http_otp_sms_form_session(ngx_http_request_t *r,
    ngx_http_otp_store_reply_t *reply);
static ngx_int_t ngx_http_otp_sms_form_challenge(ngx_http_request_t *r);
static void ngx_http_otp_sms_form_created(ngx_http_request_t *r,
    ngx_http_otp_store_reply_t *reply);
static ngx_int_t ngx_http_otp_sms_phone_page(ngx_http_request_t *r,
    ngx_uint_t status);
static void ngx_http_otp_sms_post_user(ngx_http_request_t *r,
    ngx_http_otp_store_reply_t *reply);
static void ngx_http_otp_sms_post_session(ngx_http_request_t *r,
    ngx_http_otp_store_reply_t *reply);
static ngx_int_t ngx_http_otp_sms_session(ngx_http_request_t *r,
    ngx_http_otp_store_handler_pt done);
static ngx_int_t ngx_http_otp_sms_seal(ngx_http_request_t *r,
    ngx_str_t *phone, ngx_str_t *sealed);


ngx_int_t
ngx_http_otp_sms_form(ngx_http_request_t *r)
{
    ngx_int_t  rc;
    ngx_str_t  phone;

    if (!ngx_http_otp_sms_offered(r)) {
        return NGX_HTTP_NOT_FOUND;
    }

    if (ngx_http_otp_sms_get(r) == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    rc = ngx_http_otp_sms_configured(r, &phone);

    if (rc == NGX_ERROR) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "otp sms: phone page, otp_sms_phone %s",
                   rc == NGX_OK ? "set" : "unset");

    if (rc == NGX_OK) {
        /* the identity layer knows the number: nothing to enter here */
        return ngx_http_otp_redirect_page(r, "challenge");
    }

    return ngx_http_otp_ep_user_state(r, ngx_http_otp_sms_form_user);
}


/*
 * What GET and POST sms do first with user_state.lua's reply: 503
 * without one, 429 for a locked user, 403 for a user with no second
 * factor where only an administrator sets one up.  NGX_DECLINED when
 * the page goes on, with *has_factor set.
 */

static ngx_int_t
ngx_http_otp_sms_user_checked(ngx_http_request_t *r,
    ngx_http_otp_store_reply_t *reply, ngx_uint_t *has_factor)
{
    ngx_http_otp_ctx_t         *ctx;
    ngx_http_otp_loc_conf_t    *olcf;
    ngx_http_otp_user_state_t  *us;

    ctx = ngx_http_get_module_ctx(r, ngx_http_otp_module);
    olcf = ngx_http_get_module_loc_conf(r, ngx_http_otp_module);

    us = &((ngx_http_otp_user_reply_t *) reply)->user;

    ngx_http_otp_sms_user(r, us);

    if (us->lock_ttl > 0) {
        ctx->status = NGX_HTTP_OTP_STATUS_LOCKED;
        return ngx_http_otp_send_locked(r, us->lock_ttl);
    }

    *has_factor = (us->secret.data != NULL
                   || ngx_http_otp_sms_factor(r, us));

    if (!*has_factor && olcf->enroll == NGX_HTTP_OTP_ENROLL_OFF) {
        return ngx_http_otp_send_error(r, NGX_HTTP_FORBIDDEN,
                                       "Setup is done by an administrator",
                                       "Ask an administrator to set up "
                                       "your second factor.");
    }

    return NGX_DECLINED;
}


static void
ngx_http_otp_sms_form_user(ngx_http_request_t *r,
    ngx_http_otp_store_reply_t *reply)
{
    ngx_int_t   rc;
    ngx_uint_t  has_factor;

    rc = ngx_http_otp_sms_user_checked(r, reply, &has_factor);

    if (rc != NGX_DECLINED) {
        ngx_http_otp_ep_finish(r, rc);
        return;
    }

    if (!has_factor) {
        ngx_http_otp_ep_finish(r, ngx_http_otp_sms_form_challenge(r));
        return;
    }

    /*
     * a second factor exists: another number only within a session whose
     * code is fresh (SPEC 6.14)
     */

    rc = ngx_http_otp_sms_session(r, ngx_http_otp_sms_form_session);

    if (rc == NGX_DECLINED) {
        rc = ngx_http_otp_step_up(r, "sms");
    }

    ngx_http_otp_ep_finish(r, rc);
}


static void
ngx_http_otp_sms_form_session(ngx_http_request_t *r,
    ngx_http_otp_store_reply_t *reply)
{
    ngx_int_t  rc;

    rc = ngx_http_otp_ep_fresh(r, reply, "sms");

    ngx_http_otp_ep_finish(r, rc == NGX_DECLINED
                              ? ngx_http_otp_sms_form_challenge(r) : rc);
}


/* the number is sent with a challenge: its code, its limits */

static ngx_int_t
ngx_http_otp_sms_form_challenge(ngx_http_request_t *r)
{
    return ngx_http_otp_challenge_make(r, "always",
                                       ngx_http_otp_sms_form_created);
}


static void
ngx_http_otp_sms_form_created(ngx_http_request_t *r,
    ngx_http_otp_store_reply_t *reply)
{
    if (reply->status != NGX_HTTP_OTP_ST_OK) {
        ngx_http_otp_ep_finish(r, ngx_http_otp_send_unavailable(r));
        return;
    }

    ngx_http_otp_ep_finish(r, ngx_http_otp_sms_phone_page(r, NGX_HTTP_OK));
}


static ngx_int_t
ngx_http_otp_sms_phone_page(ngx_http_request_t *r, ngx_uint_t status)
{
    ngx_str_t                  csrf, ret_q;
    ngx_http_otp_ctx_t        *ctx;
    ngx_http_otp_ep_t         *ep;
    ngx_http_otp_loc_conf_t   *olcf;
    ngx_http_otp_page_vars_t   pv;

    ctx = ngx_http_get_module_ctx(r, ngx_http_otp_module);
    olcf = ngx_http_get_module_loc_conf(r, ngx_http_otp_module);
    ep = ngx_http_otp_ep(r);

    if (ngx_http_otp_ep_csrf(r, &csrf) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ret_q.data = ngx_pnalloc(r->pool,
                             ngx_http_otp_return_encoded_len(ep->ret.len));
    if (ret_q.data == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ret_q.len = ngx_http_otp_return_encode((char *) ep->ret.data, ep->ret.len,
                                           (char *) ret_q.data);

    pv.nvars = 0;

    ngx_http_otp_page_var(&pv, "user", &ctx->user);
    ngx_http_otp_page_var(&pv, "csrf", &csrf);
    ngx_http_otp_page_var(&pv, "return", &ep->ret);
    ngx_http_otp_page_var(&pv, "return_q", &ret_q);

    if (olcf->methods & NGX_HTTP_OTP_METHOD_TOTP) {
        ngx_http_otp_page_var_cstr(&pv, "has_totp", "1");
    }

    if (ep->phone.len) {
        ngx_http_otp_page_var(&pv, "phone", &ep->phone);
    }

    if (ep->error) {
        ngx_http_otp_page_var_cstr(&pv, "error", ep->error);
    }

    return ngx_http_otp_send_page(r, status, NGX_HTTP_OTP_PAGE_SMS, &pv);
}


ngx_int_t
ngx_http_otp_sms_phone_post(ngx_http_request_t *r)
{
    u_char               buf[NGX_HTTP_OTP_PHONE_MAX_LEN];
    size_t               len;
    ngx_int_t            rc, configured;
    ngx_http_otp_ep_t   *ep;
    ngx_http_otp_sms_t  *st;

    rc = ngx_http_otp_sms_post_checked(r, &configured);

    if (rc != NGX_DECLINED) {
        return rc;
    }

    ep = ngx_http_otp_ep(r);
    st = ngx_http_otp_sms_get(r);

    if (configured == NGX_OK) {
        return ngx_http_otp_send_error(r, NGX_HTTP_BAD_REQUEST,
                                       "Bad request",
                                       "Your phone number is set by the "
                                       "sign-in service; it cannot be "
                                       "changed here.");
    }

    if (ngx_http_otp_phone_normalize((char *) ep->phone.data, ep->phone.len,
                                     (char *) buf, &len)
        != 0)
    {
        ngx_log_debug0(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                       "otp sms: not a mobile number, 400");

        ep->error = "That does not look like a mobile number. Enter it "
                    "with + and the country code, for example "
                    "+15551234567.";
        return ngx_http_otp_sms_phone_page(r, NGX_HTTP_BAD_REQUEST);
    }

    st->to.data = ngx_pnalloc(r->pool, len);
    if (st->to.data == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_memcpy(st->to.data, buf, len);
    st->to.len = len;

    if (ngx_http_otp_sms_seal(r, &st->to, &st->enroll) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_otp_ep_user_state(r, ngx_http_otp_sms_post_user);
}


static void
ngx_http_otp_sms_post_user(ngx_http_request_t *r,
    ngx_http_otp_store_reply_t *reply)
{
    ngx_int_t            rc;
    ngx_uint_t           has_factor;
    ngx_http_otp_sms_t  *st;
    ngx_http_otp_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_otp_module);
    st = ctx->sms;

    rc = ngx_http_otp_sms_user_checked(r, reply, &has_factor);

    if (rc != NGX_DECLINED) {
        ngx_http_otp_ep_finish(r, rc);
        return;
    }

    if (!has_factor) {
        ngx_log_debug0(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                       "otp sms: a number to enroll");

        st->mode = "new";
        ngx_http_otp_ep_finish(r, ngx_http_otp_lost_check(r,
                                      ngx_http_otp_sms_reserve));
        return;
    }

    rc = ngx_http_otp_sms_session(r, ngx_http_otp_sms_post_session);

    if (rc == NGX_DECLINED) {
        rc = ngx_http_otp_send_error(r, NGX_HTTP_FORBIDDEN,
                                     "Sign in first",
                                     "Your account has a second factor. "
                                     "Sign in with it before you change "
                                     "your phone number.");
    }

    ngx_http_otp_ep_finish(r, rc);
}


static void
ngx_http_otp_sms_post_session(ngx_http_request_t *r,
    ngx_http_otp_store_reply_t *reply)
{
    ngx_int_t            rc;
    ngx_http_otp_sms_t  *st;

    st = ngx_http_otp_sms_get(r);

    if (reply->status != NGX_HTTP_OTP_ST_OK) {
        ngx_http_otp_ep_finish(r,
            ngx_http_otp_send_error(r, NGX_HTTP_FORBIDDEN, "Sign in first",
                                    "Your account has a second factor. "
                                    "Sign in with it before you change "
                                    "your phone number."));
        return;
    }

    rc = ngx_http_otp_ep_fresh(r, reply, "sms");

    if (rc != NGX_DECLINED) {
        ngx_http_otp_ep_finish(r, rc);
        return;
    }

    ngx_log_debug0(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "otp sms: a number to change, within a session");

    st->mode = "change";

    ngx_http_otp_ep_finish(r, ngx_http_otp_sms_reserve(r));
}


/* the session of the cookie, checked; NGX_DECLINED: no cookie */

static ngx_int_t
ngx_http_otp_sms_session(ngx_http_request_t *r,
    ngx_http_otp_store_handler_pt done)
{
    ngx_http_otp_ep_t  *ep;

    ep = ngx_http_otp_ep(r);

    ep->has_cookie = (ngx_http_otp_session_from_cookie(r, &ep->old_sid)
                      == NGX_OK);

    return ngx_http_otp_ep_session_check(r, done);
}


static ngx_int_t
ngx_http_otp_sms_seal(ngx_http_request_t *r, ngx_str_t *phone,
    ngx_str_t *sealed)
{
    ngx_http_otp_ctx_t        *ctx;
    ngx_http_otp_main_conf_t  *omcf;

    ctx = ngx_http_get_module_ctx(r, ngx_http_otp_module);
    omcf = ngx_http_get_module_main_conf(r, ngx_http_otp_module);

    sealed->len = phone->len + NGX_HTTP_OTP_SEAL_OVERHEAD;
    sealed->data = ngx_pnalloc(r->pool, sealed->len);
    if (sealed->data == NULL) {
        return NGX_ERROR;
    }

    if (ngx_http_otp_seal(omcf->keys.seal, ctx->user.data, ctx->user.len,
                          phone->data, phone->len, sealed->data)
        != 0)
    {
        return NGX_ERROR;
    }

    return NGX_OK;
}

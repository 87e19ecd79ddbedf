
/*
 * A texted code on the challenge page: GET challenge with the "c" of a
 * challenge a text was sent for shows that challenge again, and POST
 * verify with method=sms checks the code (a keyed hash, compared in
 * constant time) and makes the session; a right code consumes the
 * challenge.  The other methods are in ngx_http_otp_verify.c.
 */


#include "ngx_http_otp_sms_verify.h"
#include "ngx_http_otp_attempt.h"
#include "ngx_http_otp_metrics.h"
#include "ngx_http_otp_page.h"
#include "ngx_http_otp_page_flow.h"
#include "ngx_http_otp_sms.h"
#include "ngx_http_otp_sms_ctx.h"
#include "ngx_http_otp_challenge.h"


static void ngx_http_otp_sms_challenge_user(ngx_http_request_t *r,
    ngx_http_otp_store_reply_t *reply);
static ngx_int_t ngx_http_otp_sms_challenge_texted(ngx_http_request_t *r,
    ngx_http_otp_user_state_t *us);
static void ngx_http_otp_sms_challenge_state(ngx_http_request_t *r,
    ngx_http_otp_store_reply_t *reply);
static void ngx_http_otp_sms_verify_state(ngx_http_request_t *r,
    ngx_http_otp_store_reply_t *reply);
static void ngx_http_otp_sms_verify_attempt(ngx_http_request_t *r,
    ngx_http_otp_store_reply_t *reply);


/* ------------------------------------------------- GET challenge?c= */


/*
 * GET challenge with "?c=": the user's state, then the SMS challenge a
 * text was sent for, if it is there; else as any challenge.
 */

ngx_int_t
ngx_http_otp_sms_challenge(ngx_http_request_t *r)
{
    ngx_log_debug0(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "otp challenge: a texted one, user_state.lua");

    return ngx_http_otp_ep_user_state(r, ngx_http_otp_sms_challenge_user);
}


static void
ngx_http_otp_sms_challenge_user(ngx_http_request_t *r,
    ngx_http_otp_store_reply_t *reply)
{
    ngx_int_t                   rc;
    ngx_http_otp_user_state_t  *us;

    us = &((ngx_http_otp_user_reply_t *) reply)->user;

    ngx_http_otp_sms_user(r, us);

    if (us->lock_ttl > 0) {
        ngx_http_otp_ep_finish(r, ngx_http_otp_challenge_state(r, us));
        return;
    }

    ngx_http_otp_ep(r)->recovery_left = us->recovery;

    rc = ngx_http_otp_sms_challenge_texted(r, us);

    if (rc == NGX_DECLINED) {
        rc = ngx_http_otp_challenge_state(r, us);
    }

    ngx_http_otp_ep_finish(r, rc == NGX_DECLINED
                              ? ngx_http_otp_challenge_new(r) : rc);
}


/* the challenge of "?c=": sms_state.lua; NGX_DECLINED when none */

static ngx_int_t
ngx_http_otp_sms_challenge_texted(ngx_http_request_t *r,
    ngx_http_otp_user_state_t *us)
{
    u_char              *p;
    ngx_str_t            arg;
    ngx_http_otp_ep_t   *ep;
    ngx_http_otp_sms_t  *st;

    /* an administrator's "require-enroll" goes first */

    if (!ngx_http_otp_sms_offered(r)
        || us->must_enroll
        || ngx_http_arg(r, (u_char *) "c", 1, &arg) != NGX_OK
        || arg.len != NGX_HTTP_OTP_SMS_ID_B64_LEN)
    {
        return NGX_DECLINED;
    }

    for (p = arg.data; p < arg.data + arg.len; p++) {
        if (!((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z')
              || (*p >= '0' && *p <= '9') || *p == '-' || *p == '_'))
        {
            return NGX_DECLINED;
        }
    }

    st = ngx_http_otp_sms_get(r);
    if (st == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    st->factor = (us->secret.data != NULL
                  || ngx_http_otp_sms_factor(r, us));

    ep = ngx_http_otp_ep(r);

    ep->challenge = arg;

    return ngx_http_otp_sms_state(r, ngx_http_otp_sms_challenge_state);
}


static void
ngx_http_otp_sms_challenge_state(ngx_http_request_t *r,
    ngx_http_otp_store_reply_t *reply)
{
    ngx_http_otp_sms_t       *st;
    ngx_http_otp_ctx_t       *ctx;
    ngx_http_otp_loc_conf_t  *olcf;

    ctx = ngx_http_get_module_ctx(r, ngx_http_otp_module);
    olcf = ngx_http_get_module_loc_conf(r, ngx_http_otp_module);
    st = ctx->sms;

    if (reply->status != NGX_HTTP_OTP_ST_OK) {
        ngx_http_otp_ep_finish(r, ngx_http_otp_send_unavailable(r));
        return;
    }

    ngx_http_otp_sms_keep_state(r, reply);

    if (!st->own || (!st->factor && st->pending.data == NULL)) {

        if (!st->factor) {
            /* nothing to sign in with: set something up */
            ngx_http_otp_ep_finish(r, ngx_http_otp_redirect_page(r,
                                          ngx_http_otp_setup_page(olcf)));
            return;
        }

        /* expired, used, or another user's: a new one */
        ngx_http_otp_ep_finish(r, ngx_http_otp_challenge_new(r));
        return;
    }

    ctx->status = NGX_HTTP_OTP_STATUS_CHALLENGED;

    ngx_http_otp_ep_finish(r, ngx_http_otp_challenge_page(r, NGX_HTTP_OK));
}


/* --------------------------------------------- POST verify, method=sms */


ngx_int_t
ngx_http_otp_sms_verify(ngx_http_request_t *r)
{
    if (ngx_http_otp_ep_challenge_csrf(r) != NGX_OK) {
        return ngx_http_otp_ep_refused(r);
    }

    if (!ngx_http_otp_sms_offered(r)) {
        return ngx_http_otp_send_error(r, NGX_HTTP_BAD_REQUEST,
                                       "Bad request",
                                       "This sign-in method is not offered "
                                       "here.");
    }

    if (ngx_http_otp_sms_get(r) == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_otp_sms_state(r, ngx_http_otp_sms_verify_state);
}


static void
ngx_http_otp_sms_verify_state(ngx_http_request_t *r,
    ngx_http_otp_store_reply_t *reply)
{
    u_char                     hash[NGX_HTTP_OTP_MAC_LEN];
    ngx_str_t                  args[13];
    ngx_uint_t                 ok;
    ngx_http_otp_ep_t         *ep;
    ngx_http_otp_sms_t        *st;
    ngx_http_otp_ctx_t        *ctx;
    ngx_http_otp_loc_conf_t   *olcf;
    ngx_http_otp_main_conf_t  *omcf;

    ctx = ngx_http_get_module_ctx(r, ngx_http_otp_module);
    olcf = ngx_http_get_module_loc_conf(r, ngx_http_otp_module);
    omcf = ngx_http_get_module_main_conf(r, ngx_http_otp_module);
    st = ctx->sms;
    ep = ngx_http_otp_ep(r);

    if (reply->status != NGX_HTTP_OTP_ST_OK) {
        ngx_http_otp_ep_finish(r, ngx_http_otp_send_unavailable(r));
        return;
    }

    ngx_http_otp_sms_keep_state(r, reply);

    /* the stored hash and the typed code's, compared in constant time */

    ok = 0;

    if (ngx_http_otp_code_hash(omcf->keys.code, (char *) ctx->user.data,
                               ctx->user.len, (char *) ep->code.data,
                               ep->code.len, hash)
        == 0
        && st->own && st->hash.len == NGX_HTTP_OTP_MAC_LEN)
    {
        ok = ngx_http_otp_ct_equal(hash, st->hash.data, NGX_HTTP_OTP_MAC_LEN)
             && st->expires >= ngx_time();
    }

    ngx_explicit_memzero(hash, sizeof(hash));

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "otp verify: texted code checked: %s",
                   ok ? "right" : "wrong or expired");

    ep->factor = NGX_HTTP_OTP_FACTOR_SMS;

    args[0] = ctx->user;

    if (ok) {
        ngx_str_set(&args[1], "ok");
        args[2] = st->hash;

    } else {
        ngx_str_set(&args[1], "wrong");
        ngx_str_set(&args[2], "");
    }

    /*
     * a challenge that changes the number is decided only within the
     * browser's session, its code within otp_fresh (SPEC 6.14): the
     * script checks that session as it commits
     */

    if (ngx_http_otp_session_from_cookie(r, &ep->old_sid) == NGX_OK) {
        ngx_http_otp_session_hash(r, &ep->old_sid);

    } else {
        ngx_memset(ep->old_sid.hash, '0', NGX_HTTP_OTP_SID_HASH_LEN);
    }

    if (ngx_http_otp_store_num(r, &args[3], ngx_time()) != NGX_OK
        || ngx_http_otp_limit_args(r, &args[4]) != NGX_OK
        || ngx_http_otp_attempt_session_args(r, &args[7]) != NGX_OK
        || ngx_http_otp_store_num(r, &args[12], olcf->fresh) != NGX_OK)
    {
        ngx_http_otp_ep_finish(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    ngx_http_otp_ep_finish(r,
        ngx_http_otp_ep_run(r, NGX_HTTP_OTP_SMS_ATTEMPT, args, 13,
                            ngx_http_otp_sms_verify_attempt));
}


static void
ngx_http_otp_sms_verify_attempt(ngx_http_request_t *r,
    ngx_http_otp_store_reply_t *reply)
{
    ngx_http_otp_sms_t  *st;
    ngx_http_otp_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_otp_module);
    st = ctx->sms;

    switch (reply->status) {

    case NGX_HTTP_OTP_ST_NO_CHALLENGE:
        /* the new challenge shows no text of the old one */
        st->own = 0;
        break;

    case NGX_HTTP_OTP_ST_NONE:
        /* the session was revoked or went stale: nothing changed */
        ngx_log_debug0(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                       "otp verify: no code within otp_fresh, step-up");
        ngx_http_otp_ep_finish(r, ngx_http_otp_step_up(r, "sms"));
        return;

    case NGX_HTTP_OTP_ST_CONFLICT:
        ctx->status = NGX_HTTP_OTP_STATUS_DENIED;
        ngx_http_otp_ep_finish(r,
            ngx_http_otp_send_error(r, NGX_HTTP_FORBIDDEN,
                                    "Phone number not added",
                                    "Your account got a second factor "
                                    "while this number was being "
                                    "confirmed. Sign in with that factor "
                                    "to change your number."));
        return;

    default:
        break;
    }

    ngx_http_otp_attempt_done(r, reply);
}


/*
 * POST verify with a TOTP, HOTP or recovery code: the code is checked
 * here against the key the form's key pass holds (or the record, read
 * when there is none), and one attempt.lua decides and makes the session
 * (ngx_http_otp_attempt.c has the reply).  Texted codes are in
 * ngx_http_otp_sms_verify.c.
 */


#include "ngx_http_otp_verify.h"
#include "ngx_http_otp_attempt.h"
#include "ngx_http_otp_authn.h"
#include "ngx_http_otp_challenge.h"
#include "ngx_http_otp_page.h"
#include "ngx_http_otp_page_flow.h"
#include "ngx_http_otp_recovery.h"
#include "ngx_http_otp_session.h"
#include "ngx_http_otp_sms.h"
#include "ngx_http_otp_store.h"


static void ngx_http_otp_verify_user(ngx_http_request_t *r,
    ngx_http_otp_store_reply_t *reply);
static ngx_int_t ngx_http_otp_verify_code(ngx_http_request_t *r,
    ngx_http_otp_user_state_t *us);
static ngx_int_t ngx_http_otp_verify_recovery(ngx_http_request_t *r);
static ngx_int_t ngx_http_otp_verify_attempt(ngx_http_request_t *r);
static void ngx_http_otp_verify_done(ngx_http_request_t *r,
    ngx_http_otp_store_reply_t *reply);
static ngx_uint_t ngx_http_otp_offered(ngx_http_otp_loc_conf_t *olcf,
    ngx_str_t *method);




/* -------------------------------------------------------------- verify */


ngx_int_t
ngx_http_otp_verify(ngx_http_request_t *r)
{
    ngx_http_otp_ep_t          *ep;
    ngx_http_otp_ctx_t         *ctx;
    ngx_http_otp_loc_conf_t    *olcf;
    ngx_http_otp_user_state_t   us;

    ctx = ngx_http_get_module_ctx(r, ngx_http_otp_module);
    olcf = ngx_http_get_module_loc_conf(r, ngx_http_otp_module);
    ep = ctx->endpoint;

    /* the token is "<challenge id>.<CSRF token bound to it>" */

    if (ngx_http_otp_ep_challenge_csrf(r) != NGX_OK) {
        return ngx_http_otp_ep_refused(r);
    }

    if (!ngx_http_otp_offered(olcf, &ep->method)) {
        return ngx_http_otp_send_error(r, NGX_HTTP_BAD_REQUEST,
                                       "Bad request",
                                       "This sign-in method is not offered "
                                       "here.");
    }

    /*
     * One trip: a recovery code needs nothing of the user record first,
     * a TOTP or HOTP code what the form's key pass holds; without one
     * (an older page, a template of the site's own), the record is read.
     */

    if (ngx_http_otp_is(&ep->method, "recovery")) {
        ep->factor = NGX_HTTP_OTP_FACTOR_RECOVERY;
        return ngx_http_otp_verify_recovery(r);
    }

    if (ngx_http_otp_pass_open(r, &us) == NGX_OK) {
        return ngx_http_otp_verify_code(r, &us);
    }

    return ngx_http_otp_ep_user_state(r, ngx_http_otp_verify_user);
}


static void
ngx_http_otp_verify_user(ngx_http_request_t *r,
    ngx_http_otp_store_reply_t *reply)
{
    ngx_http_otp_user_state_t  *us;

    us = &((ngx_http_otp_user_reply_t *) reply)->user;

    ngx_http_otp_sms_user(r, us);

    ngx_http_otp_ep(r)->recovery_left = us->recovery;
    ngx_http_otp_ep(r)->factor = (us->secret.data && us->type.data)
                                 ? NGX_HTTP_OTP_FACTOR_HOTP
                                 : NGX_HTTP_OTP_FACTOR_TOTP;

    /* attempt.lua checks the lock and "require-enroll" again, atomically */

    if (us->lock_ttl > 0) {
        ngx_http_otp_ep_finish(r, ngx_http_otp_attempt_locked(r,
                                                             us->lock_ttl));
        return;
    }

    if (us->secret.data != NULL && us->must_enroll) {
        ngx_http_otp_ep_finish(r, ngx_http_otp_redirect_page(r, "enroll"));
        return;
    }

    ngx_http_otp_ep_finish(r, ngx_http_otp_verify_code(r, us));
}


/* a TOTP or HOTP code against the user's key: the proof for attempt.lua */

static ngx_int_t
ngx_http_otp_verify_code(ngx_http_request_t *r,
    ngx_http_otp_user_state_t *us)
{
    ngx_int_t                   digits, period, alg, rc;
    ngx_str_t                   secret;
    uint64_t                    matched;
    ngx_uint_t                  others, hotp;
    ngx_http_otp_ep_t          *ep;
    ngx_http_otp_ctx_t         *ctx;
    ngx_http_otp_loc_conf_t    *olcf;

    ctx = ngx_http_get_module_ctx(r, ngx_http_otp_module);
    olcf = ngx_http_get_module_loc_conf(r, ngx_http_otp_module);
    ep = ctx->endpoint;

    ep->hotp = (us->secret.data != NULL && us->type.data != NULL);
    ep->factor = ep->hotp ? NGX_HTTP_OTP_FACTOR_HOTP
                          : NGX_HTTP_OTP_FACTOR_TOTP;
    ep->sealed = us->secret;
    ep->code_ok = 0;
    ngx_str_null(&ep->proof);

    /*
     * No secret (unknown or unenrolled user): the code is checked against
     * a random one all the same, and counts as a wrong code, so that the
     * answer and its timing do not tell these users apart.
     */

    alg = ngx_http_otp_alg_from(&us->alg);
    digits = us->digits;
    period = us->period;

    if (us->secret.data != NULL && alg != NGX_ERROR
        && (digits == 6 || digits == 8) && period > 0)
    {
        if (ngx_http_otp_store_open(r, &ctx->user, &us->secret,
                                    NGX_HTTP_OTP_MAX_SECRET, &secret)
            != NGX_OK)
        {
            ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                          "otp: the secret of user \"%V\" does not open; "
                          "was otp_secret_file changed?", &ctx->user);
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

    } else {
        secret.len = ngx_http_otp_secret_len(NGX_HTTP_OTP_SHA1);
        secret.data = ngx_pnalloc(r->pool, secret.len);
        if (secret.data == NULL
            || ngx_http_otp_random(secret.data, secret.len) != 0)
        {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        ngx_str_null(&ep->sealed);
        ep->hotp = 0;
        ep->factor = NGX_HTTP_OTP_FACTOR_TOTP;
        alg = olcf->totp_algorithm;
        digits = olcf->totp_digits;
        period = olcf->totp_period;
    }

    /* the proof attempt.lua gets: the step or the counter matched */

    if (ep->hotp) {
        rc = ngx_http_otp_hotp_verify(secret.data, secret.len, alg, digits,
                                      us->counter, olcf->hotp_window,
                                      (char *) ep->code.data, ep->code.len,
                                      &matched);
        ep->code_ok = (rc == 1);
        ep->step = matched;

    } else {
        rc = (ngx_http_otp_check_totp(r, &secret, alg, digits, period)
              == NGX_OK) ? 0 : -1;
    }

    ngx_explicit_memzero(secret.data, secret.len);

    if (rc == -1
        || (ep->code_ok
            && ngx_http_otp_store_num(r, &ep->proof, (int64_t) ep->step)
               != NGX_OK))
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    /* the user's other authenticators (SPEC 10), each on its own */

    hotp = 0;

    if (ngx_http_otp_authn_check(r, us, &others, &hotp) != NGX_OK
        || ngx_http_otp_authn_ids(r, us, &ep->others) != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (others && !ep->code_ok) {
        ep->hotp = hotp;
        ep->factor = hotp ? NGX_HTTP_OTP_FACTOR_HOTP
                          : NGX_HTTP_OTP_FACTOR_TOTP;
    }

    ep->step_ttl = period * (2 * olcf->totp_skew + 2);

    return ngx_http_otp_verify_attempt(r);
}


/*
 * A recovery code: its keyed hash is the proof; attempt.lua removes it
 * from the user's codes if it is one of them.  Anything that cannot be
 * a recovery code counts as a wrong one.
 */

static ngx_int_t
ngx_http_otp_verify_recovery(ngx_http_request_t *r)
{
    u_char                    *hex;
    ngx_http_otp_ep_t         *ep;
    ngx_http_otp_ctx_t        *ctx;
    ngx_http_otp_main_conf_t  *omcf;

    ctx = ngx_http_get_module_ctx(r, ngx_http_otp_module);
    omcf = ngx_http_get_module_main_conf(r, ngx_http_otp_module);
    ep = ctx->endpoint;

    ngx_str_null(&ep->proof);

    hex = ngx_pnalloc(r->pool, NGX_HTTP_OTP_RECOVERY_HASH_LEN);
    if (hex == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (ngx_http_otp_recovery_hash(omcf->keys.code, (char *) ctx->user.data,
                                   ctx->user.len, (char *) ep->code.data,
                                   ep->code.len, (char *) hex)
        == 0)
    {
        ep->proof.data = hex;
        ep->proof.len = NGX_HTTP_OTP_RECOVERY_HASH_LEN;
    }

    ngx_str_null(&ep->sealed);
    ep->step_ttl = 1;
    ep->code_ok = 0;

    return ngx_http_otp_verify_attempt(r);
}


/*
 * attempt.lua: the proof (or none: a wrong code), and on success the new
 * session and the remembered browser, in one trip.
 */

static ngx_int_t
ngx_http_otp_verify_attempt(ngx_http_request_t *r)
{
    const char          *kind;
    ngx_str_t            args[15];
    ngx_http_otp_ep_t   *ep;
    ngx_http_otp_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_otp_module);
    ep = ctx->endpoint;

    kind = ngx_http_otp_factor_name(ep->factor);

    args[0] = ctx->user;
    args[1].data = (u_char *) kind;
    args[1].len = ngx_strlen(kind);
    args[2] = ep->proof.data ? ep->proof : (ngx_str_t) ngx_string("");
    args[3] = ep->sealed.data ? ep->sealed : (ngx_str_t) ngx_string("");
    args[14] = ep->others.data ? ep->others : (ngx_str_t) ngx_string("");

    if (ngx_http_otp_limit_args(r, &args[4]) != NGX_OK
        || ngx_http_otp_store_num(r, &args[7], ep->step_ttl) != NGX_OK
        || ngx_http_otp_store_num(r, &args[8], ngx_time()) != NGX_OK
        || ngx_http_otp_attempt_session_args(r, &args[9]) != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "otp verify: %s code, %s", kind,
                   ep->proof.data ? "matched" : "no match");

    return ngx_http_otp_ep_run(r, NGX_HTTP_OTP_ATTEMPT, args, 15,
                               ngx_http_otp_verify_done);
}


static void
ngx_http_otp_verify_done(ngx_http_request_t *r,
    ngx_http_otp_store_reply_t *reply)
{
    ngx_http_otp_ep_t   *ep;

    ep = ngx_http_otp_ep(r);

    if (reply->status != NGX_HTTP_OTP_ST_STALE) {
        ngx_http_otp_attempt_done(r, reply);
        return;
    }

    /* the key changed since it was read: read it again, once */

    if (ep->reread) {
        ngx_http_otp_ep_finish(r, ngx_http_otp_send_unavailable(r));
        return;
    }

    ep->reread = 1;

    ngx_http_otp_ep_finish(r, ngx_http_otp_ep_user_state(r,
                                  ngx_http_otp_verify_user));
}


ngx_int_t
ngx_http_otp_session_start(ngx_http_request_t *r, const char *method,
    ngx_http_otp_store_handler_pt done)
{
    ngx_str_t                 args[6];
    ngx_http_otp_ep_t        *ep;
    ngx_http_otp_ctx_t       *ctx;
    ngx_http_otp_loc_conf_t  *olcf;

    ctx = ngx_http_get_module_ctx(r, ngx_http_otp_module);
    olcf = ngx_http_get_module_loc_conf(r, ngx_http_otp_module);
    ep = ctx->endpoint;

    /* always a new id: a session id planted before is never promoted */

    if (ngx_http_otp_session_new_id(r, &ep->sid) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    args[0] = ctx->user;
    args[4].data = (u_char *) method;
    args[4].len = ngx_strlen(method);

    ctx->method = args[4];
    ctx->auth_time = ngx_time();

    if (ngx_http_otp_store_num(r, &args[1], ngx_time()) != NGX_OK
        || ngx_http_otp_store_num(r, &args[2], olcf->session_idle) != NGX_OK
        || ngx_http_otp_store_num(r, &args[3], olcf->session_ttl) != NGX_OK
        || ngx_http_otp_store_num(r, &args[5], ngx_time()) != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_otp_ep_run(r, NGX_HTTP_OTP_SESSION_NEW, args, 6, done);
}


/* --------------------------------------- HOTP, recovery codes, devices */


/* whether the challenge offers the method a form names */

static ngx_uint_t
ngx_http_otp_offered(ngx_http_otp_loc_conf_t *olcf, ngx_str_t *method)
{
    if (method->len == 0 || ngx_http_otp_is(method, "totp")) {
        return (olcf->methods & NGX_HTTP_OTP_METHOD_TOTP) != 0;
    }

    if (ngx_http_otp_is(method, "recovery")) {
        return (olcf->methods & NGX_HTTP_OTP_METHOD_RECOVERY) != 0;
    }

    return 0;
}

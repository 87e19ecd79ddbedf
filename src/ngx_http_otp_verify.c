
/*
 * The challenge page and its form: GET challenge (a new challenge, or
 * the way to set up a factor) and POST verify with a TOTP, HOTP or
 * recovery code; a right code starts a session and, with "trust this
 * browser" ticked, remembers the device.  Texted codes are in
 * ngx_http_otp_sms.c.
 */


#include "ngx_http_otp_verify.h"
#include "ngx_http_otp_device.h"
#include "ngx_http_otp_endpoint.h"
#include "ngx_http_otp_enroll.h"
#include "ngx_http_otp_metrics.h"
#include "ngx_http_otp_page.h"
#include "ngx_http_otp_recovery.h"
#include "ngx_http_otp_return.h"
#include "ngx_http_otp_session.h"
#include "ngx_http_otp_sms.h"
#include "ngx_http_otp_store.h"
#include "ngx_http_otp_user.h"


#define NGX_HTTP_OTP_CHALLENGE_ID_LEN    16


static void ngx_http_otp_challenge_user(ngx_http_request_t *r,
    ngx_http_otp_store_reply_t *reply);
static void ngx_http_otp_challenge_created(ngx_http_request_t *r,
    ngx_http_otp_store_reply_t *reply);

static void ngx_http_otp_verify_user(ngx_http_request_t *r,
    ngx_http_otp_store_reply_t *reply);
static void ngx_http_otp_verify_attempt(ngx_http_request_t *r,
    ngx_http_otp_store_reply_t *reply);
static void ngx_http_otp_verify_session(ngx_http_request_t *r,
    ngx_http_otp_store_reply_t *reply);
static ngx_int_t ngx_http_otp_verify_passed(ngx_http_request_t *r);

static ngx_uint_t ngx_http_otp_offered(ngx_http_otp_loc_conf_t *olcf,
    ngx_str_t *method);
static ngx_http_otp_metric_e ngx_http_otp_ep_metric(ngx_http_otp_ep_t *ep,
    ngx_http_otp_metric_e totp);
static ngx_int_t ngx_http_otp_verify_hotp(ngx_http_request_t *r,
    ngx_str_t *secret, ngx_http_otp_alg_e alg, ngx_uint_t digits,
    uint64_t counter, ngx_str_t *sealed);
static ngx_int_t ngx_http_otp_verify_recovery(ngx_http_request_t *r);
static ngx_int_t ngx_http_otp_consume(ngx_http_request_t *r,
    const char *kind, ngx_str_t *args, ngx_uint_t nargs);
static ngx_int_t ngx_http_otp_remember_device(ngx_http_request_t *r);
static void ngx_http_otp_device_saved(ngx_http_request_t *r,
    ngx_http_otp_store_reply_t *reply);


static const char  *ngx_http_otp_factors[] = { "totp", "hotp", "recovery" };


/* ----------------------------------------------------------- challenge */


ngx_int_t
ngx_http_otp_challenge(ngx_http_request_t *r)
{
    return ngx_http_otp_ep_user_state(r, ngx_http_otp_challenge_user);
}


static void
ngx_http_otp_challenge_user(ngx_http_request_t *r,
    ngx_http_otp_store_reply_t *reply)
{
    ngx_int_t                  rc;
    ngx_http_otp_ep_t         *ep;
    ngx_http_otp_ctx_t        *ctx;
    ngx_http_otp_loc_conf_t   *olcf;
    ngx_http_otp_user_state_t  us;

    ctx = ngx_http_get_module_ctx(r, ngx_http_otp_module);
    olcf = ngx_http_get_module_loc_conf(r, ngx_http_otp_module);
    ep = ctx->endpoint;

    if (ngx_http_otp_user_state_parse(reply, &us) != NGX_OK) {
        ngx_http_otp_ep_finish(r, ngx_http_otp_send_unavailable(r));
        return;
    }

    ngx_http_otp_sms_user(r, &us);

    if (us.lock_ttl > 0) {
        ctx->status = NGX_HTTP_OTP_STATUS_LOCKED;
        ngx_http_otp_ep_finish(r, ngx_http_otp_send_locked(r, us.lock_ttl));
        return;
    }

    ep->recovery_left = us.recovery;

    /* the challenge a text was sent for, shown again */

    rc = ngx_http_otp_sms_challenge(r, &us);

    if (rc != NGX_DECLINED) {
        ngx_http_otp_ep_finish(r, rc);
        return;
    }

    if ((us.secret.data == NULL && !ngx_http_otp_sms_factor(r, &us))
        || us.must_enroll)
    {

        if (olcf->enroll == NGX_HTTP_OTP_ENROLL_OFF) {
            rc = ngx_http_otp_send_error(r, NGX_HTTP_FORBIDDEN,
                                         "No second factor",
                                         "Your account has no second factor "
                                         "yet. Ask an administrator to set "
                                         "one up for you.");

        } else if (olcf->enroll == NGX_HTTP_OTP_ENROLL_OPTIONAL
                   && !us.must_enroll)
        {
            rc = ngx_http_otp_redirect(r, NGX_HTTP_SEE_OTHER, &ep->ret);

        } else {
            rc = ngx_http_otp_redirect_page(r,
                                            ngx_http_otp_setup_page(olcf));
        }

        ngx_http_otp_ep_finish(r, rc);
        return;
    }

    ngx_http_otp_ep_finish(r, ngx_http_otp_challenge_new(r));
}


ngx_int_t
ngx_http_otp_challenge_new(ngx_http_request_t *r)
{
    u_char               id[NGX_HTTP_OTP_CHALLENGE_ID_LEN];
    ngx_str_t            keys[2], args[2];
    ngx_http_otp_ep_t   *ep;
    ngx_http_otp_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_otp_module);
    ep = ctx->endpoint;

    if (ngx_http_otp_random(id, sizeof(id)) != 0) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ep->challenge.data = ngx_pnalloc(r->pool, NGX_HTTP_OTP_CHALLENGE_B64_LEN);
    if (ep->challenge.data == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ep->challenge.len = ngx_http_otp_b64url_encode(id, sizeof(id),
                                               (char *) ep->challenge.data);

    ngx_str_set(&keys[0], "c");
    keys[1] = ep->challenge;

    args[0] = ctx->user;
    ngx_str_set(&args[1], "600");

    return ngx_http_otp_ep_run(r, NGX_HTTP_OTP_CHALLENGE_NEW, keys, 1, args,
                               2, ngx_http_otp_challenge_created);
}


static void
ngx_http_otp_challenge_created(ngx_http_request_t *r,
    ngx_http_otp_store_reply_t *reply)
{
    ngx_http_otp_ep_t   *ep;
    ngx_http_otp_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_otp_module);
    ep = ctx->endpoint;

    if (reply == NULL || !ngx_http_otp_is(&reply->status, "ok")) {
        /* "exists": 128 random bits collided, or Redis failed */
        ngx_http_otp_ep_finish(r, ngx_http_otp_send_unavailable(r));
        return;
    }

    ctx->status = NGX_HTTP_OTP_STATUS_CHALLENGED;
    ngx_http_otp_metric_inc(NGX_HTTP_OTP_M_CHALLENGES);

    ngx_http_otp_ep_finish(r, ngx_http_otp_challenge_page(r,
                                   ep->error ? NGX_HTTP_UNAUTHORIZED
                                             : NGX_HTTP_OK));
}


ngx_int_t
ngx_http_otp_challenge_page(ngx_http_request_t *r, ngx_uint_t status)
{
    u_char                    *p;
    ngx_int_t                  rc;
    ngx_str_t                  csrf, ret_q, left, days;
    ngx_uint_t                 recovery;
    ngx_http_otp_ep_t         *ep;
    ngx_http_otp_ctx_t        *ctx;
    ngx_http_otp_loc_conf_t   *olcf;
    ngx_http_otp_page_vars_t   pv;

    ctx = ngx_http_get_module_ctx(r, ngx_http_otp_module);
    olcf = ngx_http_get_module_loc_conf(r, ngx_http_otp_module);
    ep = ctx->endpoint;

    if (ngx_http_otp_csrf_make(r, &ep->challenge, &csrf) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    p = ngx_pnalloc(r->pool, ngx_http_otp_return_encoded_len(ep->ret.len));
    if (p == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ret_q.data = p;
    ret_q.len = ngx_http_otp_return_encode((char *) ep->ret.data,
                                           ep->ret.len, (char *) p);

    pv.nvars = 0;

    ngx_http_otp_page_var(&pv, "user", &ctx->user);
    ngx_http_otp_page_var(&pv, "csrf", &csrf);
    ngx_http_otp_page_var(&pv, "return", &ep->ret);
    ngx_http_otp_page_var(&pv, "return_q", &ret_q);

    /* NGX_OK: the page asks for a texted code */

    rc = ngx_http_otp_sms_page_vars(r, &pv);

    if (rc == NGX_ERROR) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    /*
     * Recovery codes: offered while the user has some.  The page after a
     * wrong code offers them and leaves out the count, so that it is the
     * same whatever the user has (SPEC 6.10).
     */

    recovery = (olcf->methods & NGX_HTTP_OTP_METHOD_RECOVERY)
               && (ep->recovery_left > 0 || ep->error);

    if (rc == NGX_OK) {
        /* ngx_http_otp_sms_page_vars() set the method */

    } else if (recovery && ngx_http_otp_is(&ep->method, "recovery")) {
        ngx_http_otp_page_var_cstr(&pv, "method", "recovery");
        ngx_http_otp_page_var_cstr(&pv, "method_recovery", "1");

        if (ep->error == NULL) {
            if (ngx_http_otp_store_num(r, &left, ep->recovery_left)
                != NGX_OK)
            {
                return NGX_HTTP_INTERNAL_SERVER_ERROR;
            }

            ngx_http_otp_page_var(&pv, "recovery_left", &left);
        }

    } else {
        ngx_http_otp_page_var_cstr(&pv, "method", "totp");
        ngx_http_otp_page_var_cstr(&pv, "method_totp", "1");
        ngx_http_otp_page_var_cstr(&pv, "numeric", "1");
    }

    if (!ngx_http_otp_sms_no_totp(r)) {
        ngx_http_otp_page_var_cstr(&pv, "has_totp", "1");
    }

    if (recovery) {
        ngx_http_otp_page_var_cstr(&pv, "has_recovery", "1");
    }

    /* otp_remember_device: "trust this browser for N days" */

    if (olcf->remember) {
        if (ngx_http_otp_store_num(r, &days,
                                   ngx_max((olcf->remember + 43200) / 86400,
                                           1))
            != NGX_OK)
        {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        ngx_http_otp_page_var_cstr(&pv, "remember_device", "1");
        ngx_http_otp_page_var(&pv, "remember_days", &days);
    }

    if (ep->error) {
        ngx_http_otp_page_var_cstr(&pv, "error", ep->error);
    }

    return ngx_http_otp_send_page(r, status, NGX_HTTP_OTP_PAGE_CHALLENGE,
                                  &pv);
}


/* -------------------------------------------------------------- verify */


ngx_int_t
ngx_http_otp_verify(ngx_http_request_t *r)
{
    ngx_http_otp_ep_t        *ep;
    ngx_http_otp_ctx_t       *ctx;
    ngx_http_otp_loc_conf_t  *olcf;

    ctx = ngx_http_get_module_ctx(r, ngx_http_otp_module);
    olcf = ngx_http_get_module_loc_conf(r, ngx_http_otp_module);
    ep = ctx->endpoint;

    /* the token is "<challenge id>.<CSRF token bound to it>" */

    if (ep->csrf.len <= NGX_HTTP_OTP_CHALLENGE_B64_LEN
        || ep->csrf.data[NGX_HTTP_OTP_CHALLENGE_B64_LEN] != '.')
    {
        goto forbidden;
    }

    ep->challenge.data = ep->csrf.data;
    ep->challenge.len = NGX_HTTP_OTP_CHALLENGE_B64_LEN;

    if (ngx_http_otp_csrf_valid(r, &ep->challenge,
                                NGX_HTTP_OTP_CHALLENGE_TTL)
        != NGX_OK)
    {
        goto forbidden;
    }

    if (ngx_http_otp_is(&ep->method, "sms")) {
        return ngx_http_otp_sms_verify(r);
    }

    if (!ngx_http_otp_offered(olcf, &ep->method)) {
        return ngx_http_otp_send_error(r, NGX_HTTP_BAD_REQUEST,
                                       "Bad request",
                                       "This sign-in method is not offered "
                                       "here.");
    }

    return ngx_http_otp_ep_user_state(r, ngx_http_otp_verify_user);

forbidden:

    ctx->status = NGX_HTTP_OTP_STATUS_DENIED;

    return ngx_http_otp_send_error(r, NGX_HTTP_FORBIDDEN, "Request refused",
                                   "This form has expired or was not sent "
                                   "from the sign-in page. Go back and "
                                   "reload it.");
}


static void
ngx_http_otp_verify_user(ngx_http_request_t *r,
    ngx_http_otp_store_reply_t *reply)
{
    ngx_int_t                  digits, period, alg;
    ngx_str_t                  secret, keys[8], args[7];
    ngx_http_otp_ep_t         *ep;
    ngx_http_otp_ctx_t        *ctx;
    ngx_http_otp_loc_conf_t   *olcf;
    ngx_http_otp_user_state_t  us;

    ctx = ngx_http_get_module_ctx(r, ngx_http_otp_module);
    olcf = ngx_http_get_module_loc_conf(r, ngx_http_otp_module);
    ep = ctx->endpoint;

    if (ngx_http_otp_user_state_parse(reply, &us) != NGX_OK) {
        ngx_http_otp_ep_finish(r, ngx_http_otp_send_unavailable(r));
        return;
    }

    ngx_http_otp_sms_user(r, &us);

    ep->recovery_left = us.recovery;
    ep->hotp = (us.secret.data != NULL && us.hotp);
    ep->factor = ngx_http_otp_is(&ep->method, "recovery")
                 ? NGX_HTTP_OTP_FACTOR_RECOVERY
                 : ep->hotp ? NGX_HTTP_OTP_FACTOR_HOTP
                            : NGX_HTTP_OTP_FACTOR_TOTP;

    if (us.lock_ttl > 0) {
        ctx->status = NGX_HTTP_OTP_STATUS_LOCKED;
        ngx_http_otp_metric_inc(ngx_http_otp_ep_metric(ep,
                                    NGX_HTTP_OTP_M_TOTP_LOCKED));
        ngx_http_otp_ep_finish(r, ngx_http_otp_send_locked(r, us.lock_ttl));
        return;
    }

    /* an administrator asked for a new authenticator: the old one is done */

    if (us.secret.data != NULL && us.must_enroll) {
        ngx_http_otp_ep_finish(r, ngx_http_otp_redirect_page(r, "enroll"));
        return;
    }

    if (ep->factor == NGX_HTTP_OTP_FACTOR_RECOVERY) {
        ngx_http_otp_ep_finish(r, ngx_http_otp_verify_recovery(r));
        return;
    }

    /*
     * No secret (unknown or unenrolled user): the code is checked against
     * a random one all the same, and counts as a wrong code, so that the
     * answer and its timing do not tell these users apart.
     */

    ep->code_ok = 0;
    alg = ngx_http_otp_alg_from(&us.alg);
    digits = us.digits;
    period = us.period;

    if (us.secret.data != NULL && alg != NGX_ERROR
        && (digits == 6 || digits == 8) && period > 0)
    {
        if (ngx_http_otp_store_open(r, &ctx->user, &us.secret,
                                    NGX_HTTP_OTP_MAX_SECRET, &secret)
            != NGX_OK)
        {
            ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                          "otp: the secret of user \"%V\" does not open; "
                          "was otp_secret_file changed?", &ctx->user);
            ngx_http_otp_ep_finish(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
            return;
        }

        if (ep->hotp) {
            ngx_http_otp_ep_finish(r, ngx_http_otp_verify_hotp(r, &secret,
                                          alg, digits, us.counter,
                                          &us.secret));
            return;
        }

    } else {
        secret.len = ngx_http_otp_secret_len(NGX_HTTP_OTP_SHA1);
        secret.data = ngx_pnalloc(r->pool, secret.len);
        if (secret.data == NULL
            || ngx_http_otp_random(secret.data, secret.len) != 0)
        {
            ngx_http_otp_ep_finish(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
            return;
        }

        alg = olcf->totp_algorithm;
        digits = olcf->totp_digits;
        period = olcf->totp_period;
    }

    if (ngx_http_otp_check_totp(r, &secret, alg, digits, period) != NGX_OK) {
        ngx_http_otp_ep_finish(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    ngx_explicit_memzero(secret.data, secret.len);

    ngx_str_set(&keys[0], "c");
    keys[1] = ep->challenge;
    ngx_str_set(&keys[2], "f");
    keys[3] = ctx->user;
    ngx_str_set(&keys[4], "l");
    keys[5] = ctx->user;
    ngx_str_set(&keys[6], "t");
    keys[7] = ctx->user;

    if (ngx_http_otp_attempt_args(r, args) != NGX_OK) {
        ngx_http_otp_ep_finish(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    if (ngx_http_otp_store_num(r, &args[6], period * (2 * olcf->totp_skew
                                                      + 2))
        != NGX_OK)
    {
        ngx_http_otp_ep_finish(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    ngx_http_otp_ep_finish(r, ngx_http_otp_ep_run(r, NGX_HTTP_OTP_ATTEMPT,
                                                  keys, 4, args, 7,
                                                  ngx_http_otp_verify_attempt));
}


static void
ngx_http_otp_verify_attempt(ngx_http_request_t *r,
    ngx_http_otp_store_reply_t *reply)
{
    ngx_int_t            secs;
    ngx_http_otp_ep_t   *ep;
    ngx_http_otp_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_otp_module);
    ep = ctx->endpoint;

    if (reply == NULL) {
        ngx_http_otp_ep_finish(r, ngx_http_otp_send_unavailable(r));
        return;
    }

    if (ngx_http_otp_is(&reply->status, "ok")) {
        ngx_http_otp_metric_inc(ngx_http_otp_ep_metric(ep,
                                    NGX_HTTP_OTP_M_TOTP_OK));

        if (ep->factor == NGX_HTTP_OTP_FACTOR_RECOVERY) {
            ep->recovery_left = ngx_max(ngx_http_otp_store_int(reply, 0), 0);
        }

        ngx_http_otp_ep_finish(r, ngx_http_otp_session_start(r,
                                      ngx_http_otp_factors[ep->factor]));
        return;
    }

    if (ngx_http_otp_is(&reply->status, "locked")) {
        secs = ngx_http_otp_store_int(reply, 0);
        ngx_http_otp_metric_inc(ngx_http_otp_ep_metric(ep,
                                    NGX_HTTP_OTP_M_TOTP_LOCKED));
        ngx_http_otp_metric_lockout(reply);
        ngx_http_otp_log_failure(r, "wrong code, now locked");
        ctx->status = NGX_HTTP_OTP_STATUS_LOCKED;
        ngx_http_otp_ep_finish(r, ngx_http_otp_send_locked(r,
                                       secs > 0 ? secs : 60));
        return;
    }

    if (ngx_http_otp_is(&reply->status, "burnt")) {
        ngx_http_otp_metric_inc(ngx_http_otp_ep_metric(ep,
                                    NGX_HTTP_OTP_M_TOTP_BURNT));
        ngx_http_otp_log_failure(r, "wrong code, challenge burnt");
        ctx->status = NGX_HTTP_OTP_STATUS_DENIED;
        ngx_http_otp_ep_finish(r,
            ngx_http_otp_send_error(r, NGX_HTTP_TOO_MANY_REQUESTS,
                                    "Too many wrong codes",
                                    "Too many wrong codes for this sign-in. "
                                    "Start again from the page you "
                                    "wanted."));
        return;
    }

    if (ngx_http_otp_is(&reply->status, "no_challenge")) {
        ngx_http_otp_metric_inc(ngx_http_otp_ep_metric(ep,
                                    NGX_HTTP_OTP_M_TOTP_EXPIRED));
        ep->error = "This sign-in page has expired. Enter a new code.";
        ngx_http_otp_ep_finish(r, ngx_http_otp_challenge_new(r));
        return;
    }

    /* "wrong", a replayed step included */

    ngx_http_otp_metric_inc(ngx_http_otp_ep_metric(ep,
                                NGX_HTTP_OTP_M_TOTP_WRONG));
    ngx_http_otp_log_failure(r, "wrong code");
    ctx->status = NGX_HTTP_OTP_STATUS_CHALLENGED;
    ep->error = (ep->factor == NGX_HTTP_OTP_FACTOR_RECOVERY)
                ? "That recovery code did not work. Each code works "
                  "only once: check it and try another one."
                : "That code did not work. Check your authenticator app "
                  "and try again.";

    ngx_http_otp_ep_finish(r, ngx_http_otp_challenge_page(r,
                                                  NGX_HTTP_UNAUTHORIZED));
}


ngx_int_t
ngx_http_otp_session_start(ngx_http_request_t *r, const char *method)
{
    ngx_str_t                 keys[6], args[6];
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

    ngx_str_set(&keys[0], "s");
    keys[1].data = ep->sid.hash;
    keys[1].len = NGX_HTTP_OTP_SID_HASH_LEN;
    ngx_str_set(&keys[2], "su");
    keys[3] = ctx->user;
    ngx_str_set(&keys[4], "u");
    keys[5] = ctx->user;

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

    return ngx_http_otp_ep_run(r, NGX_HTTP_OTP_SESSION_NEW, keys, 3, args, 6,
                               ep->action == NGX_HTTP_OTP_VERIFY
                               ? ngx_http_otp_verify_session
                               : ngx_http_otp_enroll_session_created);
}


static void
ngx_http_otp_verify_session(ngx_http_request_t *r,
    ngx_http_otp_store_reply_t *reply)
{
    ngx_http_otp_ep_t        *ep;
    ngx_http_otp_ctx_t       *ctx;
    ngx_http_otp_loc_conf_t  *olcf;

    ctx = ngx_http_get_module_ctx(r, ngx_http_otp_module);
    olcf = ngx_http_get_module_loc_conf(r, ngx_http_otp_module);
    ep = ctx->endpoint;

    if (reply == NULL || !ngx_http_otp_is(&reply->status, "ok")) {
        /* no session in Redis: no cookie either */
        ngx_http_otp_ep_finish(r, ngx_http_otp_send_unavailable(r));
        return;
    }

    if (ep->remember && olcf->remember) {
        ngx_http_otp_ep_finish(r, ngx_http_otp_remember_device(r));
        return;
    }

    ngx_http_otp_ep_finish(r, ngx_http_otp_verify_passed(r));
}


static ngx_int_t
ngx_http_otp_verify_passed(ngx_http_request_t *r)
{
    ngx_str_t            url;
    ngx_http_otp_ep_t   *ep;
    ngx_http_otp_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_otp_module);
    ep = ctx->endpoint;

    if (ngx_http_otp_session_set_cookie(r, &ep->sid) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ctx->status = NGX_HTTP_OTP_STATUS_PASSED;

    ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                  "otp: user \"%V\" passed with %V", &ctx->user,
                  &ctx->method);

    /* the last recovery code is gone: on to making new ones */

    if (ep->factor == NGX_HTTP_OTP_FACTOR_RECOVERY
        && ep->recovery_left == 0)
    {
        if (ngx_http_otp_page_url(r, "recovery", &url) != NGX_OK) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        return ngx_http_otp_redirect(r, NGX_HTTP_SEE_OTHER, &url);
    }

    return ngx_http_otp_redirect(r, NGX_HTTP_SEE_OTHER, &ep->ret);
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


/* a TOTP counter of verifications, moved to the factor checked */

static ngx_http_otp_metric_e
ngx_http_otp_ep_metric(ngx_http_otp_ep_t *ep, ngx_http_otp_metric_e totp)
{
    switch (ep->factor) {

    case NGX_HTTP_OTP_FACTOR_HOTP:
        return NGX_HTTP_OTP_M_HOTP_OK + (totp - NGX_HTTP_OTP_M_TOTP_OK);

    case NGX_HTTP_OTP_FACTOR_RECOVERY:
        return NGX_HTTP_OTP_M_RECOVERY_OK + (totp - NGX_HTTP_OTP_M_TOTP_OK);

    default:
        return totp;
    }
}


/*
 * An HOTP code: the counters from the user's to otp_hotp_window past it
 * are checked here; attempt_consume.lua takes the one matched if it is
 * still ahead of the user's counter, and moves the counter past it.
 */

static ngx_int_t
ngx_http_otp_verify_hotp(ngx_http_request_t *r, ngx_str_t *secret,
    ngx_http_otp_alg_e alg, ngx_uint_t digits, uint64_t counter,
    ngx_str_t *sealed)
{
    int                       rc;
    uint64_t                  matched;
    ngx_str_t                 args[7];
    ngx_http_otp_ep_t        *ep;
    ngx_http_otp_ctx_t       *ctx;
    ngx_http_otp_loc_conf_t  *olcf;

    ctx = ngx_http_get_module_ctx(r, ngx_http_otp_module);
    olcf = ngx_http_get_module_loc_conf(r, ngx_http_otp_module);
    ep = ctx->endpoint;

    rc = ngx_http_otp_hotp_verify(secret->data, secret->len, alg, digits,
                                  counter, olcf->hotp_window,
                                  (char *) ep->code.data, ep->code.len,
                                  &matched);

    ngx_explicit_memzero(secret->data, secret->len);

    if (rc == -1) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_str_set(&args[2], "");

    if (rc == 1
        && ngx_http_otp_store_num(r, &args[2], (int64_t) matched) != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    args[6] = *sealed;

    return ngx_http_otp_consume(r, "hotp", args, 7);
}


/*
 * A recovery code: its keyed hash goes to attempt_consume.lua, which
 * removes it from the user's codes if it is one of them.  Anything that
 * cannot be a recovery code counts as a wrong one.
 */

static ngx_int_t
ngx_http_otp_verify_recovery(ngx_http_request_t *r)
{
    u_char                    *hex;
    ngx_str_t                  args[6];
    ngx_http_otp_ep_t         *ep;
    ngx_http_otp_ctx_t        *ctx;
    ngx_http_otp_main_conf_t  *omcf;

    ctx = ngx_http_get_module_ctx(r, ngx_http_otp_module);
    omcf = ngx_http_get_module_main_conf(r, ngx_http_otp_module);
    ep = ctx->endpoint;

    hex = ngx_pnalloc(r->pool, NGX_HTTP_OTP_RECOVERY_HASH_LEN);
    if (hex == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    args[2].data = hex;
    args[2].len = NGX_HTTP_OTP_RECOVERY_HASH_LEN;

    if (ngx_http_otp_recovery_hash(omcf->keys.code, (char *) ctx->user.data,
                                   ctx->user.len, (char *) ep->code.data,
                                   ep->code.len, (char *) hex)
        != 0)
    {
        ngx_str_set(&args[2], "");
    }

    return ngx_http_otp_consume(r, "recovery", args, 6);
}


/*
 * attempt_consume.lua on the form's challenge, for kind "hotp" or
 * "recovery"; the caller has set the proof (args[2]) and, for HOTP, the
 * sealed secret (args[6]).
 */

static ngx_int_t
ngx_http_otp_consume(ngx_http_request_t *r, const char *kind,
    ngx_str_t *args, ngx_uint_t nargs)
{
    ngx_str_t            keys[8];
    ngx_http_otp_ep_t   *ep;
    ngx_http_otp_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_otp_module);
    ep = ctx->endpoint;

    ngx_str_set(&keys[0], "c");
    keys[1] = ep->challenge;
    ngx_str_set(&keys[2], "f");
    keys[3] = ctx->user;
    ngx_str_set(&keys[4], "l");
    keys[5] = ctx->user;
    ngx_str_set(&keys[6], "u");
    keys[7] = ctx->user;

    args[0] = ctx->user;
    args[1].data = (u_char *) kind;
    args[1].len = ngx_strlen(kind);

    if (ngx_http_otp_limit_args(r, &args[3]) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_otp_ep_run(r, NGX_HTTP_OTP_ATTEMPT_CONSUME, keys, 4,
                               args, nargs, ngx_http_otp_verify_attempt);
}


/* "trust this browser": the device is remembered before its cookie */

static ngx_int_t
ngx_http_otp_remember_device(ngx_http_request_t *r)
{
    ngx_int_t                 rc;
    ngx_str_t                 keys[2], args[4];
    ngx_http_otp_ep_t        *ep;
    ngx_http_otp_ctx_t       *ctx;
    ngx_http_otp_loc_conf_t  *olcf;

    ctx = ngx_http_get_module_ctx(r, ngx_http_otp_module);
    olcf = ngx_http_get_module_loc_conf(r, ngx_http_otp_module);
    ep = ctx->endpoint;

    rc = ngx_http_otp_device_new(r, &ctx->user, olcf->remember, &ep->device);

    if (rc == NGX_DECLINED) {
        /* a user name too long for a cookie: no device, a session */
        return ngx_http_otp_verify_passed(r);
    }

    if (rc != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_str_set(&keys[0], "d");
    keys[1] = ctx->user;

    args[0].data = ep->device.id;
    args[0].len = sizeof(ep->device.id);

    if (ngx_http_otp_store_num(r, &args[1], ep->device.expires) != NGX_OK
        || ngx_http_otp_store_num(r, &args[2], ngx_time()) != NGX_OK
        || ngx_http_otp_store_num(r, &args[3], NGX_HTTP_OTP_DEVICE_MAX)
           != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_otp_ep_run(r, NGX_HTTP_OTP_DEVICE_NEW, keys, 1, args, 4,
                               ngx_http_otp_device_saved);
}


static void
ngx_http_otp_device_saved(ngx_http_request_t *r,
    ngx_http_otp_store_reply_t *reply)
{
    ngx_http_otp_ep_t   *ep;
    ngx_http_otp_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_otp_module);
    ep = ctx->endpoint;

    if (reply == NULL || !ngx_http_otp_is(&reply->status, "ok")) {
        ngx_http_otp_ep_finish(r, ngx_http_otp_send_unavailable(r));
        return;
    }

    if (ngx_http_otp_device_set_cookie(r, &ep->device) != NGX_OK) {
        ngx_http_otp_ep_finish(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                  "otp: user \"%V\" trusts this browser", &ctx->user);

    ngx_http_otp_ep_finish(r, ngx_http_otp_verify_passed(r));
}

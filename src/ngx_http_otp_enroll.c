
/*
 * Enrollment: GET enroll shows a new key (QR code, otpauth URI and the
 * key in base32) for a user with no factor, or within a session for one
 * who has; POST enroll takes the key's first code, stores the key and
 * new recovery codes, starts a session and shows the codes once.
 *
 * A pending enrollment belongs to the browser that started it (SPEC
 * 6.15): the browser's enroll cookie ("<otp_cookie name>_enroll", 16
 * random bytes) names it, by a keyed hash of the cookie, and no other
 * browser sees its secret or confirms it.  A user has at most
 * NGX_HTTP_OTP_ENROLL_MOST pending (SPEC 6.17).
 */


#include "ngx_http_otp_enroll.h"
#include "ngx_http_otp_account.h"
#include "ngx_http_otp_authn.h"
#include "ngx_http_otp_base32.h"
#include "ngx_http_otp_lost.h"
#include "ngx_http_otp_metrics.h"
#include "ngx_http_otp_page.h"
#include "ngx_http_otp_page_flow.h"
#include "ngx_http_otp_qr.h"
#include "ngx_http_otp_recovery_page.h"
#include "ngx_http_otp_session.h"
#include "ngx_http_otp_sms.h"
#include "ngx_http_otp_store.h"
#include "ngx_http_otp_uri.h"
#include "ngx_http_otp_verify.h"


#define NGX_HTTP_OTP_ENROLL_ID_LEN    16
#define NGX_HTTP_OTP_ENROLL_MOST      5


static void ngx_http_otp_enroll_user(ngx_http_request_t *r,
    ngx_http_otp_store_reply_t *reply);
static void ngx_http_otp_enroll_session(ngx_http_request_t *r,
    ngx_http_otp_store_reply_t *reply);
static ngx_int_t ngx_http_otp_enroll_begin(ngx_http_request_t *r);
static ngx_int_t ngx_http_otp_enroll_id(ngx_http_request_t *r);
static ngx_int_t ngx_http_otp_enroll_busy(ngx_http_request_t *r,
    ngx_int_t secs);
static ngx_int_t ngx_http_otp_enroll_full(ngx_http_request_t *r);
static void ngx_http_otp_enroll_pending(ngx_http_request_t *r,
    ngx_http_otp_store_reply_t *reply);
static void ngx_http_otp_enroll_confirmed(ngx_http_request_t *r,
    ngx_http_otp_store_reply_t *reply);
static void ngx_http_otp_enroll_session_created(ngx_http_request_t *r,
    ngx_http_otp_store_reply_t *reply);
static ngx_int_t ngx_http_otp_enroll_page(ngx_http_request_t *r,
    ngx_uint_t status, ngx_str_t *secret, ngx_http_otp_alg_e alg,
    ngx_uint_t digits, ngx_uint_t period);


ngx_int_t
ngx_http_otp_enroll(ngx_http_request_t *r)
{
    ngx_str_t            binding = ngx_string("enroll"), add;
    ngx_http_otp_ep_t   *ep;
    ngx_http_otp_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_otp_module);
    ep = ctx->endpoint;

    if (ep->action == NGX_HTTP_OTP_ENROLL_POST
        && ngx_http_otp_csrf_valid(r, &binding, NGX_HTTP_OTP_ENROLL_TTL)
           != NGX_OK)
    {
        ctx->status = NGX_HTTP_OTP_STATUS_DENIED;
        return ngx_http_otp_send_error(r, NGX_HTTP_FORBIDDEN,
                                       "Request refused",
                                       "This form has expired or was not "
                                       "sent from the setup page. Go back "
                                       "and reload it.");
    }

    ep->has_cookie = (ngx_http_otp_session_from_cookie(r, &ep->old_sid)
                      == NGX_OK);

    /* enroll?add=1: one more authenticator (SPEC 4), with its name */

    if (ep->action == NGX_HTTP_OTP_ENROLL_FORM
        && ngx_http_arg(r, (u_char *) "add", 3, &add) == NGX_OK)
    {
        ep->add = (add.len == 1 && add.data[0] == '1');
    }

    if (ep->aname.len
        && ngx_http_otp_authn_name_valid(&ep->aname) != NGX_OK)
    {
        return ngx_http_otp_send_error(r, NGX_HTTP_BAD_REQUEST,
                                       "Bad request",
                                       "Give the authenticator a name of "
                                       "at most 64 characters.");
    }

    return ngx_http_otp_ep_user_state(r, ngx_http_otp_enroll_user);
}


static void
ngx_http_otp_enroll_user(ngx_http_request_t *r,
    ngx_http_otp_store_reply_t *reply)
{
    ngx_int_t                   rc;
    ngx_http_otp_ep_t          *ep;
    ngx_http_otp_ctx_t         *ctx;
    ngx_http_otp_loc_conf_t    *olcf;
    ngx_http_otp_user_state_t  *us;

    ctx = ngx_http_get_module_ctx(r, ngx_http_otp_module);
    olcf = ngx_http_get_module_loc_conf(r, ngx_http_otp_module);
    ep = ctx->endpoint;

    us = &((ngx_http_otp_user_reply_t *) reply)->user;

    if (us->lock_ttl > 0) {
        ctx->status = NGX_HTTP_OTP_STATUS_LOCKED;
        ngx_http_otp_ep_finish(r, ngx_http_otp_send_locked(r, us->lock_ttl));
        return;
    }

    if (olcf->enroll == NGX_HTTP_OTP_ENROLL_OFF) {
        ngx_http_otp_ep_finish(r,
            ngx_http_otp_send_error(r, NGX_HTTP_FORBIDDEN,
                                    "Setup is done by an administrator",
                                    "Ask an administrator to set up your "
                                    "second factor."));
        return;
    }

    if ((us->secret.data == NULL && !ngx_http_otp_sms_factor(r, us))
        || us->must_enroll)
    {
        ngx_http_otp_ep_finish(r, ngx_http_otp_lost_check(r,
                                      ngx_http_otp_enroll_begin));
        return;
    }

    /* asked to enroll again: the new one replaces them all */

    if (us->must_enroll) {
        ep->add = 0;
    }

    if (ep->add
        && ngx_http_otp_authn_count(us) >= NGX_HTTP_OTP_AUTHN_MOST)
    {
        ngx_http_otp_ep_finish(r, ngx_http_otp_enroll_full(r));
        return;
    }

    /*
     * Already enrolled: a new authenticator replaces the old ones, or
     * (add) joins them, only within a session whose code is fresh (SPEC
     * 6.14), never through the first factor alone.  enroll_confirm.lua
     * checks that session again in the step that commits.
     */

    ep->fresh = 1;

    rc = ngx_http_otp_ep_session_check(r, ngx_http_otp_enroll_session);

    ngx_http_otp_ep_finish(r, rc == NGX_DECLINED
                              ? ngx_http_otp_step_up(r, "enroll") : rc);
}


static void
ngx_http_otp_enroll_session(ngx_http_request_t *r,
    ngx_http_otp_store_reply_t *reply)
{
    ngx_int_t  rc;

    rc = ngx_http_otp_ep_fresh(r, reply, "enroll");

    ngx_http_otp_ep_finish(r, rc == NGX_DECLINED
                              ? ngx_http_otp_lost_check(r,
                                    ngx_http_otp_enroll_begin)
                              : rc);
}


static ngx_int_t
ngx_http_otp_enroll_begin(ngx_http_request_t *r)
{
    size_t                    len;
    u_char                    secret[NGX_HTTP_OTP_MAX_SECRET];
    ngx_str_t                 args[7], sealed;
    ngx_http_otp_ctx_t       *ctx;
    ngx_http_otp_loc_conf_t  *olcf;
    ngx_http_otp_main_conf_t *omcf;

    static const char  *algs[] = { "sha1", "sha256", "sha512" };

    ctx = ngx_http_get_module_ctx(r, ngx_http_otp_module);
    olcf = ngx_http_get_module_loc_conf(r, ngx_http_otp_module);
    omcf = ngx_http_get_module_main_conf(r, ngx_http_otp_module);

    if (ngx_http_otp_enroll_id(r) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    /*
     * A fresh secret, sealed to this user; the script keeps the one
     * this browser has pending, if any, so that a reload shows the same
     * QR code.
     */

    len = ngx_http_otp_secret_len(olcf->totp_algorithm);

    sealed.len = len + NGX_HTTP_OTP_SEAL_OVERHEAD;
    sealed.data = ngx_pnalloc(r->pool, sealed.len);
    if (sealed.data == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (ngx_http_otp_random(secret, len) != 0
        || ngx_http_otp_seal(omcf->keys.seal, ctx->user.data, ctx->user.len,
                             secret, len, sealed.data)
           != 0)
    {
        ngx_explicit_memzero(secret, sizeof(secret));
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_explicit_memzero(secret, sizeof(secret));

    args[0] = sealed;
    args[1].data = (u_char *) algs[olcf->totp_algorithm];
    args[1].len = ngx_strlen(algs[olcf->totp_algorithm]);

    if (ngx_http_otp_store_num(r, &args[2], olcf->totp_digits) != NGX_OK
        || ngx_http_otp_store_num(r, &args[3], olcf->totp_period) != NGX_OK
        || ngx_http_otp_store_num(r, &args[4], NGX_HTTP_OTP_ENROLL_TTL)
           != NGX_OK
        || ngx_http_otp_store_num(r, &args[6], NGX_HTTP_OTP_ENROLL_MOST)
           != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (olcf->enroll_type == NGX_HTTP_OTP_TYPE_HOTP) {
        ngx_str_set(&args[5], "hotp");

    } else {
        ngx_str_set(&args[5], "totp");
    }

    return ngx_http_otp_ep_run(r, NGX_HTTP_OTP_ENROLL_BEGIN, args, 7,
                               ngx_http_otp_enroll_pending);
}


/*
 * The browser's enrollment id: the one its enroll cookie carries, or a
 * new one (the cookie is set when the script makes its enrollment), and
 * its keyed hash, the id of the key P{u}:e:<hash>.  Redis never sees the
 * cookie, as it never sees a session's.
 */

static ngx_int_t
ngx_http_otp_enroll_id(ngx_http_request_t *r)
{
    u_char                     id[NGX_HTTP_OTP_ENROLL_ID_LEN],
                               msg[sizeof("enroll") - 1
                                   + NGX_HTTP_OTP_ENROLL_ID_LEN],
                               mac[NGX_HTTP_OTP_MAC_LEN];
    size_t                     len;
    ngx_str_t                  name, value;
    ngx_http_otp_ep_t         *ep;
    ngx_http_otp_ctx_t        *ctx;
    ngx_http_otp_main_conf_t  *omcf;

    ctx = ngx_http_get_module_ctx(r, ngx_http_otp_module);
    omcf = ngx_http_get_module_main_conf(r, ngx_http_otp_module);
    ep = ctx->endpoint;

    if (ep->enroll_hash.len) {
        return NGX_OK;
    }

    if (ngx_http_otp_ep_cookie_name(r, "_enroll", &name) != NGX_OK) {
        return NGX_ERROR;
    }

    if (ngx_http_otp_get_cookie(r, &name, &value) != NGX_OK
        || value.len
           != ngx_http_otp_b64url_encoded_len(NGX_HTTP_OTP_ENROLL_ID_LEN)
        || ngx_http_otp_b64url_decode((char *) value.data, value.len, id,
                                      &len)
           != 0
        || len != NGX_HTTP_OTP_ENROLL_ID_LEN)
    {
        if (ngx_http_otp_random(id, sizeof(id)) != 0) {
            return NGX_ERROR;
        }
    }

    ep->enroll_cookie.data = ngx_pnalloc(r->pool,
                        ngx_http_otp_b64url_encoded_len(sizeof(id)));
    ep->enroll_hash.data = ngx_pnalloc(r->pool, 2 * NGX_HTTP_OTP_MAC_LEN);
    if (ep->enroll_cookie.data == NULL || ep->enroll_hash.data == NULL) {
        return NGX_ERROR;
    }

    ep->enroll_cookie.len = ngx_http_otp_b64url_encode(id, sizeof(id),
                                        (char *) ep->enroll_cookie.data);

    ngx_memcpy(ngx_cpymem(msg, "enroll", sizeof("enroll") - 1), id,
               sizeof(id));

    if (ngx_http_otp_hmac(omcf->keys.cookie, msg, sizeof(msg), mac) != 0) {
        return NGX_ERROR;
    }

    ep->enroll_hash.len = ngx_hex_dump(ep->enroll_hash.data, mac,
                                       sizeof(mac))
                          - ep->enroll_hash.data;

    ngx_explicit_memzero(id, sizeof(id));
    ngx_explicit_memzero(msg, sizeof(msg));

    return NGX_OK;
}


/* SPEC 6.17: the most pending enrollments; a 429 for this user alone */

static ngx_int_t
ngx_http_otp_enroll_busy(ngx_http_request_t *r, ngx_int_t secs)
{
    u_char              *p;
    ngx_str_t            retry;
    ngx_http_otp_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_otp_module);

    ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                  "otp: user \"%V\" has the most enrollments pending",
                  &ctx->user);

    ctx->status = NGX_HTTP_OTP_STATUS_DENIED;

    p = ngx_pnalloc(r->pool, NGX_INT_T_LEN);
    if (p == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    retry.data = p;
    retry.len = ngx_sprintf(p, "%i", secs > 0 ? secs : 1) - p;

    if (ngx_http_otp_add_header(r, "Retry-After", &retry) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_otp_send_error(r, NGX_HTTP_TOO_MANY_REQUESTS,
                                   "Too many setup pages",
                                   "Setup was started in too many browsers "
                                   "in the last minutes. Use a setup page "
                                   "that is already open, or try again in "
                                   "a few minutes.");
}


/* enroll?add=1 with NGX_HTTP_OTP_AUTHN_MOST authenticators already */

static ngx_int_t
ngx_http_otp_enroll_full(ngx_http_request_t *r)
{
    return ngx_http_otp_send_error(r, NGX_HTTP_CONFLICT,
                                   "Too many authenticators",
                                   "You have the most authenticators "
                                   "allowed. Remove one on your account "
                                   "page first.");
}


static void
ngx_http_otp_enroll_pending(ngx_http_request_t *r,
    ngx_http_otp_store_reply_t *reply)
{
    int                       rc;
    uint64_t                  counter;
    ngx_int_t                 alg, digits, period;
    ngx_str_t                    secret, args[15];
    ngx_http_otp_ep_t           *ep;
    ngx_http_otp_ctx_t          *ctx;
    ngx_http_otp_loc_conf_t     *olcf;
    ngx_http_otp_enroll_reply_t  *er;

    ctx = ngx_http_get_module_ctx(r, ngx_http_otp_module);
    olcf = ngx_http_get_module_loc_conf(r, ngx_http_otp_module);
    ep = ctx->endpoint;
    er = (ngx_http_otp_enroll_reply_t *) reply;

    alg = ngx_http_otp_alg_from(&er->alg);
    digits = er->digits;
    period = er->period;
    if (reply->status == NGX_HTTP_OTP_ST_BUSY) {
        ngx_http_otp_ep_finish(r, ngx_http_otp_enroll_busy(r, er->secs));
        return;
    }

    /* a new enrollment: the browser keeps its id as long as it lives */

    if (er->made
        && ngx_http_otp_ep_cookie_set(r, "_enroll", &ep->enroll_cookie,
                                      NGX_HTTP_OTP_ENROLL_TTL)
           != NGX_OK)
    {
        ngx_http_otp_ep_finish(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    ep->hotp = ngx_http_otp_is(&er->type, "hotp");

    if (alg == NGX_ERROR || (digits != 6 && digits != 8) || period <= 0
        || ngx_http_otp_store_open(r, &ctx->user, &er->sealed,
                                   NGX_HTTP_OTP_MAX_SECRET, &secret)
           != NGX_OK)
    {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "otp: the pending enrollment of user \"%V\" does not "
                      "open; was otp_secret_file changed?", &ctx->user);
        ngx_http_otp_ep_finish(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    if (ep->action == NGX_HTTP_OTP_ENROLL_FORM) {
        ngx_http_otp_ep_finish(r, ngx_http_otp_enroll_page(r, NGX_HTTP_OK,
                                                 &secret, alg, digits,
                                                 period));
        return;
    }

    ep->sealed = er->sealed;

    if (ep->hotp) {
        /* the first code of a new HOTP key: counter 0 and the window */

        rc = ngx_http_otp_hotp_verify(secret.data, secret.len, alg, digits,
                                      0, olcf->hotp_window,
                                      (char *) ep->code.data, ep->code.len,
                                      &counter);
        ep->code_ok = (rc == 1);
        ep->step = counter;

    } else {
        rc = (ngx_http_otp_check_totp(r, &secret, alg, digits, period)
              == NGX_OK) ? 0 : -1;
    }

    ngx_explicit_memzero(secret.data, secret.len);

    /* the recovery codes that come with the new key, where offered */

    ngx_str_set(&ep->codes_hashes, "");

    if (rc == -1
        || (!ep->add && (olcf->methods & NGX_HTTP_OTP_METHOD_RECOVERY)
            && ngx_http_otp_new_codes(r) != NGX_OK))
    {
        ngx_http_otp_ep_finish(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    if (ngx_http_otp_attempt_args(r, args) != NGX_OK
        || ngx_http_otp_store_num(r, &args[6],
                                  period * (2 * olcf->totp_skew + 2))
           != NGX_OK)
    {
        ngx_http_otp_ep_finish(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    /* attempt.lua's arguments, rearranged for enroll_confirm.lua */

    args[3] = args[2];
    args[2] = args[1];
    args[1] = ep->sealed;

    /* HOTP: no TOTP step, the counter after the one matched */

    ngx_str_set(&args[7], "");

    if (ep->hotp) {
        ngx_str_set(&args[3], "");

        if (ep->code_ok
            && ngx_http_otp_store_num(r, &args[7], (int64_t) ep->step + 1)
               != NGX_OK)
        {
            ngx_http_otp_ep_finish(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
            return;
        }
    }

    args[8] = ep->codes_hashes;

    /* enroll?add=1: one more, named; else it replaces them all */

    if (ep->add) {
        ngx_str_set(&args[9], "add");

    } else {
        ngx_str_set(&args[9], "");
    }

    args[10] = ep->aname;

    /* a change of factor: the session's freshness, checked as it commits */

    ngx_str_set(&args[13], "");
    ngx_str_set(&args[14], "");

    if (ngx_http_otp_store_num(r, &args[11], ngx_time()) != NGX_OK
        || ngx_http_otp_store_num(r, &args[12], NGX_HTTP_OTP_AUTHN_MOST)
           != NGX_OK
        || (ep->fresh
            && (ngx_http_otp_store_num(r, &args[13], olcf->fresh) != NGX_OK
                || ngx_http_otp_store_num(r, &args[14], olcf->session_ttl)
                   != NGX_OK)))
    {
        ngx_http_otp_ep_finish(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    ngx_http_otp_ep_finish(r,
        ngx_http_otp_ep_run(r, NGX_HTTP_OTP_ENROLL_CONFIRM, args, 15,
                            ngx_http_otp_enroll_confirmed));
}


static void
ngx_http_otp_enroll_confirmed(ngx_http_request_t *r,
    ngx_http_otp_store_reply_t *reply)
{
    ngx_http_otp_ep_t             *ep;
    ngx_http_otp_ctx_t            *ctx;
    ngx_http_otp_attempt_reply_t  *ar;

    ctx = ngx_http_get_module_ctx(r, ngx_http_otp_module);
    ep = ctx->endpoint;
    ar = (ngx_http_otp_attempt_reply_t *) reply;

    if (reply->status == NGX_HTTP_OTP_ST_BUSY) {
        ngx_http_otp_ep_finish(r, ngx_http_otp_enroll_full(r));
        return;
    }

    if (reply->status == NGX_HTTP_OTP_ST_NONE) {
        /* the session was revoked or went stale: nothing changed */
        ngx_log_debug0(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                       "otp enroll: no code within otp_fresh, step-up");
        ngx_http_otp_ep_finish(r, ngx_http_otp_step_up(r, "enroll"));
        return;
    }

    if (reply->status == NGX_HTTP_OTP_ST_OK) {
        ngx_http_otp_metric_inc(NGX_HTTP_OTP_M_ENROLLMENTS);
        ngx_log_error(NGX_LOG_NOTICE, r->connection->log, 0,
                      "otp: user \"%V\" %s an authenticator (%s)",
                      &ctx->user, ep->add ? "added" : "enrolled",
                      ep->hotp ? "hotp" : "totp");

        if (ngx_http_otp_ep_cookie_set(r, "_enroll", &ep->enroll_cookie, 0)
            != NGX_OK)
        {
            ngx_http_otp_ep_finish(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
            return;
        }

        ngx_http_otp_ep_finish(r, ngx_http_otp_session_start(r,
                                      ep->hotp ? "hotp" : "totp",
                                      ngx_http_otp_enroll_session_created));
        return;
    }

    if (reply->status == NGX_HTTP_OTP_ST_LOCKED) {
        ngx_http_otp_metric_lockout(ar->first);
        ngx_http_otp_log_failure(r, "wrong setup code, now locked");
        ctx->status = NGX_HTTP_OTP_STATUS_LOCKED;
        ngx_http_otp_ep_finish(r, ngx_http_otp_send_locked(r,
                                       ar->secs > 0 ? ar->secs : 60));
        return;
    }

    /* "wrong" or "no_enrollment": the form again, with the pending QR */

    ngx_http_otp_log_failure(r, "wrong setup code");

    ep->error = "That code did not work. Make sure the app shows the "
                "account you just added, and enter its current code.";
    ep->action = NGX_HTTP_OTP_ENROLL_FORM;

    ngx_http_otp_ep_finish(r, ngx_http_otp_enroll_begin(r));
}


static void
ngx_http_otp_enroll_session_created(ngx_http_request_t *r,
    ngx_http_otp_store_reply_t *reply)
{
    ngx_http_otp_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_otp_module);

    if (reply->status == NGX_HTTP_OTP_ST_OK) {
        ctx->status = NGX_HTTP_OTP_STATUS_PASSED;
    }

    /* enroll?add=1 makes no new codes: on to where it came from */

    ngx_http_otp_ep_finish(r, ngx_http_otp_codes_shown(r, reply, 0));
}


static ngx_int_t
ngx_http_otp_enroll_page(ngx_http_request_t *r, ngx_uint_t status,
    ngx_str_t *secret, ngx_http_otp_alg_e alg, ngx_uint_t digits,
    ngx_uint_t period)
{
    u_char                    *p;
    char                      *svg;
    size_t                     i, svg_len;
    ngx_str_t                  uri, b32, grouped, qr, csrf, issuer, ndigits;
    ngx_str_t                  binding = ngx_string("enroll");
    ngx_http_otp_ep_t         *ep;
    ngx_http_otp_uri_t         u;
    ngx_http_otp_ctx_t        *ctx;
    ngx_http_otp_page_vars_t   pv;

    ctx = ngx_http_get_module_ctx(r, ngx_http_otp_module);
    ep = ctx->endpoint;

    if (ngx_http_otp_issuer(r, &issuer) != NGX_OK
        || ngx_http_otp_csrf_make(r, &binding, &csrf) != NGX_OK
        || ngx_http_otp_store_num(r, &ndigits, digits) != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_memzero(&u, sizeof(ngx_http_otp_uri_t));

    u.issuer = (const char *) issuer.data;
    u.issuer_len = issuer.len;
    u.account = (const char *) ctx->user.data;
    u.account_len = ctx->user.len;
    u.secret = secret->data;
    u.secret_len = secret->len;
    u.alg = alg;
    u.digits = digits;
    u.period = period;
    u.hotp = ep->hotp ? 1 : 0;
    u.counter = 0;

    uri.data = ngx_pnalloc(r->pool, ngx_http_otp_uri_max_len(&u) + 1);
    if (uri.data == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    uri.len = ngx_http_otp_uri_build(&u, (char *) uri.data);
    uri.data[uri.len] = '\0';

    /* the key for typing in: base32 in groups of four */

    b32.data = ngx_pnalloc(r->pool,
                           ngx_http_otp_base32_encoded_len(secret->len));
    if (b32.data == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    b32.len = ngx_http_otp_base32_encode(secret->data, secret->len,
                                         (char *) b32.data);

    grouped.data = ngx_pnalloc(r->pool, b32.len + b32.len / 4 + 1);
    if (grouped.data == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    p = grouped.data;

    for (i = 0; i < b32.len; i++) {
        if (i && i % 4 == 0) {
            *p++ = ' ';
        }

        *p++ = b32.data[i];
    }

    grouped.len = p - grouped.data;

    svg = ngx_http_otp_qr_svg((char *) uri.data, uri.len, &svg_len);
    if (svg == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    qr.data = ngx_pnalloc(r->pool, svg_len);
    if (qr.data == NULL) {
        free(svg);
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_memcpy(qr.data, svg, svg_len);
    qr.len = svg_len;
    free(svg);

    ngx_explicit_memzero(secret->data, secret->len);

    pv.nvars = 0;

    ngx_http_otp_page_var(&pv, "user", &ctx->user);
    ngx_http_otp_page_var(&pv, "account", &ctx->user);
    ngx_http_otp_page_var(&pv, "csrf", &csrf);
    ngx_http_otp_page_var(&pv, "return", &ep->ret);

    if (ngx_http_otp_account_url(r, &pv) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_http_otp_page_var(&pv, "otpauth_uri", &uri);
    ngx_http_otp_page_var(&pv, "secret_grouped", &grouped);
    ngx_http_otp_page_var(&pv, "qr_svg", &qr);
    ngx_http_otp_page_var(&pv, "digits", &ndigits);

    if (ep->hotp) {
        ngx_http_otp_page_var_cstr(&pv, "hotp", "1");
    }

    if (ep->add) {
        ngx_http_otp_page_var_cstr(&pv, "add", "1");
        ngx_http_otp_page_var(&pv, "name", &ep->aname);
    }

    if (ngx_http_otp_sms_enroll_vars(r, &pv) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (ep->error) {
        ngx_http_otp_page_var_cstr(&pv, "error", ep->error);
        status = NGX_HTTP_UNAUTHORIZED;
    }

    return ngx_http_otp_send_page(r, status, NGX_HTTP_OTP_PAGE_ENROLL, &pv);
}

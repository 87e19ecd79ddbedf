
/*
 * The challenge page: GET challenge makes the challenge (and says who
 * the user is) in one trip, and shows the form for a code, with the key
 * pass that lets its POST (ngx_http_otp_verify.c) go without a read.
 * The texted challenge shown again (?c=) is in ngx_http_otp_sms_verify.c.
 *
 * A reload shows the browser its live challenge again rather than make
 * one more key (SPEC 6.17): the challenge cookie ("<otp_cookie
 * name>_challenge", signed, bound to the user) names it, and the same
 * trip shows it while it is the user's, not burnt and has
 * NGX_HTTP_OTP_CHALLENGE_LEAST seconds left; else a new one, and the
 * cookie names that.  Only the browser that holds the cookie reuses it.
 */


#include "ngx_http_otp_challenge.h"
#include "ngx_http_otp_account.h"
#include "ngx_http_otp_metrics.h"
#include "ngx_http_otp_page.h"
#include "ngx_http_otp_page_flow.h"
#include "ngx_http_otp_return.h"
#include "ngx_http_otp_sms.h"
#include "ngx_http_otp_store.h"
#include "ngx_http_otp_token.h"


#define NGX_HTTP_OTP_CHALLENGE_ID_LEN    16

/* live challenges a user may have (SPEC 6.17) */
#define NGX_HTTP_OTP_CHALLENGES_MAX      50

/* life a challenge shown again has left, for the user to type a code */
#define NGX_HTTP_OTP_CHALLENGE_LEAST     120

#define NGX_HTTP_OTP_CHALLENGE_PAYLOAD   NGX_HTTP_OTP_SIGNED_MAX_PAYLOAD


static void ngx_http_otp_challenge_made(ngx_http_request_t *r,
    ngx_http_otp_store_reply_t *reply);
static void ngx_http_otp_challenge_created(ngx_http_request_t *r,
    ngx_http_otp_store_reply_t *reply);
static ngx_int_t ngx_http_otp_challenge_live(ngx_http_request_t *r);
static ngx_int_t ngx_http_otp_challenge_cookie(ngx_http_request_t *r);
static ngx_int_t ngx_http_otp_pass_make(ngx_http_request_t *r,
    ngx_http_otp_user_state_t *us);
static ngx_int_t ngx_http_otp_pass_aad(ngx_http_request_t *r,
    ngx_str_t *aad);


/*
 * What the challenge page does for this user's state: NGX_DECLINED for a
 * user who gets a challenge, else the response (locked, set up a factor).
 */

ngx_int_t
ngx_http_otp_challenge_state(ngx_http_request_t *r,
    ngx_http_otp_user_state_t *us)
{
    ngx_http_otp_ep_t        *ep;
    ngx_http_otp_ctx_t       *ctx;
    ngx_http_otp_loc_conf_t  *olcf;

    ctx = ngx_http_get_module_ctx(r, ngx_http_otp_module);
    olcf = ngx_http_get_module_loc_conf(r, ngx_http_otp_module);
    ep = ctx->endpoint;

    ngx_http_otp_sms_user(r, us);

    if (us->lock_ttl > 0) {
        ctx->status = NGX_HTTP_OTP_STATUS_LOCKED;
        return ngx_http_otp_send_locked(r, us->lock_ttl);
    }

    ep->recovery_left = us->recovery;

    if ((us->secret.data != NULL || ngx_http_otp_sms_factor(r, us))
        && !us->must_enroll)
    {
        return NGX_DECLINED;
    }

    if (olcf->enroll == NGX_HTTP_OTP_ENROLL_OFF) {
        return ngx_http_otp_send_error(r, NGX_HTTP_FORBIDDEN,
                                       "No second factor",
                                       "Your account has no second factor "
                                       "yet. Ask an administrator to set "
                                       "one up for you.");
    }

    if (olcf->enroll == NGX_HTTP_OTP_ENROLL_OPTIONAL && !us->must_enroll) {
        return ngx_http_otp_redirect(r, NGX_HTTP_SEE_OTHER, &ep->ret);
    }

    return ngx_http_otp_redirect_page(r, ngx_http_otp_setup_page(olcf));
}


/* GET challenge: a new challenge and its page, when the user can sign in */

ngx_int_t
ngx_http_otp_challenge_new(ngx_http_request_t *r)
{
    const char               *when;
    ngx_str_t                 phone;
    ngx_http_otp_loc_conf_t  *olcf;

    olcf = ngx_http_get_module_loc_conf(r, ngx_http_otp_module);

    /* a number from the configuration is a factor the store knows not */

    when = !(olcf->methods & NGX_HTTP_OTP_METHOD_SMS) ? "totp"
           : ngx_http_otp_sms_configured(r, &phone) == NGX_OK ? "always"
           : "phone";

    if (ngx_http_otp_challenge_live(r) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_otp_challenge_make(r, when,
                                       ngx_http_otp_challenge_created);
}


/* ep->live: the challenge the browser's cookie names, if it is good */

static ngx_int_t
ngx_http_otp_challenge_live(ngx_http_request_t *r)
{
    size_t                     len;
    u_char                    *payload;
    ngx_str_t                  name, value;
    ngx_http_otp_ep_t         *ep;
    ngx_http_otp_ctx_t        *ctx;
    ngx_http_otp_main_conf_t  *omcf;

    ctx = ngx_http_get_module_ctx(r, ngx_http_otp_module);
    omcf = ngx_http_get_module_main_conf(r, ngx_http_otp_module);
    ep = ctx->endpoint;

    payload = ngx_pnalloc(r->pool, NGX_HTTP_OTP_CHALLENGE_PAYLOAD);
    if (payload == NULL
        || ngx_http_otp_ep_cookie_name(r, "_challenge", &name) != NGX_OK)
    {
        return NGX_ERROR;
    }

    /* payload: the id, then the user it was made for */

    if (ngx_http_otp_get_cookie(r, &name, &value) != NGX_OK
        || ngx_http_otp_signed_decode(omcf->keys.cookie, "challenge",
                                      (char *) value.data, value.len,
                                      payload,
                                      NGX_HTTP_OTP_CHALLENGE_PAYLOAD, &len)
           != 0
        || len != NGX_HTTP_OTP_CHALLENGE_ID_LEN + ctx->user.len
        || ngx_memcmp(payload + NGX_HTTP_OTP_CHALLENGE_ID_LEN,
                      ctx->user.data, ctx->user.len)
           != 0)
    {
        ngx_log_debug0(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                       "otp challenge: no live challenge named");
        return NGX_OK;
    }

    ep->live.data = ngx_pnalloc(r->pool, NGX_HTTP_OTP_CHALLENGE_B64_LEN);
    if (ep->live.data == NULL) {
        return NGX_ERROR;
    }

    ep->live.len = ngx_http_otp_b64url_encode(payload,
                                              NGX_HTTP_OTP_CHALLENGE_ID_LEN,
                                              (char *) ep->live.data);

    return NGX_OK;
}


/* the cookie that names ep->challenge, for as long as it lives */

static ngx_int_t
ngx_http_otp_challenge_cookie(ngx_http_request_t *r)
{
    size_t                     len;
    u_char                    *payload;
    ngx_str_t                  value;
    ngx_http_otp_ep_t         *ep;
    ngx_http_otp_ctx_t        *ctx;
    ngx_http_otp_main_conf_t  *omcf;

    ctx = ngx_http_get_module_ctx(r, ngx_http_otp_module);
    omcf = ngx_http_get_module_main_conf(r, ngx_http_otp_module);
    ep = ctx->endpoint;

    len = NGX_HTTP_OTP_CHALLENGE_ID_LEN + ctx->user.len;

    if (len > NGX_HTTP_OTP_CHALLENGE_PAYLOAD) {
        /* a name too long for the cookie: every page a new challenge */
        return NGX_OK;
    }

    payload = ngx_pnalloc(r->pool, NGX_HTTP_OTP_CHALLENGE_PAYLOAD);
    value.data = ngx_pnalloc(r->pool, ngx_http_otp_signed_len(len));

    if (payload == NULL || value.data == NULL
        || ngx_http_otp_b64url_decode((char *) ep->challenge.data,
                                      ep->challenge.len, payload, &value.len)
           != 0
        || value.len != NGX_HTTP_OTP_CHALLENGE_ID_LEN)
    {
        return NGX_ERROR;
    }

    ngx_memcpy(payload + NGX_HTTP_OTP_CHALLENGE_ID_LEN, ctx->user.data,
               ctx->user.len);

    if (ngx_http_otp_signed_encode(omcf->keys.cookie, "challenge", payload,
                                   len, (char *) value.data, &value.len)
        != 0)
    {
        return NGX_ERROR;
    }

    return ngx_http_otp_ep_cookie_set(r, "_challenge", &value,
                                      NGX_HTTP_OTP_CHALLENGE_TTL);
}


ngx_int_t
ngx_http_otp_challenge_make(ngx_http_request_t *r, const char *when,
    ngx_http_otp_store_handler_pt done)
{
    u_char                    id[NGX_HTTP_OTP_CHALLENGE_ID_LEN];
    ngx_str_t                 args[7];
    ngx_http_otp_ep_t        *ep;
    ngx_http_otp_ctx_t       *ctx;
    ngx_http_otp_loc_conf_t  *olcf;

    ctx = ngx_http_get_module_ctx(r, ngx_http_otp_module);
    olcf = ngx_http_get_module_loc_conf(r, ngx_http_otp_module);
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

    args[0] = ctx->user;
    args[2].data = (u_char *) when;
    args[2].len = ngx_strlen(when);

    if (ngx_http_otp_store_num(r, &args[1], NGX_HTTP_OTP_CHALLENGE_TTL)
           != NGX_OK
        || ngx_http_otp_store_num(r, &args[3], ngx_time()) != NGX_OK
        || ngx_http_otp_store_num(r, &args[4], NGX_HTTP_OTP_CHALLENGES_MAX)
           != NGX_OK
        || ngx_http_otp_store_num(r, &args[5], olcf->max_attempts) != NGX_OK
        || ngx_http_otp_store_num(r, &args[6], NGX_HTTP_OTP_CHALLENGE_LEAST)
           != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ep->challenge_done = done;

    return ngx_http_otp_ep_run(r, NGX_HTTP_OTP_CHALLENGE_NEW, args, 7,
                               ngx_http_otp_challenge_made);
}


/*
 * What no page can do anything with: an id that collided (128 random
 * bits) and a user at the most live challenges (SPEC 6.17), whose own
 * 429 tells when one of them ends; the rest goes to the page.
 */

static void
ngx_http_otp_challenge_made(ngx_http_request_t *r,
    ngx_http_otp_store_reply_t *reply)
{
    u_char              *p;
    ngx_str_t            retry;
    ngx_http_otp_ep_t   *ep;
    ngx_http_otp_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_otp_module);
    ep = ctx->endpoint;

    if (reply->status == NGX_HTTP_OTP_ST_EXISTS) {
        ngx_http_otp_ep_finish(r, ngx_http_otp_send_unavailable(r));
        return;
    }

    if (reply->status == NGX_HTTP_OTP_ST_LIVE) {
        ngx_log_debug0(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                       "otp challenge: the browser's live one again");
        ep->challenge = ep->live;
    }

    if (reply->status != NGX_HTTP_OTP_ST_BUSY) {
        ep->challenge_done(r, reply);
        return;
    }

    ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                  "otp: user \"%V\" has the most sign-in pages open",
                  &ctx->user);

    ctx->status = NGX_HTTP_OTP_STATUS_DENIED;

    p = ngx_pnalloc(r->pool, NGX_INT_T_LEN);
    if (p == NULL) {
        ngx_http_otp_ep_finish(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    retry.data = p;
    retry.len = ngx_sprintf(p, "%i",
                            ((ngx_http_otp_user_reply_t *) reply)->secs)
                - p;

    if (ngx_http_otp_add_header(r, "Retry-After", &retry) != NGX_OK) {
        ngx_http_otp_ep_finish(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    ngx_http_otp_ep_finish(r,
        ngx_http_otp_send_error(r, NGX_HTTP_TOO_MANY_REQUESTS,
                                "Too many sign-in pages",
                                "Sign-in was started too many times in the "
                                "last minutes. Use a sign-in page that is "
                                "already open, or try again in a few "
                                "minutes."));
}


static void
ngx_http_otp_challenge_created(ngx_http_request_t *r,
    ngx_http_otp_store_reply_t *reply)
{
    ngx_int_t                   rc;
    ngx_http_otp_ep_t          *ep;
    ngx_http_otp_ctx_t         *ctx;
    ngx_http_otp_user_state_t  *us;

    ctx = ngx_http_get_module_ctx(r, ngx_http_otp_module);
    ep = ctx->endpoint;
    us = &((ngx_http_otp_user_reply_t *) reply)->user;

    rc = ngx_http_otp_challenge_state(r, us);

    if (rc != NGX_DECLINED) {
        ngx_http_otp_ep_finish(r, rc);
        return;
    }

    if (reply->status != NGX_HTTP_OTP_ST_OK
        && reply->status != NGX_HTTP_OTP_ST_LIVE)
    {
        /* the store and the C side disagree on the user's factors */
        ngx_http_otp_ep_finish(r, ngx_http_otp_send_unavailable(r));
        return;
    }

    if ((reply->status == NGX_HTTP_OTP_ST_OK
         && ngx_http_otp_challenge_cookie(r) != NGX_OK)
        || ngx_http_otp_pass_make(r, us) != NGX_OK)
    {
        ngx_http_otp_ep_finish(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
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

    if (ngx_http_otp_account_url(r, &pv) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_http_otp_page_var(&pv, "return_q", &ret_q);

    if (ep->pass.len) {
        ngx_http_otp_page_var(&pv, "pass", &ep->pass);
    }

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

    if (olcf->methods & NGX_HTTP_OTP_METHOD_LINK) {
        ngx_http_otp_page_var_cstr(&pv, "has_link", "1");
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


/* ------------------------------------------------------------ key pass */


/*
 * The key pass: what the challenge form carries so that its POST costs
 * one trip, with no read of the user record first.  It is the user's
 * sealed secret and its parameters, as challenge_new.lua gave them,
 * sealed again under the form key and bound to the user and the
 * challenge (AES-256-GCM): the browser holds ciphertext of ciphertext,
 * which opens for no other user and no other challenge.  attempt.lua
 * takes a code only while that sealed secret is still the user's, and
 * answers "stale" otherwise (the record is then read and the code
 * checked again).
 *
 *   version (1), type (0 TOTP, 1 HOTP), algorithm, digits (1 each),
 *   period (4), HOTP counter (8), big-endian; the sealed secret
 */

#define NGX_HTTP_OTP_PASS_VERSION   1
#define NGX_HTTP_OTP_PASS_FIXED     16
#define NGX_HTTP_OTP_PASS_MAX                                                 \
    (NGX_HTTP_OTP_PASS_FIXED + NGX_HTTP_OTP_SEAL_OVERHEAD                     \
     + NGX_HTTP_OTP_MAX_SECRET + NGX_HTTP_OTP_SEAL_OVERHEAD)


static ngx_int_t
ngx_http_otp_pass_make(ngx_http_request_t *r, ngx_http_otp_user_state_t *us)
{
    u_char                    *plain, *sealed, *p;
    size_t                     len;
    uint64_t                   counter;
    ngx_int_t                  alg;
    ngx_str_t                  aad;
    ngx_uint_t                 i;
    ngx_http_otp_ep_t         *ep;
    ngx_http_otp_main_conf_t  *omcf;

    omcf = ngx_http_get_module_main_conf(r, ngx_http_otp_module);
    ep = ngx_http_otp_ep(r);

    alg = ngx_http_otp_alg_from(&us->alg);

    if (us->secret.data == NULL || alg == NGX_ERROR
        || us->secret.len > NGX_HTTP_OTP_MAX_SECRET
                            + NGX_HTTP_OTP_SEAL_OVERHEAD
        || us->digits < 0 || us->digits > 255 || us->period < 0
        || us->counter < 0 || (us->others && us->others->nelts))
    {
        /*
         * texts only, a record this page cannot use, or several
         * authenticators (the pass holds one): no pass
         */
        return NGX_OK;
    }

    len = NGX_HTTP_OTP_PASS_FIXED + us->secret.len;

    plain = ngx_pnalloc(r->pool, len);
    sealed = ngx_pnalloc(r->pool, len + NGX_HTTP_OTP_SEAL_OVERHEAD);
    ep->pass.data = ngx_pnalloc(r->pool, ngx_http_otp_b64url_encoded_len(
                                    len + NGX_HTTP_OTP_SEAL_OVERHEAD));

    if (plain == NULL || sealed == NULL || ep->pass.data == NULL
        || ngx_http_otp_pass_aad(r, &aad) != NGX_OK)
    {
        return NGX_ERROR;
    }

    p = plain;
    *p++ = NGX_HTTP_OTP_PASS_VERSION;
    *p++ = (us->type.data != NULL);
    *p++ = (u_char) alg;
    *p++ = (u_char) us->digits;

    for (i = 0; i < 4; i++) {
        *p++ = (u_char) ((uint32_t) us->period >> (24 - 8 * i));
    }

    counter = (uint64_t) us->counter;

    for (i = 0; i < 8; i++) {
        *p++ = (u_char) (counter >> (56 - 8 * i));
    }

    ngx_memcpy(p, us->secret.data, us->secret.len);

    if (ngx_http_otp_seal(omcf->keys.form, aad.data, aad.len, plain, len,
                          sealed)
        != 0)
    {
        return NGX_ERROR;
    }

    ep->pass.len = ngx_http_otp_b64url_encode(sealed,
                                     len + NGX_HTTP_OTP_SEAL_OVERHEAD,
                                     (char *) ep->pass.data);

    return NGX_OK;
}


/* NGX_OK and us set from the form's key pass; NGX_DECLINED: none good */

ngx_int_t
ngx_http_otp_pass_open(ngx_http_request_t *r, ngx_http_otp_user_state_t *us)
{
    u_char                     raw[NGX_HTTP_OTP_PASS_MAX];
    u_char                    *plain, *p;
    size_t                     len, i;
    uint32_t                   period;
    uint64_t                   counter;
    ngx_str_t                  aad;
    ngx_http_otp_ep_t         *ep;
    ngx_http_otp_main_conf_t  *omcf;

    static ngx_str_t  algs[] = {
        ngx_string("sha1"), ngx_string("sha256"), ngx_string("sha512")
    };

    omcf = ngx_http_get_module_main_conf(r, ngx_http_otp_module);
    ep = ngx_http_otp_ep(r);

    if (ep->pass.len == 0
        || ep->pass.len > ngx_http_otp_b64url_encoded_len(sizeof(raw))
        || ngx_http_otp_b64url_decode((char *) ep->pass.data, ep->pass.len,
                                      raw, &len)
           != 0
        || len <= NGX_HTTP_OTP_PASS_FIXED + 2 * NGX_HTTP_OTP_SEAL_OVERHEAD)
    {
        return NGX_DECLINED;
    }

    plain = ngx_pnalloc(r->pool, len - NGX_HTTP_OTP_SEAL_OVERHEAD);

    if (plain == NULL || ngx_http_otp_pass_aad(r, &aad) != NGX_OK) {
        return NGX_DECLINED;
    }

    if (ngx_http_otp_open(omcf->keys.form, aad.data, aad.len, raw, len,
                          plain)
        != 0)
    {
        ngx_log_debug0(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                       "otp verify: the key pass does not open");
        return NGX_DECLINED;
    }

    len -= NGX_HTTP_OTP_SEAL_OVERHEAD;

    if (plain[0] != NGX_HTTP_OTP_PASS_VERSION || plain[1] > 1
        || plain[2] >= sizeof(algs) / sizeof(algs[0]))
    {
        return NGX_DECLINED;
    }

    ngx_memzero(us, sizeof(ngx_http_otp_user_state_t));

    p = plain + 4;
    period = 0;
    counter = 0;

    for (i = 0; i < 4; i++) {
        period = (period << 8) | *p++;
    }

    for (i = 0; i < 8; i++) {
        counter = (counter << 8) | *p++;
    }

    if (counter > NGX_MAX_INT_T_VALUE || period > 86400) {
        return NGX_DECLINED;
    }

    if (plain[1]) {
        ngx_str_set(&us->type, "hotp");
    }

    us->alg = algs[plain[2]];
    us->digits = plain[3];
    us->period = period;
    us->counter = counter;
    us->secret.data = p;
    us->secret.len = len - NGX_HTTP_OTP_PASS_FIXED;

    ngx_log_debug0(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "otp verify: key pass from the form");

    return NGX_OK;
}


/* "pass" NUL user NUL challenge id: what a pass is bound to */

static ngx_int_t
ngx_http_otp_pass_aad(ngx_http_request_t *r, ngx_str_t *aad)
{
    u_char              *p;
    ngx_http_otp_ep_t   *ep;
    ngx_http_otp_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_otp_module);
    ep = ctx->endpoint;

    aad->len = sizeof("pass") + ctx->user.len + 1 + ep->challenge.len;
    aad->data = ngx_pnalloc(r->pool, aad->len);
    if (aad->data == NULL) {
        return NGX_ERROR;
    }

    p = ngx_cpymem(aad->data, "pass", sizeof("pass"));
    p = ngx_cpymem(p, ctx->user.data, ctx->user.len);
    *p++ = '\0';
    ngx_memcpy(p, ep->challenge.data, ep->challenge.len);

    return NGX_OK;
}

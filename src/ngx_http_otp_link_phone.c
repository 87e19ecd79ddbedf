
/*
 * Cross-device approval, the phone's side (SPEC 9).
 *
 * GET link?t=<token>: the phone that scanned the QR code, with a
 * session of the same user whose code was entered within otp_fresh,
 * sees who asks (the waiting browser's address and user agent, the
 * time) and three numbers, one of them the one the waiting browser
 * shows.  POST link (t, csrf, number, or deny=1): link_decide.lua
 * approves the request with the right number, or burns it and counts a
 * failure of the user.
 *
 * Each step costs two trips: session_check.lua (the phone's session),
 * then the request's script.  Whatever is wrong (no session, a stale
 * one, another user's, a token unknown, decided or expired) gets the
 * same refusal, and nothing changes.
 */


#include "ngx_http_otp_link.h"
#include "ngx_http_otp_metrics.h"
#include "ngx_http_otp_page.h"
#include "ngx_http_otp_page_flow.h"
#include "ngx_http_otp_session.h"
#include "ngx_http_otp_store.h"


static void ngx_http_otp_link_phone_session(ngx_http_request_t *r,
    ngx_http_otp_store_reply_t *reply);
static void ngx_http_otp_link_shown(ngx_http_request_t *r,
    ngx_http_otp_store_reply_t *reply);
static void ngx_http_otp_link_decided(ngx_http_request_t *r,
    ngx_http_otp_store_reply_t *reply);
static void ngx_http_otp_link_log(ngx_http_request_t *r, const char *what,
    ngx_str_t *address);
static ngx_int_t ngx_http_otp_link_answer(ngx_http_request_t *r,
    ngx_uint_t status, const char *which);
static ngx_int_t ngx_http_otp_link_refused(ngx_http_request_t *r);


ngx_int_t
ngx_http_otp_link_phone(ngx_http_request_t *r)
{
    u_char               raw[NGX_HTTP_OTP_LINK_TOKEN_LEN + 2];
    size_t               len;
    ngx_str_t            token;
    ngx_http_otp_ep_t   *ep;
    ngx_http_otp_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_otp_module);
    ep = ctx->endpoint;

    if (ep->action == NGX_HTTP_OTP_LINK_POST) {
        token = ep->link_token;

    } else if (ngx_http_arg(r, (u_char *) "t", 1, &token) != NGX_OK) {
        ngx_str_null(&token);
    }

    ngx_str_null(&ep->link_token);

    if (token.len != NGX_HTTP_OTP_LINK_TOKEN_B64_LEN
        || ngx_http_otp_b64url_decode((char *) token.data, token.len, raw,
                                      &len)
           != 0
        || len != NGX_HTTP_OTP_LINK_TOKEN_LEN)
    {
        ngx_log_debug0(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                       "otp link: no token of the right form");

        return ngx_http_otp_link_refused(r);
    }

    ep->link_token = token;

    if (ngx_http_otp_link_keyed(r, "link", raw, len, &ep->link_hash)
        != NGX_OK)
    {
        ngx_explicit_memzero(raw, sizeof(raw));
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_explicit_memzero(raw, sizeof(raw));

    /* the form is bound to the user and to this request */

    if (ep->action == NGX_HTTP_OTP_LINK_POST
        && ngx_http_otp_csrf_valid(r, &ep->link_hash,
                                   NGX_HTTP_OTP_CHALLENGE_TTL)
           != NGX_OK)
    {
        return ngx_http_otp_ep_refused(r);
    }

    ep->has_cookie = (ngx_http_otp_session_from_cookie(r, &ep->old_sid)
                      == NGX_OK);

    if (!ep->has_cookie) {
        ngx_log_debug0(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                       "otp link: no session on the phone");

        return ngx_http_otp_link_refused(r);
    }

    return ngx_http_otp_ep_session_check(r, ngx_http_otp_link_phone_session);
}


/*
 * the phone's session: the user's, with a code typed on it within
 * otp_fresh (not one an approval made)
 */

static void
ngx_http_otp_link_phone_session(ngx_http_request_t *r,
    ngx_http_otp_store_reply_t *reply)
{
    ngx_str_t                 args[7];
    ngx_http_otp_ep_t        *ep;
    ngx_http_otp_ctx_t       *ctx;
    ngx_http_otp_loc_conf_t  *olcf;

    ctx = ngx_http_get_module_ctx(r, ngx_http_otp_module);
    olcf = ngx_http_get_module_loc_conf(r, ngx_http_otp_module);
    ep = ctx->endpoint;

    if (!ngx_http_otp_ep_code_fresh(r, reply)) {
        ngx_log_debug0(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                       "otp link: no fresh session of the user");

        ngx_http_otp_ep_finish(r, ngx_http_otp_link_refused(r));
        return;
    }

    args[0] = ctx->user;

    if (ngx_http_otp_store_num(r, &args[1], ngx_time()) != NGX_OK) {
        ngx_http_otp_ep_finish(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    if (ep->action == NGX_HTTP_OTP_LINK_FORM) {
        ngx_http_otp_ep_finish(r,
            ngx_http_otp_ep_run(r, NGX_HTTP_OTP_LINK_SHOW, args, 2,
                                ngx_http_otp_link_shown));
        return;
    }

    /* "not me", or the number chosen */

    if (ep->link_deny) {
        ngx_str_set(&args[2], "");

    } else {
        args[2] = ep->link_number;
    }

    /* the session again, in the step that decides */

    if (ngx_http_otp_store_num(r, &args[3], olcf->lockout_failures)
        != NGX_OK
        || ngx_http_otp_store_num(r, &args[4], olcf->lockout_time) != NGX_OK
        || ngx_http_otp_store_num(r, &args[5], olcf->session_ttl) != NGX_OK
        || ngx_http_otp_store_num(r, &args[6], olcf->fresh) != NGX_OK)
    {
        ngx_http_otp_ep_finish(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    ngx_http_otp_ep_finish(r,
        ngx_http_otp_ep_run(r, NGX_HTTP_OTP_LINK_DECIDE, args, 7,
                            ngx_http_otp_link_decided));
}


/*
 * The approval page: who asks, and the right number among two others
 * (distinct, 10..99, in a random order).
 */

static void
ngx_http_otp_link_shown(ngx_http_request_t *r,
    ngx_http_otp_store_reply_t *reply)
{
    u_char                      rnd[3], *p;
    ngx_tm_t                    tm;
    ngx_str_t                   csrf, when, choice[3];
    ngx_int_t                   n[3], k[2], i, j, right;
    ngx_http_otp_ep_t          *ep;
    ngx_http_otp_ctx_t         *ctx;
    ngx_http_otp_page_vars_t    pv;
    ngx_http_otp_link_reply_t  *lr;

    static const char  *names[] = { "choice_a", "choice_b", "choice_c" };

    ctx = ngx_http_get_module_ctx(r, ngx_http_otp_module);
    ep = ctx->endpoint;
    lr = (ngx_http_otp_link_reply_t *) reply;

    if (reply->status != NGX_HTTP_OTP_ST_OK
        || lr->number < 10 || lr->number > 99)
    {
        ngx_http_otp_ep_finish(r, ngx_http_otp_link_refused(r));
        return;
    }

    if (ngx_http_otp_random(rnd, sizeof(rnd)) != 0) {
        ngx_http_otp_ep_finish(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    /*
     * the decoys: the right number moved on by two distinct steps of
     * 1..89 (modulo 90), so that the three differ
     */

    k[0] = 1 + rnd[1] % 89;
    k[1] = 1 + rnd[2] % 88;

    if (k[1] >= k[0]) {
        k[1]++;
    }

    right = rnd[0] % 3;

    for (i = 0, j = 0; i < 3; i++) {
        n[i] = (i == right) ? lr->number
                            : 10 + (lr->number - 10 + k[j++]) % 90;
    }

    for (i = 0; i < 3; i++) {
        if (ngx_http_otp_store_num(r, &choice[i], n[i]) != NGX_OK) {
            ngx_http_otp_ep_finish(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
            return;
        }
    }

    ngx_gmtime(lr->time, &tm);

    p = ngx_pnalloc(r->pool, sizeof("1970-01-01 00:00:00 UTC") - 1);
    if (p == NULL
        || ngx_http_otp_csrf_make(r, &ep->link_hash, &csrf) != NGX_OK)
    {
        ngx_http_otp_ep_finish(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    when.data = p;
    when.len = ngx_sprintf(p, "%4d-%02d-%02d %02d:%02d:%02d UTC",
                           tm.ngx_tm_year, tm.ngx_tm_mon, tm.ngx_tm_mday,
                           tm.ngx_tm_hour, tm.ngx_tm_min, tm.ngx_tm_sec)
               - p;

    pv.nvars = 0;

    ngx_http_otp_page_var(&pv, "user", &ctx->user);
    ngx_http_otp_page_var(&pv, "csrf", &csrf);
    ngx_http_otp_page_var(&pv, "token", &ep->link_token);
    ngx_http_otp_page_var(&pv, "address", &lr->address);
    ngx_http_otp_page_var(&pv, "agent", &lr->agent);
    ngx_http_otp_page_var(&pv, "time", &when);
    ngx_http_otp_page_var_cstr(&pv, "ask", "1");

    for (i = 0; i < 3; i++) {
        ngx_http_otp_page_var(&pv, names[i], &choice[i]);
    }

    ngx_http_otp_ep_finish(r, ngx_http_otp_send_page(r, NGX_HTTP_OK,
                                  NGX_HTTP_OTP_PAGE_LINK_APPROVE, &pv));
}


static void
ngx_http_otp_link_decided(ngx_http_request_t *r,
    ngx_http_otp_store_reply_t *reply)
{
    ngx_int_t                   rc;
    ngx_http_otp_ep_t          *ep;
    ngx_http_otp_ctx_t         *ctx;
    ngx_http_otp_link_reply_t  *lr;

    ctx = ngx_http_get_module_ctx(r, ngx_http_otp_module);
    ep = ctx->endpoint;
    lr = (ngx_http_otp_link_reply_t *) reply;

    switch (reply->status) {

    case NGX_HTTP_OTP_ST_OK:
        ngx_http_otp_metric_inc(NGX_HTTP_OTP_M_LINK_APPROVED);
        ngx_http_otp_link_log(r, "approved", &lr->address);
        rc = ngx_http_otp_link_answer(r, NGX_HTTP_OK, "approved");
        break;

    case NGX_HTTP_OTP_ST_WRONG:
        ngx_http_otp_metric_inc(NGX_HTTP_OTP_M_LINK_DENIED);

        if (ep->link_deny) {
            ngx_http_otp_link_log(r, "denied (not me)", &lr->address);
            rc = ngx_http_otp_link_answer(r, NGX_HTTP_OK, "denied");

        } else {
            ngx_http_otp_link_log(r, "denied (wrong number)",
                                  &lr->address);
            rc = ngx_http_otp_link_answer(r, NGX_HTTP_FORBIDDEN, "wrong");
        }

        break;

    case NGX_HTTP_OTP_ST_LOCKED:
        if (lr->first == 1) {
            ngx_http_otp_metric_inc(NGX_HTTP_OTP_M_LINK_DENIED);
            ngx_http_otp_metric_lockout(1);
            ngx_http_otp_log_failure(r, "cross-device request denied, "
                                        "now locked");
        }

        ctx->status = NGX_HTTP_OTP_STATUS_LOCKED;
        rc = ngx_http_otp_send_locked(r, lr->secs);
        break;

    default: /* NGX_HTTP_OTP_ST_NONE */
        rc = ngx_http_otp_link_refused(r);
        break;
    }

    ngx_http_otp_ep_finish(r, rc);
}


/* at otp_log_level: the user, the waiting browser's and the phone's */

static void
ngx_http_otp_link_log(ngx_http_request_t *r, const char *what,
    ngx_str_t *address)
{
    ngx_http_otp_ctx_t       *ctx;
    ngx_http_otp_loc_conf_t  *olcf;

    ctx = ngx_http_get_module_ctx(r, ngx_http_otp_module);
    olcf = ngx_http_get_module_loc_conf(r, ngx_http_otp_module);

    ngx_log_error(olcf->log_level, r->connection->log, 0,
                  "otp: user \"%V\": cross-device request of %V %s on %V",
                  &ctx->user, address, what, &r->connection->addr_text);
}


static ngx_int_t
ngx_http_otp_link_answer(ngx_http_request_t *r, ngx_uint_t status,
    const char *which)
{
    ngx_http_otp_ctx_t        *ctx;
    ngx_http_otp_page_vars_t   pv;

    ctx = ngx_http_get_module_ctx(r, ngx_http_otp_module);

    pv.nvars = 0;

    ngx_http_otp_page_var(&pv, "user", &ctx->user);
    ngx_http_otp_page_var_cstr(&pv, which, "1");

    return ngx_http_otp_send_page(r, status, NGX_HTTP_OTP_PAGE_LINK_APPROVE,
                                  &pv);
}


/*
 * One refusal for whatever is wrong (SPEC 9.2, 6.10): the same page,
 * which says what it takes without saying what was missing.
 */

static ngx_int_t
ngx_http_otp_link_refused(ngx_http_request_t *r)
{
    ngx_http_otp_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_otp_module);

    ctx->status = NGX_HTTP_OTP_STATUS_DENIED;

    return ngx_http_otp_send_error(r, NGX_HTTP_FORBIDDEN,
                                   "This link cannot be used",
                                   "Open it on a phone where you are "
                                   "signed in, within a few minutes of "
                                   "entering a code there. Each link "
                                   "works once and only for a short "
                                   "time.");
}

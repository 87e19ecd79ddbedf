
/*
 * The recovery codes page: GET recovery tells how many codes are left,
 * POST recovery replaces them with ten new ones, shown once; and the
 * making of new codes, which enrollment uses too.  The codes themselves
 * (alphabet, keyed hash) are in ngx_http_otp_recovery.c.
 */


#include "ngx_http_otp_recovery_page.h"
#include "ngx_http_otp_account.h"
#include "ngx_http_otp_page.h"
#include "ngx_http_otp_page_flow.h"
#include "ngx_http_otp_recovery.h"
#include "ngx_http_otp_session.h"
#include "ngx_http_otp_store.h"
#include "ngx_http_otp_verify.h"


static void ngx_http_otp_recovery_user(ngx_http_request_t *r,
    ngx_http_otp_store_reply_t *reply);
static void ngx_http_otp_recovery_session(ngx_http_request_t *r,
    ngx_http_otp_store_reply_t *reply);
static ngx_int_t ngx_http_otp_recovery_page(ngx_http_request_t *r);
static void ngx_http_otp_recovery_saved(ngx_http_request_t *r,
    ngx_http_otp_store_reply_t *reply);
static void ngx_http_otp_recovery_session_new(ngx_http_request_t *r,
    ngx_http_otp_store_reply_t *reply);
static ngx_int_t ngx_http_otp_codes_uri(ngx_http_request_t *r,
    ngx_str_t *html, ngx_str_t *uri);


/*
 * Ten new recovery codes: the list the page shows (once) and their
 * keyed hashes, which is all the store keeps.
 */

ngx_int_t
ngx_http_otp_new_codes(ngx_http_request_t *r)
{
    char                       code[NGX_HTTP_OTP_RECOVERY_CODE_LEN + 1];
    u_char                    *p, *h;
    ngx_uint_t                 i;
    ngx_http_otp_ep_t         *ep;
    ngx_http_otp_ctx_t        *ctx;
    ngx_http_otp_main_conf_t  *omcf;

    ctx = ngx_http_get_module_ctx(r, ngx_http_otp_module);
    omcf = ngx_http_get_module_main_conf(r, ngx_http_otp_module);
    ep = ctx->endpoint;

    p = ngx_pnalloc(r->pool, sizeof("<ol></ol>") - 1
                             + NGX_HTTP_OTP_RECOVERY_CODES
                               * (sizeof("<li></li>") - 1
                                  + NGX_HTTP_OTP_RECOVERY_CODE_LEN));
    h = ngx_pnalloc(r->pool, NGX_HTTP_OTP_RECOVERY_CODES
                             * NGX_HTTP_OTP_RECOVERY_HASH_LEN);
    if (p == NULL || h == NULL) {
        return NGX_ERROR;
    }

    ep->codes_html.data = p;
    ep->codes_hashes.data = h;

    p = ngx_cpymem(p, "<ol>", sizeof("<ol>") - 1);

    for (i = 0; i < NGX_HTTP_OTP_RECOVERY_CODES; i++) {
        if (ngx_http_otp_recovery_code(code) != 0
            || ngx_http_otp_recovery_hash(omcf->keys.code,
                                          (char *) ctx->user.data,
                                          ctx->user.len, code,
                                          NGX_HTTP_OTP_RECOVERY_CODE_LEN,
                                          (char *) h)
               != 0)
        {
            ngx_explicit_memzero(code, sizeof(code));
            return NGX_ERROR;
        }

        /* the alphabet needs no escaping */

        p = ngx_cpymem(p, "<li>", sizeof("<li>") - 1);
        p = ngx_cpymem(p, code, NGX_HTTP_OTP_RECOVERY_CODE_LEN);
        p = ngx_cpymem(p, "</li>", sizeof("</li>") - 1);
        h += NGX_HTTP_OTP_RECOVERY_HASH_LEN;
    }

    ngx_explicit_memzero(code, sizeof(code));

    p = ngx_cpymem(p, "</ol>", sizeof("</ol>") - 1);

    ep->codes_html.len = p - ep->codes_html.data;
    ep->codes_hashes.len = h - ep->codes_hashes.data;

    return NGX_OK;
}


/*
 * GET recovery: how many codes are left, and a form for new ones; POST
 * recovery: new codes, shown once.  Both need an authenticator and a
 * session whose code was entered within otp_fresh; otherwise the user
 * goes through the challenge first and comes back here.
 */

ngx_int_t
ngx_http_otp_recovery(ngx_http_request_t *r)
{
    ngx_str_t            binding = ngx_string("recovery");
    ngx_http_otp_ep_t   *ep;
    ngx_http_otp_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_otp_module);
    ep = ctx->endpoint;

    if (ep->action == NGX_HTTP_OTP_RECOVERY_POST
        && ngx_http_otp_csrf_valid(r, &binding, NGX_HTTP_OTP_ENROLL_TTL)
           != NGX_OK)
    {
        ctx->status = NGX_HTTP_OTP_STATUS_DENIED;
        return ngx_http_otp_send_error(r, NGX_HTTP_FORBIDDEN,
                                       "Request refused",
                                       "This form has expired or was not "
                                       "sent from the recovery codes page. "
                                       "Go back and reload it.");
    }

    ep->has_cookie = (ngx_http_otp_session_from_cookie(r, &ep->old_sid)
                      == NGX_OK);

    return ngx_http_otp_ep_user_state(r, ngx_http_otp_recovery_user);
}


static void
ngx_http_otp_recovery_user(ngx_http_request_t *r,
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

    /* recovery codes stand in for an authenticator: first one of those */

    if (us->secret.data == NULL || us->must_enroll) {
        ngx_http_otp_ep_finish(r,
            olcf->enroll == NGX_HTTP_OTP_ENROLL_OFF
            ? ngx_http_otp_send_error(r, NGX_HTTP_FORBIDDEN,
                                      "No second factor",
                                      "Your account has no second factor "
                                      "yet. Ask an administrator to set "
                                      "one up for you.")
            : ngx_http_otp_redirect_page(r, "enroll"));
        return;
    }

    ep->recovery_left = us->recovery;

    rc = ngx_http_otp_ep_session_check(r, ngx_http_otp_recovery_session);

    ngx_http_otp_ep_finish(r, rc == NGX_DECLINED
                              ? ngx_http_otp_step_up(r, "recovery") : rc);
}


static void
ngx_http_otp_recovery_session(ngx_http_request_t *r,
    ngx_http_otp_store_reply_t *reply)
{
    ngx_int_t                      rc;
    ngx_str_t                      args[5];
    ngx_http_otp_ep_t             *ep;
    ngx_http_otp_ctx_t            *ctx;
    ngx_http_otp_loc_conf_t       *olcf;
    ngx_http_otp_session_reply_t  *sr;

    ctx = ngx_http_get_module_ctx(r, ngx_http_otp_module);
    olcf = ngx_http_get_module_loc_conf(r, ngx_http_otp_module);
    ep = ctx->endpoint;
    sr = (ngx_http_otp_session_reply_t *) reply;

    rc = ngx_http_otp_ep_fresh(r, reply, "recovery");

    if (rc != NGX_DECLINED) {
        ngx_http_otp_ep_finish(r, rc);
        return;
    }

    if (ep->action == NGX_HTTP_OTP_RECOVERY_FORM) {
        ngx_http_otp_ep_finish(r, ngx_http_otp_recovery_page(r));
        return;
    }

    /* the session goes on as a new one, of the same method */

    ctx->method = sr->method;

    if (ngx_http_otp_new_codes(r) != NGX_OK) {
        ngx_http_otp_ep_finish(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    /* a change of factor: the session's freshness, checked as it commits */

    args[0] = ep->codes_hashes;
    args[1] = ctx->user;

    if (ngx_http_otp_store_num(r, &args[2], ngx_time()) != NGX_OK
        || ngx_http_otp_store_num(r, &args[3], olcf->fresh) != NGX_OK
        || ngx_http_otp_store_num(r, &args[4], olcf->session_ttl) != NGX_OK)
    {
        ngx_http_otp_ep_finish(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    ngx_http_otp_ep_finish(r,
        ngx_http_otp_ep_run(r, NGX_HTTP_OTP_RECOVERY_SET, args, 5,
                            ngx_http_otp_recovery_saved));
}


static ngx_int_t
ngx_http_otp_recovery_page(ngx_http_request_t *r)
{
    ngx_str_t                  csrf, left;
    ngx_str_t                  binding = ngx_string("recovery");
    ngx_http_otp_ep_t         *ep;
    ngx_http_otp_ctx_t        *ctx;
    ngx_http_otp_page_vars_t   pv;

    ctx = ngx_http_get_module_ctx(r, ngx_http_otp_module);
    ep = ctx->endpoint;

    if (ngx_http_otp_csrf_make(r, &binding, &csrf) != NGX_OK
        || ngx_http_otp_store_num(r, &left, ep->recovery_left) != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    pv.nvars = 0;

    ngx_http_otp_page_var(&pv, "user", &ctx->user);
    ngx_http_otp_page_var(&pv, "csrf", &csrf);
    ngx_http_otp_page_var(&pv, "return", &ep->ret);
    ngx_http_otp_page_var(&pv, "continue", &ep->ret);
    ngx_http_otp_page_var(&pv, "recovery_left", &left);

    if (ngx_http_otp_account_url(r, &pv) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (ep->recovery_left == 0) {
        ngx_http_otp_page_var_cstr(&pv, "none_left", "1");
    }

    return ngx_http_otp_send_page(r, NGX_HTTP_OK, NGX_HTTP_OTP_PAGE_RECOVERY,
                                  &pv);
}


/*
 * recovery_set.lua checked the session's freshness again and ended the
 * user's sessions (SPEC 6.14): this one goes on as a new session, with a
 * new cookie
 */

static void
ngx_http_otp_recovery_saved(ngx_http_request_t *r,
    ngx_http_otp_store_reply_t *reply)
{
    const char          *method;
    ngx_http_otp_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_otp_module);

    if (reply->status == NGX_HTTP_OTP_ST_NONE) {
        /* the session was revoked or went stale: nothing changed */
        ngx_log_debug0(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                       "otp recovery: no code within otp_fresh, step-up");
        ngx_http_otp_ep_finish(r, ngx_http_otp_step_up(r, "recovery"));
        return;
    }

    if (reply->status != NGX_HTTP_OTP_ST_OK) {
        /* the authenticator went meanwhile */
        ngx_http_otp_ep_finish(r, ngx_http_otp_redirect_page(r, "enroll"));
        return;
    }

    ngx_log_error(NGX_LOG_NOTICE, r->connection->log, 0,
                  "otp: user \"%V\" made new recovery codes", &ctx->user);

    method = ctx->method.data ? (const char *) ctx->method.data : "totp";

    ngx_http_otp_ep_finish(r, ngx_http_otp_session_start(r, method,
                                  ngx_http_otp_recovery_session_new));
}


static void
ngx_http_otp_recovery_session_new(ngx_http_request_t *r,
    ngx_http_otp_store_reply_t *reply)
{
    ngx_http_otp_ep_finish(r, ngx_http_otp_codes_shown(r, reply, 1));
}


ngx_int_t
ngx_http_otp_codes_shown(ngx_http_request_t *r,
    ngx_http_otp_store_reply_t *reply, ngx_uint_t regenerated)
{
    ngx_str_t                  uri;
    ngx_http_otp_ep_t         *ep;
    ngx_http_otp_ctx_t        *ctx;
    ngx_http_otp_page_vars_t   pv;

    ctx = ngx_http_get_module_ctx(r, ngx_http_otp_module);
    ep = ctx->endpoint;

    if (reply->status != NGX_HTTP_OTP_ST_OK) {
        return ngx_http_otp_send_unavailable(r);
    }

    if (ngx_http_otp_session_set_cookie(r, &ep->sid) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (ep->codes_html.len == 0) {
        /* no recovery codes to show: on to the page asked for */
        return ngx_http_otp_redirect(r, NGX_HTTP_SEE_OTHER, &ep->ret);
    }

    pv.nvars = 0;

    ngx_http_otp_page_var(&pv, "user", &ctx->user);
    ngx_http_otp_page_var(&pv, "continue", &ep->ret);
    ngx_http_otp_page_var(&pv, "codes_html", &ep->codes_html);

    if (ngx_http_otp_codes_uri(r, &ep->codes_html, &uri) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_http_otp_page_var(&pv, "codes_uri", &uri);

    if (regenerated) {
        ngx_http_otp_page_var_cstr(&pv, "regenerated", "1");
    }

    return ngx_http_otp_send_page(r, NGX_HTTP_OK, NGX_HTTP_OTP_PAGE_RECOVERY,
                                  &pv);
}


/*
 * The codes as a text file, in a data: link of the page itself, so that
 * keeping them costs no second request and they are still shown once:
 * the issuer and user on the first line, then one code a line.  The
 * codes are read back from the list ngx_http_otp_new_codes() made.
 */

static ngx_int_t
ngx_http_otp_codes_uri(ngx_http_request_t *r, ngx_str_t *html,
    ngx_str_t *uri)
{
    u_char              *p, *q, *last;
    size_t               len;
    ngx_str_t            issuer;
    ngx_http_otp_ctx_t  *ctx;

    static const char  prefix[] = "data:text/plain;charset=utf-8,";

    ctx = ngx_http_get_module_ctx(r, ngx_http_otp_module);

    if (ngx_http_otp_issuer(r, &issuer) != NGX_OK) {
        return NGX_ERROR;
    }

    len = sizeof(prefix) - 1
          + 3 * (issuer.len + ctx->user.len) + sizeof("%20-%20%0A%0A") - 1
          + NGX_HTTP_OTP_RECOVERY_CODES
            * (NGX_HTTP_OTP_RECOVERY_CODE_LEN + sizeof("%0A") - 1);

    p = ngx_pnalloc(r->pool, len);
    if (p == NULL) {
        return NGX_ERROR;
    }

    uri->data = p;

    p = ngx_cpymem(p, prefix, sizeof(prefix) - 1);
    p = (u_char *) ngx_escape_uri(p, issuer.data, issuer.len,
                                  NGX_ESCAPE_URI_COMPONENT);
    p = ngx_cpymem(p, "%20-%20", sizeof("%20-%20") - 1);
    p = (u_char *) ngx_escape_uri(p, ctx->user.data, ctx->user.len,
                                  NGX_ESCAPE_URI_COMPONENT);
    p = ngx_cpymem(p, "%0A", sizeof("%0A") - 1);

    last = html->data + html->len;

    for (q = html->data; q < last; q++) {
        if (last - q < (ssize_t) (sizeof("<li>") - 1
                                  + NGX_HTTP_OTP_RECOVERY_CODE_LEN)
            || ngx_strncmp(q, "<li>", sizeof("<li>") - 1) != 0)
        {
            continue;
        }

        q += sizeof("<li>") - 1;

        /* the alphabet and "-" need no escaping in a URI either */

        p = ngx_cpymem(p, "%0A", sizeof("%0A") - 1);
        p = ngx_cpymem(p, q, NGX_HTTP_OTP_RECOVERY_CODE_LEN);
    }

    p = ngx_cpymem(p, "%0A", sizeof("%0A") - 1);

    uri->len = p - uri->data;

    return NGX_OK;
}

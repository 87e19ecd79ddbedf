
/*
 * The gate: what every location with "otp on" asks before its content.
 *
 * A request passes with a session that Redis confirms for the same user,
 * or that this worker saw confirmed less than otp_session_recheck ago.
 * Anything else fails closed: no user is 401, a user without a session
 * is sent to the challenge (browsers) or gets 401 (APIs), a locked user
 * 429, and Redis trouble 503.  While Redis is asked, the request waits
 * (NGX_AGAIN) and the reply runs the phases again.
 *
 * The gate is a precontent handler, not an access handler: access
 * handlers run before the first factor is checked (auth_basic and
 * auth_request are access handlers too, and nginx runs the module added
 * last first), and under "satisfy any" one that passes skips the rest.
 * The precontent phase follows every access check, whatever "satisfy"
 * says, and this handler, added last, runs before try_files and mirror.
 */


#include "ngx_http_otp_gate.h"
#include "ngx_http_otp_device.h"
#include "ngx_http_otp_lost.h"
#include "ngx_http_otp_metrics.h"
#include "ngx_http_otp_page.h"
#include "ngx_http_otp_policy.h"
#include "ngx_http_otp_session.h"
#include "ngx_http_otp_sms.h"
#include "ngx_http_otp_store.h"
#include "ngx_http_otp_return.h"


typedef struct {
    ngx_http_otp_sid_t          sid;          /* the cookie's */
    ngx_http_otp_sid_t          new_sid;      /* a remembered browser's */
    ngx_http_otp_device_t       dev;
    ngx_uint_t                  has_session;
} ngx_http_otp_gate_ctx_t;


static ngx_int_t ngx_http_otp_gate_handler(ngx_http_request_t *r);
static ngx_int_t ngx_http_otp_precontent_handler(ngx_http_request_t *r);
static ngx_int_t ngx_http_otp_subrequest(ngx_http_request_t *r,
    ngx_http_otp_loc_conf_t *olcf);
static ngx_uint_t ngx_http_otp_uri_unnormal(ngx_str_t *uri);
static ngx_int_t ngx_http_otp_slashes(ngx_http_request_t *r);
static ngx_int_t ngx_http_otp_gate_passed(ngx_http_request_t *r,
    ngx_http_otp_ctx_t *ctx);
static ngx_int_t ngx_http_otp_gate_run(ngx_http_request_t *r,
    ngx_http_otp_ctx_t *ctx, ngx_uint_t has_session);
static void ngx_http_otp_gate_done(ngx_http_request_t *r,
    ngx_http_otp_store_reply_t *reply);
static ngx_int_t ngx_http_otp_gate_user(ngx_http_request_t *r,
    ngx_http_otp_user_state_t *us);
static void ngx_http_otp_gate_resume(ngx_http_request_t *r, ngx_int_t rc);
static ngx_int_t ngx_http_otp_gate_challenge(ngx_http_request_t *r,
    ngx_http_otp_ctx_t *ctx, const char *page);
static ngx_uint_t ngx_http_otp_is_browser(ngx_http_request_t *r);
static ngx_int_t ngx_http_otp_gate_sent(ngx_http_request_t *r,
    ngx_int_t rc);


ngx_int_t
ngx_http_otp_gate_init(ngx_conf_t *cf)
{
    ngx_http_handler_pt        *h;
    ngx_http_core_main_conf_t  *cmcf;

    cmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_core_module);

    h = ngx_array_push(&cmcf->phases[NGX_HTTP_PRECONTENT_PHASE].handlers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    *h = ngx_http_otp_precontent_handler;

    return NGX_OK;
}


static ngx_int_t
ngx_http_otp_precontent_handler(ngx_http_request_t *r)
{
    ngx_int_t                 rc;
    ngx_http_otp_loc_conf_t  *olcf;

    olcf = ngx_http_get_module_loc_conf(r, ngx_http_otp_module);

    if (r != r->main) {
        return ngx_http_otp_subrequest(r, olcf);
    }

    if (!olcf->enable) {
        return ngx_http_otp_slashes(r);
    }

    rc = ngx_http_otp_gate_handler(r);

    /* passed: the next precontent handlers (try_files, mirror) run */

    return (rc == NGX_OK) ? NGX_DECLINED : rc;
}


/*
 * nginx runs subrequests (SSI includes, add_after_body, auth_request ...)
 * without an access phase.  One reaches a gated location only when its
 * main request passed a gate with a second factor, for the user that
 * location names, and with a code as recent as that location's
 * otp_max_age asks; a pass because enrolling was optional opens only
 * locations where it is optional too.  nginx matches a subrequest's URI
 * as it is: "//private/" or "/./private/" would find "location /", so
 * such URIs are refused everywhere.
 */

static ngx_int_t
ngx_http_otp_subrequest(ngx_http_request_t *r, ngx_http_otp_loc_conf_t *olcf)
{
    ngx_str_t            user;
    ngx_http_otp_ctx_t  *ctx;

    if (ngx_http_otp_uri_unnormal(&r->uri)) {
        goto refuse;
    }

    if (!olcf->enable || ngx_http_otp_bypassed(r, olcf) == NGX_OK) {
        return NGX_DECLINED;
    }

    ctx = ngx_http_get_module_ctx(r->main, ngx_http_otp_module);

    if (ctx == NULL || !ctx->gate_done || ctx->gate_rc != NGX_OK) {
        goto refuse;
    }

    if (ctx->status != NGX_HTTP_OTP_STATUS_PASSED
        && !(ctx->status == NGX_HTTP_OTP_STATUS_BYPASSED
             && olcf->enroll == NGX_HTTP_OTP_ENROLL_OPTIONAL))
    {
        goto refuse;
    }

    /* the main request's session, held to this location's step-up */

    if (ctx->status == NGX_HTTP_OTP_STATUS_PASSED
        && ngx_http_otp_stale(olcf, ctx->auth_time))
    {
        goto refuse;
    }

    if (ngx_http_complex_value(r, olcf->user, &user) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (user.len == ctx->user.len
        && ngx_strncmp(user.data, ctx->user.data, user.len) == 0)
    {
        return NGX_DECLINED;
    }

refuse:

    ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                  "otp: subrequest \"%V\" to a gated location refused",
                  &r->uri);

    /* an error_page of the location must not answer in our place */
    r->error_page = 1;

    return NGX_HTTP_FORBIDDEN;
}


/*
 * A server with merge_slashes off: "//private/x" reaches this ungated
 * location although "/private/x" is gated.  Refused.
 */

static ngx_int_t
ngx_http_otp_slashes(ngx_http_request_t *r)
{
    u_char                   *p, *q, *end, *merged;
    ngx_str_t                *gated;
    ngx_uint_t                i;
    ngx_http_otp_srv_conf_t  *oscf;

    oscf = ngx_http_get_module_srv_conf(r, ngx_http_otp_module);

    if (oscf->gated == NULL
        || ngx_strnstr(r->uri.data, "//", r->uri.len) == NULL)
    {
        return NGX_DECLINED;
    }

    merged = ngx_pnalloc(r->pool, r->uri.len);
    if (merged == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    end = r->uri.data + r->uri.len;
    q = merged;

    for (p = r->uri.data; p < end; p++) {
        if (*p == '/' && q > merged && q[-1] == '/') {
            continue;
        }

        *q++ = *p;
    }

    gated = oscf->gated->elts;

    for (i = 0; i < oscf->gated->nelts; i++) {
        if ((size_t) (q - merged) >= gated[i].len
            && ngx_strncmp(merged, gated[i].data, gated[i].len) == 0)
        {
            ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                          "otp: \"%V\" refused: with slashes merged it "
                          "is in the gated location \"%V\"",
                          &r->uri, &gated[i]);

            r->error_page = 1;

            return NGX_HTTP_FORBIDDEN;
        }
    }

    return NGX_DECLINED;
}


/* "//", "/./" or "/../" anywhere, or "/." or "/.." at the end */

static ngx_uint_t
ngx_http_otp_uri_unnormal(ngx_str_t *uri)
{
    u_char  *p, *end;

    end = uri->data + uri->len;

    for (p = uri->data; p + 1 < end; p++) {
        if (*p != '/') {
            continue;
        }

        if (p[1] == '/') {
            return 1;
        }

        if (p[1] == '.'
            && (p + 2 == end || p[2] == '/'
                || (p[2] == '.' && (p + 3 == end || p[3] == '/'))))
        {
            return 1;
        }
    }

    return 0;
}


static ngx_int_t
ngx_http_otp_gate_handler(ngx_http_request_t *r)
{
    ngx_int_t                 rc;
    ngx_uint_t                has_session;
    ngx_http_otp_ctx_t       *ctx;
    ngx_http_otp_loc_conf_t  *olcf;
    ngx_http_otp_gate_ctx_t  *gctx;

    olcf = ngx_http_get_module_loc_conf(r, ngx_http_otp_module);

    ctx = ngx_http_get_module_ctx(r, ngx_http_otp_module);

    if (ctx && ctx->gate_done) {
        return ctx->gate_rc;
    }

    if (ctx && ctx->gate_waiting) {
        return NGX_AGAIN;
    }

    ctx = ngx_http_otp_get_ctx(r);
    if (ctx == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (ngx_http_complex_value(r, olcf->user, &ctx->user) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    /* otp_bypass: trusted networks, health checks */

    switch (ngx_http_otp_bypassed(r, olcf)) {

    case NGX_OK:
        ngx_log_debug0(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                       "otp gate: bypassed");
        ctx->status = NGX_HTTP_OTP_STATUS_BYPASSED;
        ctx->gate_done = 1;
        ctx->gate_rc = NGX_OK;
        ngx_http_otp_metric_gate(r);
        return NGX_OK;

    case NGX_ERROR:
        return NGX_HTTP_INTERNAL_SERVER_ERROR;

    default: /* NGX_DECLINED */
        break;
    }

    if (ctx->user.len == 0) {
        ngx_log_debug0(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                       "otp gate: no user");
        ctx->status = NGX_HTTP_OTP_STATUS_DENIED;
        return ngx_http_otp_gate_sent(r, ngx_http_otp_send_no_user(r));
    }

    gctx = ngx_pcalloc(r->pool, sizeof(ngx_http_otp_gate_ctx_t));
    if (gctx == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ctx->endpoint = gctx;

    has_session = 0;

    if (ngx_http_otp_session_cookie(r, &gctx->sid) == NGX_OK) {

        /* the steady state: no base64, no MAC, no Redis */

        if (ngx_http_otp_session_cached(r, &gctx->sid, &ctx->user,
                                        olcf->session_recheck,
                                        &ctx->auth_time, &ctx->method)
            == NGX_OK)
        {
            ngx_log_debug0(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                           "otp gate: session known to this worker");

            ngx_http_otp_metric_inc(NGX_HTTP_OTP_M_SESSIONS_CACHE);

            rc = ngx_http_otp_gate_passed(r, ctx);

            if (rc == NGX_OK) {
                ctx->gate_done = 1;
                ctx->gate_rc = NGX_OK;
                ngx_http_otp_metric_gate(r);
            }

            return rc;
        }

        has_session = (ngx_http_otp_session_decode(r, &gctx->sid)
                       == NGX_OK);
    }

    if (ngx_http_otp_gate_run(r, ctx, has_session) != NGX_OK) {
        ctx->status = NGX_HTTP_OTP_STATUS_ERROR;
        return ngx_http_otp_gate_sent(r, ngx_http_otp_send_unavailable(r));
    }

    ctx->gate_waiting = 1;

    r->read_event_handler = ngx_http_test_reading;

    return NGX_AGAIN;
}


/*
 * A good session: NGX_OK (the caller counts the pass), unless otp_max_age
 * wants a fresher code here and the browser was sent to the challenge.
 */

static ngx_int_t
ngx_http_otp_gate_passed(ngx_http_request_t *r, ngx_http_otp_ctx_t *ctx)
{
    ngx_http_otp_loc_conf_t  *olcf;

    olcf = ngx_http_get_module_loc_conf(r, ngx_http_otp_module);

    if (ngx_http_otp_stale(olcf, ctx->auth_time)) {
        ngx_log_debug0(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                       "otp gate: code older than otp_max_age");
        ctx->status = NGX_HTTP_OTP_STATUS_CHALLENGED;
        return ngx_http_otp_gate_challenge(r, ctx, "challenge");
    }

    ctx->status = NGX_HTTP_OTP_STATUS_PASSED;

    return NGX_OK;
}


/*
 * gate.lua, the one trip of a browser the worker does not know: the
 * session, else the remembered browser, else the user's state.
 */

static ngx_int_t
ngx_http_otp_gate_run(ngx_http_request_t *r, ngx_http_otp_ctx_t *ctx,
    ngx_uint_t has_session)
{
    ngx_str_t                  args[7];
    ngx_http_otp_loc_conf_t   *olcf;
    ngx_http_otp_gate_ctx_t   *gctx;
    ngx_http_otp_store_ids_t   ids;

    olcf = ngx_http_get_module_loc_conf(r, ngx_http_otp_module);
    gctx = ctx->endpoint;

    gctx->has_session = has_session;

    if (has_session) {
        ngx_http_otp_session_hash(r, &gctx->sid);
    }

    ngx_str_set(&args[5], "");
    ngx_str_set(&args[6], "");

    /*
     * otp_remember_device: a browser the user trusts, unless otp_max_age
     * would send its session to the challenge at once
     */

    if (olcf->remember
        && ngx_http_otp_device_from_cookie(r, &ctx->user, &gctx->dev)
           == NGX_OK
        && !ngx_http_otp_stale(olcf, gctx->dev.issued)
        && ngx_http_otp_session_new_id(r, &gctx->new_sid) == NGX_OK)
    {
        args[5].data = gctx->dev.id;
        args[5].len = sizeof(gctx->dev.id);

        if (ngx_http_otp_store_num(r, &args[6], gctx->dev.issued) != NGX_OK)
        {
            return NGX_ERROR;
        }
    }

    args[0] = ctx->user;
    ngx_str_set(&args[4], "0");

    if (has_session) {
        ngx_str_set(&args[4], "1");
    }

    if (ngx_http_otp_store_num(r, &args[1], ngx_time()) != NGX_OK
        || ngx_http_otp_store_num(r, &args[2], olcf->session_idle) != NGX_OK
        || ngx_http_otp_store_num(r, &args[3], olcf->session_ttl) != NGX_OK)
    {
        return NGX_ERROR;
    }

    ids.user = ctx->user;
    ngx_str_null(&ids.challenge);
    ids.session.data = gctx->sid.hash;
    ids.session.len = NGX_HTTP_OTP_SID_HASH_LEN;
    ids.new_session.data = gctx->new_sid.hash;
    ids.new_session.len = NGX_HTTP_OTP_SID_HASH_LEN;

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "otp gate: asking redis, session cookie: %ui, "
                   "device cookie: %ui", has_session, args[5].len != 0);

    return ngx_http_otp_store_run(r, NGX_HTTP_OTP_GATE, &ids, args, 7,
                                  ngx_http_otp_gate_done);
}


static void
ngx_http_otp_gate_done(ngx_http_request_t *r,
    ngx_http_otp_store_reply_t *reply)
{
    ngx_http_otp_ctx_t         *ctx;
    ngx_http_otp_gate_ctx_t    *gctx;
    ngx_http_otp_gate_reply_t  *gr;

    ctx = ngx_http_get_module_ctx(r, ngx_http_otp_module);
    gctx = ctx->endpoint;
    gr = (ngx_http_otp_gate_reply_t *) reply;

    if (reply == NULL) {
        ctx->status = NGX_HTTP_OTP_STATUS_ERROR;
        ngx_http_otp_gate_resume(r, ngx_http_otp_gate_sent(r,
                                     ngx_http_otp_send_unavailable(r)));
        return;
    }

    switch (reply->status) {

    case NGX_HTTP_OTP_ST_OK:
        ngx_http_otp_metric_inc(NGX_HTTP_OTP_M_SESSIONS_REDIS);

        ctx->auth_time = gr->auth_time;
        ctx->method = gr->method;

        ngx_http_otp_session_remember(&gctx->sid, &ctx->user,
                                      ctx->auth_time, &ctx->method);
        break;

    case NGX_HTTP_OTP_ST_DEVICE:
        if (ngx_http_otp_session_set_cookie(r, &gctx->new_sid) != NGX_OK) {
            ngx_http_otp_gate_resume(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
            return;
        }

        ngx_str_set(&ctx->method, "remembered");
        ctx->auth_time = gctx->dev.issued;

        ngx_http_otp_session_remember(&gctx->new_sid, &ctx->user,
                                      ctx->auth_time, &ctx->method);

        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "otp: user \"%V\" passed on a remembered browser",
                      &ctx->user);
        break;

    default: /* NGX_HTTP_OTP_ST_NONE */

        if (gctx->has_session) {
            ngx_http_otp_session_forget(&gctx->sid);
        }

        ngx_http_otp_gate_resume(r, ngx_http_otp_gate_user(r, &gr->user));
        return;
    }

    ngx_http_otp_gate_resume(r, ngx_http_otp_gate_passed(r, ctx));
}


/* no session: where the user's state sends a browser */

static ngx_int_t
ngx_http_otp_gate_user(ngx_http_request_t *r, ngx_http_otp_user_state_t *us)
{
    ngx_uint_t                enrolled;
    ngx_http_otp_ctx_t       *ctx;
    ngx_http_otp_loc_conf_t  *olcf;

    ctx = ngx_http_get_module_ctx(r, ngx_http_otp_module);
    olcf = ngx_http_get_module_loc_conf(r, ngx_http_otp_module);

    enrolled = ((us->secret.data != NULL || ngx_http_otp_sms_factor(r, us))
                && !us->must_enroll);

    ngx_log_debug3(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "otp gate: no session; enrolled: %ui, locked: %i, "
                   "must enroll: %i", enrolled, us->lock_ttl,
                   us->must_enroll);

    if (us->lock_ttl > 0) {
        ctx->status = NGX_HTTP_OTP_STATUS_LOCKED;
        return ngx_http_otp_gate_sent(r, ngx_http_otp_send_locked(r,
                                                              us->lock_ttl));
    }

    if (enrolled) {
        ctx->status = NGX_HTTP_OTP_STATUS_CHALLENGED;
        return ngx_http_otp_gate_challenge(r, ctx, "challenge");
    }

    if (olcf->enroll == NGX_HTTP_OTP_ENROLL_REQUIRED
        || (olcf->enroll == NGX_HTTP_OTP_ENROLL_OPTIONAL && us->must_enroll))
    {
        /* an administrator's "require-enroll" holds even where optional */
        ctx->status = NGX_HTTP_OTP_STATUS_CHALLENGED;
        return ngx_http_otp_gate_challenge(r, ctx,
                                           ngx_http_otp_setup_page(olcf));
    }

    if (olcf->enroll == NGX_HTTP_OTP_ENROLL_OPTIONAL
        && ngx_http_otp_lost_now())
    {
        /* no record may be a lost one: no pass without a factor */
        ctx->status = NGX_HTTP_OTP_STATUS_ERROR;
        return ngx_http_otp_gate_sent(r, ngx_http_otp_send_unavailable(r));
    }

    if (olcf->enroll == NGX_HTTP_OTP_ENROLL_OPTIONAL) {
        ctx->status = NGX_HTTP_OTP_STATUS_BYPASSED;
        ngx_str_null(&ctx->method);
        return NGX_OK;
    }

    ctx->status = NGX_HTTP_OTP_STATUS_DENIED;

    return ngx_http_otp_gate_sent(r,
               ngx_http_otp_send_error(r, NGX_HTTP_FORBIDDEN,
                                       "No second factor",
                                       "Your account has no second "
                                       "factor yet. Ask an administrator "
                                       "to set one up for you."));
}


/*
 * Runs the phases again with the verdict; a response already sent
 * (NGX_DONE) finishes there.
 */

static void
ngx_http_otp_gate_resume(ngx_http_request_t *r, ngx_int_t rc)
{
    ngx_http_otp_ctx_t  *ctx;

    if (rc == NGX_AGAIN || rc == NGX_DONE) {
        /*
         * Another round trip is under way, or the response was sent and
         * the request finalized: it may be freed already.
         */
        return;
    }

    ctx = ngx_http_get_module_ctx(r, ngx_http_otp_module);

    ctx->gate_waiting = 0;

    ngx_http_otp_metric_gate(r);

    ctx->gate_done = 1;
    ctx->gate_rc = rc;

    r->read_event_handler = ngx_http_block_reading;
    r->write_event_handler = ngx_http_core_run_phases;

    ngx_http_core_run_phases(r);
}


static ngx_int_t
ngx_http_otp_gate_challenge(ngx_http_request_t *r, ngx_http_otp_ctx_t *ctx,
    const char *page)
{
    u_char                   *p;
    size_t                    len, plen;
    ngx_str_t                 url, *uri;
    ngx_http_otp_srv_conf_t  *oscf;

    oscf = ngx_http_get_module_srv_conf(r, ngx_http_otp_module);

    if (oscf->endpoint.len == 0) {
        /* no pages in this server: the API answer only */
        return ngx_http_otp_gate_sent(r,
                                  ngx_http_otp_send_otp_required(r, NULL));
    }

    /* the address the client asked for, before any internal redirect */

    uri = &r->main->unparsed_uri;
    plen = ngx_strlen(page);

    len = oscf->endpoint.len + plen + sizeof("?r=") - 1
          + ngx_http_otp_return_encoded_len(uri->len);

    url.data = ngx_pnalloc(r->pool, len);
    if (url.data == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    p = ngx_cpymem(url.data, oscf->endpoint.data, oscf->endpoint.len);
    p = ngx_cpymem(p, page, plen);
    p = ngx_cpymem(p, "?r=", sizeof("?r=") - 1);
    p += ngx_http_otp_return_encode((char *) uri->data, uri->len,
                                    (char *) p);
    url.len = p - url.data;

    if (!ngx_http_otp_is_browser(r)) {
        return ngx_http_otp_gate_sent(r,
                                  ngx_http_otp_send_otp_required(r, &url));
    }

    return ngx_http_otp_gate_sent(r,
               ngx_http_otp_send_redirect(r, NGX_HTTP_MOVED_TEMPORARILY,
                                          &url));
}


/*
 * A browser navigating: GET or HEAD, no XHR marker, and an Accept that
 * takes HTML (or none at all).
 */

static ngx_uint_t
ngx_http_otp_is_browser(ngx_http_request_t *r)
{
    ngx_str_t  accept, xhr;

    if (!(r->method & (NGX_HTTP_GET | NGX_HTTP_HEAD))) {
        return 0;
    }

    if (ngx_http_otp_request_header(r, "x-requested-with", &xhr) == NGX_OK) {
        return 0;
    }

    if (ngx_http_otp_request_header(r, "accept", &accept) != NGX_OK) {
        return 1;
    }

    return ngx_strlcasestrn(accept.data, accept.data + accept.len,
                            (u_char *) "text/html", 9 - 1)
           != NULL;
}


/*
 * The response is complete: finalize it here, and NGX_DONE stops the
 * phases, so that no return value can ever read as "passed".
 */

static ngx_int_t
ngx_http_otp_gate_sent(ngx_http_request_t *r, ngx_int_t rc)
{
    ngx_http_otp_metric_gate(r);

    ngx_http_finalize_request(r, rc);

    return NGX_DONE;
}


/*
 * Cross-device approval, the waiting browser's side (SPEC 9).
 *
 * GET challenge?method=link, without a binding cookie (or with one the
 * store knows nothing of): link_new.lua makes a request, bound to a new
 * cookie of this browser, and the page shows the QR code of the phone's
 * link, the same link, and the number to choose.  The page refreshes
 * itself (<meta http-equiv="refresh">, no script); each refresh carries
 * the cookie, and link_poll.lua says how the request stands: still
 * pending (the same page), approved (redeemed once: a new session,
 * 303 to the original URI), denied or expired (the page says so, the
 * cookie goes).
 *
 * The cookie holds the binding (16 random bytes) and the token (16
 * random bytes); the store holds only keyed hashes of each, the token's
 * as the request's name.  The phone, which has the token from the QR
 * code but not the binding, can approve the request but never redeem
 * it.
 */


#include "ngx_http_otp_link.h"
#include "ngx_http_otp_challenge.h"
#include "ngx_http_otp_cookie.h"
#include "ngx_http_otp_metrics.h"
#include "ngx_http_otp_page.h"
#include "ngx_http_otp_page_flow.h"
#include "ngx_http_otp_qr.h"
#include "ngx_http_otp_return.h"
#include "ngx_http_otp_session.h"
#include "ngx_http_otp_store.h"
#include "ngx_http_otp_template.h"


#define NGX_HTTP_OTP_LINK_BINDING_LEN    16

/* live requests a user may have (SPEC 6.17) */
#define NGX_HTTP_OTP_LINKS_MAX           10

/* how long past its end the waiting page can still tell it ended */
#define NGX_HTTP_OTP_LINK_GRACE          60

#define NGX_HTTP_OTP_LINK_AGENT_MAX      200


typedef enum {
    NGX_HTTP_OTP_LINK_PENDING = 0,
    NGX_HTTP_OTP_LINK_DENIED,
    NGX_HTTP_OTP_LINK_EXPIRED
} ngx_http_otp_link_state_e;


static ngx_int_t ngx_http_otp_link_create(ngx_http_request_t *r);
static void ngx_http_otp_link_made(ngx_http_request_t *r,
    ngx_http_otp_store_reply_t *reply);
static void ngx_http_otp_link_polled(ngx_http_request_t *r,
    ngx_http_otp_store_reply_t *reply);
static ngx_int_t ngx_http_otp_link_redeemed(ngx_http_request_t *r,
    ngx_http_otp_link_reply_t *lr);
static ngx_int_t ngx_http_otp_link_busy(ngx_http_request_t *r,
    ngx_int_t secs);
static ngx_int_t ngx_http_otp_link_page(ngx_http_request_t *r,
    ngx_uint_t status, ngx_http_otp_link_state_e state, ngx_int_t number,
    ngx_int_t secs);
static ngx_int_t ngx_http_otp_link_url(ngx_http_request_t *r,
    ngx_str_t *url);
static ngx_int_t ngx_http_otp_link_qr(ngx_http_request_t *r,
    ngx_str_t *text, ngx_str_t *svg);
static ngx_int_t ngx_http_otp_link_ids(ngx_http_request_t *r,
    u_char *raw);
static ngx_int_t ngx_http_otp_link_cookie(ngx_http_request_t *r,
    time_t max_age);


static ngx_str_t  ngx_http_otp_link_suffix = ngx_string("_link");


/* GET challenge?method=link */

ngx_int_t
ngx_http_otp_link_wait(ngx_http_request_t *r)
{
    u_char                     raw[NGX_HTTP_OTP_LINK_BINDING_LEN
                                   + NGX_HTTP_OTP_LINK_TOKEN_LEN];
    size_t                     len;
    ngx_str_t                  name, value, args[5];
    ngx_http_otp_ep_t         *ep;
    ngx_http_otp_ctx_t        *ctx;
    ngx_http_otp_loc_conf_t   *olcf;

    ctx = ngx_http_get_module_ctx(r, ngx_http_otp_module);
    olcf = ngx_http_get_module_loc_conf(r, ngx_http_otp_module);
    ep = ctx->endpoint;

    if (ngx_http_otp_cookie_host_name(r, &ngx_http_otp_link_suffix, &name)
        != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (ngx_http_otp_get_cookie(r, &name, &value) != NGX_OK
        || value.len != ngx_http_otp_b64url_encoded_len(sizeof(raw))
        || ngx_http_otp_b64url_decode((char *) value.data, value.len, raw,
                                      &len)
           != 0
        || len != sizeof(raw))
    {
        ngx_log_debug0(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                       "otp link: no binding cookie, a new request");

        return ngx_http_otp_link_create(r);
    }

    if (ngx_http_otp_link_ids(r, raw) != NGX_OK
        || ngx_http_otp_session_new_id(r, &ep->sid) != NGX_OK)
    {
        ngx_explicit_memzero(raw, sizeof(raw));
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_explicit_memzero(raw, sizeof(raw));

    args[0] = ctx->user;
    args[1] = ep->link_bind;

    if (ngx_http_otp_store_num(r, &args[2], ngx_time()) != NGX_OK
        || ngx_http_otp_store_num(r, &args[3], olcf->session_idle) != NGX_OK
        || ngx_http_otp_store_num(r, &args[4], olcf->session_ttl) != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_otp_ep_run(r, NGX_HTTP_OTP_LINK_POLL, args, 5,
                               ngx_http_otp_link_polled);
}


/* a new request: its binding, token and number, and link_new.lua */

static ngx_int_t
ngx_http_otp_link_create(ngx_http_request_t *r)
{
    u_char                    raw[NGX_HTTP_OTP_LINK_BINDING_LEN
                                  + NGX_HTTP_OTP_LINK_TOKEN_LEN + 1];
    ngx_str_t                 args[9];
    ngx_http_otp_ep_t        *ep;
    ngx_http_otp_ctx_t       *ctx;
    ngx_http_otp_loc_conf_t  *olcf;

    ctx = ngx_http_get_module_ctx(r, ngx_http_otp_module);
    olcf = ngx_http_get_module_loc_conf(r, ngx_http_otp_module);
    ep = ctx->endpoint;

    /* the last byte picks the number: 10..99, the bias is immaterial */

    if (ngx_http_otp_random(raw, sizeof(raw)) != 0
        || ngx_http_otp_link_ids(r, raw) != NGX_OK
        || ngx_http_otp_store_num(r, &ep->link_number,
                                  10 + raw[sizeof(raw) - 1] % 90)
           != NGX_OK)
    {
        ngx_explicit_memzero(raw, sizeof(raw));
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_explicit_memzero(raw, sizeof(raw));

    args[0] = ctx->user;
    args[4] = ep->link_number;
    args[5] = ep->link_bind;
    args[6] = r->connection->addr_text;

    /*
     * the phone's page shows it: whole characters, no control ones
     * (a cut one, or escapes for a terminal, are no text)
     */

    ngx_str_set(&args[7], "");

    if (r->headers_in.user_agent) {
        args[7].data = ngx_pnalloc(r->pool, NGX_HTTP_OTP_LINK_AGENT_MAX);
        if (args[7].data == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        args[7].len = ngx_http_otp_utf8_clean(
                          (char *) r->headers_in.user_agent->value.data,
                          r->headers_in.user_agent->value.len,
                          NGX_HTTP_OTP_LINK_AGENT_MAX, (char *) args[7].data);
    }

    if (ngx_http_otp_store_num(r, &args[1], olcf->link_ttl) != NGX_OK
        || ngx_http_otp_store_num(r, &args[2], ngx_time()) != NGX_OK
        || ngx_http_otp_store_num(r, &args[3], NGX_HTTP_OTP_LINKS_MAX)
           != NGX_OK
        || ngx_http_otp_store_num(r, &args[8],
                                  olcf->link_ttl + NGX_HTTP_OTP_LINK_GRACE)
           != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_otp_ep_run(r, NGX_HTTP_OTP_LINK_NEW, args, 9,
                               ngx_http_otp_link_made);
}


static void
ngx_http_otp_link_made(ngx_http_request_t *r,
    ngx_http_otp_store_reply_t *reply)
{
    ngx_int_t                   rc;
    ngx_http_otp_ep_t          *ep;
    ngx_http_otp_ctx_t         *ctx;
    ngx_http_otp_loc_conf_t    *olcf;
    ngx_http_otp_link_reply_t  *lr;

    ctx = ngx_http_get_module_ctx(r, ngx_http_otp_module);
    olcf = ngx_http_get_module_loc_conf(r, ngx_http_otp_module);
    ep = ctx->endpoint;
    lr = (ngx_http_otp_link_reply_t *) reply;

    switch (reply->status) {

    case NGX_HTTP_OTP_ST_OK:
        break;

    case NGX_HTTP_OTP_ST_BUSY:
        ngx_http_otp_ep_finish(r, ngx_http_otp_link_busy(r, lr->secs));
        return;

    case NGX_HTTP_OTP_ST_NONE:
        /* locked, asked to enroll, or a factor the store does not hold */
        rc = ngx_http_otp_challenge_state(r, &lr->user);

        ngx_http_otp_ep_finish(r, rc != NGX_DECLINED
                                  ? rc
                                  : ngx_http_otp_redirect_page(r,
                                                               "challenge"));
        return;

    default: /* NGX_HTTP_OTP_ST_EXISTS: 128 random bits collided */
        ngx_http_otp_ep_finish(r, ngx_http_otp_send_unavailable(r));
        return;
    }

    ngx_http_otp_metric_inc(NGX_HTTP_OTP_M_LINK_CREATED);
    ctx->status = NGX_HTTP_OTP_STATUS_CHALLENGED;

    if (ngx_http_otp_link_cookie(r, olcf->link_ttl
                                    + NGX_HTTP_OTP_LINK_GRACE)
        != NGX_OK)
    {
        ngx_http_otp_ep_finish(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    ngx_http_otp_ep_finish(r,
        ngx_http_otp_link_page(r, NGX_HTTP_OK, NGX_HTTP_OTP_LINK_PENDING,
                               ngx_atoi(ep->link_number.data,
                                        ep->link_number.len),
                               olcf->link_ttl));
}


static void
ngx_http_otp_link_polled(ngx_http_request_t *r,
    ngx_http_otp_store_reply_t *reply)
{
    ngx_int_t                   rc;
    ngx_http_otp_ctx_t         *ctx;
    ngx_http_otp_link_reply_t  *lr;

    ctx = ngx_http_get_module_ctx(r, ngx_http_otp_module);
    lr = (ngx_http_otp_link_reply_t *) reply;

    if (reply->status == NGX_HTTP_OTP_ST_NONE) {
        /* not this browser's, redeemed, or gone: a new one */
        rc = ngx_http_otp_link_create(r);
        ngx_http_otp_ep_finish(r, rc);
        return;
    }

    if (reply->status == NGX_HTTP_OTP_ST_PENDING) {
        ctx->status = NGX_HTTP_OTP_STATUS_CHALLENGED;
        ngx_http_otp_ep_finish(r,
            ngx_http_otp_link_page(r, NGX_HTTP_OK,
                                   NGX_HTTP_OTP_LINK_PENDING, lr->number,
                                   lr->secs));
        return;
    }

    /* the request ended: the cookie goes with it */

    if (ngx_http_otp_link_cookie(r, 0) != NGX_OK) {
        ngx_http_otp_ep_finish(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    switch (reply->status) {

    case NGX_HTTP_OTP_ST_OK:
        rc = ngx_http_otp_link_redeemed(r, lr);
        break;

    case NGX_HTTP_OTP_ST_LOCKED:
        ctx->status = NGX_HTTP_OTP_STATUS_LOCKED;
        rc = ngx_http_otp_send_locked(r, lr->secs);
        break;

    case NGX_HTTP_OTP_ST_EXPIRED:
        ngx_http_otp_metric_inc(NGX_HTTP_OTP_M_LINK_EXPIRED);
        ctx->status = NGX_HTTP_OTP_STATUS_DENIED;
        rc = ngx_http_otp_link_page(r, NGX_HTTP_OK,
                                    NGX_HTTP_OTP_LINK_EXPIRED, 0, 0);
        break;

    default: /* NGX_HTTP_OTP_ST_DENIED */
        ctx->status = NGX_HTTP_OTP_STATUS_DENIED;
        rc = ngx_http_otp_link_page(r, NGX_HTTP_FORBIDDEN,
                                    NGX_HTTP_OTP_LINK_DENIED, 0, 0);
        break;
    }

    ngx_http_otp_ep_finish(r, rc);
}


/* link_poll.lua made the session: its cookie, and on */

static ngx_int_t
ngx_http_otp_link_redeemed(ngx_http_request_t *r,
    ngx_http_otp_link_reply_t *lr)
{
    ngx_http_otp_ep_t   *ep;
    ngx_http_otp_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_otp_module);
    ep = ctx->endpoint;

    ngx_str_set(&ctx->method, "link");
    ctx->auth_time = lr->time;

    if (ngx_http_otp_session_set_cookie(r, &ep->sid) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ctx->status = NGX_HTTP_OTP_STATUS_PASSED;

    ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                  "otp: user \"%V\" passed with link", &ctx->user);

    return ngx_http_otp_redirect(r, NGX_HTTP_SEE_OTHER, &ep->ret);
}


/* SPEC 6.17: this user alone waits until one of the requests ends */

static ngx_int_t
ngx_http_otp_link_busy(ngx_http_request_t *r, ngx_int_t secs)
{
    ngx_str_t            retry;
    ngx_http_otp_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_otp_module);

    ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                  "otp: user \"%V\" has the most cross-device requests "
                  "open", &ctx->user);

    ctx->status = NGX_HTTP_OTP_STATUS_DENIED;

    if (ngx_http_otp_store_num(r, &retry, ngx_max(secs, 1)) != NGX_OK
        || ngx_http_otp_add_header(r, "Retry-After", &retry) != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_otp_send_error(r, NGX_HTTP_TOO_MANY_REQUESTS,
                                   "Too many requests",
                                   "Approval from a phone was asked for "
                                   "too many times in the last minutes. "
                                   "Use a page that is already open, or "
                                   "try again in a few minutes.");
}


/*
 * The waiting page: while pending, the QR code, the link, the number
 * and a refresh of itself; at the end, what became of the request.
 */

static ngx_int_t
ngx_http_otp_link_page(ngx_http_request_t *r, ngx_uint_t status,
    ngx_http_otp_link_state_e state, ngx_int_t number, ngx_int_t secs)
{
    u_char                    *p;
    ngx_str_t                  url, qr, ret_q, num, left;
    ngx_http_otp_ep_t         *ep;
    ngx_http_otp_ctx_t        *ctx;
    ngx_http_otp_page_vars_t   pv;

    ctx = ngx_http_get_module_ctx(r, ngx_http_otp_module);
    ep = ctx->endpoint;

    p = ngx_pnalloc(r->pool, ngx_http_otp_return_encoded_len(ep->ret.len));
    if (p == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ret_q.data = p;
    ret_q.len = ngx_http_otp_return_encode((char *) ep->ret.data,
                                           ep->ret.len, (char *) p);

    pv.nvars = 0;

    ngx_http_otp_page_var(&pv, "user", &ctx->user);
    ngx_http_otp_page_var(&pv, "return_q", &ret_q);

    if (state == NGX_HTTP_OTP_LINK_DENIED) {
        ngx_http_otp_page_var_cstr(&pv, "denied", "1");
        return ngx_http_otp_send_page(r, status, NGX_HTTP_OTP_PAGE_LINK,
                                      &pv);
    }

    if (state == NGX_HTTP_OTP_LINK_EXPIRED) {
        ngx_http_otp_page_var_cstr(&pv, "expired", "1");
        return ngx_http_otp_send_page(r, status, NGX_HTTP_OTP_PAGE_LINK,
                                      &pv);
    }

    if (ngx_http_otp_link_url(r, &url) != NGX_OK
        || ngx_http_otp_link_qr(r, &url, &qr) != NGX_OK
        || ngx_http_otp_store_num(r, &num, number) != NGX_OK
        || ngx_http_otp_store_num(r, &left, secs) != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_http_otp_page_var_cstr(&pv, "pending", "1");
    ngx_http_otp_page_var(&pv, "url", &url);
    ngx_http_otp_page_var(&pv, "qr_svg", &qr);
    ngx_http_otp_page_var(&pv, "number", &num);
    ngx_http_otp_page_var(&pv, "secs", &left);

    return ngx_http_otp_send_page(r, status, NGX_HTTP_OTP_PAGE_LINK, &pv);
}


/*
 * "<scheme>://<host><endpoint>link?t=<token>": the host is the one this
 * browser asked for (the QR code is for the same site), and only of the
 * bytes a host name and port have.
 */

static ngx_int_t
ngx_http_otp_link_url(ngx_http_request_t *r, ngx_str_t *url)
{
    u_char                    *p, c;
    size_t                     i;
    ngx_str_t                  host, scheme;
    ngx_http_otp_ep_t         *ep;
    ngx_http_core_loc_conf_t  *clcf;
    ngx_http_core_srv_conf_t  *cscf;

    clcf = ngx_http_get_module_loc_conf(r, ngx_http_core_module);
    ep = ngx_http_otp_ep(r);

    ngx_str_set(&scheme, "http://");

#if (NGX_HTTP_SSL || NGX_COMPAT)
    if (r->connection->ssl) {
        ngx_str_set(&scheme, "https://");
    }
#endif

    host = r->headers_in.host ? r->headers_in.host->value
                              : (ngx_str_t) ngx_null_string;

    for (i = 0; i < host.len; i++) {
        c = host.data[i];

        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
              || (c >= '0' && c <= '9') || c == '-' || c == '.'
              || c == ':' || c == '[' || c == ']'))
        {
            host.len = 0;
            break;
        }
    }

    if (host.len == 0) {
        cscf = ngx_http_get_module_srv_conf(r, ngx_http_core_module);
        host = cscf->server_name;
    }

    p = ngx_pnalloc(r->pool, scheme.len + host.len + clcf->name.len
                             + sizeof("link?t=") - 1 + ep->link_token.len);
    if (p == NULL) {
        return NGX_ERROR;
    }

    url->data = p;
    p = ngx_cpymem(p, scheme.data, scheme.len);
    p = ngx_cpymem(p, host.data, host.len);
    p = ngx_cpymem(p, clcf->name.data, clcf->name.len);
    p = ngx_cpymem(p, "link?t=", sizeof("link?t=") - 1);
    p = ngx_cpymem(p, ep->link_token.data, ep->link_token.len);
    url->len = p - url->data;

    return NGX_OK;
}


static ngx_int_t
ngx_http_otp_link_qr(ngx_http_request_t *r, ngx_str_t *text,
    ngx_str_t *svg)
{
    char    *out;
    size_t   len;

    out = ngx_http_otp_qr_svg((char *) text->data, text->len, &len);
    if (out == NULL) {
        return NGX_ERROR;
    }

    svg->data = ngx_pnalloc(r->pool, len);

    if (svg->data != NULL) {
        ngx_memcpy(svg->data, out, len);
        svg->len = len;
    }

    free(out);

    return svg->data ? NGX_OK : NGX_ERROR;
}


/*
 * From the binding and the token (raw): the cookie's value, the token
 * as the link has it, and what the store keeps of each.
 */

static ngx_int_t
ngx_http_otp_link_ids(ngx_http_request_t *r, u_char *raw)
{
    u_char             *token;
    ngx_http_otp_ep_t  *ep;

    ep = ngx_http_otp_ep(r);
    token = raw + NGX_HTTP_OTP_LINK_BINDING_LEN;

    ep->link_cookie.data = ngx_pnalloc(r->pool,
        ngx_http_otp_b64url_encoded_len(NGX_HTTP_OTP_LINK_BINDING_LEN
                                        + NGX_HTTP_OTP_LINK_TOKEN_LEN));
    ep->link_token.data = ngx_pnalloc(r->pool,
                                      NGX_HTTP_OTP_LINK_TOKEN_B64_LEN);
    if (ep->link_cookie.data == NULL || ep->link_token.data == NULL) {
        return NGX_ERROR;
    }

    ep->link_cookie.len = ngx_http_otp_b64url_encode(raw,
                              NGX_HTTP_OTP_LINK_BINDING_LEN
                              + NGX_HTTP_OTP_LINK_TOKEN_LEN,
                              (char *) ep->link_cookie.data);
    ep->link_token.len = ngx_http_otp_b64url_encode(token,
                              NGX_HTTP_OTP_LINK_TOKEN_LEN,
                              (char *) ep->link_token.data);

    if (ngx_http_otp_link_keyed(r, "link", token,
                                NGX_HTTP_OTP_LINK_TOKEN_LEN, &ep->link_hash)
        != NGX_OK
        || ngx_http_otp_link_keyed(r, "bind", raw,
                                   NGX_HTTP_OTP_LINK_BINDING_LEN,
                                   &ep->link_bind)
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    return NGX_OK;
}


ngx_int_t
ngx_http_otp_link_keyed(ngx_http_request_t *r, const char *label,
    u_char *bytes, size_t len, ngx_str_t *hash)
{
    u_char                     msg[8 + NGX_HTTP_OTP_LINK_BINDING_LEN
                                   + NGX_HTTP_OTP_LINK_TOKEN_LEN],
                               mac[NGX_HTTP_OTP_MAC_LEN];
    size_t                     llen;
    ngx_http_otp_main_conf_t  *omcf;

    omcf = ngx_http_get_module_main_conf(r, ngx_http_otp_module);

    llen = ngx_strlen(label);

    if (llen > 8 || len > sizeof(msg) - 8) {
        return NGX_ERROR;
    }

    ngx_memcpy(ngx_cpymem(msg, label, llen), bytes, len);

    if (ngx_http_otp_hmac(omcf->keys.cookie, msg, llen + len, mac) != 0) {
        ngx_explicit_memzero(msg, sizeof(msg));
        return NGX_ERROR;
    }

    ngx_explicit_memzero(msg, sizeof(msg));

    hash->data = ngx_pnalloc(r->pool, 2 * sizeof(mac));
    if (hash->data == NULL) {
        return NGX_ERROR;
    }

    hash->len = ngx_hex_dump(hash->data, mac, sizeof(mac)) - hash->data;

    return NGX_OK;
}


/* the binding cookie set (max_age > 0) or removed */

static ngx_int_t
ngx_http_otp_link_cookie(ngx_http_request_t *r, time_t max_age)
{
    ngx_http_otp_ep_t  *ep;

    ep = ngx_http_otp_ep(r);

    if (max_age == 0) {
        return ngx_http_otp_cookie_set_host(r, &ngx_http_otp_link_suffix,
                                            NULL, 0, 0);
    }

    return ngx_http_otp_cookie_set_host(r, &ngx_http_otp_link_suffix,
                                        ep->link_cookie.data,
                                        ep->link_cookie.len, max_age);
}

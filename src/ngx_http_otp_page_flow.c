
/*
 * What the pages of the otp_endpoint location share: the request's
 * endpoint state and its form (query string or POST body), running a
 * step's store script and finishing the request after it, CSRF tokens,
 * redirects to the endpoint's pages, and the arguments of the attempt
 * scripts.  The router (ngx_http_otp_endpoint.c) is above, the pages
 * between: no function here calls a page.
 *
 * Each step that needs Redis runs one store script and continues in the
 * script's reply handler.  A step returns NGX_DONE while a script is in
 * flight, or the final status of the request.  GET handlers take a
 * reference on the request for the wait; POST handlers already hold the
 * one ngx_http_read_client_request_body() took.  Each script, its reply
 * status and the request's end are traced at debug level ("otp <page>:
 * ..."), by name and status only.
 */


#include "ngx_http_otp_page_flow.h"
#include "ngx_http_otp_cookie.h"
#include "ngx_http_otp_form.h"
#include "ngx_http_otp_page.h"
#include "ngx_http_otp_return.h"
#include "ngx_http_otp_session.h"
#include "ngx_http_otp_store.h"
#include "ngx_http_otp_token.h"


#define NGX_HTTP_OTP_BODY_MAX            8192


static ngx_int_t ngx_http_otp_return_from(ngx_http_request_t *r,
    ngx_str_t *in, ngx_uint_t encoded, ngx_str_t *out);
static ngx_int_t ngx_http_otp_cross_site(ngx_http_request_t *r);
static void ngx_http_otp_ep_reply(ngx_http_request_t *r,
    ngx_http_otp_store_reply_t *reply);


/* for the debug log, in the order of ngx_http_otp_action_e */
static const char  *ngx_http_otp_ep_pages[] = {
    "challenge", "verify", "enroll", "enroll", "logout", "logout",
    "recovery", "recovery", "sms", "sms", "link", "link",
    "account", "account"
};


/* ---------------------------------------------------- the request's form */


/* GET: the return address and the method from the query string */

ngx_int_t
ngx_http_otp_ep_query(ngx_http_request_t *r)
{
    ngx_str_t           arg;
    ngx_http_otp_ep_t  *ep;

    ep = ngx_http_otp_ep(r);

    if (ngx_http_arg(r, (u_char *) "r", 1, &arg) == NGX_OK) {
        if (ngx_http_otp_return_from(r, &arg, 1, &ep->ret) != NGX_OK) {
            return NGX_ERROR;
        }

        ngx_http_otp_page_back(r, &ep->ret);
    }

    if (ngx_http_arg(r, (u_char *) "method", 6, &arg) == NGX_OK) {
        ep->method = arg;
    }

    return NGX_OK;
}


/*
 * POST: a form from our own pages, of our type and size, read; the
 * router's body handler goes on with ngx_http_otp_ep_form().
 */

ngx_int_t
ngx_http_otp_ep_read_form(ngx_http_request_t *r,
    ngx_http_client_body_handler_pt handler)
{
    size_t     len;
    ngx_int_t  rc;
    ngx_str_t  type;

    if (ngx_http_otp_cross_site(r) != NGX_OK) {
        return ngx_http_otp_send_error(r, NGX_HTTP_FORBIDDEN,
                                       "Request refused",
                                       "This form was sent from another "
                                       "site.");
    }

    type = r->headers_in.content_type ? r->headers_in.content_type->value
                                      : (ngx_str_t) ngx_null_string;

    /* the type itself, perhaps followed by parameters */

    len = sizeof("application/x-www-form-urlencoded") - 1;

    if (type.len < len
        || ngx_strncasecmp(type.data,
                           (u_char *) "application/x-www-form-urlencoded",
                           len)
           != 0
        || (type.len > len && type.data[len] != ';'
            && type.data[len] != ' ' && type.data[len] != '\t'))
    {
        return NGX_HTTP_UNSUPPORTED_MEDIA_TYPE;
    }

    if (r->headers_in.content_length_n > NGX_HTTP_OTP_BODY_MAX) {
        return NGX_HTTP_REQUEST_ENTITY_TOO_LARGE;
    }

    r->request_body_in_single_buf = 1;

    rc = ngx_http_read_client_request_body(r, handler);

    if (rc >= NGX_HTTP_SPECIAL_RESPONSE) {
        return rc;
    }

    return NGX_DONE;
}


/*
 * The fields of the form read into the endpoint's state: NGX_DECLINED
 * when the page goes on, else the status to finalize the request with.
 */

ngx_int_t
ngx_http_otp_ep_form(ngx_http_request_t *r)
{
    size_t                      len;
    u_char                     *body, *p;
    ngx_int_t                   rc;
    ngx_chain_t                *cl;
    ngx_http_otp_ep_t          *ep;
    ngx_http_otp_ctx_t         *ctx;
    ngx_http_otp_form_field_t   fields[15];

    ctx = ngx_http_get_module_ctx(r, ngx_http_otp_module);
    ep = ctx->endpoint;

    /* the reference read_client_request_body() took ends with us */
    ep->referenced = 1;

    if (r->request_body == NULL || r->request_body->temp_file) {
        return NGX_HTTP_REQUEST_ENTITY_TOO_LARGE;
    }

    len = 0;

    for (cl = r->request_body->bufs; cl; cl = cl->next) {
        len += cl->buf->last - cl->buf->pos;
    }

    if (len > NGX_HTTP_OTP_BODY_MAX) {
        return NGX_HTTP_REQUEST_ENTITY_TOO_LARGE;
    }

    body = ngx_pnalloc(r->pool, len + 1);
    if (body == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    p = body;

    for (cl = r->request_body->bufs; cl; cl = cl->next) {
        /* a chunked body ends with an empty buffer whose pos is NULL */
        if (cl->buf->last > cl->buf->pos) {
            p = ngx_cpymem(p, cl->buf->pos, cl->buf->last - cl->buf->pos);
        }
    }

    ngx_memzero(fields, sizeof(fields));

    fields[0].name = "code";
    fields[0].size = NGX_HTTP_OTP_CODE_MAX_LEN + 1;
    fields[1].name = "csrf";
    fields[1].size = 256;
    fields[2].name = "method";
    fields[2].size = 16;
    fields[3].name = "return";
    fields[3].size = NGX_HTTP_OTP_RETURN_MAX_LEN + 1;
    fields[4].name = "remember";
    fields[4].size = 4;
    fields[5].name = "phone";
    fields[5].size = 32;
    fields[6].name = "k";
    fields[6].size = 512;
    fields[7].name = "t";
    fields[7].size = 64;
    fields[8].name = "number";
    fields[8].size = 4;
    fields[9].name = "deny";
    fields[9].size = 4;
    fields[10].name = "action";
    fields[10].size = 16;
    fields[11].name = "id";
    fields[11].size = 16;
    fields[12].name = "name";
    fields[12].size = 65;
    fields[13].name = "add";
    fields[13].size = 4;
    fields[14].name = "confirm";
    fields[14].size = 4;

    for (rc = 0; rc < 15; rc++) {
        fields[rc].value = ngx_pnalloc(r->pool, fields[rc].size);
        if (fields[rc].value == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }
    }

    if (ngx_http_otp_form_parse(body, len, NGX_HTTP_OTP_BODY_MAX, fields,
                                15)
        != NGX_HTTP_OTP_FORM_OK)
    {
        return ngx_http_otp_send_error(r, NGX_HTTP_BAD_REQUEST,
                                       "Bad request",
                                       "The form could not be read.");
    }

    ep->code.data = (u_char *) fields[0].value;
    ep->code.len = fields[0].len;
    ep->csrf.data = (u_char *) fields[1].value;
    ep->csrf.len = fields[1].len;
    ep->method.data = (u_char *) fields[2].value;
    ep->method.len = fields[2].len;
    ep->phone.data = (u_char *) fields[5].value;
    ep->phone.len = fields[5].len;
    ep->pass.data = (u_char *) fields[6].value;
    ep->pass.len = fields[6].len;
    ep->remember = (fields[4].len == 1 && fields[4].value[0] == '1');
    ep->link_token.data = (u_char *) fields[7].value;
    ep->link_token.len = fields[7].len;
    ep->link_number.data = (u_char *) fields[8].value;
    ep->link_number.len = fields[8].len;
    ep->link_deny = (fields[9].len == 1 && fields[9].value[0] == '1');
    ep->act.data = (u_char *) fields[10].value;
    ep->act.len = fields[10].len;
    ep->aid.data = (u_char *) fields[11].value;
    ep->aid.len = fields[11].len;
    ep->aname.data = (u_char *) fields[12].value;
    ep->aname.len = fields[12].len;
    ep->add = (fields[13].len == 1 && fields[13].value[0] == '1');
    ep->confirm = (fields[14].len == 1 && fields[14].value[0] == '1');

    if (fields[3].found) {
        ep->ret.data = (u_char *) fields[3].value;
        ep->ret.len = fields[3].len;

        if (ngx_http_otp_return_from(r, &ep->ret, 0, &ep->ret) != NGX_OK) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        ngx_http_otp_page_back(r, &ep->ret);
    }

    return NGX_DECLINED;
}


/*
 * The sanitized return address from a query argument (still encoded) or
 * a form field (decoded by the form parser).
 */

static ngx_int_t
ngx_http_otp_return_from(ngx_http_request_t *r, ngx_str_t *in,
    ngx_uint_t encoded, ngx_str_t *out)
{
    char    *buf;
    size_t   len;

    buf = ngx_pnalloc(r->pool, NGX_HTTP_OTP_RETURN_MAX_LEN + 1);
    if (buf == NULL) {
        return NGX_ERROR;
    }

    if (encoded) {
        if (in->len > NGX_HTTP_OTP_RETURN_MAX_LEN
            || ngx_http_otp_form_decode(in->data, in->len, buf,
                                        NGX_HTTP_OTP_RETURN_MAX_LEN + 1,
                                        &len, 0)
               != NGX_HTTP_OTP_FORM_OK)
        {
            ngx_str_set(out, "/");
            return NGX_OK;
        }

        in = ngx_palloc(r->pool, sizeof(ngx_str_t));
        if (in == NULL) {
            return NGX_ERROR;
        }

        in->data = ngx_pnalloc(r->pool, len);
        if (in->data == NULL) {
            return NGX_ERROR;
        }

        ngx_memcpy(in->data, buf, len);
        in->len = len;
    }

    if (ngx_http_otp_return_sanitize((char *) in->data, in->len, buf, &len)
        != 0)
    {
        ngx_str_set(out, "/");
        return NGX_OK;
    }

    out->data = (u_char *) buf;
    out->len = len;

    return NGX_OK;
}


/*
 * Forms are only taken from our own pages: a browser that says the form
 * came from another site, or from another origin, is refused.  Under
 * "Referrer-Policy: no-referrer" a browser sends "Origin: null" even
 * for a form of the same origin; Sec-Fetch-Site, which no page can set,
 * then says where it came from.
 */

static ngx_int_t
ngx_http_otp_cross_site(ngx_http_request_t *r)
{
    u_char     *p;
    ngx_str_t   site, origin, host;

    if (ngx_http_otp_request_header(r, "sec-fetch-site", &site) == NGX_OK) {

        if (site.len == sizeof("cross-site") - 1
            && ngx_strncasecmp(site.data, (u_char *) "cross-site", site.len)
               == 0)
        {
            return NGX_DECLINED;
        }

        if (site.len == sizeof("same-origin") - 1
            && ngx_strncasecmp(site.data, (u_char *) "same-origin",
                               site.len)
               == 0)
        {
            return NGX_OK;
        }
    }

    if (ngx_http_otp_request_header(r, "origin", &origin) != NGX_OK) {
        return NGX_OK;
    }

    host = r->headers_in.host ? r->headers_in.host->value
                              : (ngx_str_t) ngx_null_string;

    p = ngx_strlcasestrn(origin.data, origin.data + origin.len,
                         (u_char *) "://", 3 - 1);

    if (p == NULL || host.len == 0) {
        /* "null" and anything unreadable */
        return NGX_DECLINED;
    }

    p += 3;

    if ((size_t) (origin.data + origin.len - p) != host.len
        || ngx_strncasecmp(p, host.data, host.len) != 0)
    {
        return NGX_DECLINED;
    }

    return NGX_OK;
}


/* ----------------------------------------------------------- the steps */


ngx_int_t
ngx_http_otp_ep_run(ngx_http_request_t *r, ngx_http_otp_script_e script,
    ngx_str_t *args, ngx_uint_t nargs, ngx_http_otp_store_handler_pt done)
{
    ngx_http_otp_ep_t         *ep;
    ngx_http_otp_ctx_t        *ctx;
    ngx_http_otp_store_ids_t   ids;

    ctx = ngx_http_get_module_ctx(r, ngx_http_otp_module);
    ep = ctx->endpoint;

    /* the keys: the user's, the form's challenge, the sessions */

    ids.user = ctx->user;
    ids.challenge = ep->challenge;
    ids.session.data = ep->old_sid.hash;
    ids.session.len = NGX_HTTP_OTP_SID_HASH_LEN;
    ids.new_session.data = ep->sid.hash;
    ids.new_session.len = NGX_HTTP_OTP_SID_HASH_LEN;
    ids.enrollment = ep->enroll_hash;
    ids.link = ep->link_hash;
    ids.number = ep->number;
    ids.live = ep->live;

    ep->done = done;
    ep->script = script;

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "otp %s: %s", ngx_http_otp_ep_page(r),
                   ngx_http_otp_store_script_name(script));

    if (ngx_http_otp_store_run(r, script, &ids, args, nargs,
                               ngx_http_otp_ep_reply)
        != NGX_OK)
    {
        ngx_log_debug1(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                       "otp %s: Redis not ready, 503",
                       ngx_http_otp_ep_page(r));

        ctx->status = NGX_HTTP_OTP_STATUS_ERROR;
        return ngx_http_otp_send_unavailable(r);
    }

    if (!ep->referenced) {
        /* held until ngx_http_otp_ep_finish() */
        r->main->count++;
        ep->referenced = 1;
    }

    return NGX_DONE;
}


/* Redis failed or replied nonsense: 503, for every page in one place */

static void
ngx_http_otp_ep_reply(ngx_http_request_t *r,
    ngx_http_otp_store_reply_t *reply)
{
    ngx_http_otp_ep_t   *ep;
    ngx_http_otp_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_otp_module);
    ep = ctx->endpoint;

    if (reply == NULL) {
        ngx_log_debug2(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                       "otp %s: %s failed, 503", ngx_http_otp_ep_page(r),
                       ngx_http_otp_store_script_name(ep->script));

        ctx->status = NGX_HTTP_OTP_STATUS_ERROR;
        ngx_http_otp_ep_finish(r, ngx_http_otp_send_unavailable(r));
        return;
    }

    ngx_log_debug3(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "otp %s: %s replied, status %d", ngx_http_otp_ep_page(r),
                   ngx_http_otp_store_script_name(ep->script),
                   (int) reply->status);

    ep->done(r, reply);
}


void
ngx_http_otp_ep_finish(ngx_http_request_t *r, ngx_int_t rc)
{
    if (rc != NGX_DONE) {
        ngx_log_debug3(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                       "otp %s: done, %i, status %ui",
                       ngx_http_otp_ep_page(r), rc, r->headers_out.status);

        ngx_http_finalize_request(r, rc);
    }
}


ngx_int_t
ngx_http_otp_ep_user_state(ngx_http_request_t *r,
    ngx_http_otp_store_handler_pt done)
{
    return ngx_http_otp_ep_run(r, NGX_HTTP_OTP_USER_STATE, NULL, 0, done);
}


ngx_int_t
ngx_http_otp_ep_session_check(ngx_http_request_t *r,
    ngx_http_otp_store_handler_pt done)
{
    ngx_str_t                 args[4];
    ngx_http_otp_ep_t        *ep;
    ngx_http_otp_ctx_t       *ctx;
    ngx_http_otp_loc_conf_t  *olcf;

    ctx = ngx_http_get_module_ctx(r, ngx_http_otp_module);
    olcf = ngx_http_get_module_loc_conf(r, ngx_http_otp_module);
    ep = ctx->endpoint;

    if (!ep->has_cookie) {
        return NGX_DECLINED;
    }

    ngx_http_otp_session_hash(r, &ep->old_sid);

    args[0] = ctx->user;

    if (ngx_http_otp_store_num(r, &args[1], ngx_time()) != NGX_OK
        || ngx_http_otp_store_num(r, &args[2], olcf->session_idle) != NGX_OK
        || ngx_http_otp_store_num(r, &args[3], olcf->session_ttl) != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_otp_ep_run(r, NGX_HTTP_OTP_SESSION_CHECK, args, 4, done);
}


/*
 * session_check.lua's reply for a page that changes a factor: such a
 * change needs a code entered on this session within otp_fresh (SPEC
 * 6.14).  NGX_DECLINED when the page goes on; else the step-up: the
 * challenge first, then back to page (and then to ep->ret).
 */

ngx_int_t
ngx_http_otp_ep_fresh(ngx_http_request_t *r,
    ngx_http_otp_store_reply_t *reply, const char *page)
{
    if (ngx_http_otp_ep_code_fresh(r, reply)) {
        return NGX_DECLINED;
    }

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "otp %s: no code within otp_fresh, step-up", page);

    return ngx_http_otp_step_up(r, page);
}


/*
 * Whether session_check.lua's reply is a session with a code typed on
 * it within otp_fresh.  One that a cross-device approval made (method
 * "link") had none: what the phone approved signs in, but changes no
 * factor and approves no other browser until a code is typed on it.
 */

ngx_uint_t
ngx_http_otp_ep_code_fresh(ngx_http_request_t *r,
    ngx_http_otp_store_reply_t *reply)
{
    ngx_http_otp_loc_conf_t       *olcf;
    ngx_http_otp_session_reply_t  *sr;

    olcf = ngx_http_get_module_loc_conf(r, ngx_http_otp_module);
    sr = (ngx_http_otp_session_reply_t *) reply;

    return reply->status == NGX_HTTP_OTP_ST_OK
           && ngx_time() - sr->auth_time <= olcf->fresh
           && !ngx_http_otp_is(&sr->method, "link");
}


ngx_int_t
ngx_http_otp_step_up(ngx_http_request_t *r, const char *page)
{
    ngx_str_t  url;

    if (ngx_http_otp_page_url(r, page, &url) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_http_otp_ep(r)->ret = url;

    return ngx_http_otp_redirect_page(r, "challenge");
}


/* ------------------------------------------------------------- helpers */


ngx_int_t
ngx_http_otp_csrf_make(ngx_http_request_t *r, ngx_str_t *binding,
    ngx_str_t *token)
{
    u_char                    *p;
    ngx_http_otp_ep_t         *ep;
    ngx_http_otp_ctx_t        *ctx;
    ngx_http_otp_main_conf_t  *omcf;

    ctx = ngx_http_get_module_ctx(r, ngx_http_otp_module);
    omcf = ngx_http_get_module_main_conf(r, ngx_http_otp_module);
    ep = ctx->endpoint;

    p = ngx_pnalloc(r->pool, NGX_HTTP_OTP_CHALLENGE_B64_LEN + 1
                             + NGX_HTTP_OTP_CSRF_LEN);
    if (p == NULL) {
        return NGX_ERROR;
    }

    token->data = p;

    /* the verify form carries its challenge id in front of the token */

    if (ep->action == NGX_HTTP_OTP_CHALLENGE
        || ep->action == NGX_HTTP_OTP_VERIFY
        || ep->action == NGX_HTTP_OTP_SMS_FORM
        || ep->action == NGX_HTTP_OTP_SMS_POST)
    {
        p = ngx_cpymem(p, binding->data, binding->len);
        *p++ = '.';
    }

    if (ngx_http_otp_csrf_issue(omcf->keys.csrf, (char *) ctx->user.data,
                                ctx->user.len, (char *) binding->data,
                                binding->len, ngx_time(), (char *) p)
        != 0)
    {
        return NGX_ERROR;
    }

    token->len = p + NGX_HTTP_OTP_CSRF_LEN - token->data;

    return NGX_OK;
}


ngx_int_t
ngx_http_otp_csrf_valid(ngx_http_request_t *r, ngx_str_t *binding,
    time_t max_age)
{
    ngx_str_t                  token;
    ngx_http_otp_ep_t         *ep;
    ngx_http_otp_ctx_t        *ctx;
    ngx_http_otp_main_conf_t  *omcf;

    ctx = ngx_http_get_module_ctx(r, ngx_http_otp_module);
    omcf = ngx_http_get_module_main_conf(r, ngx_http_otp_module);
    ep = ctx->endpoint;

    token = ep->csrf;

    if (ep->action == NGX_HTTP_OTP_VERIFY
        || ep->action == NGX_HTTP_OTP_SMS_POST)
    {
        token.data += NGX_HTTP_OTP_CHALLENGE_B64_LEN + 1;
        token.len -= NGX_HTTP_OTP_CHALLENGE_B64_LEN + 1;
    }

    if (ngx_http_otp_csrf_check(omcf->keys.csrf, (char *) ctx->user.data,
                                ctx->user.len, (char *) binding->data,
                                binding->len, (char *) token.data, token.len,
                                ngx_time(), max_age)
        != NGX_HTTP_OTP_TOKEN_OK)
    {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "otp: bad or missing CSRF token for user \"%V\"",
                      &ctx->user);
        return NGX_DECLINED;
    }

    return NGX_OK;
}


ngx_int_t
ngx_http_otp_check_totp(ngx_http_request_t *r, ngx_str_t *secret,
    ngx_http_otp_alg_e alg, ngx_uint_t digits, ngx_uint_t period)
{
    int                       rc;
    ngx_http_otp_ep_t        *ep;
    ngx_http_otp_ctx_t       *ctx;
    ngx_http_otp_loc_conf_t  *olcf;

    ctx = ngx_http_get_module_ctx(r, ngx_http_otp_module);
    olcf = ngx_http_get_module_loc_conf(r, ngx_http_otp_module);
    ep = ctx->endpoint;

    rc = ngx_http_otp_totp_verify(secret->data, secret->len, alg, digits,
                                  period, 0, ngx_time(), olcf->totp_skew,
                                  olcf->totp_skew, (char *) ep->code.data,
                                  ep->code.len, &ep->step);
    if (rc == -1) {
        return NGX_ERROR;
    }

    ep->code_ok = (rc == 1);

    return NGX_OK;
}


/* user, ok/wrong, step, max attempts, lockout n, lockout time */

ngx_int_t
ngx_http_otp_attempt_args(ngx_http_request_t *r, ngx_str_t *args)
{
    ngx_http_otp_ep_t   *ep;
    ngx_http_otp_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_otp_module);
    ep = ctx->endpoint;

    args[0] = ctx->user;

    if (ep->code_ok) {
        ngx_str_set(&args[1], "ok");

        if (ngx_http_otp_store_num(r, &args[2], (int64_t) ep->step)
            != NGX_OK)
        {
            return NGX_ERROR;
        }

    } else {
        ngx_str_set(&args[1], "wrong");
        ngx_str_set(&args[2], "");
    }

    return ngx_http_otp_limit_args(r, &args[3]);
}


/* otp_max_attempts and otp_lockout's n and time, in args[0..2] */

ngx_int_t
ngx_http_otp_limit_args(ngx_http_request_t *r, ngx_str_t *args)
{
    ngx_http_otp_loc_conf_t  *olcf;

    olcf = ngx_http_get_module_loc_conf(r, ngx_http_otp_module);

    if (ngx_http_otp_store_num(r, &args[0], olcf->max_attempts) != NGX_OK
        || ngx_http_otp_store_num(r, &args[1], olcf->lockout_failures)
           != NGX_OK
        || ngx_http_otp_store_num(r, &args[2], olcf->lockout_time) != NGX_OK)
    {
        return NGX_ERROR;
    }

    return NGX_OK;
}


ngx_int_t
ngx_http_otp_redirect(ngx_http_request_t *r, ngx_uint_t status,
    ngx_str_t *location)
{
    return ngx_http_otp_send_redirect(r, status, location);
}


ngx_int_t
ngx_http_otp_redirect_page(ngx_http_request_t *r, const char *page)
{
    ngx_str_t  url;

    if (ngx_http_otp_page_url(r, page, &url) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_otp_redirect(r, NGX_HTTP_MOVED_TEMPORARILY, &url);
}


/* "<endpoint><page>?r=<the return address>" */

ngx_int_t
ngx_http_otp_page_url(ngx_http_request_t *r, const char *page,
    ngx_str_t *url)
{
    u_char                    *p;
    size_t                     len;
    ngx_http_otp_ep_t         *ep;
    ngx_http_otp_ctx_t        *ctx;
    ngx_http_core_loc_conf_t  *clcf;

    ctx = ngx_http_get_module_ctx(r, ngx_http_otp_module);
    clcf = ngx_http_get_module_loc_conf(r, ngx_http_core_module);
    ep = ctx->endpoint;

    len = clcf->name.len + ngx_strlen(page) + sizeof("?r=") - 1
          + ngx_http_otp_return_encoded_len(ep->ret.len);

    p = ngx_pnalloc(r->pool, len);
    if (p == NULL) {
        return NGX_ERROR;
    }

    url->data = p;
    p = ngx_cpymem(p, clcf->name.data, clcf->name.len);
    p = ngx_cpymem(p, page, ngx_strlen(page));
    p = ngx_cpymem(p, "?r=", sizeof("?r=") - 1);
    p += ngx_http_otp_return_encode((char *) ep->ret.data, ep->ret.len,
                                    (char *) p);
    url->len = p - url->data;

    return NGX_OK;
}


ngx_uint_t
ngx_http_otp_is(ngx_str_t *s, const char *word)
{
    size_t  len;

    len = ngx_strlen(word);

    return s->len == len && ngx_strncmp(s->data, word, len) == 0;
}


ngx_int_t
ngx_http_otp_alg_from(ngx_str_t *s)
{
    if (ngx_http_otp_is(s, "sha1")) {
        return NGX_HTTP_OTP_SHA1;
    }

    if (ngx_http_otp_is(s, "sha256")) {
        return NGX_HTTP_OTP_SHA256;
    }

    if (ngx_http_otp_is(s, "sha512")) {
        return NGX_HTTP_OTP_SHA512;
    }

    return NGX_ERROR;
}


/* wrong codes and lockouts at otp_log_level, never with the code */

void
ngx_http_otp_log_failure(ngx_http_request_t *r, const char *what)
{
    ngx_http_otp_ctx_t       *ctx;
    ngx_http_otp_loc_conf_t  *olcf;

    ctx = ngx_http_get_module_ctx(r, ngx_http_otp_module);
    olcf = ngx_http_get_module_loc_conf(r, ngx_http_otp_module);

    ngx_log_error(olcf->log_level, r->connection->log, 0,
                  "otp: user \"%V\": %s", &ctx->user, what);
}


ngx_http_otp_ep_t *
ngx_http_otp_ep(ngx_http_request_t *r)
{
    ngx_http_otp_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_otp_module);

    return ctx->endpoint;
}


/* "challenge", "verify"...: the page of the request, for the debug log */

const char *
ngx_http_otp_ep_page(ngx_http_request_t *r)
{
    ngx_http_otp_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_otp_module);

    if (ctx == NULL || ctx->endpoint == NULL) {
        return "endpoint";
    }

    return ngx_http_otp_ep_pages[
               ((ngx_http_otp_ep_t *) ctx->endpoint)->action];
}


/* 403: a form bound to a challenge whose token is not good */

ngx_int_t
ngx_http_otp_ep_refused(ngx_http_request_t *r)
{
    ngx_http_otp_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_otp_module);

    ctx->status = NGX_HTTP_OTP_STATUS_DENIED;

    return ngx_http_otp_send_error(r, NGX_HTTP_FORBIDDEN, "Request refused",
                                   "This form has expired or was not sent "
                                   "from the sign-in page. Go back and "
                                   "reload it.");
}


/* the "<challenge id>.<token>" of a form bound to a challenge */

ngx_int_t
ngx_http_otp_ep_challenge_csrf(ngx_http_request_t *r)
{
    ngx_http_otp_ep_t   *ep;
    ngx_http_otp_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_otp_module);
    ep = ctx->endpoint;

    if (ep->csrf.len <= NGX_HTTP_OTP_CHALLENGE_B64_LEN
        || ep->csrf.data[NGX_HTTP_OTP_CHALLENGE_B64_LEN] != '.')
    {
        return NGX_DECLINED;
    }

    ep->challenge.data = ep->csrf.data;
    ep->challenge.len = NGX_HTTP_OTP_CHALLENGE_B64_LEN;

    return ngx_http_otp_csrf_valid(r, &ep->challenge,
                                   NGX_HTTP_OTP_CHALLENGE_TTL);
}


ngx_int_t
ngx_http_otp_ep_csrf(ngx_http_request_t *r, ngx_str_t *token)
{
    ngx_http_otp_ep_t   *ep;
    ngx_http_otp_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_otp_module);
    ep = ctx->endpoint;

    return ngx_http_otp_csrf_make(r, &ep->challenge, token);
}


ngx_int_t
ngx_http_otp_ep_cookie_name(ngx_http_request_t *r, const char *suffix,
    ngx_str_t *name)
{
    size_t                    len;
    ngx_http_otp_loc_conf_t  *olcf;

    olcf = ngx_http_get_module_loc_conf(r, ngx_http_otp_module);

    len = ngx_strlen(suffix);

    name->len = olcf->cookie.name.len + len;
    name->data = ngx_pnalloc(r->pool, name->len);
    if (name->data == NULL) {
        return NGX_ERROR;
    }

    ngx_memcpy(ngx_cpymem(name->data, olcf->cookie.name.data,
                          olcf->cookie.name.len),
               suffix, len);

    return NGX_OK;
}


ngx_int_t
ngx_http_otp_ep_cookie_set(ngx_http_request_t *r, const char *suffix,
    ngx_str_t *value, time_t max_age)
{
    ngx_str_t                 *path, sfx;
    ngx_http_core_loc_conf_t  *clcf;

    clcf = ngx_http_get_module_loc_conf(r, ngx_http_core_module);

    sfx.data = (u_char *) suffix;
    sfx.len = ngx_strlen(suffix);

    /* a regular expression is no path: otp_cookie's then */

    path = NULL;

#if (NGX_PCRE)
    if (clcf->regex == NULL && clcf->name.len && clcf->name.data[0] == '/')
#else
    if (clcf->name.len && clcf->name.data[0] == '/')
#endif
    {
        path = &clcf->name;
    }

    return ngx_http_otp_cookie_set(r, &sfx, value->data, value->len, path,
                                   max_age);
}

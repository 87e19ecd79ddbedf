
/*
 * The otp_endpoint location: GET challenge, POST verify, GET and POST
 * enroll, GET and POST logout, GET and POST recovery (paths relative to
 * the location).
 *
 * Each step that needs Redis runs one store script and continues in the
 * script's reply handler.  A step returns NGX_DONE while a script is in
 * flight, or the final status of the request.  GET handlers take a
 * reference on the request for the wait; POST handlers already hold the
 * one ngx_http_read_client_request_body() took.
 */


#include "ngx_http_otp_endpoint.h"
#include "ngx_http_otp_base32.h"
#include "ngx_http_otp_device.h"
#include "ngx_http_otp_form.h"
#include "ngx_http_otp_metrics.h"
#include "ngx_http_otp_page.h"
#include "ngx_http_otp_policy.h"
#include "ngx_http_otp_qr.h"
#include "ngx_http_otp_recovery.h"
#include "ngx_http_otp_return.h"
#include "ngx_http_otp_session.h"
#include "ngx_http_otp_sms.h"
#include "ngx_http_otp_store.h"
#include "ngx_http_otp_uri.h"


#define NGX_HTTP_OTP_BODY_MAX            8192
#define NGX_HTTP_OTP_CHALLENGE_TTL       600
#define NGX_HTTP_OTP_ENROLL_TTL          900
#define NGX_HTTP_OTP_LOGOUT_CSRF_AGE     3600
#define NGX_HTTP_OTP_CHALLENGE_ID_LEN    16
#define NGX_HTTP_OTP_CHALLENGE_B64_LEN   22
#define NGX_HTTP_OTP_MAX_SECRET          64

/* new recovery codes need a code entered this recently */
#define NGX_HTTP_OTP_RECOVERY_FRESH      600

/* what a verification checked ($otp_method): in the order of the metrics */
#define NGX_HTTP_OTP_FACTOR_TOTP         0
#define NGX_HTTP_OTP_FACTOR_HOTP         1
#define NGX_HTTP_OTP_FACTOR_RECOVERY     2


typedef enum {
    NGX_HTTP_OTP_CHALLENGE = 0,
    NGX_HTTP_OTP_VERIFY,
    NGX_HTTP_OTP_ENROLL_FORM,
    NGX_HTTP_OTP_ENROLL_POST,
    NGX_HTTP_OTP_LOGOUT_FORM,
    NGX_HTTP_OTP_LOGOUT_POST,
    NGX_HTTP_OTP_RECOVERY_FORM,
    NGX_HTTP_OTP_RECOVERY_POST,
    NGX_HTTP_OTP_SMS_FORM,
    NGX_HTTP_OTP_SMS_POST
} ngx_http_otp_action_e;


typedef struct {
    ngx_http_otp_action_e       action;
    ngx_str_t                   ret;          /* where to go afterwards */

    ngx_str_t                   code;
    ngx_str_t                   csrf;
    ngx_str_t                   method;
    ngx_str_t                   challenge;    /* base64url id */
    const char                 *error;        /* shown on the page */

    ngx_str_t                   sealed;       /* the secret checked */
    ngx_uint_t                  code_ok;
    uint64_t                    step;

    ngx_http_otp_sid_t          sid;
    ngx_http_otp_sid_t          old_sid;
    ngx_uint_t                  has_cookie;

    /* recovery codes, HOTP, remembered devices */
    ngx_uint_t                  factor;       /* NGX_HTTP_OTP_FACTOR_* */
    ngx_uint_t                  hotp;         /* the key is HOTP */
    ngx_int_t                   recovery_left;
    ngx_str_t                   codes_html;   /* new codes, to show once */
    ngx_str_t                   codes_hashes; /* what the store keeps */
    ngx_http_otp_device_t       device;

    unsigned                    referenced:1;
    unsigned                    remember:1;

    ngx_str_t                   phone;        /* POST sms */
} ngx_http_otp_ep_t;


static ngx_int_t ngx_http_otp_ep_run(ngx_http_request_t *r,
    ngx_http_otp_script_e script, ngx_str_t *keys, ngx_uint_t nkeys,
    ngx_str_t *args, ngx_uint_t nargs, ngx_http_otp_store_handler_pt done);
static void ngx_http_otp_ep_finish(ngx_http_request_t *r, ngx_int_t rc);
static ngx_int_t ngx_http_otp_ep_user_state(ngx_http_request_t *r,
    ngx_http_otp_store_handler_pt done);
static void ngx_http_otp_body_handler(ngx_http_request_t *r);
static ngx_int_t ngx_http_otp_post(ngx_http_request_t *r);
static ngx_int_t ngx_http_otp_cross_site(ngx_http_request_t *r);

static ngx_int_t ngx_http_otp_challenge(ngx_http_request_t *r);
static void ngx_http_otp_challenge_user(ngx_http_request_t *r,
    ngx_http_otp_store_reply_t *reply);
static ngx_int_t ngx_http_otp_challenge_new(ngx_http_request_t *r);
static void ngx_http_otp_challenge_created(ngx_http_request_t *r,
    ngx_http_otp_store_reply_t *reply);
static ngx_int_t ngx_http_otp_challenge_page(ngx_http_request_t *r,
    ngx_uint_t status);

static ngx_int_t ngx_http_otp_verify(ngx_http_request_t *r);
static void ngx_http_otp_verify_user(ngx_http_request_t *r,
    ngx_http_otp_store_reply_t *reply);
static void ngx_http_otp_verify_attempt(ngx_http_request_t *r,
    ngx_http_otp_store_reply_t *reply);
static ngx_int_t ngx_http_otp_session_start(ngx_http_request_t *r,
    const char *method);
static void ngx_http_otp_verify_session(ngx_http_request_t *r,
    ngx_http_otp_store_reply_t *reply);

static ngx_int_t ngx_http_otp_enroll(ngx_http_request_t *r);
static void ngx_http_otp_enroll_user(ngx_http_request_t *r,
    ngx_http_otp_store_reply_t *reply);
static void ngx_http_otp_enroll_session(ngx_http_request_t *r,
    ngx_http_otp_store_reply_t *reply);
static ngx_int_t ngx_http_otp_enroll_begin(ngx_http_request_t *r);
static void ngx_http_otp_enroll_pending(ngx_http_request_t *r,
    ngx_http_otp_store_reply_t *reply);
static void ngx_http_otp_enroll_confirmed(ngx_http_request_t *r,
    ngx_http_otp_store_reply_t *reply);
static void ngx_http_otp_enroll_session_created(ngx_http_request_t *r,
    ngx_http_otp_store_reply_t *reply);
static ngx_int_t ngx_http_otp_enroll_page(ngx_http_request_t *r,
    ngx_uint_t status, ngx_str_t *secret, ngx_http_otp_alg_e alg,
    ngx_uint_t digits, ngx_uint_t period);

static ngx_int_t ngx_http_otp_logout_form(ngx_http_request_t *r);
static ngx_int_t ngx_http_otp_logout(ngx_http_request_t *r);
static void ngx_http_otp_logout_done(ngx_http_request_t *r,
    ngx_http_otp_store_reply_t *reply);

static ngx_int_t ngx_http_otp_csrf_make(ngx_http_request_t *r,
    ngx_str_t *binding, ngx_str_t *token);
static ngx_int_t ngx_http_otp_csrf_valid(ngx_http_request_t *r,
    ngx_str_t *binding, time_t max_age);
static ngx_int_t ngx_http_otp_check_totp(ngx_http_request_t *r,
    ngx_str_t *secret, ngx_http_otp_alg_e alg, ngx_uint_t digits,
    ngx_uint_t period);
static ngx_int_t ngx_http_otp_attempt_args(ngx_http_request_t *r,
    ngx_str_t *args);
static ngx_int_t ngx_http_otp_redirect(ngx_http_request_t *r,
    ngx_uint_t status, ngx_str_t *location);
static ngx_int_t ngx_http_otp_redirect_page(ngx_http_request_t *r,
    const char *page);
static ngx_uint_t ngx_http_otp_is(ngx_str_t *s, const char *word);
static ngx_int_t ngx_http_otp_alg_from(ngx_str_t *s);
static void ngx_http_otp_log_failure(ngx_http_request_t *r,
    const char *what);
static ngx_int_t ngx_http_otp_return_from(ngx_http_request_t *r,
    ngx_str_t *in, ngx_uint_t encoded, ngx_str_t *out);
static ngx_int_t ngx_http_otp_page_url(ngx_http_request_t *r,
    const char *page, ngx_str_t *url);

static ngx_uint_t ngx_http_otp_offered(ngx_http_otp_loc_conf_t *olcf,
    ngx_str_t *method);
static ngx_http_otp_metric_e ngx_http_otp_ep_metric(ngx_http_otp_ep_t *ep,
    ngx_http_otp_metric_e totp);
static ngx_int_t ngx_http_otp_verify_hotp(ngx_http_request_t *r,
    ngx_str_t *secret, ngx_http_otp_alg_e alg, ngx_uint_t digits,
    uint64_t counter, ngx_str_t *sealed);
static ngx_int_t ngx_http_otp_verify_recovery(ngx_http_request_t *r);
static ngx_int_t ngx_http_otp_verify_passed(ngx_http_request_t *r);
static ngx_int_t ngx_http_otp_remember_device(ngx_http_request_t *r);
static void ngx_http_otp_device_saved(ngx_http_request_t *r,
    ngx_http_otp_store_reply_t *reply);
static ngx_int_t ngx_http_otp_new_codes(ngx_http_request_t *r);
static ngx_int_t ngx_http_otp_recovery(ngx_http_request_t *r);
static void ngx_http_otp_recovery_user(ngx_http_request_t *r,
    ngx_http_otp_store_reply_t *reply);
static void ngx_http_otp_recovery_session(ngx_http_request_t *r,
    ngx_http_otp_store_reply_t *reply);
static ngx_int_t ngx_http_otp_recovery_step_up(ngx_http_request_t *r);
static ngx_int_t ngx_http_otp_recovery_page(ngx_http_request_t *r);
static void ngx_http_otp_recovery_saved(ngx_http_request_t *r,
    ngx_http_otp_store_reply_t *reply);


static const char  *ngx_http_otp_factors[] = { "totp", "hotp", "recovery" };


ngx_int_t
ngx_http_otp_endpoint_handler(ngx_http_request_t *r)
{
    ngx_str_t                  action, arg;
    ngx_http_otp_ep_t         *ep;
    ngx_http_otp_ctx_t        *ctx;
    ngx_http_otp_loc_conf_t   *olcf;
    ngx_http_core_loc_conf_t  *clcf;

    clcf = ngx_http_get_module_loc_conf(r, ngx_http_core_module);
    olcf = ngx_http_get_module_loc_conf(r, ngx_http_otp_module);

    if (r->uri.len < clcf->name.len) {
        return NGX_HTTP_NOT_FOUND;
    }

    action.data = r->uri.data + clcf->name.len;
    action.len = r->uri.len - clcf->name.len;

    ctx = ngx_http_otp_get_ctx(r);
    if (ctx == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ep = ngx_pcalloc(r->pool, sizeof(ngx_http_otp_ep_t));
    if (ep == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ctx->endpoint = ep;
    ngx_str_set(&ep->ret, "/");

    if (ngx_http_otp_is(&action, "challenge")) {
        ep->action = NGX_HTTP_OTP_CHALLENGE;

    } else if (ngx_http_otp_is(&action, "verify")) {
        ep->action = NGX_HTTP_OTP_VERIFY;

    } else if (ngx_http_otp_is(&action, "enroll")) {
        ep->action = (r->method == NGX_HTTP_POST) ? NGX_HTTP_OTP_ENROLL_POST
                                                  : NGX_HTTP_OTP_ENROLL_FORM;

    } else if (ngx_http_otp_is(&action, "logout")) {
        ep->action = (r->method == NGX_HTTP_POST) ? NGX_HTTP_OTP_LOGOUT_POST
                                                  : NGX_HTTP_OTP_LOGOUT_FORM;

    } else if (ngx_http_otp_is(&action, "recovery")) {
        ep->action = (r->method == NGX_HTTP_POST)
                     ? NGX_HTTP_OTP_RECOVERY_POST
                     : NGX_HTTP_OTP_RECOVERY_FORM;

    } else if (ngx_http_otp_is(&action, "sms")) {
        ep->action = (r->method == NGX_HTTP_POST) ? NGX_HTTP_OTP_SMS_POST
                                                  : NGX_HTTP_OTP_SMS_FORM;

    } else {
        return NGX_HTTP_NOT_FOUND;
    }

    if (ep->action == NGX_HTTP_OTP_VERIFY
        || ep->action == NGX_HTTP_OTP_ENROLL_POST
        || ep->action == NGX_HTTP_OTP_LOGOUT_POST
        || ep->action == NGX_HTTP_OTP_RECOVERY_POST
        || ep->action == NGX_HTTP_OTP_SMS_POST)
    {
        if (r->method != NGX_HTTP_POST) {
            return NGX_HTTP_NOT_ALLOWED;
        }

    } else if (!(r->method & (NGX_HTTP_GET | NGX_HTTP_HEAD))) {
        return NGX_HTTP_NOT_ALLOWED;
    }

    if (ngx_http_complex_value(r, olcf->user, &ctx->user) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (ctx->user.len == 0 || ctx->user.len > NGX_HTTP_OTP_TOKEN_MAX_USER) {
        return ngx_http_otp_send_error(r, NGX_HTTP_UNAUTHORIZED,
                                       "Sign in first",
                                       "This page needs your user name and "
                                       "password first.");
    }

    if (r->method == NGX_HTTP_POST) {
        return ngx_http_otp_post(r);
    }

    /* GET: the return address comes in the query string */

    if (ngx_http_arg(r, (u_char *) "r", 1, &arg) == NGX_OK) {
        if (ngx_http_otp_return_from(r, &arg, 1, &ep->ret) != NGX_OK) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }
    }

    if (ngx_http_arg(r, (u_char *) "method", 6, &arg) == NGX_OK) {
        ep->method = arg;
    }

    switch (ep->action) {

    case NGX_HTTP_OTP_CHALLENGE:
        return ngx_http_otp_challenge(r);

    case NGX_HTTP_OTP_ENROLL_FORM:
        return ngx_http_otp_enroll(r);

    case NGX_HTTP_OTP_RECOVERY_FORM:
        return ngx_http_otp_recovery(r);

    case NGX_HTTP_OTP_SMS_FORM:
        return ngx_http_otp_sms_form(r);

    default: /* NGX_HTTP_OTP_LOGOUT_FORM */
        return ngx_http_otp_logout_form(r);
    }
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


/* ------------------------------------------------------------ plumbing */


static ngx_int_t
ngx_http_otp_ep_run(ngx_http_request_t *r, ngx_http_otp_script_e script,
    ngx_str_t *keys, ngx_uint_t nkeys, ngx_str_t *args, ngx_uint_t nargs,
    ngx_http_otp_store_handler_pt done)
{
    ngx_http_otp_ep_t   *ep;
    ngx_http_otp_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_otp_module);
    ep = ctx->endpoint;

    if (ngx_http_otp_store_run(r, script, keys, nkeys, args, nargs, done)
        != NGX_OK)
    {
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


static void
ngx_http_otp_ep_finish(ngx_http_request_t *r, ngx_int_t rc)
{
    if (rc != NGX_DONE) {
        ngx_http_finalize_request(r, rc);
    }
}


static ngx_int_t
ngx_http_otp_ep_user_state(ngx_http_request_t *r,
    ngx_http_otp_store_handler_pt done)
{
    ngx_str_t            keys[6];
    ngx_http_otp_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_otp_module);

    ngx_str_set(&keys[0], "u");
    keys[1] = ctx->user;
    ngx_str_set(&keys[2], "l");
    keys[3] = ctx->user;
    ngx_str_set(&keys[4], "e");
    keys[5] = ctx->user;

    return ngx_http_otp_ep_run(r, NGX_HTTP_OTP_USER_STATE, keys, 3, NULL, 0,
                               done);
}


static ngx_int_t
ngx_http_otp_post(ngx_http_request_t *r)
{
    size_t      len;
    ngx_int_t   rc;
    ngx_str_t   type;

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

    rc = ngx_http_read_client_request_body(r, ngx_http_otp_body_handler);

    if (rc >= NGX_HTTP_SPECIAL_RESPONSE) {
        return rc;
    }

    return NGX_DONE;
}


static void
ngx_http_otp_body_handler(ngx_http_request_t *r)
{
    size_t                      len;
    u_char                     *body, *p;
    ngx_int_t                   rc;
    ngx_chain_t                *cl;
    ngx_http_otp_ep_t          *ep;
    ngx_http_otp_ctx_t         *ctx;
    ngx_http_otp_form_field_t   fields[6];

    ctx = ngx_http_get_module_ctx(r, ngx_http_otp_module);
    ep = ctx->endpoint;

    /* the reference read_client_request_body() took ends with us */
    ep->referenced = 1;

    if (r->request_body == NULL || r->request_body->temp_file) {
        ngx_http_finalize_request(r, NGX_HTTP_REQUEST_ENTITY_TOO_LARGE);
        return;
    }

    len = 0;

    for (cl = r->request_body->bufs; cl; cl = cl->next) {
        len += cl->buf->last - cl->buf->pos;
    }

    if (len > NGX_HTTP_OTP_BODY_MAX) {
        ngx_http_finalize_request(r, NGX_HTTP_REQUEST_ENTITY_TOO_LARGE);
        return;
    }

    body = ngx_pnalloc(r->pool, len + 1);
    if (body == NULL) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
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

    for (rc = 0; rc < 6; rc++) {
        fields[rc].value = ngx_pnalloc(r->pool, fields[rc].size);
        if (fields[rc].value == NULL) {
            ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
            return;
        }
    }

    if (ngx_http_otp_form_parse(body, len, NGX_HTTP_OTP_BODY_MAX, fields, 6)
        != NGX_HTTP_OTP_FORM_OK)
    {
        ngx_http_finalize_request(r,
                                  ngx_http_otp_send_error(r,
                                      NGX_HTTP_BAD_REQUEST, "Bad request",
                                      "The form could not be read."));
        return;
    }

    ep->code.data = (u_char *) fields[0].value;
    ep->code.len = fields[0].len;
    ep->csrf.data = (u_char *) fields[1].value;
    ep->csrf.len = fields[1].len;
    ep->method.data = (u_char *) fields[2].value;
    ep->method.len = fields[2].len;
    ep->phone.data = (u_char *) fields[5].value;
    ep->phone.len = fields[5].len;
    ep->remember = (fields[4].len == 1 && fields[4].value[0] == '1');

    if (fields[3].found) {
        ep->ret.data = (u_char *) fields[3].value;
        ep->ret.len = fields[3].len;

        if (ngx_http_otp_return_from(r, &ep->ret, 0, &ep->ret) != NGX_OK) {
            ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
            return;
        }
    }

    switch (ep->action) {

    case NGX_HTTP_OTP_VERIFY:
        rc = ngx_http_otp_verify(r);
        break;

    case NGX_HTTP_OTP_ENROLL_POST:
        rc = ngx_http_otp_enroll(r);
        break;

    case NGX_HTTP_OTP_RECOVERY_POST:
        rc = ngx_http_otp_recovery(r);
        break;

    case NGX_HTTP_OTP_SMS_POST:
        rc = ngx_http_otp_sms_post(r);
        break;

    default: /* NGX_HTTP_OTP_LOGOUT_POST */
        rc = ngx_http_otp_logout(r);
        break;
    }

    ngx_http_otp_ep_finish(r, rc);
}


/*
 * Forms are only taken from our own pages: a browser that says the form
 * came from another site, or from another origin, is refused.
 */

static ngx_int_t
ngx_http_otp_cross_site(ngx_http_request_t *r)
{
    u_char     *p;
    ngx_str_t   site, origin, host;

    if (ngx_http_otp_request_header(r, "sec-fetch-site", &site) == NGX_OK
        && site.len == sizeof("cross-site") - 1
        && ngx_strncasecmp(site.data, (u_char *) "cross-site", site.len) == 0)
    {
        return NGX_DECLINED;
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


/* ----------------------------------------------------------- challenge */


static ngx_int_t
ngx_http_otp_challenge(ngx_http_request_t *r)
{
    return ngx_http_otp_ep_user_state(r, ngx_http_otp_challenge_user);
}


static void
ngx_http_otp_challenge_user(ngx_http_request_t *r,
    ngx_http_otp_store_reply_t *reply)
{
    ngx_int_t                 rc, must_enroll, lock_ttl;
    ngx_http_otp_ep_t        *ep;
    ngx_http_otp_ctx_t       *ctx;
    ngx_http_otp_loc_conf_t  *olcf;

    ctx = ngx_http_get_module_ctx(r, ngx_http_otp_module);
    olcf = ngx_http_get_module_loc_conf(r, ngx_http_otp_module);
    ep = ctx->endpoint;

    if (reply == NULL || reply->nvalues < 8) {
        ngx_http_otp_ep_finish(r, ngx_http_otp_send_unavailable(r));
        return;
    }

    lock_ttl = ngx_http_otp_store_int(reply, 5);
    must_enroll = ngx_http_otp_store_int(reply, 4);

    ngx_http_otp_sms_user(r, reply);

    if (lock_ttl > 0) {
        ctx->status = NGX_HTTP_OTP_STATUS_LOCKED;
        ngx_http_otp_ep_finish(r, ngx_http_otp_send_locked(r, lock_ttl));
        return;
    }

    ep->recovery_left = ngx_max(ngx_http_otp_store_int(reply, 10), 0);

    /* the challenge a text was sent for, shown again */

    rc = ngx_http_otp_sms_challenge(r, reply);

    if (rc != NGX_DECLINED) {
        ngx_http_otp_ep_finish(r, rc);
        return;
    }

    if ((reply->values[0].data == NULL && !ngx_http_otp_sms_factor(r, reply))
        || must_enroll == 1)
    {

        if (olcf->enroll == NGX_HTTP_OTP_ENROLL_OFF) {
            rc = ngx_http_otp_send_error(r, NGX_HTTP_FORBIDDEN,
                                         "No second factor",
                                         "Your account has no second factor "
                                         "yet. Ask an administrator to set "
                                         "one up for you.");

        } else if (olcf->enroll == NGX_HTTP_OTP_ENROLL_OPTIONAL
                   && must_enroll != 1)
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


static ngx_int_t
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


static ngx_int_t
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


static ngx_int_t
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
    ngx_int_t                 lock_ttl, digits, period, alg;
    ngx_str_t                 secret, keys[8], args[7];
    ngx_http_otp_ep_t        *ep;
    ngx_http_otp_ctx_t       *ctx;
    ngx_http_otp_loc_conf_t  *olcf;

    ctx = ngx_http_get_module_ctx(r, ngx_http_otp_module);
    olcf = ngx_http_get_module_loc_conf(r, ngx_http_otp_module);
    ep = ctx->endpoint;

    if (reply == NULL || reply->nvalues < 8) {
        ngx_http_otp_ep_finish(r, ngx_http_otp_send_unavailable(r));
        return;
    }

    ngx_http_otp_sms_user(r, reply);

    lock_ttl = ngx_http_otp_store_int(reply, 5);

    ep->recovery_left = ngx_max(ngx_http_otp_store_int(reply, 10), 0);
    ep->hotp = (reply->values[0].data != NULL
                && reply->values[8].data != NULL);
    ep->factor = ngx_http_otp_is(&ep->method, "recovery")
                 ? NGX_HTTP_OTP_FACTOR_RECOVERY
                 : ep->hotp ? NGX_HTTP_OTP_FACTOR_HOTP
                            : NGX_HTTP_OTP_FACTOR_TOTP;

    if (lock_ttl > 0) {
        ctx->status = NGX_HTTP_OTP_STATUS_LOCKED;
        ngx_http_otp_metric_inc(ngx_http_otp_ep_metric(ep,
                                    NGX_HTTP_OTP_M_TOTP_LOCKED));
        ngx_http_otp_ep_finish(r, ngx_http_otp_send_locked(r, lock_ttl));
        return;
    }

    /* an administrator asked for a new authenticator: the old one is done */

    if (reply->values[0].data != NULL
        && ngx_http_otp_store_int(reply, 4) == 1)
    {
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
    alg = ngx_http_otp_alg_from(&reply->values[1]);
    digits = ngx_http_otp_store_int(reply, 2);
    period = ngx_http_otp_store_int(reply, 3);

    if (reply->values[0].data != NULL && alg != NGX_ERROR
        && (digits == 6 || digits == 8) && period > 0)
    {
        if (ngx_http_otp_store_open(r, &ctx->user, &reply->values[0],
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
                                          alg, digits,
                                          ngx_max(ngx_http_otp_store_int(
                                                      reply, 9), 0),
                                          &reply->values[0]));
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


static ngx_int_t
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


/* -------------------------------------------------------------- enroll */


static ngx_int_t
ngx_http_otp_enroll(ngx_http_request_t *r)
{
    ngx_str_t            binding = ngx_string("enroll");
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

    return ngx_http_otp_ep_user_state(r, ngx_http_otp_enroll_user);
}


static void
ngx_http_otp_enroll_user(ngx_http_request_t *r,
    ngx_http_otp_store_reply_t *reply)
{
    ngx_int_t                 lock_ttl, must_enroll;
    ngx_str_t                 keys[6], args[4];
    ngx_http_otp_ep_t        *ep;
    ngx_http_otp_ctx_t       *ctx;
    ngx_http_otp_loc_conf_t  *olcf;

    ctx = ngx_http_get_module_ctx(r, ngx_http_otp_module);
    olcf = ngx_http_get_module_loc_conf(r, ngx_http_otp_module);
    ep = ctx->endpoint;

    if (reply == NULL || reply->nvalues < 8) {
        ngx_http_otp_ep_finish(r, ngx_http_otp_send_unavailable(r));
        return;
    }

    lock_ttl = ngx_http_otp_store_int(reply, 5);
    must_enroll = ngx_http_otp_store_int(reply, 4);

    if (lock_ttl > 0) {
        ctx->status = NGX_HTTP_OTP_STATUS_LOCKED;
        ngx_http_otp_ep_finish(r, ngx_http_otp_send_locked(r, lock_ttl));
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

    if ((reply->values[0].data == NULL && !ngx_http_otp_sms_factor(r, reply))
        || must_enroll == 1)
    {
        ngx_http_otp_ep_finish(r, ngx_http_otp_enroll_begin(r));
        return;
    }

    /*
     * Already enrolled: a new authenticator replaces the old one only
     * within a session, never through the first factor alone.
     */

    if (!ep->has_cookie) {
        ngx_http_otp_ep_finish(r, ngx_http_otp_redirect_page(r,
                                                             "challenge"));
        return;
    }

    if (ngx_http_otp_session_check_args(r, &ep->old_sid, &ctx->user, keys, args)
        != NGX_OK)
    {
        ngx_http_otp_ep_finish(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    ngx_http_otp_ep_finish(r,
        ngx_http_otp_ep_run(r, NGX_HTTP_OTP_SESSION_CHECK, keys, 3, args, 4,
                            ngx_http_otp_enroll_session));
}


static void
ngx_http_otp_enroll_session(ngx_http_request_t *r,
    ngx_http_otp_store_reply_t *reply)
{
    if (reply == NULL) {
        ngx_http_otp_ep_finish(r, ngx_http_otp_send_unavailable(r));
        return;
    }

    if (!ngx_http_otp_is(&reply->status, "ok")) {
        ngx_http_otp_ep_finish(r, ngx_http_otp_redirect_page(r,
                                                             "challenge"));
        return;
    }

    ngx_http_otp_ep_finish(r, ngx_http_otp_enroll_begin(r));
}


static ngx_int_t
ngx_http_otp_enroll_begin(ngx_http_request_t *r)
{
    size_t                    len;
    u_char                    secret[NGX_HTTP_OTP_MAX_SECRET];
    ngx_str_t                 keys[2], args[6], sealed;
    ngx_http_otp_ctx_t       *ctx;
    ngx_http_otp_loc_conf_t  *olcf;
    ngx_http_otp_main_conf_t *omcf;

    static const char  *algs[] = { "sha1", "sha256", "sha512" };

    ctx = ngx_http_get_module_ctx(r, ngx_http_otp_module);
    olcf = ngx_http_get_module_loc_conf(r, ngx_http_otp_module);
    omcf = ngx_http_get_module_main_conf(r, ngx_http_otp_module);

    /*
     * A fresh secret, sealed to this user; the script keeps the one
     * already pending, if any, so that a reload shows the same QR code.
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

    ngx_str_set(&keys[0], "e");
    keys[1] = ctx->user;

    args[0] = sealed;
    args[1].data = (u_char *) algs[olcf->totp_algorithm];
    args[1].len = ngx_strlen(algs[olcf->totp_algorithm]);

    if (ngx_http_otp_store_num(r, &args[2], olcf->totp_digits) != NGX_OK
        || ngx_http_otp_store_num(r, &args[3], olcf->totp_period) != NGX_OK
        || ngx_http_otp_store_num(r, &args[4], NGX_HTTP_OTP_ENROLL_TTL)
           != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (olcf->enroll_type == NGX_HTTP_OTP_TYPE_HOTP) {
        ngx_str_set(&args[5], "hotp");

    } else {
        ngx_str_set(&args[5], "totp");
    }

    return ngx_http_otp_ep_run(r, NGX_HTTP_OTP_ENROLL_BEGIN, keys, 1, args, 6,
                               ngx_http_otp_enroll_pending);
}


static void
ngx_http_otp_enroll_pending(ngx_http_request_t *r,
    ngx_http_otp_store_reply_t *reply)
{
    int                       rc;
    uint64_t                  counter;
    ngx_int_t                 alg, digits, period;
    ngx_str_t                 secret, keys[12], args[9];
    ngx_http_otp_ep_t        *ep;
    ngx_http_otp_ctx_t       *ctx;
    ngx_http_otp_loc_conf_t  *olcf;

    ctx = ngx_http_get_module_ctx(r, ngx_http_otp_module);
    olcf = ngx_http_get_module_loc_conf(r, ngx_http_otp_module);
    ep = ctx->endpoint;

    if (reply == NULL || !ngx_http_otp_is(&reply->status, "ok")
        || reply->nvalues < 4)
    {
        ngx_http_otp_ep_finish(r, ngx_http_otp_send_unavailable(r));
        return;
    }

    alg = ngx_http_otp_alg_from(&reply->values[1]);
    digits = ngx_http_otp_store_int(reply, 2);
    period = ngx_http_otp_store_int(reply, 3);
    ep->hotp = (reply->nvalues > 4 && ngx_http_otp_is(&reply->values[4],
                                                      "hotp"));

    if (alg == NGX_ERROR || (digits != 6 && digits != 8) || period <= 0
        || ngx_http_otp_store_open(r, &ctx->user, &reply->values[0],
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

    ep->sealed = reply->values[0];

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

    /* the recovery codes that come with the new key, if it is right */

    if (rc == -1 || ngx_http_otp_new_codes(r) != NGX_OK) {
        ngx_http_otp_ep_finish(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    ngx_str_set(&keys[0], "e");
    keys[1] = ctx->user;
    ngx_str_set(&keys[2], "u");
    keys[3] = ctx->user;
    ngx_str_set(&keys[4], "f");
    keys[5] = ctx->user;
    ngx_str_set(&keys[6], "l");
    keys[7] = ctx->user;
    ngx_str_set(&keys[8], "t");
    keys[9] = ctx->user;
    ngx_str_set(&keys[10], "d");
    keys[11] = ctx->user;

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

    ngx_http_otp_ep_finish(r,
        ngx_http_otp_ep_run(r, NGX_HTTP_OTP_ENROLL_CONFIRM, keys, 6, args, 9,
                            ngx_http_otp_enroll_confirmed));
}


static void
ngx_http_otp_enroll_confirmed(ngx_http_request_t *r,
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
        ngx_http_otp_metric_inc(NGX_HTTP_OTP_M_ENROLLMENTS);
        ngx_log_error(NGX_LOG_NOTICE, r->connection->log, 0,
                      "otp: user \"%V\" enrolled an authenticator (%s)",
                      &ctx->user, ep->hotp ? "hotp" : "totp");
        ngx_http_otp_ep_finish(r, ngx_http_otp_session_start(r,
                                      ep->hotp ? "hotp" : "totp"));
        return;
    }

    if (ngx_http_otp_is(&reply->status, "locked")) {
        secs = ngx_http_otp_store_int(reply, 0);
        ngx_http_otp_metric_lockout(reply);
        ngx_http_otp_log_failure(r, "wrong setup code, now locked");
        ctx->status = NGX_HTTP_OTP_STATUS_LOCKED;
        ngx_http_otp_ep_finish(r, ngx_http_otp_send_locked(r,
                                       secs > 0 ? secs : 60));
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
    ngx_http_otp_ep_t         *ep;
    ngx_http_otp_ctx_t        *ctx;
    ngx_http_otp_page_vars_t   pv;

    ctx = ngx_http_get_module_ctx(r, ngx_http_otp_module);
    ep = ctx->endpoint;

    if (reply == NULL || !ngx_http_otp_is(&reply->status, "ok")) {
        ngx_http_otp_ep_finish(r, ngx_http_otp_send_unavailable(r));
        return;
    }

    if (ngx_http_otp_session_set_cookie(r, &ep->sid) != NGX_OK) {
        ngx_http_otp_ep_finish(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    ctx->status = NGX_HTTP_OTP_STATUS_PASSED;

    pv.nvars = 0;
    ngx_http_otp_page_var(&pv, "user", &ctx->user);
    ngx_http_otp_page_var(&pv, "continue", &ep->ret);
    ngx_http_otp_page_var(&pv, "codes_html", &ep->codes_html);

    ngx_http_otp_ep_finish(r, ngx_http_otp_send_page(r, NGX_HTTP_OK,
                                               NGX_HTTP_OTP_PAGE_RECOVERY,
                                               &pv));
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
    ngx_http_otp_page_var(&pv, "otpauth_uri", &uri);
    ngx_http_otp_page_var(&pv, "secret_grouped", &grouped);
    ngx_http_otp_page_var(&pv, "qr_svg", &qr);
    ngx_http_otp_page_var(&pv, "digits", &ndigits);

    if (ep->hotp) {
        ngx_http_otp_page_var_cstr(&pv, "hotp", "1");
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


/* ------------------------------------------ recovery codes, HOTP, devices */


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
    ngx_str_t                 keys[8], args[7];
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

    ngx_str_set(&keys[0], "c");
    keys[1] = ep->challenge;
    ngx_str_set(&keys[2], "f");
    keys[3] = ctx->user;
    ngx_str_set(&keys[4], "l");
    keys[5] = ctx->user;
    ngx_str_set(&keys[6], "u");
    keys[7] = ctx->user;

    args[0] = ctx->user;
    ngx_str_set(&args[1], "hotp");
    args[6] = *sealed;

    if (ngx_http_otp_store_num(r, &args[3], olcf->max_attempts) != NGX_OK
        || ngx_http_otp_store_num(r, &args[4], olcf->lockout_failures)
           != NGX_OK
        || ngx_http_otp_store_num(r, &args[5], olcf->lockout_time) != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_otp_ep_run(r, NGX_HTTP_OTP_ATTEMPT_CONSUME, keys, 4,
                               args, 7, ngx_http_otp_verify_attempt);
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
    ngx_str_t                  keys[8], args[6];
    ngx_http_otp_ep_t         *ep;
    ngx_http_otp_ctx_t        *ctx;
    ngx_http_otp_loc_conf_t   *olcf;
    ngx_http_otp_main_conf_t  *omcf;

    ctx = ngx_http_get_module_ctx(r, ngx_http_otp_module);
    olcf = ngx_http_get_module_loc_conf(r, ngx_http_otp_module);
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

    ngx_str_set(&keys[0], "c");
    keys[1] = ep->challenge;
    ngx_str_set(&keys[2], "f");
    keys[3] = ctx->user;
    ngx_str_set(&keys[4], "l");
    keys[5] = ctx->user;
    ngx_str_set(&keys[6], "u");
    keys[7] = ctx->user;

    args[0] = ctx->user;
    ngx_str_set(&args[1], "recovery");

    if (ngx_http_otp_store_num(r, &args[3], olcf->max_attempts) != NGX_OK
        || ngx_http_otp_store_num(r, &args[4], olcf->lockout_failures)
           != NGX_OK
        || ngx_http_otp_store_num(r, &args[5], olcf->lockout_time) != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_otp_ep_run(r, NGX_HTTP_OTP_ATTEMPT_CONSUME, keys, 4,
                               args, 6, ngx_http_otp_verify_attempt);
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


/*
 * Ten new recovery codes: the list the page shows (once) and their
 * keyed hashes, which is all the store keeps.
 */

static ngx_int_t
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
 * session whose code was entered within NGX_HTTP_OTP_RECOVERY_FRESH
 * seconds; otherwise the user goes through the challenge first and comes
 * back here.
 */

static ngx_int_t
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
    ngx_int_t                 lock_ttl;
    ngx_str_t                 keys[6], args[4];
    ngx_http_otp_ep_t        *ep;
    ngx_http_otp_ctx_t       *ctx;
    ngx_http_otp_loc_conf_t  *olcf;

    ctx = ngx_http_get_module_ctx(r, ngx_http_otp_module);
    olcf = ngx_http_get_module_loc_conf(r, ngx_http_otp_module);
    ep = ctx->endpoint;

    if (reply == NULL || reply->nvalues < 11) {
        ngx_http_otp_ep_finish(r, ngx_http_otp_send_unavailable(r));
        return;
    }

    lock_ttl = ngx_http_otp_store_int(reply, 5);

    if (lock_ttl > 0) {
        ctx->status = NGX_HTTP_OTP_STATUS_LOCKED;
        ngx_http_otp_ep_finish(r, ngx_http_otp_send_locked(r, lock_ttl));
        return;
    }

    /* recovery codes stand in for an authenticator: first one of those */

    if (reply->values[0].data == NULL
        || ngx_http_otp_store_int(reply, 4) == 1)
    {
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

    ep->recovery_left = ngx_max(ngx_http_otp_store_int(reply, 10), 0);

    if (!ep->has_cookie) {
        ngx_http_otp_ep_finish(r, ngx_http_otp_recovery_step_up(r));
        return;
    }

    if (ngx_http_otp_session_check_args(r, &ep->old_sid, &ctx->user, keys, args)
        != NGX_OK)
    {
        ngx_http_otp_ep_finish(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    ngx_http_otp_ep_finish(r,
        ngx_http_otp_ep_run(r, NGX_HTTP_OTP_SESSION_CHECK, keys, 3, args, 4,
                            ngx_http_otp_recovery_session));
}


static void
ngx_http_otp_recovery_session(ngx_http_request_t *r,
    ngx_http_otp_store_reply_t *reply)
{
    ngx_int_t            auth_time;
    ngx_str_t            keys[2];
    ngx_http_otp_ep_t   *ep;
    ngx_http_otp_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_otp_module);
    ep = ctx->endpoint;

    if (reply == NULL) {
        ngx_http_otp_ep_finish(r, ngx_http_otp_send_unavailable(r));
        return;
    }

    auth_time = ngx_http_otp_store_int(reply, 1);

    if (!ngx_http_otp_is(&reply->status, "ok") || auth_time == NGX_ERROR
        || ngx_time() - auth_time > NGX_HTTP_OTP_RECOVERY_FRESH)
    {
        ngx_http_otp_ep_finish(r, ngx_http_otp_recovery_step_up(r));
        return;
    }

    if (ep->action == NGX_HTTP_OTP_RECOVERY_FORM) {
        ngx_http_otp_ep_finish(r, ngx_http_otp_recovery_page(r));
        return;
    }

    if (ngx_http_otp_new_codes(r) != NGX_OK) {
        ngx_http_otp_ep_finish(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    ngx_str_set(&keys[0], "u");
    keys[1] = ctx->user;

    ngx_http_otp_ep_finish(r,
        ngx_http_otp_ep_run(r, NGX_HTTP_OTP_RECOVERY_SET, keys, 1,
                            &ep->codes_hashes, 1,
                            ngx_http_otp_recovery_saved));
}


/* the challenge first, then back to this page (and then to ep->ret) */

static ngx_int_t
ngx_http_otp_recovery_step_up(ngx_http_request_t *r)
{
    ngx_str_t            url;
    ngx_http_otp_ep_t   *ep;
    ngx_http_otp_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_otp_module);
    ep = ctx->endpoint;

    if (ngx_http_otp_page_url(r, "recovery", &url) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ep->ret = url;

    return ngx_http_otp_redirect_page(r, "challenge");
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

    if (ep->recovery_left == 0) {
        ngx_http_otp_page_var_cstr(&pv, "none_left", "1");
    }

    return ngx_http_otp_send_page(r, NGX_HTTP_OK, NGX_HTTP_OTP_PAGE_RECOVERY,
                                  &pv);
}


static void
ngx_http_otp_recovery_saved(ngx_http_request_t *r,
    ngx_http_otp_store_reply_t *reply)
{
    ngx_http_otp_ep_t         *ep;
    ngx_http_otp_ctx_t        *ctx;
    ngx_http_otp_page_vars_t   pv;

    ctx = ngx_http_get_module_ctx(r, ngx_http_otp_module);
    ep = ctx->endpoint;

    if (reply == NULL) {
        ngx_http_otp_ep_finish(r, ngx_http_otp_send_unavailable(r));
        return;
    }

    if (!ngx_http_otp_is(&reply->status, "ok")) {
        /* the authenticator went meanwhile */
        ngx_http_otp_ep_finish(r, ngx_http_otp_redirect_page(r, "enroll"));
        return;
    }

    ngx_log_error(NGX_LOG_NOTICE, r->connection->log, 0,
                  "otp: user \"%V\" made new recovery codes", &ctx->user);

    pv.nvars = 0;

    ngx_http_otp_page_var(&pv, "user", &ctx->user);
    ngx_http_otp_page_var(&pv, "continue", &ep->ret);
    ngx_http_otp_page_var(&pv, "codes_html", &ep->codes_html);
    ngx_http_otp_page_var_cstr(&pv, "regenerated", "1");

    ngx_http_otp_ep_finish(r, ngx_http_otp_send_page(r, NGX_HTTP_OK,
                                                 NGX_HTTP_OTP_PAGE_RECOVERY,
                                                 &pv));
}


/* -------------------------------------------------------------- logout */


static ngx_int_t
ngx_http_otp_logout_form(ngx_http_request_t *r)
{
    ngx_str_t                  csrf, binding = ngx_string("logout");
    ngx_http_otp_ctx_t        *ctx;
    ngx_http_otp_page_vars_t   pv;

    ctx = ngx_http_get_module_ctx(r, ngx_http_otp_module);

    if (ngx_http_otp_csrf_make(r, &binding, &csrf) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    pv.nvars = 0;
    ngx_http_otp_page_var(&pv, "user", &ctx->user);
    ngx_http_otp_page_var(&pv, "csrf", &csrf);

    return ngx_http_otp_send_page(r, NGX_HTTP_OK, NGX_HTTP_OTP_PAGE_LOGOUT,
                                  &pv);
}


static ngx_int_t
ngx_http_otp_logout(ngx_http_request_t *r)
{
    ngx_str_t            keys[4], binding = ngx_string("logout");
    ngx_http_otp_ep_t   *ep;
    ngx_http_otp_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_otp_module);
    ep = ctx->endpoint;

    if (ngx_http_otp_csrf_valid(r, &binding, NGX_HTTP_OTP_LOGOUT_CSRF_AGE)
        != NGX_OK)
    {
        return ngx_http_otp_send_error(r, NGX_HTTP_FORBIDDEN,
                                       "Request refused",
                                       "This form has expired or was not "
                                       "sent from the sign-out page.");
    }

    if (ngx_http_otp_session_from_cookie(r, &ep->old_sid) != NGX_OK) {
        ngx_http_otp_logout_done(r, NULL);
        return NGX_DONE;
    }

    ngx_http_otp_session_forget(&ep->old_sid);

    ngx_http_otp_session_hash(r, &ep->old_sid);

    ngx_str_set(&keys[0], "s");
    keys[1].data = ep->old_sid.hash;
    keys[1].len = NGX_HTTP_OTP_SID_HASH_LEN;
    ngx_str_set(&keys[2], "su");
    keys[3] = ctx->user;

    ep->has_cookie = 1;

    return ngx_http_otp_ep_run(r, NGX_HTTP_OTP_SESSION_END, keys, 2, NULL, 0,
                               ngx_http_otp_logout_done);
}


static void
ngx_http_otp_logout_done(ngx_http_request_t *r,
    ngx_http_otp_store_reply_t *reply)
{
    ngx_str_t            root = ngx_string("/");
    ngx_http_otp_ep_t   *ep;
    ngx_http_otp_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_otp_module);
    ep = ctx->endpoint;

    if (ep->has_cookie && reply == NULL) {
        /* the session may live on: say so rather than pretend */
        ngx_http_otp_ep_finish(r, ngx_http_otp_send_unavailable(r));
        return;
    }

    if (ngx_http_otp_session_set_cookie(r, NULL) != NGX_OK) {
        ngx_http_otp_ep_finish(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                  "otp: user \"%V\" signed out", &ctx->user);

    ngx_http_otp_ep_finish(r, ngx_http_otp_redirect(r, NGX_HTTP_SEE_OTHER,
                                                    &root));
}


/* ------------------------------------------------------------- helpers */


static ngx_int_t
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


static ngx_int_t
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


static ngx_int_t
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

static ngx_int_t
ngx_http_otp_attempt_args(ngx_http_request_t *r, ngx_str_t *args)
{
    ngx_http_otp_ep_t        *ep;
    ngx_http_otp_ctx_t       *ctx;
    ngx_http_otp_loc_conf_t  *olcf;

    ctx = ngx_http_get_module_ctx(r, ngx_http_otp_module);
    olcf = ngx_http_get_module_loc_conf(r, ngx_http_otp_module);
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

    if (ngx_http_otp_store_num(r, &args[3], olcf->max_attempts) != NGX_OK
        || ngx_http_otp_store_num(r, &args[4], olcf->lockout_failures)
           != NGX_OK
        || ngx_http_otp_store_num(r, &args[5], olcf->lockout_time) != NGX_OK)
    {
        return NGX_ERROR;
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_otp_redirect(ngx_http_request_t *r, ngx_uint_t status,
    ngx_str_t *location)
{
    return ngx_http_otp_send_redirect(r, status, location);
}


static ngx_int_t
ngx_http_otp_redirect_page(ngx_http_request_t *r, const char *page)
{
    ngx_str_t  url;

    if (ngx_http_otp_page_url(r, page, &url) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_otp_redirect(r, NGX_HTTP_MOVED_TEMPORARILY, &url);
}


/* "<endpoint><page>?r=<the return address>" */

static ngx_int_t
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


static ngx_uint_t
ngx_http_otp_is(ngx_str_t *s, const char *word)
{
    size_t  len;

    len = ngx_strlen(word);

    return s->len == len && ngx_strncmp(s->data, word, len) == 0;
}


static ngx_int_t
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

static void
ngx_http_otp_log_failure(ngx_http_request_t *r, const char *what)
{
    ngx_http_otp_ctx_t       *ctx;
    ngx_http_otp_loc_conf_t  *olcf;

    ctx = ngx_http_get_module_ctx(r, ngx_http_otp_module);
    olcf = ngx_http_get_module_loc_conf(r, ngx_http_otp_module);

    ngx_log_error(olcf->log_level, r->connection->log, 0,
                  "otp: user \"%V\": %s", &ctx->user, what);
}


/* -------------------------------- for the methods in other files (SMS) */


void
ngx_http_otp_ep_view(ngx_http_request_t *r, ngx_http_otp_ep_view_t *v)
{
    ngx_http_otp_ep_t   *ep;
    ngx_http_otp_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_otp_module);
    ep = ctx->endpoint;

    v->ret = &ep->ret;
    v->code = &ep->code;
    v->method = &ep->method;
    v->challenge = &ep->challenge;
    v->phone = &ep->phone;
    v->error = &ep->error;
}


ngx_int_t
ngx_http_otp_ep_script(ngx_http_request_t *r, ngx_http_otp_script_e script,
    ngx_str_t *keys, ngx_uint_t nkeys, ngx_str_t *args, ngx_uint_t nargs,
    ngx_http_otp_store_handler_pt done)
{
    return ngx_http_otp_ep_run(r, script, keys, nkeys, args, nargs, done);
}


void
ngx_http_otp_ep_done(ngx_http_request_t *r, ngx_int_t rc)
{
    ngx_http_otp_ep_finish(r, rc);
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
ngx_http_otp_ep_new_challenge(ngx_http_request_t *r)
{
    return ngx_http_otp_challenge_new(r);
}


ngx_int_t
ngx_http_otp_ep_page(ngx_http_request_t *r, ngx_uint_t status)
{
    return ngx_http_otp_challenge_page(r, status);
}


ngx_int_t
ngx_http_otp_ep_signed_in(ngx_http_request_t *r, const char *method)
{
    return ngx_http_otp_session_start(r, method);
}


ngx_int_t
ngx_http_otp_ep_goto(ngx_http_request_t *r, const char *page)
{
    return ngx_http_otp_redirect_page(r, page);
}


void
ngx_http_otp_ep_log_failure(ngx_http_request_t *r, const char *what)
{
    ngx_http_otp_log_failure(r, what);
}


/*
 * SMS codes on the endpoint's pages.
 *
 *   POST sms              send (or resend) a code for the challenge of
 *                         the form: 303 back to the challenge, 429 at a
 *                         limit, 502 when the provider did not take it
 *   GET sms               the page to enter a phone number
 *   POST sms with phone   send a code to a number to enroll; the number
 *                         is stored (sealed) once that code signs in
 *   POST verify, method=sms
 *
 * A code lives in its challenge (c:<id>) as a keyed hash, with its
 * expiry; a new text replaces it, a right code consumes the challenge.
 * A send is reserved first (sms_reserve.lua: lock, attempts, resend
 * delay, texts per challenge and per user and day, one send at a time
 * per challenge), then the provider is asked, then sms_done.lua counts
 * the text, or gives the reservation back when the provider refused
 * it: only texts the provider accepted count, and racing sends cannot
 * pass a limit together.
 */


#include "ngx_http_otp_sms.h"
#include "ngx_http_otp_metrics.h"
#include "ngx_http_otp_page_flow.h"
#include "ngx_http_otp_phone.h"
#include "ngx_http_otp_provider.h"
#include "ngx_http_otp_return.h"
#include "ngx_http_otp_session.h"
#include "ngx_http_otp_token.h"
#include "ngx_http_otp_verify.h"


#define NGX_HTTP_OTP_SMS_ID_LEN         16
#define NGX_HTTP_OTP_SMS_ID_B64_LEN     22


typedef struct {
    /* the user, from user_state.lua or sms_state.lua */
    ngx_str_t                   phone;        /* sealed, or no data */
    unsigned                    known:1;
    unsigned                    totp:1;
    unsigned                    factor:1;

    /* the challenge's code, from sms_state.lua */
    unsigned                    own:1;
    ngx_str_t                   hash;
    time_t                      expires;
    ngx_uint_t                  sends;
    time_t                      last;
    ngx_str_t                   pending;      /* sealed, or no data */

    /* a send */
    ngx_str_t                   token;
    ngx_str_t                   to;           /* E.164, in the clear */
    ngx_str_t                   enroll;       /* sealed number to enroll */
    const char                 *mode;         /* "new" or "change" */
    u_char                      code_hash[NGX_HTTP_OTP_MAC_LEN];
    ngx_http_otp_sms_message_t  msg;
    ngx_uint_t                  sent;
} ngx_http_otp_sms_t;


static ngx_http_otp_sms_t *ngx_http_otp_sms_get(ngx_http_request_t *r);
static ngx_int_t ngx_http_otp_sms_offered(ngx_http_request_t *r);
static ngx_int_t ngx_http_otp_sms_open(ngx_http_request_t *r,
    ngx_str_t *sealed, ngx_str_t *phone);
static ngx_int_t ngx_http_otp_sms_seal(ngx_http_request_t *r,
    ngx_str_t *phone, ngx_str_t *sealed);
static ngx_int_t ngx_http_otp_sms_masked(ngx_http_request_t *r,
    ngx_str_t *masked);
static ngx_int_t ngx_http_otp_sms_id(ngx_http_request_t *r, ngx_str_t *id);
static ngx_int_t ngx_http_otp_sms_state(ngx_http_request_t *r,
    ngx_http_otp_store_handler_pt done);
static void ngx_http_otp_sms_keep_state(ngx_http_request_t *r,
    ngx_http_otp_store_reply_t *reply);
static ngx_int_t ngx_http_otp_sms_session(ngx_http_request_t *r,
    ngx_http_otp_store_handler_pt done);

static void ngx_http_otp_sms_challenge_state(ngx_http_request_t *r,
    ngx_http_otp_store_reply_t *reply);

static ngx_int_t ngx_http_otp_sms_user_checked(ngx_http_request_t *r,
    ngx_http_otp_store_reply_t *reply, ngx_uint_t *has_factor);
static void ngx_http_otp_sms_form_user(ngx_http_request_t *r,
    ngx_http_otp_store_reply_t *reply);
static void ngx_http_otp_sms_form_session(ngx_http_request_t *r,
    ngx_http_otp_store_reply_t *reply);
static ngx_int_t ngx_http_otp_sms_form_challenge(ngx_http_request_t *r);
static void ngx_http_otp_sms_form_created(ngx_http_request_t *r,
    ngx_http_otp_store_reply_t *reply);
static ngx_int_t ngx_http_otp_sms_phone_page(ngx_http_request_t *r,
    ngx_uint_t status);

static void ngx_http_otp_sms_post_user(ngx_http_request_t *r,
    ngx_http_otp_store_reply_t *reply);
static void ngx_http_otp_sms_post_session(ngx_http_request_t *r,
    ngx_http_otp_store_reply_t *reply);
static ngx_int_t ngx_http_otp_sms_reserve(ngx_http_request_t *r);
static void ngx_http_otp_sms_reserved(ngx_http_request_t *r,
    ngx_http_otp_store_reply_t *reply);
static ngx_int_t ngx_http_otp_sms_start(ngx_http_request_t *r,
    ngx_http_otp_store_reply_t *reply);
static void ngx_http_otp_sms_resume(ngx_http_request_t *r);
static ngx_int_t ngx_http_otp_sms_done(ngx_http_request_t *r,
    ngx_uint_t sent);
static void ngx_http_otp_sms_counted(ngx_http_request_t *r,
    ngx_http_otp_store_reply_t *reply);
static ngx_int_t ngx_http_otp_sms_url(ngx_http_request_t *r,
    ngx_uint_t with_challenge, ngx_str_t *url);
static ngx_int_t ngx_http_otp_sms_back(ngx_http_request_t *r,
    ngx_uint_t with_challenge);
static ngx_int_t ngx_http_otp_sms_error(ngx_http_request_t *r,
    ngx_uint_t status, ngx_int_t secs, const char *title,
    const char *message);
static void ngx_http_otp_sms_log_failed(ngx_http_request_t *r,
    ngx_int_t status);

static void ngx_http_otp_sms_verify_state(ngx_http_request_t *r,
    ngx_http_otp_store_reply_t *reply);
static void ngx_http_otp_sms_verify_attempt(ngx_http_request_t *r,
    ngx_http_otp_store_reply_t *reply);


/* ------------------------------------------------------------- helpers */


const char *
ngx_http_otp_setup_page(ngx_http_otp_loc_conf_t *olcf)
{
    if (!(olcf->methods & NGX_HTTP_OTP_METHOD_TOTP)
        && (olcf->methods & NGX_HTTP_OTP_METHOD_SMS))
    {
        return "sms";
    }

    return "enroll";
}



static ngx_http_otp_sms_t *
ngx_http_otp_sms_get(ngx_http_request_t *r)
{
    ngx_http_otp_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_otp_module);

    if (ctx->sms == NULL) {
        ctx->sms = ngx_pcalloc(r->pool, sizeof(ngx_http_otp_sms_t));
    }

    return ctx->sms;
}


/* sms in otp_methods, and a provider to send through */

static ngx_int_t
ngx_http_otp_sms_offered(ngx_http_request_t *r)
{
    ngx_http_otp_loc_conf_t  *olcf;

    olcf = ngx_http_get_module_loc_conf(r, ngx_http_otp_module);

    return (olcf->methods & NGX_HTTP_OTP_METHOD_SMS)
           && olcf->sms.provider.len;
}


/*
 * The number otp_sms_phone gives: NGX_OK, NGX_DECLINED when there is
 * none (not configured, empty, or not E.164), NGX_ERROR.
 */

ngx_int_t
ngx_http_otp_sms_configured(ngx_http_request_t *r, ngx_str_t *phone)
{
    ngx_http_otp_ctx_t       *ctx;
    ngx_http_otp_loc_conf_t  *olcf;

    olcf = ngx_http_get_module_loc_conf(r, ngx_http_otp_module);

    if (olcf->sms.phone == NULL) {
        return NGX_DECLINED;
    }

    if (ngx_http_complex_value(r, olcf->sms.phone, phone) != NGX_OK) {
        return NGX_ERROR;
    }

    if (phone->len == 0) {
        return NGX_DECLINED;
    }

    if (ngx_http_otp_phone_valid((char *) phone->data, phone->len) != 0) {
        ctx = ngx_http_get_module_ctx(r, ngx_http_otp_module);

        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "otp: \"otp_sms_phone\" of user \"%V\" is not an "
                      "E.164 number (\"+\" and 8 to 15 digits): ignored",
                      &ctx->user);
        return NGX_DECLINED;
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_otp_sms_open(ngx_http_request_t *r, ngx_str_t *sealed,
    ngx_str_t *phone)
{
    ngx_int_t            rc;
    ngx_http_otp_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_otp_module);

    /* no number, or none of a number's size: nothing to say */

    if (sealed->data == NULL
        || sealed->len <= NGX_HTTP_OTP_SEAL_OVERHEAD
        || sealed->len > NGX_HTTP_OTP_SEAL_OVERHEAD
                         + NGX_HTTP_OTP_PHONE_MAX_LEN)
    {
        return NGX_DECLINED;
    }

    rc = ngx_http_otp_store_open(r, &ctx->user, sealed,
                                 NGX_HTTP_OTP_PHONE_MAX_LEN, phone);
    if (rc == NGX_ERROR) {
        return NGX_ERROR;
    }

    if (rc != NGX_OK
        || ngx_http_otp_phone_valid((char *) phone->data, phone->len) != 0)
    {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "otp: the phone number of user \"%V\" does not "
                      "open; was otp_secret_file changed?", &ctx->user);
        return NGX_DECLINED;
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_otp_sms_seal(ngx_http_request_t *r, ngx_str_t *phone,
    ngx_str_t *sealed)
{
    ngx_http_otp_ctx_t        *ctx;
    ngx_http_otp_main_conf_t  *omcf;

    ctx = ngx_http_get_module_ctx(r, ngx_http_otp_module);
    omcf = ngx_http_get_module_main_conf(r, ngx_http_otp_module);

    sealed->len = phone->len + NGX_HTTP_OTP_SEAL_OVERHEAD;
    sealed->data = ngx_pnalloc(r->pool, sealed->len);
    if (sealed->data == NULL) {
        return NGX_ERROR;
    }

    if (ngx_http_otp_seal(omcf->keys.seal, ctx->user.data, ctx->user.len,
                          phone->data, phone->len, sealed->data)
        != 0)
    {
        return NGX_ERROR;
    }

    return NGX_OK;
}


/*
 * Where the challenge's texts go, masked: the number it enrolls, else
 * the one from otp_sms_phone, else the user's.  NGX_DECLINED: nowhere.
 */

static ngx_int_t
ngx_http_otp_sms_masked(ngx_http_request_t *r, ngx_str_t *masked)
{
    ngx_int_t            rc;
    ngx_str_t            phone;
    ngx_http_otp_sms_t  *st;

    st = ngx_http_otp_sms_get(r);
    if (st == NULL) {
        return NGX_ERROR;
    }

    rc = NGX_DECLINED;

    if (st->own && st->pending.data) {
        rc = ngx_http_otp_sms_open(r, &st->pending, &phone);
    }

    if (rc == NGX_DECLINED) {
        rc = ngx_http_otp_sms_configured(r, &phone);
    }

    if (rc == NGX_DECLINED && st->phone.data) {
        rc = ngx_http_otp_sms_open(r, &st->phone, &phone);
    }

    if (rc != NGX_OK) {
        return rc;
    }

    masked->data = ngx_pnalloc(r->pool, NGX_HTTP_OTP_PHONE_MASKED_MAX);
    if (masked->data == NULL) {
        return NGX_ERROR;
    }

    masked->len = ngx_http_otp_phone_mask((char *) phone.data, phone.len,
                                          (char *) masked->data);

    ngx_explicit_memzero(phone.data, phone.len);

    return NGX_OK;
}


/* 128 random bits, base64url: a challenge id or a send's token */

static ngx_int_t
ngx_http_otp_sms_id(ngx_http_request_t *r, ngx_str_t *id)
{
    u_char  raw[NGX_HTTP_OTP_SMS_ID_LEN];

    if (ngx_http_otp_random(raw, sizeof(raw)) != 0) {
        return NGX_ERROR;
    }

    id->data = ngx_pnalloc(r->pool, NGX_HTTP_OTP_SMS_ID_B64_LEN);
    if (id->data == NULL) {
        return NGX_ERROR;
    }

    id->len = ngx_http_otp_b64url_encode(raw, sizeof(raw),
                                         (char *) id->data);

    return NGX_OK;
}


static ngx_int_t
ngx_http_otp_sms_state(ngx_http_request_t *r,
    ngx_http_otp_store_handler_pt done)
{
    ngx_http_otp_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_otp_module);

    return ngx_http_otp_ep_run(r, NGX_HTTP_OTP_SMS_STATE,
                               &ctx->user, 1, done);
}


/* what sms_state.lua says of the challenge */

static void
ngx_http_otp_sms_keep_state(ngx_http_request_t *r,
    ngx_http_otp_store_reply_t *reply)
{
    ngx_http_otp_sms_t        *st;
    ngx_http_otp_sms_reply_t  *sr;

    st = ngx_http_otp_sms_get(r);
    sr = (ngx_http_otp_sms_reply_t *) reply;

    if (st == NULL) {
        return;
    }

    st->own = (sr->own == 1);
    st->hash = sr->hash;
    st->expires = sr->expires;
    st->sends = sr->sends;
    st->last = sr->last;
    st->pending = sr->pending;
    st->totp = (sr->totp == 1);
    st->phone = sr->phone;
    st->known = 1;
}


/* the session of the cookie, checked; NGX_DECLINED: no cookie */

static ngx_int_t
ngx_http_otp_sms_session(ngx_http_request_t *r,
    ngx_http_otp_store_handler_pt done)
{
    ngx_http_otp_ep_t  *ep;

    ep = ngx_http_otp_ep(r);

    ep->has_cookie = (ngx_http_otp_session_from_cookie(r, &ep->old_sid)
                      == NGX_OK);

    return ngx_http_otp_ep_session_check(r, done);
}


/* ---------------------------------------------------- the user's state */


void
ngx_http_otp_sms_user(ngx_http_request_t *r, ngx_http_otp_user_state_t *us)
{
    ngx_http_otp_sms_t  *st;

    st = ngx_http_otp_sms_get(r);

    if (st == NULL) {
        return;
    }

    st->totp = (us->secret.data != NULL);
    st->phone = us->phone;
    st->known = 1;
}


ngx_uint_t
ngx_http_otp_sms_factor(ngx_http_request_t *r, ngx_http_otp_user_state_t *us)
{
    ngx_str_t                 phone;
    ngx_http_otp_loc_conf_t  *olcf;

    olcf = ngx_http_get_module_loc_conf(r, ngx_http_otp_module);

    if (!(olcf->methods & NGX_HTTP_OTP_METHOD_SMS)) {
        return 0;
    }

    if (us->phone.data != NULL) {
        return 1;
    }

    return ngx_http_otp_sms_configured(r, &phone) == NGX_OK;
}


/* ------------------------------------------------------ challenge page */


ngx_int_t
ngx_http_otp_sms_challenge(ngx_http_request_t *r,
    ngx_http_otp_user_state_t *us)
{
    u_char                 *p;
    ngx_str_t               arg;
    ngx_http_otp_sms_t     *st;
    ngx_http_otp_ep_t       *ep;

    /* an administrator's "require-enroll" goes first */

    if (!ngx_http_otp_sms_offered(r)
        || us->must_enroll
        || ngx_http_arg(r, (u_char *) "c", 1, &arg) != NGX_OK
        || arg.len != NGX_HTTP_OTP_SMS_ID_B64_LEN)
    {
        return NGX_DECLINED;
    }

    for (p = arg.data; p < arg.data + arg.len; p++) {
        if (!((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z')
              || (*p >= '0' && *p <= '9') || *p == '-' || *p == '_'))
        {
            return NGX_DECLINED;
        }
    }

    st = ngx_http_otp_sms_get(r);
    if (st == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    st->factor = (us->secret.data != NULL
                  || ngx_http_otp_sms_factor(r, us));

    ep = ngx_http_otp_ep(r);

    ep->challenge = arg;

    return ngx_http_otp_sms_state(r, ngx_http_otp_sms_challenge_state);
}


static void
ngx_http_otp_sms_challenge_state(ngx_http_request_t *r,
    ngx_http_otp_store_reply_t *reply)
{
    ngx_http_otp_sms_t       *st;
    ngx_http_otp_ctx_t       *ctx;
    ngx_http_otp_loc_conf_t  *olcf;

    ctx = ngx_http_get_module_ctx(r, ngx_http_otp_module);
    olcf = ngx_http_get_module_loc_conf(r, ngx_http_otp_module);
    st = ctx->sms;

    if (reply->status != NGX_HTTP_OTP_ST_OK) {
        ngx_http_otp_ep_finish(r, ngx_http_otp_send_unavailable(r));
        return;
    }

    ngx_http_otp_sms_keep_state(r, reply);

    if (!st->own || (!st->factor && st->pending.data == NULL)) {

        if (!st->factor) {
            /* nothing to sign in with: set something up */
            ngx_http_otp_ep_finish(r, ngx_http_otp_redirect_page(r,
                                          ngx_http_otp_setup_page(olcf)));
            return;
        }

        /* expired, used, or another user's: a new one */
        ngx_http_otp_ep_finish(r, ngx_http_otp_challenge_new(r));
        return;
    }

    ctx->status = NGX_HTTP_OTP_STATUS_CHALLENGED;

    ngx_http_otp_ep_finish(r, ngx_http_otp_challenge_page(r, NGX_HTTP_OK));
}


ngx_int_t
ngx_http_otp_sms_page_vars(ngx_http_request_t *r,
    ngx_http_otp_page_vars_t *pv)
{
    time_t                    wait;
    ngx_int_t                 rc;
    ngx_str_t                 masked, phone, s;
    ngx_uint_t                has_sms, sent, totp;
    ngx_http_otp_sms_t       *st;
    ngx_http_otp_ep_t         *ep;
    ngx_http_otp_loc_conf_t  *olcf;

    olcf = ngx_http_get_module_loc_conf(r, ngx_http_otp_module);

    if (!ngx_http_otp_sms_offered(r)) {
        return NGX_DECLINED;
    }

    st = ngx_http_otp_sms_get(r);
    if (st == NULL) {
        return NGX_ERROR;
    }

    ep = ngx_http_otp_ep(r);

    rc = ngx_http_otp_sms_configured(r, &phone);
    if (rc == NGX_ERROR) {
        return NGX_ERROR;
    }

    has_sms = (rc == NGX_OK || st->phone.data
               || (st->own && st->pending.data));

    if (!has_sms) {
        return NGX_DECLINED;
    }

    sent = (st->own && st->sends > 0);

    if (!st->own || st->sends < olcf->sms.max_sends) {
        /* the form that sends a text: while texts are left */
        ngx_http_otp_page_var_cstr(pv, "has_sms", "1");
    }

    if (sent) {
        rc = ngx_http_otp_sms_masked(r, &masked);
        if (rc == NGX_ERROR) {
            return NGX_ERROR;
        }

        ngx_http_otp_page_var_cstr(pv, "sms_sent", "1");

        if (rc == NGX_OK) {
            ngx_http_otp_page_var(pv, "sms_phone", &masked);
        }

        wait = st->last + olcf->sms.resend_delay - ngx_time();

        if (wait > 0) {
            if (ngx_http_otp_store_num(r, &s, wait) != NGX_OK) {
                return NGX_ERROR;
            }

            ngx_http_otp_page_var(pv, "sms_wait", &s);
        }
    }

    /* a method asked for by name; else texts once one was sent */

    if (ep->method.len && !ngx_http_otp_is(&ep->method, "sms")) {
        return NGX_DECLINED;
    }

    totp = !ngx_http_otp_sms_no_totp(r);

    if (!sent && totp && !ngx_http_otp_is(&ep->method, "sms")) {
        return NGX_DECLINED;
    }

    ngx_http_otp_page_var_cstr(pv, "method", "sms");
    ngx_http_otp_page_var_cstr(pv, "method_sms", "1");

    if (olcf->sms.charset == NGX_HTTP_OTP_SMS_DIGITS) {
        ngx_http_otp_page_var_cstr(pv, "numeric", "1");
    }

    return NGX_OK;
}


ngx_uint_t
ngx_http_otp_sms_no_totp(ngx_http_request_t *r)
{
    ngx_str_t                 phone;
    ngx_http_otp_ctx_t       *ctx;
    ngx_http_otp_sms_t       *st;
    ngx_http_otp_loc_conf_t  *olcf;

    olcf = ngx_http_get_module_loc_conf(r, ngx_http_otp_module);

    if (!(olcf->methods & NGX_HTTP_OTP_METHOD_TOTP)) {
        return 1;
    }

    ctx = ngx_http_get_module_ctx(r, ngx_http_otp_module);
    st = ctx->sms;

    if (st == NULL || !st->known || st->totp || !ngx_http_otp_sms_offered(r))
    {
        return 0;
    }

    /*
     * Only a user who has texts instead: a user with neither gets the
     * page an enrolled user gets after a wrong code (SPEC 6.10).
     */

    return st->phone.data || (st->own && st->pending.data)
           || ngx_http_otp_sms_configured(r, &phone) == NGX_OK;
}


ngx_int_t
ngx_http_otp_sms_enroll_vars(ngx_http_request_t *r,
    ngx_http_otp_page_vars_t *pv)
{
    ngx_int_t               rc;
    ngx_str_t               phone, ret_q;
    ngx_http_otp_ep_t       *ep;

    if (!ngx_http_otp_sms_offered(r)) {
        return NGX_OK;
    }

    rc = ngx_http_otp_sms_configured(r, &phone);

    if (rc != NGX_DECLINED) {
        /* a number from the identity layer: nothing to enroll */
        return (rc == NGX_ERROR) ? NGX_ERROR : NGX_OK;
    }

    ep = ngx_http_otp_ep(r);

    ret_q.data = ngx_pnalloc(r->pool,
                             ngx_http_otp_return_encoded_len(ep->ret.len));
    if (ret_q.data == NULL) {
        return NGX_ERROR;
    }

    ret_q.len = ngx_http_otp_return_encode((char *) ep->ret.data, ep->ret.len,
                                           (char *) ret_q.data);

    ngx_http_otp_page_var_cstr(pv, "has_sms", "1");
    ngx_http_otp_page_var(pv, "return_q", &ret_q);

    return NGX_OK;
}


/* --------------------------------------------------- GET sms: a number */


ngx_int_t
ngx_http_otp_sms_form(ngx_http_request_t *r)
{
    ngx_int_t  rc;
    ngx_str_t  phone;

    if (!ngx_http_otp_sms_offered(r)) {
        return NGX_HTTP_NOT_FOUND;
    }

    if (ngx_http_otp_sms_get(r) == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    rc = ngx_http_otp_sms_configured(r, &phone);

    if (rc == NGX_ERROR) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (rc == NGX_OK) {
        /* the identity layer knows the number: nothing to enter here */
        return ngx_http_otp_redirect_page(r, "challenge");
    }

    return ngx_http_otp_ep_user_state(r, ngx_http_otp_sms_form_user);
}


/*
 * What GET and POST sms do first with user_state.lua's reply: 503
 * without one, 429 for a locked user, 403 for a user with no second
 * factor where only an administrator sets one up.  NGX_DECLINED when
 * the page goes on, with *has_factor set.
 */

static ngx_int_t
ngx_http_otp_sms_user_checked(ngx_http_request_t *r,
    ngx_http_otp_store_reply_t *reply, ngx_uint_t *has_factor)
{
    ngx_http_otp_ctx_t        *ctx;
    ngx_http_otp_loc_conf_t   *olcf;
    ngx_http_otp_user_state_t *us;

    ctx = ngx_http_get_module_ctx(r, ngx_http_otp_module);
    olcf = ngx_http_get_module_loc_conf(r, ngx_http_otp_module);

    us = &((ngx_http_otp_user_reply_t *) reply)->user;

    ngx_http_otp_sms_user(r, us);

    if (us->lock_ttl > 0) {
        ctx->status = NGX_HTTP_OTP_STATUS_LOCKED;
        return ngx_http_otp_send_locked(r, us->lock_ttl);
    }

    *has_factor = (us->secret.data != NULL
                   || ngx_http_otp_sms_factor(r, us));

    if (!*has_factor && olcf->enroll == NGX_HTTP_OTP_ENROLL_OFF) {
        return ngx_http_otp_send_error(r, NGX_HTTP_FORBIDDEN,
                                       "Setup is done by an administrator",
                                       "Ask an administrator to set up "
                                       "your second factor.");
    }

    return NGX_DECLINED;
}


static void
ngx_http_otp_sms_form_user(ngx_http_request_t *r,
    ngx_http_otp_store_reply_t *reply)
{
    ngx_int_t   rc;
    ngx_uint_t  has_factor;

    rc = ngx_http_otp_sms_user_checked(r, reply, &has_factor);

    if (rc != NGX_DECLINED) {
        ngx_http_otp_ep_finish(r, rc);
        return;
    }

    if (!has_factor) {
        ngx_http_otp_ep_finish(r, ngx_http_otp_sms_form_challenge(r));
        return;
    }

    /* a second factor exists: another number only within a session */

    rc = ngx_http_otp_sms_session(r, ngx_http_otp_sms_form_session);

    if (rc == NGX_DECLINED) {
        rc = ngx_http_otp_redirect_page(r, "challenge");
    }

    ngx_http_otp_ep_finish(r, rc);
}


static void
ngx_http_otp_sms_form_session(ngx_http_request_t *r,
    ngx_http_otp_store_reply_t *reply)
{

    if (reply->status != NGX_HTTP_OTP_ST_OK) {
        ngx_http_otp_ep_finish(r, ngx_http_otp_redirect_page(r, "challenge"));
        return;
    }

    ngx_http_otp_ep_finish(r, ngx_http_otp_sms_form_challenge(r));
}


/* the number is sent with a challenge: its code, its limits */

static ngx_int_t
ngx_http_otp_sms_form_challenge(ngx_http_request_t *r)
{
    return ngx_http_otp_challenge_make(r, "always",
                                       ngx_http_otp_sms_form_created);
}


static void
ngx_http_otp_sms_form_created(ngx_http_request_t *r,
    ngx_http_otp_store_reply_t *reply)
{
    if (reply->status != NGX_HTTP_OTP_ST_OK) {
        ngx_http_otp_ep_finish(r, ngx_http_otp_send_unavailable(r));
        return;
    }

    ngx_http_otp_ep_finish(r, ngx_http_otp_sms_phone_page(r, NGX_HTTP_OK));
}


static ngx_int_t
ngx_http_otp_sms_phone_page(ngx_http_request_t *r, ngx_uint_t status)
{
    ngx_str_t                  csrf, ret_q;
    ngx_http_otp_ctx_t        *ctx;
    ngx_http_otp_ep_t          *ep;
    ngx_http_otp_loc_conf_t   *olcf;
    ngx_http_otp_page_vars_t   pv;

    ctx = ngx_http_get_module_ctx(r, ngx_http_otp_module);
    olcf = ngx_http_get_module_loc_conf(r, ngx_http_otp_module);
    ep = ngx_http_otp_ep(r);

    if (ngx_http_otp_ep_csrf(r, &csrf) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ret_q.data = ngx_pnalloc(r->pool,
                             ngx_http_otp_return_encoded_len(ep->ret.len));
    if (ret_q.data == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ret_q.len = ngx_http_otp_return_encode((char *) ep->ret.data, ep->ret.len,
                                           (char *) ret_q.data);

    pv.nvars = 0;

    ngx_http_otp_page_var(&pv, "user", &ctx->user);
    ngx_http_otp_page_var(&pv, "csrf", &csrf);
    ngx_http_otp_page_var(&pv, "return", &ep->ret);
    ngx_http_otp_page_var(&pv, "return_q", &ret_q);

    if (olcf->methods & NGX_HTTP_OTP_METHOD_TOTP) {
        ngx_http_otp_page_var_cstr(&pv, "has_totp", "1");
    }

    if (ep->phone.len) {
        ngx_http_otp_page_var(&pv, "phone", &ep->phone);
    }

    if (ep->error) {
        ngx_http_otp_page_var_cstr(&pv, "error", ep->error);
    }

    return ngx_http_otp_send_page(r, status, NGX_HTTP_OTP_PAGE_SMS, &pv);
}


/* ----------------------------------------------------- POST sms: send */


ngx_int_t
ngx_http_otp_sms_post(ngx_http_request_t *r)
{
    u_char                  buf[NGX_HTTP_OTP_PHONE_MAX_LEN];
    size_t                  len;
    ngx_int_t               rc;
    ngx_str_t               phone;
    ngx_http_otp_sms_t     *st;
    ngx_http_otp_ctx_t     *ctx;
    ngx_http_otp_ep_t       *ep;

    ctx = ngx_http_get_module_ctx(r, ngx_http_otp_module);
    ep = ngx_http_otp_ep(r);

    if (!ngx_http_otp_sms_offered(r)) {
        return ngx_http_otp_send_error(r, NGX_HTTP_BAD_REQUEST,
                                       "Bad request",
                                       "Codes by text message are not "
                                       "offered here.");
    }

    st = ngx_http_otp_sms_get(r);
    if (st == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (ngx_http_otp_ep_challenge_csrf(r) != NGX_OK) {
        ctx->status = NGX_HTTP_OTP_STATUS_DENIED;
        return ngx_http_otp_send_error(r, NGX_HTTP_FORBIDDEN,
                                       "Request refused",
                                       "This form has expired or was not "
                                       "sent from the sign-in page. Go "
                                       "back and reload it.");
    }

    rc = ngx_http_otp_sms_configured(r, &phone);

    if (rc == NGX_ERROR) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (ep->phone.len == 0) {
        /* a text to the number the challenge already has */
        return ngx_http_otp_sms_reserve(r);
    }

    if (rc == NGX_OK) {
        return ngx_http_otp_send_error(r, NGX_HTTP_BAD_REQUEST,
                                       "Bad request",
                                       "Your phone number is set by the "
                                       "sign-in service; it cannot be "
                                       "changed here.");
    }

    if (ngx_http_otp_phone_normalize((char *) ep->phone.data, ep->phone.len,
                                     (char *) buf, &len)
        != 0)
    {
        ep->error = "That does not look like a mobile number. Enter it "
                    "with + and the country code, for example "
                    "+15551234567.";
        return ngx_http_otp_sms_phone_page(r, NGX_HTTP_BAD_REQUEST);
    }

    st->to.data = ngx_pnalloc(r->pool, len);
    if (st->to.data == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_memcpy(st->to.data, buf, len);
    st->to.len = len;

    if (ngx_http_otp_sms_seal(r, &st->to, &st->enroll) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_otp_ep_user_state(r, ngx_http_otp_sms_post_user);
}


static void
ngx_http_otp_sms_post_user(ngx_http_request_t *r,
    ngx_http_otp_store_reply_t *reply)
{
    ngx_int_t            rc;
    ngx_uint_t           has_factor;
    ngx_http_otp_sms_t  *st;
    ngx_http_otp_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_otp_module);
    st = ctx->sms;

    rc = ngx_http_otp_sms_user_checked(r, reply, &has_factor);

    if (rc != NGX_DECLINED) {
        ngx_http_otp_ep_finish(r, rc);
        return;
    }

    if (!has_factor) {
        st->mode = "new";
        ngx_http_otp_ep_finish(r, ngx_http_otp_sms_reserve(r));
        return;
    }

    rc = ngx_http_otp_sms_session(r, ngx_http_otp_sms_post_session);

    if (rc == NGX_DECLINED) {
        rc = ngx_http_otp_send_error(r, NGX_HTTP_FORBIDDEN,
                                     "Sign in first",
                                     "Your account has a second factor. "
                                     "Sign in with it before you change "
                                     "your phone number.");
    }

    ngx_http_otp_ep_finish(r, rc);
}


static void
ngx_http_otp_sms_post_session(ngx_http_request_t *r,
    ngx_http_otp_store_reply_t *reply)
{
    ngx_http_otp_sms_t  *st;

    st = ngx_http_otp_sms_get(r);


    if (reply->status != NGX_HTTP_OTP_ST_OK) {
        ngx_http_otp_ep_finish(r,
            ngx_http_otp_send_error(r, NGX_HTTP_FORBIDDEN, "Sign in first",
                                    "Your account has a second factor. "
                                    "Sign in with it before you change "
                                    "your phone number."));
        return;
    }

    st->mode = "change";

    ngx_http_otp_ep_finish(r, ngx_http_otp_sms_reserve(r));
}


static ngx_int_t
ngx_http_otp_sms_reserve(ngx_http_request_t *r)
{
    ngx_int_t                 rc;
    ngx_str_t                 args[8], phone;
    ngx_http_otp_sms_t       *st;
    ngx_http_otp_ctx_t       *ctx;
    ngx_http_otp_loc_conf_t  *olcf;

    ctx = ngx_http_get_module_ctx(r, ngx_http_otp_module);
    olcf = ngx_http_get_module_loc_conf(r, ngx_http_otp_module);
    st = ctx->sms;

    if (ngx_http_otp_sms_id(r, &st->token) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    rc = ngx_http_otp_sms_configured(r, &phone);
    if (rc == NGX_ERROR) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }


    args[0] = ctx->user;
    args[2] = st->token;

    if (ngx_http_otp_store_num(r, &args[1], ngx_time()) != NGX_OK
        || ngx_http_otp_store_num(r, &args[3], olcf->sms.resend_delay)
           != NGX_OK
        || ngx_http_otp_store_num(r, &args[4], olcf->sms.max_sends) != NGX_OK
        || ngx_http_otp_store_num(r, &args[5], olcf->sms.daily_limit)
           != NGX_OK
        || ngx_http_otp_store_num(r, &args[6], olcf->max_attempts) != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (st->to.len || rc == NGX_OK) {
        ngx_str_set(&args[7], "0");

    } else {
        ngx_str_set(&args[7], "1");
    }

    return ngx_http_otp_ep_run(r, NGX_HTTP_OTP_SMS_RESERVE,
                               args, 8, ngx_http_otp_sms_reserved);
}


static void
ngx_http_otp_sms_reserved(ngx_http_request_t *r,
    ngx_http_otp_store_reply_t *reply)
{
    ngx_int_t            secs;
    ngx_http_otp_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_otp_module);


    secs = ((ngx_http_otp_sms_reply_t *) reply)->secs;

    if (secs <= 0) {
        secs = 1;
    }

    if (reply->status == NGX_HTTP_OTP_ST_OK) {
        ngx_http_otp_ep_finish(r, ngx_http_otp_sms_start(r, reply));
        return;
    }

    if (reply->status == NGX_HTTP_OTP_ST_LOCKED) {
        ctx->status = NGX_HTTP_OTP_STATUS_LOCKED;
        ngx_http_otp_ep_finish(r, ngx_http_otp_send_locked(r, secs));
        return;
    }

    if (reply->status == NGX_HTTP_OTP_ST_NO_CHALLENGE) {
        /* the page expired: a new one, where the user asks again */
        ngx_http_otp_ep_finish(r, ngx_http_otp_sms_back(r, 0));
        return;
    }

    if (reply->status == NGX_HTTP_OTP_ST_NO_PHONE) {
        ngx_http_otp_ep_finish(r, ngx_http_otp_redirect_page(r, "sms"));
        return;
    }

    if (reply->status == NGX_HTTP_OTP_ST_BURNT) {
        ctx->status = NGX_HTTP_OTP_STATUS_DENIED;
        ngx_http_otp_ep_finish(r,
            ngx_http_otp_send_error(r, NGX_HTTP_TOO_MANY_REQUESTS,
                                    "Too many wrong codes",
                                    "Too many wrong codes for this "
                                    "sign-in. Start again from the page "
                                    "you wanted."));
        return;
    }

    if (reply->status == NGX_HTTP_OTP_ST_BUSY) {
        ngx_http_otp_ep_finish(r,
            ngx_http_otp_sms_error(r, NGX_HTTP_TOO_MANY_REQUESTS,
                                   ngx_min(secs, 5),
                                   "A code is on its way",
                                   "A text message with a code is being "
                                   "sent. Wait a moment before asking for "
                                   "another one."));
        return;
    }

    if (reply->status == NGX_HTTP_OTP_ST_MAX_SENDS) {
        ngx_http_otp_ep_finish(r,
            ngx_http_otp_sms_error(r, NGX_HTTP_TOO_MANY_REQUESTS,
                                   secs, "No more codes",
                                   "This sign-in has sent all the text "
                                   "messages it may. Use the last code "
                                   "you received, or start again from "
                                   "the page you wanted."));
        return;
    }

    if (reply->status == NGX_HTTP_OTP_ST_WAIT) {
        ngx_http_otp_ep_finish(r,
            ngx_http_otp_sms_error(r, NGX_HTTP_TOO_MANY_REQUESTS,
                                   secs, "Please wait",
                                   "A code was sent a moment ago. Wait "
                                   "a little before asking for a new one "
                                   "(see Retry-After), or use that one."));
        return;
    }

    if (reply->status == NGX_HTTP_OTP_ST_DAILY) {
        ngx_log_error(NGX_LOG_NOTICE, r->connection->log, 0,
                      "otp: user \"%V\" reached otp_sms_daily_limit",
                      &ctx->user);
        ngx_http_otp_ep_finish(r,
            ngx_http_otp_sms_error(r, NGX_HTTP_TOO_MANY_REQUESTS,
                                   secs, "Too many text messages",
                                   "Your account has received all the "
                                   "text messages it may today. Use "
                                   "another way to sign in, or try again "
                                   "later."));
        return;
    }

    ngx_http_otp_ep_finish(r, ngx_http_otp_send_unavailable(r));
}


/* sms_reserve.lua said ok: values pending, phone */

static ngx_int_t
ngx_http_otp_sms_start(ngx_http_request_t *r,
    ngx_http_otp_store_reply_t *reply)
{
    u_char                    code[NGX_HTTP_OTP_SMS_MAX_CODE];
    ngx_int_t                 rc;
    ngx_str_t                 c;
    ngx_http_otp_sms_t       *st;
    ngx_http_otp_ctx_t       *ctx;
    ngx_http_otp_loc_conf_t  *olcf;
    ngx_http_otp_sms_reply_t *sr;
    ngx_http_otp_main_conf_t *omcf;

    sr = (ngx_http_otp_sms_reply_t *) reply;
    ctx = ngx_http_get_module_ctx(r, ngx_http_otp_module);
    olcf = ngx_http_get_module_loc_conf(r, ngx_http_otp_module);
    omcf = ngx_http_get_module_main_conf(r, ngx_http_otp_module);
    st = ctx->sms;

    /* the number: being enrolled, from the identity layer, stored */

    rc = NGX_OK;

    if (st->to.len == 0) {
        rc = ngx_http_otp_sms_configured(r, &st->to);

        if (rc == NGX_DECLINED && sr->pending.data) {
            rc = ngx_http_otp_sms_open(r, &sr->pending, &st->to);
        }

        if (rc == NGX_DECLINED && sr->phone.data) {
            rc = ngx_http_otp_sms_open(r, &sr->phone, &st->to);
        }
    }

    if (rc != NGX_OK
        || ngx_http_otp_sms_code(olcf->sms.charset, olcf->sms.code_length,
                                 (char *) code)
           != 0)
    {
        ngx_str_null(&st->to);
        return ngx_http_otp_sms_done(r, 0);
    }

    c.data = code;
    c.len = olcf->sms.code_length;

    if (ngx_http_otp_code_hash(omcf->keys.code, (char *) ctx->user.data,
                               ctx->user.len, (char *) code,
                               olcf->sms.code_length, st->code_hash)
        != 0
        || ngx_http_otp_sms_message(r, &st->msg, &st->to, &c) != NGX_OK)
    {
        ngx_explicit_memzero(code, sizeof(code));
        return ngx_http_otp_sms_done(r, 0);
    }

    ngx_explicit_memzero(code, sizeof(code));

    r->write_event_handler = ngx_http_otp_sms_resume;

    if (ngx_http_otp_sms_send(r, &st->msg) != NGX_OK) {
        r->write_event_handler = ngx_http_request_empty_handler;
        ngx_http_otp_sms_finish(r, &st->msg);
        return ngx_http_otp_sms_done(r, 0);
    }

    return NGX_DONE;
}


/* the parent again, after the provider's subrequest */

static void
ngx_http_otp_sms_resume(ngx_http_request_t *r)
{
    ngx_int_t            status;
    ngx_http_otp_sms_t  *st;
    ngx_http_otp_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_otp_module);
    st = ctx->sms;

    if (!st->msg.done) {
        return;
    }

    r->write_event_handler = ngx_http_request_empty_handler;
    r->connection->log->action = NULL;

    ngx_http_otp_sms_finish(r, &st->msg);

    status = st->msg.status;

    if (status >= 200 && status < 300) {
        ngx_http_otp_metric_inc(NGX_HTTP_OTP_M_SMS_SENT);
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "otp: a code was texted to user \"%V\"", &ctx->user);
        ngx_http_otp_ep_finish(r, ngx_http_otp_sms_done(r, 1));
        return;
    }

    ngx_http_otp_sms_log_failed(r, status);
    ngx_http_otp_ep_finish(r, ngx_http_otp_sms_done(r, 0));
}


/* sms_done.lua: count the text, or give the reservation back */

static ngx_int_t
ngx_http_otp_sms_done(ngx_http_request_t *r, ngx_uint_t sent)
{
    ngx_str_t                 args[8];
    ngx_http_otp_sms_t       *st;
    ngx_http_otp_ctx_t       *ctx;
    ngx_http_otp_loc_conf_t  *olcf;

    ctx = ngx_http_get_module_ctx(r, ngx_http_otp_module);
    olcf = ngx_http_get_module_loc_conf(r, ngx_http_otp_module);
    st = ctx->sms;

    st->sent = sent;

    if (!sent) {
        ngx_http_otp_metric_inc(NGX_HTTP_OTP_M_SMS_FAILED);
    }


    args[0] = ctx->user;
    args[1] = st->token;

    if (sent) {
        ngx_str_set(&args[2], "sent");
        args[4].data = st->code_hash;
        args[4].len = NGX_HTTP_OTP_MAC_LEN;

    } else {
        ngx_str_set(&args[2], "failed");
        ngx_str_set(&args[4], "");
    }

    if (sent && st->enroll.len) {
        args[6] = st->enroll;
        args[7].data = (u_char *) st->mode;
        args[7].len = ngx_strlen(st->mode);

    } else {
        ngx_str_set(&args[6], "");
        ngx_str_set(&args[7], "");
    }

    if (ngx_http_otp_store_num(r, &args[3], ngx_time()) != NGX_OK
        || ngx_http_otp_store_num(r, &args[5], olcf->sms.ttl) != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_otp_ep_run(r, NGX_HTTP_OTP_SMS_DONE, args, 8,
                               ngx_http_otp_sms_counted);
}


static void
ngx_http_otp_sms_counted(ngx_http_request_t *r,
    ngx_http_otp_store_reply_t *reply)
{
    ngx_http_otp_sms_t  *st;

    st = ngx_http_otp_sms_get(r);


    if (!st->sent) {
        ngx_http_otp_ep_finish(r,
            ngx_http_otp_sms_error(r, NGX_HTTP_BAD_GATEWAY, 0,
                                   "Could not send the code",
                                   "We could not send the text message. "
                                   "Nothing was counted against you: try "
                                   "again in a moment."));
        return;
    }

    ngx_http_otp_ep_finish(r, ngx_http_otp_sms_back(r,
                                  reply->status == NGX_HTTP_OTP_ST_OK));
}


/* the challenge page: the one the text was sent for, or a new one */

static ngx_int_t
ngx_http_otp_sms_url(ngx_http_request_t *r, ngx_uint_t with_challenge,
    ngx_str_t *url)
{
    u_char                    *p;
    size_t                     len;
    ngx_http_otp_ep_t          *ep;
    ngx_http_core_loc_conf_t  *clcf;

    static u_char  page[] = "challenge?method=sms&c=";

    clcf = ngx_http_get_module_loc_conf(r, ngx_http_core_module);
    ep = ngx_http_otp_ep(r);

    len = clcf->name.len + sizeof(page) - 1 + ep->challenge.len
          + sizeof("&r=") - 1 + ngx_http_otp_return_encoded_len(ep->ret.len);

    url->data = ngx_pnalloc(r->pool, len);
    if (url->data == NULL) {
        return NGX_ERROR;
    }

    p = ngx_cpymem(url->data, clcf->name.data, clcf->name.len);

    if (with_challenge) {
        p = ngx_cpymem(p, page, sizeof(page) - 1);
        p = ngx_cpymem(p, ep->challenge.data, ep->challenge.len);
        p = ngx_cpymem(p, "&r=", sizeof("&r=") - 1);

    } else {
        p = ngx_cpymem(p, "challenge?r=", sizeof("challenge?r=") - 1);
    }

    p += ngx_http_otp_return_encode((char *) ep->ret.data, ep->ret.len,
                                    (char *) p);
    url->len = p - url->data;

    return NGX_OK;
}


static ngx_int_t
ngx_http_otp_sms_back(ngx_http_request_t *r, ngx_uint_t with_challenge)
{
    ngx_str_t  url;

    if (ngx_http_otp_sms_url(r, with_challenge, &url) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_otp_send_redirect(r, NGX_HTTP_SEE_OTHER, &url);
}


/* 429 or 502: the error page, a way back, and Retry-After if secs */

static ngx_int_t
ngx_http_otp_sms_error(ngx_http_request_t *r, ngx_uint_t status,
    ngx_int_t secs, const char *title, const char *message)
{
    ngx_str_t                 retry, url;
    ngx_http_otp_page_vars_t  pv;

    if (secs > 0) {
        if (ngx_http_otp_store_num(r, &retry, secs) != NGX_OK
            || ngx_http_otp_add_header(r, "Retry-After", &retry) != NGX_OK)
        {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }
    }

    if (ngx_http_otp_sms_url(r, 1, &url) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    pv.nvars = 0;

    ngx_http_otp_page_var_cstr(&pv, "title", title);
    ngx_http_otp_page_var_cstr(&pv, "message", message);
    ngx_http_otp_page_var(&pv, "retry", &url);

    return ngx_http_otp_send_page(r, status, NGX_HTTP_OTP_PAGE_ERROR, &pv);
}


/* an outage ops must act on: at error, once a second per worker */

static void
ngx_http_otp_sms_log_failed(ngx_http_request_t *r, ngx_int_t status)
{
    ngx_uint_t                level;
    ngx_http_otp_ctx_t       *ctx;
    ngx_http_otp_loc_conf_t  *olcf;

    static ngx_msec_t  last;

    ctx = ngx_http_get_module_ctx(r, ngx_http_otp_module);
    olcf = ngx_http_get_module_loc_conf(r, ngx_http_otp_module);

    level = NGX_LOG_INFO;

    if (last == 0 || ngx_current_msec - last >= 1000) {
        last = ngx_current_msec;
        level = NGX_LOG_ERR;
    }

    ngx_log_error(level, r->connection->log, 0,
                  "otp: the SMS provider \"%V\" answered %i for user "
                  "\"%V\": the code was not sent", &olcf->sms.provider,
                  status, &ctx->user);
}


/* --------------------------------------------- POST verify, method=sms */


ngx_int_t
ngx_http_otp_sms_verify(ngx_http_request_t *r)
{
    if (!ngx_http_otp_sms_offered(r)) {
        return ngx_http_otp_send_error(r, NGX_HTTP_BAD_REQUEST,
                                       "Bad request",
                                       "This sign-in method is not offered "
                                       "here.");
    }

    if (ngx_http_otp_sms_get(r) == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_otp_sms_state(r, ngx_http_otp_sms_verify_state);
}


static void
ngx_http_otp_sms_verify_state(ngx_http_request_t *r,
    ngx_http_otp_store_reply_t *reply)
{
    u_char                     hash[NGX_HTTP_OTP_MAC_LEN];
    ngx_str_t                  args[7];
    ngx_uint_t                 ok;
    ngx_http_otp_ep_t         *ep;
    ngx_http_otp_sms_t        *st;
    ngx_http_otp_ctx_t        *ctx;
    ngx_http_otp_main_conf_t  *omcf;

    ctx = ngx_http_get_module_ctx(r, ngx_http_otp_module);
    omcf = ngx_http_get_module_main_conf(r, ngx_http_otp_module);
    st = ctx->sms;
    ep = ngx_http_otp_ep(r);

    if (reply->status != NGX_HTTP_OTP_ST_OK) {
        ngx_http_otp_ep_finish(r, ngx_http_otp_send_unavailable(r));
        return;
    }

    ngx_http_otp_sms_keep_state(r, reply);

    /* the stored hash and the typed code's, compared in constant time */

    ok = 0;

    if (ngx_http_otp_code_hash(omcf->keys.code, (char *) ctx->user.data,
                               ctx->user.len, (char *) ep->code.data,
                               ep->code.len, hash)
        == 0
        && st->own && st->hash.len == NGX_HTTP_OTP_MAC_LEN)
    {
        ok = ngx_http_otp_ct_equal(hash, st->hash.data, NGX_HTTP_OTP_MAC_LEN)
             && st->expires >= ngx_time();
    }

    ngx_explicit_memzero(hash, sizeof(hash));


    args[0] = ctx->user;

    if (ok) {
        ngx_str_set(&args[1], "ok");
        args[2] = st->hash;

    } else {
        ngx_str_set(&args[1], "wrong");
        ngx_str_set(&args[2], "");
    }

    if (ngx_http_otp_store_num(r, &args[3], ngx_time()) != NGX_OK
        || ngx_http_otp_limit_args(r, &args[4]) != NGX_OK)
    {
        ngx_http_otp_ep_finish(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    ngx_http_otp_ep_finish(r,
        ngx_http_otp_ep_run(r, NGX_HTTP_OTP_SMS_ATTEMPT, args, 7,
                            ngx_http_otp_sms_verify_attempt));
}


static void
ngx_http_otp_sms_verify_attempt(ngx_http_request_t *r,
    ngx_http_otp_store_reply_t *reply)
{
    ngx_http_otp_sms_t            *st;
    ngx_http_otp_ctx_t            *ctx;
    ngx_http_otp_ep_t             *ep;
    ngx_http_otp_attempt_reply_t  *ar;

    ctx = ngx_http_get_module_ctx(r, ngx_http_otp_module);
    st = ctx->sms;
    ep = ngx_http_otp_ep(r);
    ar = (ngx_http_otp_attempt_reply_t *) reply;

    if (reply->status == NGX_HTTP_OTP_ST_OK) {
        ngx_http_otp_metric_inc(NGX_HTTP_OTP_M_SMS_OK);

        if (ar->enrolled == 1) {
            ngx_log_error(NGX_LOG_NOTICE, r->connection->log, 0,
                          "otp: user \"%V\" enrolled a phone number",
                          &ctx->user);
        }

        ngx_http_otp_ep_finish(r, ngx_http_otp_session_start(r, "sms"));
        return;
    }

    if (reply->status == NGX_HTTP_OTP_ST_LOCKED) {
        ngx_http_otp_metric_inc(NGX_HTTP_OTP_M_SMS_LOCKED);
        ngx_http_otp_metric_lockout(ar->first);
        ngx_http_otp_log_failure(r, "wrong SMS code, now locked");
        ctx->status = NGX_HTTP_OTP_STATUS_LOCKED;
        ngx_http_otp_ep_finish(r, ngx_http_otp_send_locked(r,
                                      ar->secs > 0 ? ar->secs : 60));
        return;
    }

    if (reply->status == NGX_HTTP_OTP_ST_BURNT) {
        ngx_http_otp_metric_inc(NGX_HTTP_OTP_M_SMS_BURNT);
        ngx_http_otp_log_failure(r, "wrong SMS code, challenge burnt");
        ctx->status = NGX_HTTP_OTP_STATUS_DENIED;
        ngx_http_otp_ep_finish(r,
            ngx_http_otp_send_error(r, NGX_HTTP_TOO_MANY_REQUESTS,
                                    "Too many wrong codes",
                                    "Too many wrong codes for this "
                                    "sign-in. Start again from the page "
                                    "you wanted."));
        return;
    }

    if (reply->status == NGX_HTTP_OTP_ST_NO_CHALLENGE) {
        ngx_http_otp_metric_inc(NGX_HTTP_OTP_M_SMS_EXPIRED);
        st->own = 0;
        ep->error = "This sign-in page has expired. Ask for a new code.";
        ngx_http_otp_ep_finish(r, ngx_http_otp_challenge_new(r));
        return;
    }

    if (reply->status == NGX_HTTP_OTP_ST_CONFLICT) {
        ctx->status = NGX_HTTP_OTP_STATUS_DENIED;
        ngx_http_otp_ep_finish(r,
            ngx_http_otp_send_error(r, NGX_HTTP_FORBIDDEN,
                                    "Phone number not added",
                                    "Your account got a second factor "
                                    "while this number was being "
                                    "confirmed. Sign in with that factor "
                                    "to change your number."));
        return;
    }

    /* "wrong" */

    ngx_http_otp_metric_inc(NGX_HTTP_OTP_M_SMS_WRONG);
    ngx_http_otp_log_failure(r, "wrong SMS code");
    ctx->status = NGX_HTTP_OTP_STATUS_CHALLENGED;

    ep->error = (ar->expired == 1)
                ? "That code has expired. Ask for a new one."
                : "That code did not work. Check the text message and try "
                  "again.";

    ngx_http_otp_ep_finish(r, ngx_http_otp_challenge_page(r,
                                  NGX_HTTP_UNAUTHORIZED));
}


/*
 * Sending a code by text message, for the challenge of the form: 303
 * back to the challenge, 429 at a limit, 502 when the provider did not
 * take it.
 *
 * A code lives in its challenge as a keyed hash, with its expiry; a new
 * text replaces it.  A send is reserved first (sms_reserve.lua: lock,
 * attempts, resend delay, texts per challenge and per user and day, one
 * send at a time per challenge), then the provider is asked (a
 * subrequest, ngx_http_otp_provider.c), then sms_done.lua counts the
 * text, or gives the reservation back when the provider refused it or
 * never got it: a text that reached the provider without an answer in
 * time counts (SPEC 6.20), and racing sends cannot pass a limit
 * together.
 */


#include "ngx_http_otp_sms_send.h"
#include "ngx_http_otp_metrics.h"
#include "ngx_http_otp_page.h"
#include "ngx_http_otp_page_flow.h"
#include "ngx_http_otp_provider.h"
#include "ngx_http_otp_return.h"
#include "ngx_http_otp_sms.h"
#include "ngx_http_otp_sms_ctx.h"
#include "ngx_http_otp_sms_number.h"
#include "ngx_http_otp_token.h"


static void ngx_http_otp_sms_reserved(ngx_http_request_t *r,
    ngx_http_otp_store_reply_t *reply);
static ngx_int_t ngx_http_otp_sms_start(ngx_http_request_t *r,
    ngx_http_otp_store_reply_t *reply);
static void ngx_http_otp_sms_number_ok(ngx_http_request_t *r,
    ngx_http_otp_store_reply_t *reply);
static ngx_int_t ngx_http_otp_sms_go(ngx_http_request_t *r);
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
static ngx_int_t ngx_http_otp_sms_wait(ngx_http_request_t *r,
    ngx_int_t secs);
static void ngx_http_otp_sms_log_failed(ngx_http_request_t *r,
    ngx_int_t status);
static ngx_int_t ngx_http_otp_sms_id(ngx_http_request_t *r, ngx_str_t *id);


/* POST sms without a number: a text to the one the challenge has */

ngx_int_t
ngx_http_otp_sms_post(ngx_http_request_t *r)
{
    ngx_int_t  rc, configured;

    rc = ngx_http_otp_sms_post_checked(r, &configured);

    if (rc != NGX_DECLINED) {
        return rc;
    }

    ngx_log_debug0(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "otp sms: a text for the form's challenge");

    return ngx_http_otp_sms_reserve(r);
}


ngx_int_t
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
            ngx_http_otp_send_error_back(r, NGX_HTTP_TOO_MANY_REQUESTS,
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
        ngx_http_otp_ep_finish(r, ngx_http_otp_sms_wait(r, secs));
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
    ngx_int_t                  rc;
    ngx_http_otp_sms_t        *st;
    ngx_http_otp_ctx_t        *ctx;
    ngx_http_otp_sms_reply_t  *sr;

    sr = (ngx_http_otp_sms_reply_t *) reply;
    ctx = ngx_http_get_module_ctx(r, ngx_http_otp_module);
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

    if (rc != NGX_OK) {
        ngx_str_null(&st->to);
        return ngx_http_otp_sms_done(r, 0);
    }

    /* the number's own limit, across users (SPEC 6.17) */

    return ngx_http_otp_sms_number_reserve(r, ngx_http_otp_sms_number_ok);
}


static void
ngx_http_otp_sms_number_ok(ngx_http_request_t *r,
    ngx_http_otp_store_reply_t *reply)
{
    ngx_http_otp_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_otp_module);

    if (ngx_http_otp_sms_get(r)->number_full) {
        ngx_log_error(NGX_LOG_NOTICE, r->connection->log, 0,
                      "otp: a text for user \"%V\" was refused: its number "
                      "reached otp_sms_number_limit", &ctx->user);
        ngx_http_otp_ep_finish(r, ngx_http_otp_sms_done(r, 0));
        return;
    }

    ngx_http_otp_ep_finish(r, ngx_http_otp_sms_go(r));
}


/* the code, the text and the provider's subrequest */

static ngx_int_t
ngx_http_otp_sms_go(ngx_http_request_t *r)
{
    u_char                     code[NGX_HTTP_OTP_SMS_MAX_CODE];
    ngx_str_t                  c;
    ngx_http_otp_sms_t        *st;
    ngx_http_otp_ctx_t        *ctx;
    ngx_http_otp_loc_conf_t   *olcf;
    ngx_http_otp_main_conf_t  *omcf;

    ctx = ngx_http_get_module_ctx(r, ngx_http_otp_module);
    olcf = ngx_http_get_module_loc_conf(r, ngx_http_otp_module);
    omcf = ngx_http_get_module_main_conf(r, ngx_http_otp_module);
    st = ctx->sms;

    if (ngx_http_otp_sms_code(olcf->sms.charset, olcf->sms.code_length,
                              (char *) code)
        != 0)
    {
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

    ngx_log_debug0(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "otp sms: reserved, to the provider");

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

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "otp sms: the provider answered %i", status);

    if (status >= 200 && status < 300) {
        ngx_http_otp_metric_inc(NGX_HTTP_OTP_M_SMS_SENT);
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "otp: a code was texted to user \"%V\"", &ctx->user);
        ngx_http_otp_ep_finish(r, ngx_http_otp_sms_done(r, 1));
        return;
    }

    ngx_http_otp_sms_log_failed(r, status);

    /* it may have been sent: it counts, but its code does not work */
    ngx_http_otp_ep_finish(r, ngx_http_otp_sms_done(r,
                                  st->msg.unknown ? 2 : 0));
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

    if (sent != 1) {
        ngx_http_otp_metric_inc(NGX_HTTP_OTP_M_SMS_FAILED);
    }


    args[0] = ctx->user;
    args[1] = st->token;

    if (sent == 1) {
        ngx_str_set(&args[2], "sent");
        args[4].data = st->code_hash;
        args[4].len = NGX_HTTP_OTP_MAC_LEN;

    } else {
        ngx_str_set(&args[2], "failed");
        ngx_str_set(&args[4], "");
    }

    if (sent == 2) {
        ngx_str_set(&args[2], "unknown");
        ngx_str_set(&args[4], "");
    }

    if (sent == 1 && st->enroll.len) {
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

    /* a text that never reached the provider is free for its number too */

    if (st->sent == 0 && st->number_held) {
        ngx_http_otp_ep_finish(r, ngx_http_otp_sms_number_release(r,
                                      ngx_http_otp_sms_counted));
        return;
    }

    if (st->number_full) {
        ngx_http_otp_ep_finish(r,
            ngx_http_otp_sms_error(r, NGX_HTTP_TOO_MANY_REQUESTS,
                                   st->number_full, "Too many text messages",
                                   "This phone number has received all "
                                   "the text messages it may today. Use "
                                   "another way to sign in, or try again "
                                   "later."));
        return;
    }

    if (st->sent == 2) {
        ngx_http_otp_ep_finish(r,
            ngx_http_otp_sms_error(r, NGX_HTTP_BAD_GATEWAY, 0,
                                   "Could not confirm the text",
                                   "We could not confirm that the text "
                                   "message was sent, so it counts as "
                                   "sent. Its code will not work if it "
                                   "arrives: ask for a new one in a "
                                   "moment."));
        return;
    }

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
    ngx_http_otp_ep_t         *ep;
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

    pv.nvars = 0;

    if (secs > 0) {
        if (ngx_http_otp_store_num(r, &retry, secs) != NGX_OK
            || ngx_http_otp_add_header(r, "Retry-After", &retry) != NGX_OK)
        {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        ngx_http_otp_page_var(&pv, "seconds", &retry);
    }

    if (ngx_http_otp_sms_url(r, 1, &url) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_http_otp_page_var_cstr(&pv, "title", title);
    ngx_http_otp_page_var_cstr(&pv, "message", message);
    ngx_http_otp_page_var(&pv, "retry", &url);

    return ngx_http_otp_send_page(r, status, NGX_HTTP_OTP_PAGE_ERROR, &pv);
}


/* 429 for a text asked for too soon: how long to wait, in words */

static ngx_int_t
ngx_http_otp_sms_wait(ngx_http_request_t *r, ngx_int_t secs)
{
    /* texts of html/lang/, "{seconds}" filled in by the error page */

    return ngx_http_otp_sms_error(r, NGX_HTTP_TOO_MANY_REQUESTS, secs,
                                  "err_sms_wait_title", "err_sms_wait");
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
                  "\"%V\": the code was not sent%s", &olcf->sms.provider,
                  status, &ctx->user,
                  ngx_http_otp_sms_get(r)->msg.unknown
                  ? " (it may have been, and counts)" : "");
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


/*
 * One path for a code typed on the challenge.  verify.c (TOTP, HOTP,
 * recovery codes) and sms_verify.c (texted codes) check the code their
 * own way and run their attempt script with the arguments below; the
 * reply comes here, and the table says what differs per method: its
 * metrics, its log lines and what the page says.
 */


#include "ngx_http_otp_attempt.h"
#include "ngx_http_otp_challenge.h"
#include "ngx_http_otp_device.h"
#include "ngx_http_otp_metrics.h"
#include "ngx_http_otp_page.h"
#include "ngx_http_otp_page_flow.h"
#include "ngx_http_otp_session.h"
#include "ngx_http_otp_store.h"


typedef struct {
    const char                 *name;         /* $otp_method */

    /* its _OK metric; _WRONG, _BURNT, _LOCKED, _EXPIRED follow */
    ngx_http_otp_metric_e       metric;

    const char                 *wrong_log;
    const char                 *locked_log;
    const char                 *burnt_log;
    const char                 *wrong;        /* the page after a wrong one */
    const char                 *expired;      /* after the challenge ended */
} ngx_http_otp_method_t;


#define NGX_HTTP_OTP_WRONG_APP                                                \
    "That code did not work. Check your authenticator app and try again."

#define NGX_HTTP_OTP_EXPIRED_CODE                                             \
    "This sign-in page has expired. Enter a new code."


/* in the order of NGX_HTTP_OTP_FACTOR_* */

static ngx_http_otp_method_t  ngx_http_otp_methods[] = {

    { "totp", NGX_HTTP_OTP_M_TOTP_OK,
      "wrong code", "wrong code, now locked", "wrong code, challenge burnt",
      NGX_HTTP_OTP_WRONG_APP, NGX_HTTP_OTP_EXPIRED_CODE },

    { "hotp", NGX_HTTP_OTP_M_HOTP_OK,
      "wrong code", "wrong code, now locked", "wrong code, challenge burnt",
      NGX_HTTP_OTP_WRONG_APP, NGX_HTTP_OTP_EXPIRED_CODE },

    { "recovery", NGX_HTTP_OTP_M_RECOVERY_OK,
      "wrong code", "wrong code, now locked", "wrong code, challenge burnt",
      "That recovery code did not work. Each code works only once: check "
      "it and try another one.",
      NGX_HTTP_OTP_EXPIRED_CODE },

    { "sms", NGX_HTTP_OTP_M_SMS_OK,
      "wrong SMS code", "wrong SMS code, now locked",
      "wrong SMS code, challenge burnt",
      "That code did not work. Check the text message and try again.",
      "This sign-in page has expired. Ask for a new code." }
};


#define ngx_http_otp_method_metric(m, which)                                  \
    ((m)->metric + (NGX_HTTP_OTP_M_TOTP_##which - NGX_HTTP_OTP_M_TOTP_OK))


static ngx_int_t ngx_http_otp_attempt_passed(ngx_http_request_t *r);


const char *
ngx_http_otp_factor_name(ngx_uint_t factor)
{
    return ngx_http_otp_methods[factor].name;
}


ngx_int_t
ngx_http_otp_attempt_session_args(ngx_http_request_t *r, ngx_str_t *args)
{
    ngx_int_t                 rc;
    ngx_http_otp_ep_t        *ep;
    ngx_http_otp_ctx_t       *ctx;
    ngx_http_otp_loc_conf_t  *olcf;

    ctx = ngx_http_get_module_ctx(r, ngx_http_otp_module);
    olcf = ngx_http_get_module_loc_conf(r, ngx_http_otp_module);
    ep = ctx->endpoint;

    /* always a new id: a session id planted before is never promoted */

    if (ngx_http_otp_session_new_id(r, &ep->sid) != NGX_OK) {
        return NGX_ERROR;
    }

    ngx_str_set(&args[2], "");
    ngx_str_set(&args[3], "");

    if (ep->remember && olcf->remember) {
        rc = ngx_http_otp_device_new(r, &ctx->user, olcf->remember,
                                     &ep->device);

        if (rc == NGX_OK) {
            args[2].data = ep->device.id;
            args[2].len = sizeof(ep->device.id);

            if (ngx_http_otp_store_num(r, &args[3], ep->device.expires)
                != NGX_OK)
            {
                return NGX_ERROR;
            }

        } else if (rc != NGX_DECLINED) {
            return NGX_ERROR;
        }

        /* NGX_DECLINED: a user name too long for a cookie, no device */
        ep->remember = (rc == NGX_OK);

    } else {
        ep->remember = 0;
    }

    if (ngx_http_otp_store_num(r, &args[0], olcf->session_idle) != NGX_OK
        || ngx_http_otp_store_num(r, &args[1], olcf->session_ttl) != NGX_OK
        || ngx_http_otp_store_num(r, &args[4], NGX_HTTP_OTP_DEVICE_MAX)
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    return NGX_OK;
}


ngx_int_t
ngx_http_otp_attempt_locked(ngx_http_request_t *r, ngx_int_t secs)
{
    ngx_http_otp_ep_t   *ep;
    ngx_http_otp_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_otp_module);
    ep = ctx->endpoint;

    ngx_http_otp_metric_inc(
        ngx_http_otp_method_metric(&ngx_http_otp_methods[ep->factor],
                                   LOCKED));

    ctx->status = NGX_HTTP_OTP_STATUS_LOCKED;

    return ngx_http_otp_send_locked(r, secs > 0 ? secs : 60);
}


void
ngx_http_otp_attempt_done(ngx_http_request_t *r,
    ngx_http_otp_store_reply_t *reply)
{
    ngx_http_otp_ep_t             *ep;
    ngx_http_otp_ctx_t            *ctx;
    ngx_http_otp_method_t         *m;
    ngx_http_otp_attempt_reply_t  *ar;

    ctx = ngx_http_get_module_ctx(r, ngx_http_otp_module);
    ep = ctx->endpoint;
    ar = (ngx_http_otp_attempt_reply_t *) reply;
    m = &ngx_http_otp_methods[ep->factor];

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "otp attempt: %s code, reply %ui", m->name,
                   (ngx_uint_t) reply->status);

    switch (reply->status) {

    case NGX_HTTP_OTP_ST_OK:
        ngx_http_otp_metric_inc(m->metric);

        if (ep->factor == NGX_HTTP_OTP_FACTOR_RECOVERY) {
            ep->recovery_left = ngx_max(ar->left, 0);
        }

        if (ar->enrolled == 1) {
            ngx_log_error(NGX_LOG_NOTICE, r->connection->log, 0,
                          "otp: user \"%V\" enrolled a phone number",
                          &ctx->user);
        }

        ngx_http_otp_ep_finish(r, ngx_http_otp_attempt_passed(r));
        return;

    case NGX_HTTP_OTP_ST_LOCKED:
        ngx_http_otp_metric_lockout(ar->first);
        ngx_http_otp_log_failure(r, m->locked_log);
        ngx_http_otp_ep_finish(r, ngx_http_otp_attempt_locked(r, ar->secs));
        return;

    case NGX_HTTP_OTP_ST_ENROLL:
        /* an administrator asked for a new authenticator */
        ngx_http_otp_ep_finish(r, ngx_http_otp_redirect_page(r, "enroll"));
        return;

    case NGX_HTTP_OTP_ST_BURNT:
        ngx_http_otp_metric_inc(ngx_http_otp_method_metric(m, BURNT));
        ngx_http_otp_log_failure(r, m->burnt_log);
        ctx->status = NGX_HTTP_OTP_STATUS_DENIED;
        ngx_http_otp_ep_finish(r,
            ngx_http_otp_send_error_back(r, NGX_HTTP_TOO_MANY_REQUESTS,
                                    "Too many wrong codes",
                                    "Too many wrong codes for this sign-in. "
                                    "Start again from the page you "
                                    "wanted."));
        return;

    case NGX_HTTP_OTP_ST_NO_CHALLENGE:
        ngx_http_otp_metric_inc(ngx_http_otp_method_metric(m, EXPIRED));
        ep->error = m->expired;
        ngx_http_otp_ep_finish(r, ngx_http_otp_challenge_new(r));
        return;

    default: /* NGX_HTTP_OTP_ST_WRONG, a replayed code included */
        break;
    }

    ngx_http_otp_metric_inc(ngx_http_otp_method_metric(m, WRONG));
    ngx_http_otp_log_failure(r, m->wrong_log);
    ctx->status = NGX_HTTP_OTP_STATUS_CHALLENGED;

    ep->error = (ar->expired == 1) ? "That code has expired. Ask for a new "
                                     "one."
                                   : m->wrong;

    ngx_http_otp_ep_finish(r, ngx_http_otp_challenge_page(r,
                                                  NGX_HTTP_UNAUTHORIZED));
}


/* the session the script made: its cookie (and the browser's), and on */

static ngx_int_t
ngx_http_otp_attempt_passed(ngx_http_request_t *r)
{
    ngx_str_t            url;
    ngx_http_otp_ep_t   *ep;
    ngx_http_otp_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_otp_module);
    ep = ctx->endpoint;

    ctx->method.data = (u_char *) ngx_http_otp_methods[ep->factor].name;
    ctx->method.len = ngx_strlen(ctx->method.data);
    ctx->auth_time = ngx_time();

    if (ngx_http_otp_session_set_cookie(r, &ep->sid) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (ep->remember) {
        if (ngx_http_otp_device_set_cookie(r, &ep->device) != NGX_OK) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "otp: user \"%V\" trusts this browser", &ctx->user);
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

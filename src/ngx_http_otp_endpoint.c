
/*
 * The otp_endpoint location: the router.  It names the page from the
 * path (relative to the location) and the method, and sends the request
 * there:
 *
 *   GET challenge                ngx_http_otp_challenge.c
 *   GET challenge?c=             ngx_http_otp_sms_verify.c
 *   POST verify                  ngx_http_otp_verify.c
 *   POST verify, method=sms      ngx_http_otp_sms_verify.c
 *   GET, POST enroll             ngx_http_otp_enroll.c
 *   GET, POST logout             ngx_http_otp_logout.c
 *   GET, POST recovery           ngx_http_otp_recovery_page.c
 *   GET sms, POST sms with phone ngx_http_otp_sms_phone_page.c
 *   POST sms (a text)            ngx_http_otp_sms_send.c
 *   GET challenge?method=link    ngx_http_otp_link.c
 *   GET link?t=, POST link       ngx_http_otp_link_phone.c
 *   GET, POST account            ngx_http_otp_account.c
 *
 * What the pages share (the form, the steps, CSRF, redirects) is in
 * ngx_http_otp_page_flow.c.
 */


#include "ngx_http_otp_endpoint.h"
#include "ngx_http_otp_account.h"
#include "ngx_http_otp_enroll.h"
#include "ngx_http_otp_link.h"
#include "ngx_http_otp_logout.h"
#include "ngx_http_otp_page.h"
#include "ngx_http_otp_page_flow.h"
#include "ngx_http_otp_recovery_page.h"
#include "ngx_http_otp_sms_phone_page.h"
#include "ngx_http_otp_sms_send.h"
#include "ngx_http_otp_sms_verify.h"
#include "ngx_http_otp_token.h"
#include "ngx_http_otp_challenge.h"
#include "ngx_http_otp_verify.h"


static void ngx_http_otp_endpoint_post(ngx_http_request_t *r);


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

    } else if (ngx_http_otp_is(&action, "link")
               && (olcf->methods & NGX_HTTP_OTP_METHOD_LINK))
    {
        ep->action = (r->method == NGX_HTTP_POST) ? NGX_HTTP_OTP_LINK_POST
                                                  : NGX_HTTP_OTP_LINK_FORM;
    } else if (ngx_http_otp_is(&action, "account")) {
        ep->action = (r->method == NGX_HTTP_POST)
                     ? NGX_HTTP_OTP_ACCOUNT_POST : NGX_HTTP_OTP_ACCOUNT_FORM;

    } else {
        return NGX_HTTP_NOT_FOUND;
    }

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "otp %s: %V", ngx_http_otp_ep_page(r), &r->method_name);

    if (ep->action == NGX_HTTP_OTP_VERIFY
        || ep->action == NGX_HTTP_OTP_ENROLL_POST
        || ep->action == NGX_HTTP_OTP_LOGOUT_POST
        || ep->action == NGX_HTTP_OTP_RECOVERY_POST
        || ep->action == NGX_HTTP_OTP_SMS_POST
        || ep->action == NGX_HTTP_OTP_LINK_POST
        || ep->action == NGX_HTTP_OTP_ACCOUNT_POST)
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
        return ngx_http_otp_ep_read_form(r, ngx_http_otp_endpoint_post);
    }

    /* GET: the return address comes in the query string */

    if (ngx_http_otp_ep_query(r) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    switch (ep->action) {

    case NGX_HTTP_OTP_CHALLENGE:
        /* "c": the challenge a text was sent for */
        if (ngx_http_arg(r, (u_char *) "c", 1, &arg) == NGX_OK) {
            return ngx_http_otp_sms_challenge(r);
        }

        if (ngx_http_otp_is(&ep->method, "link")
            && (olcf->methods & NGX_HTTP_OTP_METHOD_LINK))
        {
            return ngx_http_otp_link_wait(r);
        }

        return ngx_http_otp_challenge_new(r);

    case NGX_HTTP_OTP_ENROLL_FORM:
        return ngx_http_otp_enroll(r);

    case NGX_HTTP_OTP_RECOVERY_FORM:
        return ngx_http_otp_recovery(r);

    case NGX_HTTP_OTP_SMS_FORM:
        return ngx_http_otp_sms_form(r);

    case NGX_HTTP_OTP_LINK_FORM:
        return ngx_http_otp_link_phone(r);
    case NGX_HTTP_OTP_ACCOUNT_FORM:
        return ngx_http_otp_account(r);

    default: /* NGX_HTTP_OTP_LOGOUT_FORM */
        return ngx_http_otp_logout_form(r);
    }
}


static void
ngx_http_otp_endpoint_post(ngx_http_request_t *r)
{
    ngx_int_t           rc;
    ngx_http_otp_ep_t  *ep;

    ep = ngx_http_otp_ep(r);

    rc = ngx_http_otp_ep_form(r);

    if (rc != NGX_DECLINED) {
        ngx_http_finalize_request(r, rc);
        return;
    }

    switch (ep->action) {

    case NGX_HTTP_OTP_VERIFY:
        rc = ngx_http_otp_is(&ep->method, "sms") ? ngx_http_otp_sms_verify(r)
                                                 : ngx_http_otp_verify(r);
        break;

    case NGX_HTTP_OTP_ENROLL_POST:
        rc = ngx_http_otp_enroll(r);
        break;

    case NGX_HTTP_OTP_RECOVERY_POST:
        rc = ngx_http_otp_recovery(r);
        break;

    case NGX_HTTP_OTP_ACCOUNT_POST:
        rc = ngx_http_otp_account(r);
        break;

    case NGX_HTTP_OTP_SMS_POST:
        /* a number to enroll or change, or a text for the challenge */
        rc = ep->phone.len ? ngx_http_otp_sms_phone_post(r)
                           : ngx_http_otp_sms_post(r);
        break;

    case NGX_HTTP_OTP_LINK_POST:
        rc = ngx_http_otp_link_phone(r);
        break;

    default: /* NGX_HTTP_OTP_LOGOUT_POST */
        rc = ngx_http_otp_logout(r);
        break;
    }

    ngx_http_otp_ep_finish(r, rc);
}


/*
 * Signing out: GET logout shows a form, POST logout ends the session in
 * Redis and clears its cookie.
 */


#include "ngx_http_otp_logout.h"
#include "ngx_http_otp_page.h"
#include "ngx_http_otp_page_flow.h"
#include "ngx_http_otp_session.h"
#include "ngx_http_otp_store.h"


#define NGX_HTTP_OTP_LOGOUT_CSRF_AGE     3600


static void ngx_http_otp_logout_done(ngx_http_request_t *r,
    ngx_http_otp_store_reply_t *reply);


ngx_int_t
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


ngx_int_t
ngx_http_otp_logout(ngx_http_request_t *r)
{
    ngx_str_t            binding = ngx_string("logout");
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

    /* Redis failing answers 503: the session may live on, say so */

    return ngx_http_otp_ep_run(r, NGX_HTTP_OTP_SESSION_END, NULL, 0,
                               ngx_http_otp_logout_done);
}


static void
ngx_http_otp_logout_done(ngx_http_request_t *r,
    ngx_http_otp_store_reply_t *reply)
{
    ngx_str_t            root = ngx_string("/");
    ngx_http_otp_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_otp_module);

    if (ngx_http_otp_session_set_cookie(r, NULL) != NGX_OK) {
        ngx_http_otp_ep_finish(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                  "otp: user \"%V\" signed out", &ctx->user);

    ngx_http_otp_ep_finish(r, ngx_http_otp_redirect(r, NGX_HTTP_SEE_OTHER,
                                                    &root));
}


/*
 * Signing out: GET logout shows a form, POST logout ends the session in
 * Redis and clears its cookie.  It also forgets this browser's trust
 * (otp_remember_device): the device cookie and its record in Redis,
 * unless the user ticked keep_device=1, which the form offers only on a
 * browser that holds a device cookie of the user.
 */


#include "ngx_http_otp_logout.h"
#include "ngx_http_otp_device.h"
#include "ngx_http_otp_form.h"
#include "ngx_http_otp_page.h"
#include "ngx_http_otp_page_flow.h"
#include "ngx_http_otp_session.h"
#include "ngx_http_otp_store.h"


#define NGX_HTTP_OTP_LOGOUT_CSRF_AGE     3600


static ngx_uint_t ngx_http_otp_logout_keep_device(ngx_http_request_t *r);
static void ngx_http_otp_logout_done(ngx_http_request_t *r,
    ngx_http_otp_store_reply_t *reply);


ngx_int_t
ngx_http_otp_logout_form(ngx_http_request_t *r)
{
    ngx_str_t                  csrf, binding = ngx_string("logout");
    ngx_str_t                  trusted = ngx_string("1");
    ngx_http_otp_ctx_t        *ctx;
    ngx_http_otp_device_t      dev;
    ngx_http_otp_page_vars_t   pv;

    ctx = ngx_http_get_module_ctx(r, ngx_http_otp_module);

    if (ngx_http_otp_csrf_make(r, &binding, &csrf) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    pv.nvars = 0;
    ngx_http_otp_page_var(&pv, "user", &ctx->user);
    ngx_http_otp_page_var(&pv, "csrf", &csrf);

    if (ngx_http_otp_device_from_cookie(r, &ctx->user, &dev) == NGX_OK) {
        ngx_http_otp_page_var(&pv, "trusted_device", &trusted);
    }

    return ngx_http_otp_send_page(r, NGX_HTTP_OK, NGX_HTTP_OTP_PAGE_LOGOUT,
                                  &pv);
}


ngx_int_t
ngx_http_otp_logout(ngx_http_request_t *r)
{
    ngx_str_t            binding = ngx_string("logout"), args[1];
    ngx_uint_t           has_session;
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

    /* this browser's trust, unless the user keeps it */

    ngx_str_set(&args[0], "");

    /* ep->device names the browser to forget, if any */

    if (ngx_http_otp_logout_keep_device(r)
        || ngx_http_otp_device_from_cookie(r, &ctx->user, &ep->device)
           != NGX_OK)
    {
        ngx_memzero(&ep->device, sizeof(ngx_http_otp_device_t));

    } else {
        args[0].data = ep->device.id;
        args[0].len = sizeof(ep->device.id);
    }

    has_session = (ngx_http_otp_session_from_cookie(r, &ep->old_sid)
                   == NGX_OK);

    if (!has_session && args[0].len == 0) {
        ngx_http_otp_logout_done(r, NULL);
        return NGX_DONE;
    }

    if (has_session) {
        ngx_http_otp_session_forget(&ep->old_sid);

    } else {
        /* only the device: the session key is that of no session */
        ngx_memzero(&ep->old_sid, sizeof(ngx_http_otp_sid_t));
    }

    ngx_http_otp_session_hash(r, &ep->old_sid);

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "otp logout: session: %ui, forget device: %ui",
                   has_session, (ngx_uint_t) (args[0].len != 0));

    /* Redis failing answers 503: the session may live on, say so */

    return ngx_http_otp_ep_run(r, NGX_HTTP_OTP_SESSION_END, args, 1,
                               ngx_http_otp_logout_done);
}


/* keep_device=1 in the form (the endpoint has read and checked it) */

static ngx_uint_t
ngx_http_otp_logout_keep_device(ngx_http_request_t *r)
{
    u_char                     *body, *p;
    size_t                      len;
    char                        value[4];
    ngx_chain_t                *cl;
    ngx_http_otp_form_field_t   field;

    if (r->request_body == NULL || r->request_body->temp_file) {
        return 0;
    }

    len = 0;

    for (cl = r->request_body->bufs; cl; cl = cl->next) {
        len += cl->buf->last - cl->buf->pos;
    }

    body = ngx_pnalloc(r->pool, len + 1);
    if (body == NULL) {
        return 0;
    }

    p = body;

    for (cl = r->request_body->bufs; cl; cl = cl->next) {
        if (cl->buf->last > cl->buf->pos) {
            p = ngx_cpymem(p, cl->buf->pos, cl->buf->last - cl->buf->pos);
        }
    }

    ngx_memzero(&field, sizeof(ngx_http_otp_form_field_t));

    field.name = "keep_device";
    field.value = value;
    field.size = sizeof(value);

    if (ngx_http_otp_form_parse(body, len, len, &field, 1)
        != NGX_HTTP_OTP_FORM_OK)
    {
        return 0;
    }

    return field.len == 1 && value[0] == '1';
}


static void
ngx_http_otp_logout_done(ngx_http_request_t *r,
    ngx_http_otp_store_reply_t *reply)
{
    ngx_str_t            root = ngx_string("/");
    ngx_uint_t           forget;
    ngx_http_otp_ep_t   *ep;
    ngx_http_otp_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_otp_module);
    ep = ctx->endpoint;

    forget = (ep->device.cookie.len != 0);

    if (ngx_http_otp_session_set_cookie(r, NULL) != NGX_OK
        || (forget && ngx_http_otp_device_set_cookie(r, NULL) != NGX_OK))
    {
        ngx_http_otp_ep_finish(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                  "otp: user \"%V\" signed out%s", &ctx->user,
                  forget ? ", this browser no longer trusted" : "");

    ngx_http_otp_ep_finish(r, ngx_http_otp_redirect(r, NGX_HTTP_SEE_OTHER,
                                                    &root));
}


/*
 * The account page: a user's own security settings (SPEC 10).
 *
 * GET account runs account_state.lua, which also checks that the
 * browser's session had its code entered within otp_fresh; else the
 * page steps up (the challenge, then back here).  POST account runs
 * account_change.lua, which checks the session again in the same step
 * as the change: a change made from a stale session is never made, the
 * browser goes through the challenge and comes back to the page.  A
 * change of factor ends every other session and forgets the remembered
 * browsers (SPEC 6.14); this browser gets a new session in that step.
 *
 * The phone number and new recovery codes have their own pages (sms,
 * recovery), and a new authenticator enroll?add=1: this page links to
 * them, with itself as the return address.
 */


#include "ngx_http_otp_account.h"
#include "ngx_http_otp_authn.h"
#include "ngx_http_otp_page.h"
#include "ngx_http_otp_page_flow.h"
#include "ngx_http_otp_phone.h"
#include "ngx_http_otp_return.h"
#include "ngx_http_otp_session.h"
#include "ngx_http_otp_sms.h"
#include "ngx_http_otp_store.h"
#include "ngx_http_otp_template.h"


static void ngx_http_otp_account_state(ngx_http_request_t *r,
    ngx_http_otp_store_reply_t *reply);
static ngx_int_t ngx_http_otp_account_change(ngx_http_request_t *r);
static void ngx_http_otp_account_changed(ngx_http_request_t *r,
    ngx_http_otp_store_reply_t *reply);
static ngx_int_t ngx_http_otp_account_confirm(ngx_http_request_t *r);
static ngx_int_t ngx_http_otp_account_locked(ngx_http_request_t *r,
    ngx_int_t secs);
static ngx_int_t ngx_http_otp_account_binding(ngx_http_request_t *r,
    ngx_str_t *binding);
static ngx_int_t ngx_http_otp_account_refused(ngx_http_request_t *r);
static ngx_int_t ngx_http_otp_account_list(ngx_http_request_t *r,
    ngx_array_t *list, ngx_str_t *csrf, ngx_str_t *ret_in, ngx_str_t *html);
static ngx_int_t ngx_http_otp_account_text(ngx_http_request_t *r,
    const char *key, ngx_http_otp_template_var_t *vars, ngx_uint_t nvars,
    ngx_str_t *out, ngx_uint_t escape);
static u_char *ngx_http_otp_account_date(u_char *p, ngx_str_t *v);
static ngx_int_t ngx_http_otp_account_phone(ngx_http_request_t *r,
    ngx_str_t *sealed, ngx_str_t *masked);
static ngx_int_t ngx_http_otp_account_link(ngx_http_request_t *r,
    const char *page, ngx_str_t *url);


/* the actions of POST account */
static const char  *ngx_http_otp_account_actions[] = {
    "rename", "remove", "browsers", "sessions", NULL
};


ngx_int_t
ngx_http_otp_account(ngx_http_request_t *r)
{
    ngx_str_t                  args[4], binding;
    ngx_http_otp_ep_t         *ep;
    ngx_http_otp_ctx_t        *ctx;
    ngx_http_otp_loc_conf_t   *olcf;

    ctx = ngx_http_get_module_ctx(r, ngx_http_otp_module);
    olcf = ngx_http_get_module_loc_conf(r, ngx_http_otp_module);
    ep = ctx->endpoint;

    /* no session: the challenge first, then back here */

    if (ngx_http_otp_session_from_cookie(r, &ep->old_sid) != NGX_OK) {
        if (ep->action == NGX_HTTP_OTP_ACCOUNT_POST) {
            return ngx_http_otp_account_refused(r);
        }

        ngx_log_debug0(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                       "otp account: no session, step-up");
        return ngx_http_otp_step_up(r, "account");
    }

    ep->has_cookie = 1;
    ngx_http_otp_session_hash(r, &ep->old_sid);

    if (ep->action == NGX_HTTP_OTP_ACCOUNT_POST) {
        if (ngx_http_otp_account_binding(r, &binding) != NGX_OK) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        if (ngx_http_otp_csrf_valid(r, &binding, NGX_HTTP_OTP_ENROLL_TTL)
            != NGX_OK)
        {
            return ngx_http_otp_account_refused(r);
        }

        return ngx_http_otp_account_change(r);
    }

    args[0] = ctx->user;

    if (ngx_http_otp_store_num(r, &args[1], ngx_time()) != NGX_OK
        || ngx_http_otp_store_num(r, &args[2], olcf->session_ttl) != NGX_OK
        || ngx_http_otp_store_num(r, &args[3], olcf->fresh) != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_otp_ep_run(r, NGX_HTTP_OTP_ACCOUNT_STATE, args, 4,
                               ngx_http_otp_account_state);
}


/* account_state.lua's reply: the page, or the step-up */

static void
ngx_http_otp_account_state(ngx_http_request_t *r,
    ngx_http_otp_store_reply_t *reply)
{
    u_char                        *p;
    ngx_str_t                      csrf, list, phone, add, num, url;
    ngx_str_t                      binding;
    ngx_http_otp_ep_t             *ep;
    ngx_http_otp_ctx_t            *ctx;
    ngx_http_otp_loc_conf_t       *olcf;
    ngx_http_otp_page_vars_t       pv;
    ngx_http_otp_account_reply_t  *ar;

    ctx = ngx_http_get_module_ctx(r, ngx_http_otp_module);
    olcf = ngx_http_get_module_loc_conf(r, ngx_http_otp_module);
    ep = ctx->endpoint;
    ar = (ngx_http_otp_account_reply_t *) reply;

    if (reply->status == NGX_HTTP_OTP_ST_LOCKED) {
        ngx_http_otp_ep_finish(r, ngx_http_otp_account_locked(r, ar->secs));
        return;
    }

    if (reply->status != NGX_HTTP_OTP_ST_OK) {
        ngx_log_debug0(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                       "otp account: no code within otp_fresh, step-up");
        ngx_http_otp_ep_finish(r, ngx_http_otp_step_up(r, "account"));
        return;
    }

    if (ngx_http_otp_account_binding(r, &binding) != NGX_OK
        || ngx_http_otp_csrf_make(r, &binding, &csrf) != NGX_OK
        || ngx_http_otp_account_list(r, ar->authenticators, &csrf,
                                     &ep->ret, &list)
           != NGX_OK
        || ngx_http_otp_account_phone(r, &ar->phone, &phone) != NGX_OK)
    {
        ngx_http_otp_ep_finish(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    pv.nvars = 0;

    ngx_http_otp_page_var(&pv, "user", &ctx->user);
    ngx_http_otp_page_var(&pv, "csrf", &csrf);
    ngx_http_otp_page_var(&pv, "return", &ep->ret);
    ngx_http_otp_page_var(&pv, "continue", &ep->ret);
    ngx_http_otp_page_var(&pv, "authenticators_html", &list);

    /* enroll?add=1, back to this page afterwards */

    if (olcf->methods & NGX_HTTP_OTP_METHOD_TOTP
        && olcf->enroll != NGX_HTTP_OTP_ENROLL_OFF
        && (ar->authenticators == NULL
            || ar->authenticators->nelts / NGX_HTTP_OTP_AUTHN_SHOWN
               < NGX_HTTP_OTP_AUTHN_MOST))
    {
        if (ngx_http_otp_account_link(r, "enroll?add=1&r=", &add)
            != NGX_OK)
        {
            ngx_http_otp_ep_finish(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
            return;
        }

        ngx_http_otp_page_var(&pv, "add_url", &add);
    }

    if (olcf->methods & NGX_HTTP_OTP_METHOD_SMS) {
        if (ngx_http_otp_account_link(r, "sms?r=", &url) != NGX_OK) {
            ngx_http_otp_ep_finish(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
            return;
        }

        ngx_http_otp_page_var_cstr(&pv, "has_sms", "1");
        ngx_http_otp_page_var(&pv, "phone_url", &url);

        if (phone.len) {
            ngx_http_otp_page_var(&pv, "phone", &phone);
        }
    }

    if (olcf->methods & NGX_HTTP_OTP_METHOD_RECOVERY) {
        if (ngx_http_otp_account_link(r, "recovery?r=", &url) != NGX_OK
            || ngx_http_otp_store_num(r, &num, ar->recovery) != NGX_OK)
        {
            ngx_http_otp_ep_finish(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
            return;
        }

        ngx_http_otp_page_var_cstr(&pv, "has_recovery", "1");
        ngx_http_otp_page_var(&pv, "recovery_url", &url);
        ngx_http_otp_page_var(&pv, "recovery_left", &num);
    }

    p = ngx_pnalloc(r->pool, 2 * NGX_INT_T_LEN);
    if (p == NULL) {
        ngx_http_otp_ep_finish(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    num.data = p;
    num.len = ngx_sprintf(p, "%i", ar->browsers) - p;
    ngx_http_otp_page_var(&pv, "browsers", &num);

    url.data = num.data + num.len;
    url.len = ngx_sprintf(url.data, "%i", ar->sessions) - url.data;
    ngx_http_otp_page_var(&pv, "sessions", &url);

    if (ep->error) {
        ngx_http_otp_page_var_cstr(&pv, "notice", ep->error);
    }

    ctx->status = NGX_HTTP_OTP_STATUS_PASSED;

    ngx_http_otp_ep_finish(r, ngx_http_otp_send_page(r, NGX_HTTP_OK,
                                  NGX_HTTP_OTP_PAGE_ACCOUNT, &pv));
}


/* POST account: the action checked here, decided by account_change.lua */

static ngx_int_t
ngx_http_otp_account_change(ngx_http_request_t *r)
{
    ngx_int_t                  n;
    ngx_str_t                  args[12], phone;
    ngx_uint_t                 i;
    ngx_http_otp_ep_t         *ep;
    ngx_http_otp_ctx_t        *ctx;
    ngx_http_otp_loc_conf_t   *olcf;

    ctx = ngx_http_get_module_ctx(r, ngx_http_otp_module);
    olcf = ngx_http_get_module_loc_conf(r, ngx_http_otp_module);
    ep = ctx->endpoint;

    for (i = 0; ngx_http_otp_account_actions[i]; i++) {
        if (ngx_http_otp_is(&ep->act, ngx_http_otp_account_actions[i])) {
            break;
        }
    }

    n = (ep->aid.len && ep->aid.len <= 10)
        ? ngx_atoi(ep->aid.data, ep->aid.len) : NGX_ERROR;

    if (ngx_http_otp_account_actions[i] == NULL
        || (i <= 1 && n == NGX_ERROR)
        || (i == 0 && ngx_http_otp_authn_name_valid(&ep->aname) != NGX_OK))
    {
        return ngx_http_otp_send_error(r, NGX_HTTP_BAD_REQUEST,
                                       "Bad request",
                                       "This change could not be read. A "
                                       "name has 1 to 64 characters.");
    }

    /* a new id for the session a change of factor gives this browser */

    if (ngx_http_otp_session_new_id(r, &ep->sid) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    args[0] = ctx->user;
    args[1] = ep->act;
    args[6] = (i <= 1) ? ep->aid : (ngx_str_t) ngx_string("");
    args[7] = (i == 0) ? ep->aname : (ngx_str_t) ngx_string("");

    ngx_str_set(&args[8], "0");
    ngx_str_set(&args[10], "0");
    ngx_str_set(&args[11], "0");

    if (ep->confirm) {
        ngx_str_set(&args[8], "1");
    }

    /* a number from otp_sms_phone is a factor the store does not know */

    if (olcf->methods & NGX_HTTP_OTP_METHOD_SMS) {
        ngx_str_set(&args[11], "1");

        n = ngx_http_otp_sms_configured(r, &phone);
        if (n == NGX_ERROR) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        if (n == NGX_OK) {
            ngx_str_set(&args[10], "1");
        }
    }

    if (ngx_http_otp_store_num(r, &args[2], ngx_time()) != NGX_OK
        || ngx_http_otp_store_num(r, &args[3], olcf->fresh) != NGX_OK
        || ngx_http_otp_store_num(r, &args[4], olcf->session_idle) != NGX_OK
        || ngx_http_otp_store_num(r, &args[5], olcf->session_ttl) != NGX_OK
        || ngx_http_otp_store_num(r, &args[9], olcf->totp_period
                                               * (2 * olcf->totp_skew + 2))
           != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_otp_ep_run(r, NGX_HTTP_OTP_ACCOUNT_CHANGE, args, 12,
                               ngx_http_otp_account_changed);
}


static void
ngx_http_otp_account_changed(ngx_http_request_t *r,
    ngx_http_otp_store_reply_t *reply)
{
    ngx_str_t                      url;
    ngx_http_otp_ep_t             *ep;
    ngx_http_otp_ctx_t            *ctx;
    ngx_http_otp_loc_conf_t       *olcf;
    ngx_http_otp_account_reply_t  *ar;

    ctx = ngx_http_get_module_ctx(r, ngx_http_otp_module);
    olcf = ngx_http_get_module_loc_conf(r, ngx_http_otp_module);
    ep = ctx->endpoint;
    ar = (ngx_http_otp_account_reply_t *) reply;

    switch (reply->status) {

    case NGX_HTTP_OTP_ST_OK:
        break;

    case NGX_HTTP_OTP_ST_NONE:
        /* stale or gone: nothing was changed; the code first */
        ngx_log_debug0(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                       "otp account: no code within otp_fresh, step-up");
        ngx_http_otp_ep_finish(r, ngx_http_otp_step_up(r, "account"));
        return;

    case NGX_HTTP_OTP_ST_NO_FACTOR:
        ngx_http_otp_ep_finish(r, ngx_http_otp_account_confirm(r));
        return;

    case NGX_HTTP_OTP_ST_LOCKED:
        ngx_http_otp_ep_finish(r, ngx_http_otp_account_locked(r, ar->secs));
        return;

    default: /* NGX_HTTP_OTP_ST_UNKNOWN */
        ngx_http_otp_ep_finish(r,
            ngx_http_otp_send_error(r, NGX_HTTP_NOT_FOUND,
                                    "No such authenticator",
                                    "That authenticator is no longer "
                                    "there. Go back and reload your "
                                    "account page."));
        return;
    }

    ngx_log_error(olcf->log_level, r->connection->log, 0,
                  "otp: user \"%V\" %s on the account page%s", &ctx->user,
                  ngx_http_otp_is(&ep->act, "rename")
                  ? "renamed an authenticator"
                  : ngx_http_otp_is(&ep->act, "remove")
                  ? "removed an authenticator"
                  : ngx_http_otp_is(&ep->act, "browsers")
                  ? "forgot the trusted browsers"
                  : "signed out everywhere else",
                  ar->made == 1 ? ", other sessions ended" : "");

    if (ar->made == 1
        && ngx_http_otp_session_set_cookie(r, &ep->sid) != NGX_OK)
    {
        ngx_http_otp_ep_finish(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    if (ngx_http_otp_page_url(r, "account", &url) != NGX_OK) {
        ngx_http_otp_ep_finish(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    ngx_http_otp_ep_finish(r, ngx_http_otp_redirect(r, NGX_HTTP_SEE_OTHER,
                                                    &url));
}


/* a locked user: the locked page, as on the rest of the endpoint */

static ngx_int_t
ngx_http_otp_account_locked(ngx_http_request_t *r, ngx_int_t secs)
{
    ngx_http_otp_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_otp_module);

    ngx_log_debug0(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "otp account: the user is locked");

    ctx->status = NGX_HTTP_OTP_STATUS_LOCKED;

    return ngx_http_otp_send_locked(r, secs > 0 ? secs : 1);
}


/* the last authenticator and no other factor: asked once more */

static ngx_int_t
ngx_http_otp_account_confirm(ngx_http_request_t *r)
{
    ngx_str_t                  csrf, binding;
    ngx_http_otp_ep_t         *ep;
    ngx_http_otp_ctx_t        *ctx;
    ngx_http_otp_page_vars_t   pv;

    ctx = ngx_http_get_module_ctx(r, ngx_http_otp_module);
    ep = ctx->endpoint;

    if (ngx_http_otp_account_binding(r, &binding) != NGX_OK
        || ngx_http_otp_csrf_make(r, &binding, &csrf) != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    pv.nvars = 0;

    ngx_http_otp_page_var(&pv, "user", &ctx->user);
    ngx_http_otp_page_var(&pv, "csrf", &csrf);
    ngx_http_otp_page_var(&pv, "return", &ep->ret);
    ngx_http_otp_page_var(&pv, "confirm_id", &ep->aid);

    return ngx_http_otp_send_page(r, NGX_HTTP_CONFLICT,
                                  NGX_HTTP_OTP_PAGE_ACCOUNT, &pv);
}


/*
 * What the page's CSRF token is bound to, with the user: this browser's
 * session (its keyed hash), so that a form of one session changes
 * nothing through another of the same user.
 */

static ngx_int_t
ngx_http_otp_account_binding(ngx_http_request_t *r, ngx_str_t *binding)
{
    u_char             *p;
    ngx_http_otp_ep_t  *ep;

    ep = ngx_http_otp_ep(r);

    p = ngx_pnalloc(r->pool, sizeof("account:") - 1
                             + NGX_HTTP_OTP_SID_HASH_LEN);
    if (p == NULL) {
        return NGX_ERROR;
    }

    binding->data = p;
    p = ngx_cpymem(p, "account:", sizeof("account:") - 1);
    p = ngx_cpymem(p, ep->old_sid.hash, NGX_HTTP_OTP_SID_HASH_LEN);
    binding->len = p - binding->data;

    return NGX_OK;
}


static ngx_int_t
ngx_http_otp_account_refused(ngx_http_request_t *r)
{
    ngx_http_otp_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_otp_module);

    ctx->status = NGX_HTTP_OTP_STATUS_DENIED;

    return ngx_http_otp_send_error(r, NGX_HTTP_FORBIDDEN,
                                   "Request refused",
                                   "This form has expired or was not "
                                   "sent from your account page. Go "
                                   "back and reload it.");
}


/*
 * The authenticators as a list the page shows as it is: each name
 * HTML-escaped, its dates, a form to rename it and one to remove it;
 * the words in the page's language, escaped too.
 */

#define NGX_HTTP_OTP_ACCOUNT_ITEM                                             \
    "<li><strong>%*s</strong>"                                                \
    "<span class=\"muted\"> %V</span>"                                        \
    "<form method=\"post\" action=\"account\" class=\"row\">"                 \
    "<input type=\"hidden\" name=\"csrf\" value=\"%V\">"                      \
    "<input type=\"hidden\" name=\"return\" value=\"%*s\">"                   \
    "<input type=\"hidden\" name=\"action\" value=\"rename\">"                \
    "<input type=\"hidden\" name=\"id\" value=\"%V\">"                        \
    "<label for=\"name%V\">%V</label>"                                        \
    "<input type=\"text\" id=\"name%V\" name=\"name\" maxlength=\"64\" "      \
    "required value=\"%*s\">"                                                 \
    "<button type=\"submit\" class=\"secondary\">%V</button></form>"          \
    "<form method=\"post\" action=\"account\">"                               \
    "<input type=\"hidden\" name=\"csrf\" value=\"%V\">"                      \
    "<input type=\"hidden\" name=\"return\" value=\"%*s\">"                   \
    "<input type=\"hidden\" name=\"action\" value=\"remove\">"                \
    "<input type=\"hidden\" name=\"id\" value=\"%V\">"                        \
    "<button type=\"submit\" class=\"secondary\">%V</button></form>"          \
    "</li>"

static ngx_int_t
ngx_http_otp_account_list(ngx_http_request_t *r, ngx_array_t *list,
    ngx_str_t *csrf, ngx_str_t *ret_in, ngx_str_t *html)
{
    u_char                       *p, *name, *ret, date[2][16];
    size_t                        len, nlen, rlen;
    ngx_str_t                    *v, *dates, word[4];
    ngx_str_t                     plain = ngx_string("Authenticator");
    ngx_uint_t                    i, k, n;
    ngx_http_otp_template_var_t   vars[2];

    n = list ? list->nelts / NGX_HTTP_OTP_AUTHN_SHOWN : 0;

    if (n == 0) {
        if (ngx_http_otp_account_text(r, "account_none", NULL, 0, &word[0],
                                      1)
            != NGX_OK)
        {
            return NGX_ERROR;
        }

        html->data = ngx_pnalloc(r->pool, word[0].len + sizeof("<p></p>"));
        if (html->data == NULL) {
            return NGX_ERROR;
        }

        html->len = ngx_sprintf(html->data, "<p>%V</p>", &word[0])
                    - html->data;
        return NGX_OK;
    }

    v = list->elts;

    /* the words: "not known", "Name", "Rename", "Remove" */

    if (ngx_http_otp_account_text(r, "account_date_unknown", NULL, 0,
                                  &word[0], 0)
           != NGX_OK
        || ngx_http_otp_account_text(r, "account_name", NULL, 0,
                                     &word[1], 1)
           != NGX_OK
        || ngx_http_otp_account_text(r, "account_rename", NULL, 0,
                                     &word[2], 1)
           != NGX_OK
        || ngx_http_otp_account_text(r, "account_remove", NULL, 0,
                                     &word[3], 1)
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    dates = ngx_palloc(r->pool, n * sizeof(ngx_str_t));
    if (dates == NULL) {
        return NGX_ERROR;
    }

    /* the return address, escaped for the forms' hidden fields */

    rlen = ngx_http_otp_template_escape((char *) ret_in->data, ret_in->len,
                                        NULL);
    ret = ngx_pnalloc(r->pool, rlen + 1);
    if (ret == NULL) {
        return NGX_ERROR;
    }

    ngx_http_otp_template_escape((char *) ret_in->data, ret_in->len,
                                 (char *) ret);

    len = sizeof("<ul class=\"authn\"></ul>");

    for (i = 0; i < n * NGX_HTTP_OTP_AUTHN_SHOWN;
         i += NGX_HTTP_OTP_AUTHN_SHOWN)
    {
        if (v[i + 1].data == NULL) {
            v[i + 1] = plain;
        }

        /* "added {added}, last used {used}" */

        vars[0].name = "added";
        vars[0].name_len = 5;
        vars[1].name = "used";
        vars[1].name_len = 4;

        for (k = 0; k < 2; k++) {
            vars[k].value = (const char *) date[k];
            vars[k].value_len = ngx_http_otp_account_date(date[k],
                                                          &v[i + 2 + k])
                                - date[k];
            if (vars[k].value_len == 0) {
                vars[k].value = (const char *) word[0].data;
                vars[k].value_len = word[0].len;
            }
        }

        if (ngx_http_otp_account_text(r, "account_dates", vars, 2,
                                      &dates[i / NGX_HTTP_OTP_AUTHN_SHOWN], 1)
            != NGX_OK)
        {
            return NGX_ERROR;
        }

        len += sizeof(NGX_HTTP_OTP_ACCOUNT_ITEM)
               + dates[i / NGX_HTTP_OTP_AUTHN_SHOWN].len
               + word[1].len + word[2].len + word[3].len
               + 2 * ngx_http_otp_template_escape((char *) v[i + 1].data,
                                                  v[i + 1].len, NULL)
               + 3 * csrf->len + 5 * v[i].len + 2 * rlen;
    }

    html->data = ngx_pnalloc(r->pool, len);
    if (html->data == NULL) {
        return NGX_ERROR;
    }

    p = ngx_cpymem(html->data, "<ul class=\"authn\">",
                   sizeof("<ul class=\"authn\">") - 1);

    for (i = 0; i < n * NGX_HTTP_OTP_AUTHN_SHOWN;
         i += NGX_HTTP_OTP_AUTHN_SHOWN)
    {
        nlen = ngx_http_otp_template_escape((char *) v[i + 1].data,
                                            v[i + 1].len, NULL);
        name = ngx_pnalloc(r->pool, nlen);
        if (name == NULL) {
            return NGX_ERROR;
        }

        ngx_http_otp_template_escape((char *) v[i + 1].data, v[i + 1].len,
                                     (char *) name);

        p = ngx_sprintf(p, NGX_HTTP_OTP_ACCOUNT_ITEM, nlen, name,
                        &dates[i / NGX_HTTP_OTP_AUTHN_SHOWN],
                        csrf, rlen, ret, &v[i], &v[i], &word[1], &v[i],
                        nlen, name, &word[2], csrf, rlen, ret, &v[i],
                        &word[3]);
    }

    p = ngx_cpymem(p, "</ul>", sizeof("</ul>") - 1);

    html->len = p - html->data;

    return NGX_OK;
}


/*
 * A text of the message files in the request's language, its
 * placeholders filled from vars; HTML-escaped if escape, for the markup
 * built here, which the page puts in as it is.
 */

static ngx_int_t
ngx_http_otp_account_text(ngx_http_request_t *r, const char *key,
    ngx_http_otp_template_var_t *vars, ngx_uint_t nvars, ngx_str_t *out,
    ngx_uint_t escape)
{
    ngx_str_t                  k, text;
    ngx_http_otp_language_t   *lang;
    ngx_http_otp_languages_t  *langs;

    lang = ngx_http_otp_page_language(r, &langs, 0);
    if (lang == NULL) {
        return NGX_ERROR;
    }

    k.data = (u_char *) key;
    k.len = ngx_strlen(key);

    if (ngx_http_otp_language_text(r->pool, lang, langs, &k, vars, nvars,
                                   &text)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (!escape) {
        *out = text;
        return NGX_OK;
    }

    out->len = ngx_http_otp_template_escape((char *) text.data, text.len,
                                            NULL);
    out->data = ngx_pnalloc(r->pool, out->len + 1);
    if (out->data == NULL) {
        return NGX_ERROR;
    }

    ngx_http_otp_template_escape((char *) text.data, text.len,
                                 (char *) out->data);

    return NGX_OK;
}


/* a date, "2026-12-03"; nothing when it is not known */

static u_char *
ngx_http_otp_account_date(u_char *p, ngx_str_t *v)
{
    ngx_int_t  t;
    ngx_tm_t   tm;

    t = v->data ? ngx_atoi(v->data, v->len) : NGX_ERROR;

    if (t == NGX_ERROR || t == 0) {
        return p;
    }

    ngx_gmtime((time_t) t, &tm);

    return ngx_sprintf(p, "%4d-%02d-%02d", tm.ngx_tm_year, tm.ngx_tm_mon,
                       tm.ngx_tm_mday);
}


/* the number texts go to, masked: the user's own, or the configured one */

static ngx_int_t
ngx_http_otp_account_phone(ngx_http_request_t *r, ngx_str_t *sealed,
    ngx_str_t *masked)
{
    ngx_int_t            rc;
    ngx_str_t            phone;
    ngx_http_otp_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_otp_module);

    masked->len = 0;

    rc = ngx_http_otp_sms_configured(r, &phone);

    if (rc == NGX_ERROR) {
        return NGX_ERROR;
    }

    if (rc == NGX_DECLINED && sealed->data) {
        rc = ngx_http_otp_store_open(r, &ctx->user, sealed,
                                     NGX_HTTP_OTP_PHONE_MAX_LEN, &phone);
        if (rc == NGX_ERROR) {
            return NGX_ERROR;
        }
    }

    if (rc != NGX_OK
        || ngx_http_otp_phone_valid((char *) phone.data, phone.len) != 0)
    {
        return NGX_OK;
    }

    masked->data = ngx_pnalloc(r->pool, NGX_HTTP_OTP_PHONE_MASKED_MAX);
    if (masked->data == NULL) {
        return NGX_ERROR;
    }

    masked->len = ngx_http_otp_phone_mask((char *) phone.data, phone.len,
                                          (char *) masked->data);

    return NGX_OK;
}


/* "<page>?...r=<this page, encoded>": a page that comes back here */

static ngx_int_t
ngx_http_otp_account_link(ngx_http_request_t *r, const char *page,
    ngx_str_t *url)
{
    u_char     *p;
    size_t      len;
    ngx_str_t   self;

    if (ngx_http_otp_page_url(r, "account", &self) != NGX_OK) {
        return NGX_ERROR;
    }

    len = ngx_strlen(page);

    p = ngx_pnalloc(r->pool, len + ngx_http_otp_return_encoded_len(self.len));
    if (p == NULL) {
        return NGX_ERROR;
    }

    url->data = p;
    p = ngx_cpymem(p, page, len);
    p += ngx_http_otp_return_encode((char *) self.data, self.len, (char *) p);
    url->len = p - url->data;

    return NGX_OK;
}


ngx_int_t
ngx_http_otp_account_url(ngx_http_request_t *r, ngx_http_otp_page_vars_t *pv)
{
    ngx_str_t           *url;
    ngx_http_otp_sid_t   sid;

    /* a session cookie is enough to offer the link: the page checks it */

    if (ngx_http_otp_session_from_cookie(r, &sid) != NGX_OK) {
        return NGX_OK;
    }

    url = ngx_palloc(r->pool, sizeof(ngx_str_t));
    if (url == NULL || ngx_http_otp_page_url(r, "account", url) != NGX_OK) {
        return NGX_ERROR;
    }

    ngx_http_otp_page_var(pv, "account_url", url);

    return NGX_OK;
}

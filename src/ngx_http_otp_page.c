
/*
 * Responses: the HTML pages, JSON answers, and the headers every one of
 * them carries.  Pages are never cached, never framed, never leak a
 * Referer, and run under a CSP that allows no script at all.
 */


#include "ngx_http_otp_page.h"
#include "ngx_http_otp_crypto.h"
#include "ngx_http_otp_html.h"
#include "ngx_http_otp_language.h"


static ngx_str_t *ngx_http_otp_page_csp(void);
static ngx_int_t ngx_http_otp_page_texts(ngx_http_request_t *r,
    ngx_http_otp_language_t *lang, ngx_http_otp_languages_t *langs,
    ngx_http_otp_page_vars_t *pv);
static ngx_int_t ngx_http_otp_page_back_url(ngx_http_request_t *r,
    ngx_str_t *url);
static ngx_int_t ngx_http_otp_send_body(ngx_http_request_t *r,
    ngx_uint_t status, const char *type, u_char *body, size_t len);


ngx_str_t  ngx_http_otp_page_names[NGX_HTTP_OTP_NPAGES] = {
    ngx_string("challenge.html"),
    ngx_string("enroll.html"),
    ngx_string("recovery.html"),
    ngx_string("sms.html"),
    ngx_string("locked.html"),
    ngx_string("error.html"),
    ngx_string("logout.html"),
    ngx_string("link.html"),
    ngx_string("link_approve.html"),
    ngx_string("account.html")
};


/*
 * No script but the built-in html/countdown.js, allowed by its hash: a
 * page works without it, and a changed template cannot add another.
 */

#define NGX_HTTP_OTP_CSP_HEAD  "default-src 'none'; style-src 'unsafe-inline'; "
#define NGX_HTTP_OTP_CSP_TAIL  "img-src data:; form-action 'self'; "          \
                               "frame-ancestors 'none'; base-uri 'none'"

static u_char     ngx_http_otp_csp_buf[sizeof(NGX_HTTP_OTP_CSP_HEAD)
                                       + sizeof("script-src 'sha256-'; ")
                                       + 44 + sizeof(NGX_HTTP_OTP_CSP_TAIL)];
static ngx_str_t  ngx_http_otp_csp;


void
ngx_http_otp_page_var(ngx_http_otp_page_vars_t *pv, const char *name,
    ngx_str_t *value)
{
    ngx_http_otp_template_var_t  *v;

    if (pv->nvars == NGX_HTTP_OTP_PAGE_MAX_VARS) {
        return;
    }

    v = &pv->vars[pv->nvars++];

    v->name = name;
    v->name_len = ngx_strlen(name);
    v->value = (const char *) value->data;
    v->value_len = value->len;
}


void
ngx_http_otp_page_var_cstr(ngx_http_otp_page_vars_t *pv, const char *name,
    const char *value)
{
    ngx_str_t  s;

    s.data = (u_char *) value;
    s.len = ngx_strlen(value);

    ngx_http_otp_page_var(pv, name, &s);
}


ngx_int_t
ngx_http_otp_send_page(ngx_http_request_t *r, ngx_uint_t status,
    ngx_http_otp_page_e page, ngx_http_otp_page_vars_t *pv)
{
    u_char                          *body, *text;
    size_t                           len, tlen;
    ngx_str_t                        issuer, style, script;
    ngx_http_otp_language_t         *lang;
    ngx_http_otp_loc_conf_t         *olcf;
    ngx_http_otp_languages_t        *langs;
    const ngx_http_otp_html_file_t  *tpl, *css, *js;

    olcf = ngx_http_get_module_loc_conf(r, ngx_http_otp_module);

    tpl = ngx_http_otp_html_page(olcf->templates,
                                 (char *) ngx_http_otp_page_names[page].data);
    if (tpl == NULL) {
        return NGX_ERROR;
    }

    lang = ngx_http_otp_page_language(r, &langs, 1);
    if (lang == NULL) {
        return NGX_ERROR;
    }

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "otp page language: %V", &lang->tag);

    if (ngx_http_otp_issuer(r, &issuer) == NGX_OK) {
        ngx_http_otp_page_var(pv, "issuer", &issuer);
    }

    if (ngx_http_otp_page_texts(r, lang, langs, pv) != NGX_OK) {
        return NGX_ERROR;
    }

    ngx_http_otp_page_var(pv, "lang", &lang->tag);

    css = ngx_http_otp_html_get("style.css");

    if (css) {
        style.data = (u_char *) css->data;
        style.len = css->len;
        ngx_http_otp_page_var(pv, "style", &style);
    }

    js = ngx_http_otp_html_get("countdown.js");

    if (js) {
        script.data = (u_char *) js->data;
        script.len = js->len;
        ngx_http_otp_page_var(pv, "script", &script);
    }

    /* the page's {{@key}} texts in its language, then its values */

    tlen = ngx_http_otp_lang_expand((const char *) tpl->data, tpl->len,
                                    lang->msgs, lang->n, NULL, 0);

    text = ngx_pnalloc(r->pool, tlen + 1);
    if (text == NULL) {
        return NGX_ERROR;
    }

    tlen = ngx_http_otp_lang_expand((const char *) tpl->data, tpl->len,
                                    lang->msgs, lang->n, (char *) text,
                                    tlen + 1);

    len = ngx_http_otp_template_size((const char *) text, tlen,
                                     pv->vars, pv->nvars);

    body = ngx_pnalloc(r->pool, len + 1);
    if (body == NULL) {
        return NGX_ERROR;
    }

    len = ngx_http_otp_template_render((const char *) text, tlen,
                                       pv->vars, pv->nvars, (char *) body,
                                       len + 1);

    return ngx_http_otp_send_body(r, status, "text/html; charset=utf-8",
                                  body, len);
}


ngx_http_otp_language_t *
ngx_http_otp_page_language(ngx_http_request_t *r,
    ngx_http_otp_languages_t **langs, ngx_uint_t vary)
{
    ngx_str_t                 header, name, *accept;
    ngx_http_otp_loc_conf_t  *olcf;

    olcf = ngx_http_get_module_loc_conf(r, ngx_http_otp_module);

    *langs = (olcf->templates && olcf->templates->langs)
             ? olcf->templates->langs
             : ngx_http_otp_languages_builtin(r->connection->log);
    if (*langs == NULL) {
        return NULL;
    }

    if (olcf->language.len
        && ngx_strcmp(olcf->language.data, "auto") != 0)
    {
        return ngx_http_otp_language_pick(*langs, &olcf->language, NULL);
    }

    /* chosen by the Accept-Language header */

    if (vary) {
        ngx_str_set(&name, "Accept-Language");
        if (ngx_http_otp_add_header(r, "Vary", &name) != NGX_OK) {
            return NULL;
        }
    }

    accept = NULL;

    if (ngx_http_otp_request_header(r, "accept-language", &header)
        == NGX_OK)
    {
        accept = &header;
    }

    return ngx_http_otp_language_pick(*langs, NULL, accept);
}


/*
 * The module's own texts given as values (an error, the title and
 * message of the error page, the account page's notice): a key of the
 * message files or an English text of lang/en.txt, in the page's
 * language.
 */

static ngx_int_t
ngx_http_otp_page_texts(ngx_http_request_t *r, ngx_http_otp_language_t *lang,
    ngx_http_otp_languages_t *langs, ngx_http_otp_page_vars_t *pv)
{
    ngx_str_t                     in, out;
    ngx_uint_t                    i;
    ngx_http_otp_template_var_t  *v;

    for (i = 0; i < pv->nvars; i++) {
        v = &pv->vars[i];

        if (!((v->name_len == 5 && ngx_strncmp(v->name, "error", 5) == 0)
              || (v->name_len == 5 && ngx_strncmp(v->name, "title", 5) == 0)
              || (v->name_len == 7
                  && ngx_strncmp(v->name, "message", 7) == 0)
              || (v->name_len == 6
                  && ngx_strncmp(v->name, "notice", 6) == 0)))
        {
            continue;
        }

        in.data = (u_char *) v->value;
        in.len = v->value_len;

        if (ngx_http_otp_language_text(r->pool, lang, langs, &in, pv->vars,
                                       pv->nvars, &out)
            != NGX_OK)
        {
            return NGX_ERROR;
        }

        v->value = (const char *) out.data;
        v->value_len = out.len;
    }

    return NGX_OK;
}


ngx_int_t
ngx_http_otp_send_error(ngx_http_request_t *r, ngx_uint_t status,
    const char *title, const char *message)
{
    ngx_http_otp_page_vars_t  pv;

    pv.nvars = 0;

    ngx_http_otp_page_var_cstr(&pv, "title", title);
    ngx_http_otp_page_var_cstr(&pv, "message", message);

    return ngx_http_otp_send_page(r, status, NGX_HTTP_OTP_PAGE_ERROR, &pv);
}


ngx_int_t
ngx_http_otp_send_error_back(ngx_http_request_t *r, ngx_uint_t status,
    const char *title, const char *message)
{
    ngx_str_t                 url;
    ngx_http_otp_page_vars_t  pv;

    pv.nvars = 0;

    ngx_http_otp_page_var_cstr(&pv, "title", title);
    ngx_http_otp_page_var_cstr(&pv, "message", message);

    if (ngx_http_otp_page_back_url(r, &url) == NGX_OK) {
        ngx_http_otp_page_var(&pv, "retry", &url);
    }

    return ngx_http_otp_send_page(r, status, NGX_HTTP_OTP_PAGE_ERROR, &pv);
}


ngx_int_t
ngx_http_otp_send_unavailable(ngx_http_request_t *r)
{
    ngx_str_t  retry = ngx_string("5");

    if (ngx_http_otp_add_header(r, "Retry-After", &retry) != NGX_OK) {
        return NGX_ERROR;
    }

    return ngx_http_otp_send_error_back(r, NGX_HTTP_SERVICE_UNAVAILABLE,
                                        "Temporarily unavailable",
                                        "Sign-in is not possible right "
                                        "now. Please try again in a "
                                        "moment.");
}


void
ngx_http_otp_page_back(ngx_http_request_t *r, ngx_str_t *url)
{
    ngx_http_otp_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_otp_module);

    if (ctx != NULL) {
        ctx->back = *url;
    }
}


/*
 * The page wanted: the endpoint's return address, else, for a GET, the
 * request itself (the gate's page, or the endpoint's page with its
 * return address).  Only a path: never "//host" or "/\host", which a
 * browser would take for another site.
 */

static ngx_int_t
ngx_http_otp_page_back_url(ngx_http_request_t *r, ngx_str_t *url)
{
    ngx_http_otp_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_otp_module);

    if (ctx != NULL && ctx->back.len) {
        *url = ctx->back;

    } else if (r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD)) {
        *url = r->unparsed_uri;

    } else {
        return NGX_DECLINED;
    }

    if (url->len == 0 || url->data[0] != '/'
        || (url->len > 1 && (url->data[1] == '/' || url->data[1] == '\\')))
    {
        return NGX_DECLINED;
    }

    return NGX_OK;
}


ngx_int_t
ngx_http_otp_send_locked(ngx_http_request_t *r, ngx_int_t secs)
{
    u_char                    *p;
    ngx_str_t                  retry, minutes;
    ngx_http_otp_page_vars_t   pv;

    p = ngx_pnalloc(r->pool, 2 * NGX_INT_T_LEN);
    if (p == NULL) {
        return NGX_ERROR;
    }

    retry.data = p;
    retry.len = ngx_sprintf(p, "%i", secs) - p;

    minutes.data = p + NGX_INT_T_LEN;
    minutes.len = ngx_sprintf(minutes.data, "%i", (secs + 59) / 60)
                  - minutes.data;

    if (ngx_http_otp_add_header(r, "Retry-After", &retry) != NGX_OK) {
        return NGX_ERROR;
    }

    pv.nvars = 0;
    ngx_http_otp_page_var(&pv, "retry_minutes", &minutes);

    return ngx_http_otp_send_page(r, NGX_HTTP_TOO_MANY_REQUESTS,
                                  NGX_HTTP_OTP_PAGE_LOCKED, &pv);
}


ngx_int_t
ngx_http_otp_send_json(ngx_http_request_t *r, ngx_uint_t status,
    ngx_str_t *body)
{
    return ngx_http_otp_send_body(r, status, "application/json",
                                  body->data, body->len);
}


ngx_int_t
ngx_http_otp_send_otp_required(ngx_http_request_t *r, ngx_str_t *challenge)
{
    u_char     *p;
    size_t      len;
    ngx_str_t   issuer, value, body;
    ngx_uint_t  i;

    static ngx_str_t  bare = ngx_string("{\"error\":\"otp_required\"}\n");

    if (ngx_http_otp_issuer(r, &issuer) != NGX_OK) {
        return NGX_ERROR;
    }

    len = sizeof("OTP realm=\"\"") - 1 + issuer.len;

    p = ngx_pnalloc(r->pool, len);
    if (p == NULL) {
        return NGX_ERROR;
    }

    value.data = p;
    p = ngx_cpymem(p, "OTP realm=\"", sizeof("OTP realm=\"") - 1);

    /* a quoted-string: no quote, backslash or control character */

    for (i = 0; i < issuer.len; i++) {
        *p++ = (issuer.data[i] < 0x20 || issuer.data[i] == 0x7f
                || issuer.data[i] == '"' || issuer.data[i] == '\\')
               ? '_' : issuer.data[i];
    }

    *p++ = '"';
    value.len = p - value.data;

    if (ngx_http_otp_add_header(r, "WWW-Authenticate", &value) != NGX_OK) {
        return NGX_ERROR;
    }

    if (challenge == NULL) {
        return ngx_http_otp_send_json(r, NGX_HTTP_UNAUTHORIZED, &bare);
    }

    /* the URL is percent-encoded: nothing in it needs JSON escaping */

    len = sizeof("{\"error\":\"otp_required\",\"challenge\":\"\"}\n") - 1
          + challenge->len;

    body.data = ngx_pnalloc(r->pool, len);
    if (body.data == NULL) {
        return NGX_ERROR;
    }

    body.len = ngx_sprintf(body.data,
                           "{\"error\":\"otp_required\","
                           "\"challenge\":\"%V\"}\n",
                           challenge)
               - body.data;

    return ngx_http_otp_send_json(r, NGX_HTTP_UNAUTHORIZED, &body);
}


/*
 * Sent here rather than returned as a status: an error_page for 302 or
 * 303 could otherwise turn the redirect into an internal one.
 */

ngx_int_t
ngx_http_otp_send_redirect(ngx_http_request_t *r, ngx_uint_t status,
    ngx_str_t *location)
{
    ngx_table_elt_t  *h;

    ngx_http_clear_location(r);

    h = ngx_list_push(&r->headers_out.headers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    h->hash = 1;
#if (nginx_version >= 1023000)
    h->next = NULL;
#endif
    ngx_str_set(&h->key, "Location");
    h->value = *location;

    r->headers_out.location = h;

    return ngx_http_otp_send_body(r, status, "text/html; charset=utf-8",
                                  NULL, 0);
}


ngx_int_t
ngx_http_otp_send_no_user(ngx_http_request_t *r)
{
    static ngx_str_t  body = ngx_string("{\"error\":\"unauthenticated\"}\n");

    return ngx_http_otp_send_json(r, NGX_HTTP_UNAUTHORIZED, &body);
}


ngx_int_t
ngx_http_otp_no_store(ngx_http_request_t *r)
{
    ngx_str_t  v;

    ngx_str_set(&v, "no-store");
    if (ngx_http_otp_add_header(r, "Cache-Control", &v) != NGX_OK) {
        return NGX_ERROR;
    }

    if (ngx_http_otp_add_header(r, "Content-Security-Policy",
                                ngx_http_otp_page_csp())
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    ngx_str_set(&v, "DENY");
    if (ngx_http_otp_add_header(r, "X-Frame-Options", &v) != NGX_OK) {
        return NGX_ERROR;
    }

    ngx_str_set(&v, "no-referrer");
    if (ngx_http_otp_add_header(r, "Referrer-Policy", &v) != NGX_OK) {
        return NGX_ERROR;
    }

    ngx_str_set(&v, "nosniff");
    return ngx_http_otp_add_header(r, "X-Content-Type-Options", &v);
}


ngx_int_t
ngx_http_otp_add_header(ngx_http_request_t *r, const char *key,
    ngx_str_t *value)
{
    ngx_table_elt_t  *h;

    h = ngx_list_push(&r->headers_out.headers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    h->hash = 1;
#if (nginx_version >= 1023000)
    h->next = NULL;
#endif
    h->key.data = (u_char *) key;
    h->key.len = ngx_strlen(key);
    h->value = *value;

    return NGX_OK;
}


ngx_int_t
ngx_http_otp_request_header(ngx_http_request_t *r, const char *lowcase_name,
    ngx_str_t *value)
{
    size_t            len;
    ngx_uint_t        i;
    ngx_list_part_t  *part;
    ngx_table_elt_t  *h;

    len = ngx_strlen(lowcase_name);
    part = &r->headers_in.headers.part;
    h = part->elts;

    for (i = 0; /* void */ ; i++) {

        if (i >= part->nelts) {
            if (part->next == NULL) {
                return NGX_DECLINED;
            }

            part = part->next;
            h = part->elts;
            i = 0;
        }

        if (h[i].key.len == len
            && ngx_strncmp(h[i].lowcase_key, lowcase_name, len) == 0)
        {
            *value = h[i].value;
            return NGX_OK;
        }
    }
}


ngx_int_t
ngx_http_otp_issuer(ngx_http_request_t *r, ngx_str_t *issuer)
{
    ngx_http_otp_loc_conf_t   *olcf;
    ngx_http_core_srv_conf_t  *cscf;

    olcf = ngx_http_get_module_loc_conf(r, ngx_http_otp_module);

    if (olcf->issuer) {
        return ngx_http_complex_value(r, olcf->issuer, issuer);
    }

    cscf = ngx_http_get_module_srv_conf(r, ngx_http_core_module);

    if (cscf->server_name.len) {
        *issuer = cscf->server_name;
        return NGX_OK;
    }

    if (r->headers_in.server.len) {
        *issuer = r->headers_in.server;
        return NGX_OK;
    }

    ngx_str_set(issuer, "nginx");

    return NGX_OK;
}


/* computed once per process: the script is compiled in */

static ngx_str_t *
ngx_http_otp_page_csp(void)
{
    u_char                          *p;
    uint8_t                          hash[32];
    ngx_str_t                        bin, b64;
    const ngx_http_otp_html_file_t  *js;

    if (ngx_http_otp_csp.len) {
        return &ngx_http_otp_csp;
    }

    p = ngx_cpymem(ngx_http_otp_csp_buf, NGX_HTTP_OTP_CSP_HEAD,
                   sizeof(NGX_HTTP_OTP_CSP_HEAD) - 1);

    js = ngx_http_otp_html_get("countdown.js");

    if (js && ngx_http_otp_sha256(js->data, js->len, hash) == 0) {
        bin.data = hash;
        bin.len = sizeof(hash);
        b64.data = p + sizeof("script-src 'sha256-") - 1;

        p = ngx_cpymem(p, "script-src 'sha256-",
                       sizeof("script-src 'sha256-") - 1);
        ngx_encode_base64(&b64, &bin);
        p = ngx_cpymem(b64.data + b64.len, "'; ", sizeof("'; ") - 1);
    }

    p = ngx_cpymem(p, NGX_HTTP_OTP_CSP_TAIL,
                   sizeof(NGX_HTTP_OTP_CSP_TAIL) - 1);

    ngx_http_otp_csp.data = ngx_http_otp_csp_buf;
    ngx_http_otp_csp.len = p - ngx_http_otp_csp_buf;

    return &ngx_http_otp_csp;
}


static ngx_int_t
ngx_http_otp_send_body(ngx_http_request_t *r, ngx_uint_t status,
    const char *type, u_char *body, size_t len)
{
    ngx_int_t     rc;
    ngx_buf_t    *b;
    ngx_chain_t   out;

    if (ngx_http_discard_request_body(r) != NGX_OK) {
        r->keepalive = 0;
    }

    if (ngx_http_otp_no_store(r) != NGX_OK) {
        return NGX_ERROR;
    }

    r->headers_out.status = status;
    r->headers_out.content_length_n = len;
    r->headers_out.content_type.data = (u_char *) type;
    r->headers_out.content_type.len = ngx_strlen(type);
    r->headers_out.content_type_len = r->headers_out.content_type.len;
    r->headers_out.content_type_lowcase = NULL;

    b = ngx_calloc_buf(r->pool);
    if (b == NULL) {
        return NGX_ERROR;
    }

    b->pos = body;
    b->last = body + len;
    b->memory = (len != 0);
    b->last_buf = (r == r->main) ? 1 : 0;
    b->last_in_chain = 1;

    out.buf = b;
    out.next = NULL;

    rc = ngx_http_send_header(r);

    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }

    return ngx_http_output_filter(r, &out);
}

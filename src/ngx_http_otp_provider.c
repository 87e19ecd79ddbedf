
/*
 * The SMS provider.  A message is sent as a subrequest (POST, no body
 * of its own, none of the client's headers) to the otp_sms_provider
 * location, which ops write with proxy_pass and proxy_set_body from the
 * $otp_sms_* variables: TLS, timeouts, keepalive, max_fails and the
 * provider's credentials are nginx's business.  A 2xx status means
 * sent; anything else, a timeout or a reset means not sent.
 *
 * The subrequest never blocks the worker: the parent request waits
 * for its post-subrequest handler, as auth_request does.  While it
 * runs, the connection's log takes no debug lines: nginx logs the
 * values of variables and upstream request headers at debug, and
 * they hold the code and the provider's credentials.
 */


#include "ngx_http_otp_provider.h"
#include "ngx_http_otp_page.h"
#include "ngx_http_otp_phone.h"

#include <jansson.h>


static ngx_int_t ngx_http_otp_sms_done(ngx_http_request_t *sr, void *data,
    ngx_int_t rc);
static ngx_int_t ngx_http_otp_sms_headers(ngx_http_request_t *r,
    ngx_http_request_t *sr);
static ngx_int_t ngx_http_otp_sms_json(ngx_http_request_t *r,
    ngx_http_otp_sms_message_t *msg);
static ngx_int_t ngx_http_otp_sms_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);


static ngx_str_t  ngx_http_otp_sms_default_template =
    ngx_string("Your {issuer} code is {code}. It expires in {minutes} min.");

static ngx_str_t  ngx_http_otp_sms_post_method = ngx_string("POST");


static ngx_http_variable_t  ngx_http_otp_sms_vars[] = {

    { ngx_string("otp_sms_to"), NULL, ngx_http_otp_sms_variable,
      offsetof(ngx_http_otp_sms_message_t, to),
      NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("otp_sms_text"), NULL, ngx_http_otp_sms_variable,
      offsetof(ngx_http_otp_sms_message_t, text),
      NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("otp_sms_to_escaped"), NULL, ngx_http_otp_sms_variable,
      offsetof(ngx_http_otp_sms_message_t, to_escaped),
      NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("otp_sms_text_escaped"), NULL, ngx_http_otp_sms_variable,
      offsetof(ngx_http_otp_sms_message_t, text_escaped),
      NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("otp_sms_json"), NULL, ngx_http_otp_sms_variable,
      offsetof(ngx_http_otp_sms_message_t, json),
      NGX_HTTP_VAR_NOCACHEABLE, 0 },

      ngx_http_null_variable
};


/* ------------------------------------------------------- configuration */


char *
ngx_http_otp_sms_provider(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_otp_loc_conf_t *olcf = conf;

    u_char     *q;
    ngx_str_t  *value;

    if (olcf->sms.provider.data) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (value[1].len < 2 || value[1].data[0] != '/'
        || ngx_strlchr(value[1].data, value[1].data + value[1].len, '$'))
    {
        return "must be the URI of a location, such as \"/_otp_sms\" "
               "(no variables)";
    }

    q = ngx_strlchr(value[1].data, value[1].data + value[1].len, '?');

    if (q) {
        olcf->sms.provider.data = value[1].data;
        olcf->sms.provider.len = q - value[1].data;
        olcf->sms.provider_args.data = q + 1;
        olcf->sms.provider_args.len = value[1].data + value[1].len - q - 1;

    } else {
        olcf->sms.provider = value[1];
        ngx_str_null(&olcf->sms.provider_args);
    }

    return NGX_CONF_OK;
}


char *
ngx_http_otp_sms_template(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_otp_loc_conf_t *olcf = conf;

    size_t       offset;
    ngx_str_t   *value;
    const char  *reason;

    if (olcf->sms.template.data) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (ngx_http_otp_sms_template_check((char *) value[1].data, value[1].len,
                                        &reason, &offset)
        != 0)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"otp_sms_template\" %s, at offset %uz of "
                           "\"%V\"", reason, offset, &value[1]);
        return NGX_CONF_ERROR;
    }

    olcf->sms.template = value[1];

    return NGX_CONF_OK;
}


char *
ngx_http_otp_sms_check_ttl(ngx_conf_t *cf, void *post, void *data)
{
    time_t  *t = data;

    if (*t < 1) {
        return "must be at least 1s";
    }

    if (*t > NGX_HTTP_OTP_SMS_MAX_TTL) {
        ngx_conf_log_error(NGX_LOG_WARN, cf, 0,
                           "\"otp_sms_ttl\" is longer than 10m: a code that "
                           "lives long is easier to intercept, and it ends "
                           "with its sign-in page's challenge after 10m "
                           "anyway");
    }

    return NGX_CONF_OK;
}


char *
ngx_http_otp_sms_check_origin(ngx_conf_t *cf, void *post, void *data)
{
    ngx_str_t  *s = data;

    if (ngx_http_otp_sms_host_check((char *) s->data, s->len) != 0) {
        return "must be a plain host name, such as \"www.example.com\" "
               "(no scheme, port, path, wildcard or variable)";
    }

    return NGX_CONF_OK;
}


void
ngx_http_otp_sms_create_conf(ngx_http_otp_sms_conf_t *sc)
{
    /*
     * set by ngx_pcalloc():
     *
     *     sc->provider = { 0, NULL };
     *     sc->provider_args = { 0, NULL };
     *     sc->phone = NULL;
     *     sc->template = { 0, NULL };
     *     sc->origin = { 0, NULL };
     */

    sc->code_length = NGX_CONF_UNSET_UINT;
    sc->charset = NGX_CONF_UNSET_UINT;
    sc->ttl = NGX_CONF_UNSET;
    sc->resend_delay = NGX_CONF_UNSET;
    sc->max_sends = NGX_CONF_UNSET_UINT;
    sc->daily_limit = NGX_CONF_UNSET_UINT;
    sc->number_limit = NGX_CONF_UNSET_UINT;
}


char *
ngx_http_otp_sms_merge_conf(ngx_conf_t *cf, ngx_http_otp_sms_conf_t *prev,
    ngx_http_otp_sms_conf_t *conf)
{
    ngx_http_core_srv_conf_t  *cscf;

    if (conf->provider.data == NULL) {
        conf->provider = prev->provider;
        conf->provider_args = prev->provider_args;
    }

    if (conf->phone == NULL) {
        conf->phone = prev->phone;
    }

    if (conf->template.data == NULL) {
        conf->template = prev->template.data
                         ? prev->template : ngx_http_otp_sms_default_template;
    }

    ngx_conf_merge_uint_value(conf->code_length, prev->code_length, 6);
    ngx_conf_merge_uint_value(conf->charset, prev->charset,
                              NGX_HTTP_OTP_SMS_DIGITS);
    ngx_conf_merge_sec_value(conf->ttl, prev->ttl, 300);
    ngx_conf_merge_sec_value(conf->resend_delay, prev->resend_delay, 30);
    ngx_conf_merge_uint_value(conf->max_sends, prev->max_sends, 3);
    ngx_conf_merge_uint_value(conf->daily_limit, prev->daily_limit, 10);
    ngx_conf_merge_uint_value(conf->number_limit, prev->number_limit, 5);

    /*
     * The origin of "@host #code": never the request's Host, which the
     * client (or a phishing proxy) chooses.  By default the server's
     * first server_name, which must then be a host name if a text
     * names it.
     */

    if (conf->origin.data == NULL) {
        conf->origin = prev->origin;
    }

    if (conf->origin.data == NULL) {
        cscf = ngx_http_conf_get_module_srv_conf(cf, ngx_http_core_module);
        conf->origin = cscf->server_name;
    }

    if (conf->provider.len
        && ngx_strlcasestrn(conf->template.data,
                             conf->template.data + conf->template.len,
                             (u_char *) "{host}", sizeof("{host}") - 2)
           != NULL
        && ngx_http_otp_sms_host_check((char *) conf->origin.data,
                                       conf->origin.len)
           != 0)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"otp_sms_template\" names {host}, but the "
                           "server's first server_name \"%V\" is not a "
                           "host name: set \"otp_sms_origin\"",
                           &conf->origin);
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


/* ----------------------------------------------------------- variables */


ngx_int_t
ngx_http_otp_sms_add_variables(ngx_conf_t *cf)
{
    ngx_http_variable_t  *var, *v;

    for (v = ngx_http_otp_sms_vars; v->name.len; v++) {
        var = ngx_http_add_variable(cf, &v->name, v->flags);
        if (var == NULL) {
            return NGX_ERROR;
        }

        var->get_handler = v->get_handler;
        var->data = v->data;
    }

    return NGX_OK;
}


/*
 * The variables have a value only in the subrequest that sends the
 * message: nowhere else can a log_format or a header pick up the code.
 */

static ngx_int_t
ngx_http_otp_sms_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    ngx_str_t                   *s;
    ngx_http_otp_sms_message_t  *msg;

    if (r->post_subrequest == NULL
        || r->post_subrequest->handler != ngx_http_otp_sms_done)
    {
        v->not_found = 1;
        return NGX_OK;
    }

    msg = r->post_subrequest->data;
    s = (ngx_str_t *) ((char *) msg + data);

    v->data = s->data;
    v->len = s->len;
    v->valid = 1;
    v->no_cacheable = 1;
    v->not_found = 0;

    return NGX_OK;
}


/* ------------------------------------------------------------- message */


ngx_int_t
ngx_http_otp_sms_message(ngx_http_request_t *r,
    ngx_http_otp_sms_message_t *msg, ngx_str_t *to, ngx_str_t *code)
{
    u_char                           minutes[NGX_TIME_T_LEN];
    ngx_str_t                        issuer, tpl;
    ngx_http_otp_language_t         *lang;
    ngx_http_otp_loc_conf_t         *olcf;
    ngx_http_otp_languages_t        *langs;
    ngx_http_otp_sms_values_t        values;
    const ngx_http_otp_lang_msg_t   *m;

    olcf = ngx_http_get_module_loc_conf(r, ngx_http_otp_module);

    if (ngx_http_otp_issuer(r, &issuer) != NGX_OK) {
        return NGX_ERROR;
    }

    /* the default text in the user's language; one ops wrote as it is */

    tpl = olcf->sms.template;

    if (tpl.data == ngx_http_otp_sms_default_template.data) {
        lang = ngx_http_otp_page_language(r, &langs, 0);
        if (lang == NULL) {
            return NGX_ERROR;
        }

        m = ngx_http_otp_lang_find(lang->msgs, lang->n, "sms_text",
                                   sizeof("sms_text") - 1);
        if (m != NULL) {
            tpl.data = (u_char *) m->value;
            tpl.len = m->value_len;
        }
    }

    values.code = (char *) code->data;
    values.code_len = code->len;
    values.issuer = (char *) issuer.data;
    values.issuer_len = issuer.len;
    values.minutes = (char *) minutes;
    values.minutes_len = ngx_sprintf(minutes, "%T",
                                     (olcf->sms.ttl + 59) / 60)
                         - minutes;
    values.host = (char *) olcf->sms.origin.data;
    values.host_len = olcf->sms.origin.len;

    msg->text.len = ngx_http_otp_sms_template_render((char *) tpl.data,
                                                     tpl.len, &values, NULL);

    msg->text.data = ngx_pnalloc(r->pool, msg->text.len);
    if (msg->text.data == NULL) {
        return NGX_ERROR;
    }

    (void) ngx_http_otp_sms_template_render((char *) tpl.data, tpl.len,
                                            &values, (char *) msg->text.data);

    /* JSON wants UTF-8, and so do SMS gateways */
    (void) ngx_http_otp_sms_utf8_fix((char *) msg->text.data, msg->text.len);

    msg->to.data = ngx_pstrdup(r->pool, to);
    if (msg->to.data == NULL) {
        return NGX_ERROR;
    }

    msg->to.len = to->len;

    msg->to_escaped.data = ngx_pnalloc(r->pool,
                               ngx_http_otp_sms_pct_encoded_len(to->len));
    msg->text_escaped.data = ngx_pnalloc(r->pool,
                               ngx_http_otp_sms_pct_encoded_len(msg->text.len));

    if (msg->to_escaped.data == NULL || msg->text_escaped.data == NULL) {
        return NGX_ERROR;
    }

    msg->to_escaped.len = ngx_http_otp_sms_pct_encode((char *) to->data,
                               to->len, (char *) msg->to_escaped.data);
    msg->text_escaped.len = ngx_http_otp_sms_pct_encode(
                               (char *) msg->text.data, msg->text.len,
                               (char *) msg->text_escaped.data);

    return ngx_http_otp_sms_json(r, msg);
}


static ngx_int_t
ngx_http_otp_sms_json(ngx_http_request_t *r, ngx_http_otp_sms_message_t *msg)
{
    char    *s;
    size_t   len;
    json_t  *o;

    o = json_pack("{s:s%,s:s%}", "to", msg->to.data, msg->to.len,
                  "text", msg->text.data, msg->text.len);
    if (o == NULL) {
        return NGX_ERROR;
    }

    s = json_dumps(o, JSON_COMPACT);
    json_decref(o);

    if (s == NULL) {
        return NGX_ERROR;
    }

    len = ngx_strlen(s);

    msg->json.data = ngx_pnalloc(r->pool, len);
    if (msg->json.data == NULL) {
        ngx_explicit_memzero(s, len);
        free(s);
        return NGX_ERROR;
    }

    ngx_memcpy(msg->json.data, s, len);
    msg->json.len = len;

    ngx_explicit_memzero(s, len);
    free(s);

    return NGX_OK;
}


void
ngx_http_otp_sms_finish(ngx_http_request_t *r,
    ngx_http_otp_sms_message_t *msg)
{
    ngx_str_t  *s[3];
    ngx_uint_t  i;

    if (msg->masked) {
        r->connection->log->log_level = msg->log_level;
        msg->masked = 0;
    }

    s[0] = &msg->text;
    s[1] = &msg->text_escaped;
    s[2] = &msg->json;

    for (i = 0; i < 3; i++) {
        if (s[i]->data) {
            ngx_explicit_memzero(s[i]->data, s[i]->len);
        }

        s[i]->len = 0;
    }
}


/* ---------------------------------------------------------- subrequest */


ngx_int_t
ngx_http_otp_sms_send(ngx_http_request_t *r, ngx_http_otp_sms_message_t *msg)
{
    ngx_log_t                   *log;
    ngx_str_t                   *args;
    ngx_http_request_t          *sr;
    ngx_http_otp_loc_conf_t     *olcf;
    ngx_http_post_subrequest_t  *ps;

    olcf = ngx_http_get_module_loc_conf(r, ngx_http_otp_module);

    if (olcf->sms.provider.len == 0) {
        return NGX_ERROR;
    }

    ps = ngx_palloc(r->pool, sizeof(ngx_http_post_subrequest_t));
    if (ps == NULL) {
        return NGX_ERROR;
    }

    ps->handler = ngx_http_otp_sms_done;
    ps->data = msg;

    msg->done = 0;
    msg->unknown = 0;
    msg->status = 0;

    /* no debug lines while the values are about: see the top */

    log = r->connection->log;
    msg->log_level = log->log_level;

    if (log->log_level & NGX_LOG_DEBUG_ALL) {
        log->log_level = NGX_LOG_INFO;
        msg->masked = 1;
    }

    args = olcf->sms.provider_args.len ? &olcf->sms.provider_args : NULL;

    if (ngx_http_subrequest(r, &olcf->sms.provider, args, &sr, ps,
                            NGX_HTTP_SUBREQUEST_WAITED)
        != NGX_OK)
    {
        goto failed;
    }

    msg->sr = sr;

    /* a body of its own (proxy_set_body), never the client's form */

    sr->request_body = ngx_pcalloc(r->pool, sizeof(ngx_http_request_body_t));
    if (sr->request_body == NULL) {
        goto failed;
    }

    sr->header_only = 1;
    sr->method = NGX_HTTP_POST;
    sr->method_name = ngx_http_otp_sms_post_method;

    if (ngx_http_otp_sms_headers(r, sr) != NGX_OK) {
        goto failed;
    }

    return NGX_OK;

failed:

    if (msg->masked) {
        log->log_level = msg->log_level;
        msg->masked = 0;
    }

    return NGX_ERROR;
}


/*
 * A subrequest starts with a copy of the client's headers: its cookies,
 * its Authorization.  None of them is the provider's business.
 */

static ngx_int_t
ngx_http_otp_sms_headers(ngx_http_request_t *r, ngx_http_request_t *sr)
{
    ngx_memzero(&sr->headers_in, sizeof(ngx_http_headers_in_t));

    if (ngx_list_init(&sr->headers_in.headers, r->pool, 2,
                      sizeof(ngx_table_elt_t))
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    sr->headers_in.server = r->headers_in.server;
    sr->headers_in.content_length_n = -1;
    sr->headers_in.keep_alive_n = -1;

    return NGX_OK;
}


/*
 * Called when the subrequest finalizes, and again if nginx then sends
 * an error page for it: the first call tells.  The subrequest is still
 * to be logged (log_subrequest): the values stay until the parent
 * resumes and calls ngx_http_otp_sms_finish().
 */

static ngx_int_t
ngx_http_otp_sms_done(ngx_http_request_t *sr, void *data, ngx_int_t rc)
{
    ngx_http_otp_sms_message_t *msg = data;

    ngx_uint_t                  i;
    ngx_http_upstream_state_t  *state;

    if (msg->done) {
        return rc;
    }

    msg->done = 1;

    /*
     * Unknown: some try sent bytes of the request to the provider and
     * got no response header (a read timeout, a reset after sending).
     * The provider may have sent the text; only a try that never
     * sent a byte (refused, connect timeout) surely did not.
     */

    if (sr->upstream_states) {
        state = sr->upstream_states->elts;

        for (i = 0; i < sr->upstream_states->nelts; i++) {
            if (state[i].bytes_sent > 0
                && state[i].header_time == (ngx_msec_t) -1)
            {
                msg->unknown = 1;
            }
        }
    }

    if (rc >= NGX_HTTP_SPECIAL_RESPONSE) {
        msg->status = rc;

    } else if (rc == NGX_ERROR) {
        msg->status = NGX_HTTP_INTERNAL_SERVER_ERROR;

    } else {
        msg->status = sr->headers_out.status;
    }

    return rc;
}

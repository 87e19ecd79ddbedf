
/*
 * The languages of the pages.  The built-in message files are read once
 * per process from the arrays html/embed.sh made of html/lang/; those of
 * an otp_templates directory at configuration time, so that "nginx -t"
 * names a missing key or a broken placeholder and a worker never reads
 * a file.
 */


#include "ngx_http_otp.h"
#include "ngx_http_otp_html.h"
#include "ngx_http_otp_language.h"


typedef struct {
    ngx_conf_t                 *cf;
    const char                 *page;
    ngx_http_otp_languages_t   *langs;
    char                       *error;
} ngx_http_otp_language_ctx_t;


#define NGX_HTTP_OTP_LANG_MAX_TAG  16


static char *ngx_http_otp_language_read(ngx_conf_t *cf, ngx_str_t *path,
    ngx_str_t *tag, ngx_http_otp_languages_t *langs);
static char *ngx_http_otp_language_error(ngx_conf_t *cf, ngx_str_t *name,
    ngx_http_otp_lang_error_t *err);
static ngx_int_t ngx_http_otp_language_tag(u_char *p, size_t len);
static ngx_int_t ngx_http_otp_language_quality(u_char *p, u_char *last);
static ngx_http_otp_language_t *ngx_http_otp_language_match(
    ngx_http_otp_languages_t *langs, u_char *tag, size_t len);
static int ngx_http_otp_language_key(void *data, int type, const char *name,
    size_t len);
static size_t ngx_http_otp_language_var(ngx_http_otp_template_var_t *vars,
    ngx_uint_t nvars, const u_char *name, const u_char *end, u_char **p);


static ngx_http_otp_languages_t  ngx_http_otp_builtin;
static ngx_flag_t                ngx_http_otp_builtin_read;


ngx_http_otp_languages_t *
ngx_http_otp_languages_builtin(ngx_log_t *log)
{
    size_t                           n, i, nlangs;
    ngx_http_otp_language_t         *l;
    ngx_http_otp_lang_msg_t         *msgs;
    ngx_http_otp_lang_error_t        err;
    const ngx_http_otp_html_file_t  *f;

    if (ngx_http_otp_builtin_read) {
        return ngx_http_otp_builtin.n ? &ngx_http_otp_builtin : NULL;
    }

    ngx_http_otp_builtin_read = 1;

    if (ngx_http_otp_html_get("lang/en.txt") == NULL) {
        ngx_log_error(NGX_LOG_EMERG, log, 0, "no built-in lang/en.txt");
        return NULL;
    }

    /* for the life of the process: built in, they never change */

    nlangs = 0;
    for (f = ngx_http_otp_html_files_all(); f->name != NULL; f++) {
        nlangs += (ngx_strncmp(f->name, "lang/", 5) == 0);
    }

    l = ngx_calloc(nlangs * sizeof(ngx_http_otp_language_t), log);
    if (l == NULL) {
        return NULL;
    }

    ngx_http_otp_builtin.langs = l;

    /* English first: the others are held to it */

    for (i = 0; i < 2; i++) {
        for (f = ngx_http_otp_html_files_all(); f->name != NULL; f++) {

            if (ngx_strncmp(f->name, "lang/", 5) != 0
                || (ngx_strcmp(f->name, "lang/en.txt") == 0) != (i == 0))
            {
                continue;
            }

            msgs = ngx_alloc(NGX_HTTP_OTP_LANG_MAX_MSGS
                             * sizeof(ngx_http_otp_lang_msg_t), log);
            if (msgs == NULL) {
                return NULL;
            }

            if (ngx_http_otp_lang_parse((const char *) f->data, f->len, msgs,
                                        NGX_HTTP_OTP_LANG_MAX_MSGS, &n, &err)
                != 0
                || (i > 0
                    && ngx_http_otp_lang_check(msgs, n, l[0].msgs, l[0].n,
                                               &err)
                       != 0))
            {
                ngx_log_error(NGX_LOG_EMERG, log, 0,
                              "built-in \"%s\", line %uz, \"%*s\": %s",
                              f->name, err.line, err.key_len,
                              err.key ? err.key : "", err.reason);
                ngx_http_otp_builtin.n = 0;
                return NULL;
            }

            l[ngx_http_otp_builtin.n].tag.data = (u_char *) f->name + 5;
            l[ngx_http_otp_builtin.n].tag.len = ngx_strlen(f->name) - 5 - 4;
            l[ngx_http_otp_builtin.n].msgs = msgs;
            l[ngx_http_otp_builtin.n].n = n;
            ngx_http_otp_builtin.n++;
        }
    }

    return &ngx_http_otp_builtin;
}


char *
ngx_http_otp_languages_load_dir(ngx_conf_t *cf, ngx_str_t *dir,
    ngx_http_otp_languages_t **langs)
{
    char                      *rv;
    u_char                    *name;
    size_t                     len;
    ngx_err_t                  err;
    ngx_str_t                  path, tag;
    ngx_dir_t                  d;
    ngx_http_otp_languages_t  *builtin, *set;

    *langs = NULL;

    builtin = ngx_http_otp_languages_builtin(cf->log);
    if (builtin == NULL) {
        return NGX_CONF_ERROR;
    }

    path.len = dir->len + sizeof("/lang") - 1;
    path.data = ngx_pnalloc(cf->temp_pool, path.len + 1);
    if (path.data == NULL) {
        return NGX_CONF_ERROR;
    }

    ngx_sprintf(path.data, "%V/lang%Z", dir);

    if (ngx_open_dir(&path, &d) == NGX_ERROR) {
        err = ngx_errno;

        if (err == NGX_ENOENT || err == NGX_ENOTDIR) {
            /* no lang/ directory: the built-in languages */
            return NGX_CONF_OK;
        }

        ngx_conf_log_error(NGX_LOG_EMERG, cf, err,
                           ngx_open_dir_n " \"%V\" failed", &path);
        return NGX_CONF_ERROR;
    }

    set = ngx_palloc(cf->pool, sizeof(ngx_http_otp_languages_t));
    if (set == NULL) {
        rv = NGX_CONF_ERROR;
        goto done;
    }

    /* room for every built-in language and as many new ones */

    set->langs = ngx_palloc(cf->pool, 2 * (builtin->n + 32)
                                      * sizeof(ngx_http_otp_language_t));
    if (set->langs == NULL) {
        rv = NGX_CONF_ERROR;
        goto done;
    }

    ngx_memcpy(set->langs, builtin->langs,
               builtin->n * sizeof(ngx_http_otp_language_t));
    set->n = builtin->n;

    rv = NGX_CONF_OK;

    for ( ;; ) {
        ngx_set_errno(0);

        if (ngx_read_dir(&d) == NGX_ERROR) {
            err = ngx_errno;

            if (err != NGX_ENOMOREFILES) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, err,
                                   ngx_read_dir_n " \"%V\" failed", &path);
                rv = NGX_CONF_ERROR;
            }

            break;
        }

        name = ngx_de_name(&d);
        len = ngx_de_namelen(&d);

        if (len <= 4 || ngx_strncmp(name + len - 4, ".txt", 4) != 0) {
            continue;
        }

        tag.len = len - 4;
        tag.data = ngx_pnalloc(cf->pool, tag.len);
        if (tag.data == NULL) {
            rv = NGX_CONF_ERROR;
            break;
        }

        ngx_strlow(tag.data, name, tag.len);

        if (ngx_http_otp_language_tag(tag.data, tag.len) != NGX_OK) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "\"%V/%s\": the name is not a language tag "
                               "such as \"de\" or \"pt-br\"", &path, name);
            rv = NGX_CONF_ERROR;
            break;
        }

        if (set->n == 2 * (builtin->n + 32)) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "\"%V\": too many languages", &path);
            rv = NGX_CONF_ERROR;
            break;
        }

        rv = ngx_http_otp_language_read(cf, &path, &tag, set);
        if (rv != NGX_CONF_OK) {
            break;
        }
    }

    if (rv == NGX_CONF_OK) {
        *langs = set;
    }

done:

    if (ngx_close_dir(&d) == NGX_ERROR) {
        ngx_conf_log_error(NGX_LOG_ALERT, cf, ngx_errno,
                           ngx_close_dir_n " \"%V\" failed", &path);
    }

    return rv;
}


/* reads lang/<tag>.txt of the directory path into set */

static char *
ngx_http_otp_language_read(ngx_conf_t *cf, ngx_str_t *path, ngx_str_t *tag,
    ngx_http_otp_languages_t *set)
{
    char                       *rv;
    size_t                      n;
    ngx_str_t                   file, text;
    ngx_http_otp_language_t    *l;
    ngx_http_otp_lang_msg_t    *msgs;
    ngx_http_otp_lang_error_t   err;

    file.len = path->len + 1 + tag->len + 4;
    file.data = ngx_pnalloc(cf->pool, file.len + 1);
    if (file.data == NULL) {
        return NGX_CONF_ERROR;
    }

    ngx_sprintf(file.data, "%V/%V.txt%Z", path, tag);

    rv = ngx_http_otp_html_load(cf, &file, &text);
    if (rv != NGX_CONF_OK) {
        return rv;
    }

    msgs = ngx_palloc(cf->pool, NGX_HTTP_OTP_LANG_MAX_MSGS
                                * sizeof(ngx_http_otp_lang_msg_t));
    if (msgs == NULL) {
        return NGX_CONF_ERROR;
    }

    if (ngx_http_otp_lang_parse((const char *) text.data, text.len, msgs,
                                NGX_HTTP_OTP_LANG_MAX_MSGS, &n, &err)
        != 0
        || ngx_http_otp_lang_check(msgs, n, set->langs[0].msgs,
                                   set->langs[0].n, &err)
           != 0)
    {
        return ngx_http_otp_language_error(cf, &file, &err);
    }

    l = ngx_http_otp_language_find(set, tag->data, tag->len);

    if (l == NULL) {
        l = &set->langs[set->n++];
        l->tag = *tag;
    }

    l->msgs = msgs;
    l->n = n;

    return NGX_CONF_OK;
}


static char *
ngx_http_otp_language_error(ngx_conf_t *cf, ngx_str_t *name,
    ngx_http_otp_lang_error_t *err)
{
    u_char  *msg, *last;
    size_t   len;

    len = name->len + err->key_len + err->name_len + ngx_strlen(err->reason)
          + NGX_INT_T_LEN + sizeof("\"\", line , key \"\", placeholder {}: ");

    msg = ngx_pnalloc(cf->pool, len);
    if (msg == NULL) {
        return NGX_CONF_ERROR;
    }

    last = ngx_sprintf(msg, "\"%V\"", name);

    if (err->line) {
        last = ngx_sprintf(last, ", line %uz", err->line);
    }

    if (err->key) {
        last = ngx_sprintf(last, ", key \"%*s\"", err->key_len, err->key);
    }

    if (err->name) {
        last = ngx_sprintf(last, ", placeholder {%*s}", err->name_len,
                           err->name);
    }

    last = ngx_sprintf(last, ": %s%Z", err->reason);

    return (char *) msg;
}


char *
ngx_http_otp_language_directive(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_otp_loc_conf_t *olcf = conf;

    ngx_str_t                 *value;
    ngx_http_otp_languages_t  *builtin;

    if (olcf->language.data != NULL) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (ngx_strcmp(value[1].data, "auto") == 0) {
        olcf->language = value[1];
        return NGX_CONF_OK;
    }

    ngx_strlow(value[1].data, value[1].data, value[1].len);

    if (ngx_http_otp_language_tag(value[1].data, value[1].len) != NGX_OK) {
        return "wants \"auto\" or a language tag such as \"de\"";
    }

    builtin = ngx_http_otp_languages_builtin(cf->log);
    if (builtin == NULL) {
        return NGX_CONF_ERROR;
    }

    /* a language of otp_templates is checked when a page asks for it */

    if (ngx_http_otp_language_find(builtin, value[1].data, value[1].len)
        == NULL
        && (olcf->templates == NGX_CONF_UNSET_PTR
            || olcf->templates == NULL
            || olcf->templates->langs == NULL
            || ngx_http_otp_language_find(olcf->templates->langs,
                                          value[1].data, value[1].len)
               == NULL))
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"otp_language\": no language \"%V\": not "
                           "built in, and no lang/%V.txt under an "
                           "otp_templates directory given before it",
                           &value[1], &value[1]);
        return NGX_CONF_ERROR;
    }

    olcf->language = value[1];

    return NGX_CONF_OK;
}


ngx_http_otp_language_t *
ngx_http_otp_language_pick(ngx_http_otp_languages_t *langs,
    ngx_str_t *fixed, ngx_str_t *header)
{
    u_char                   *p, *last, *t, *te;
    ngx_int_t                 q, best_q;
    ngx_http_otp_language_t  *l, *best;

    if (fixed != NULL && fixed->len) {
        l = ngx_http_otp_language_find(langs, fixed->data, fixed->len);
        return l ? l : &langs->langs[0];
    }

    best = &langs->langs[0];

    if (header == NULL) {
        return best;
    }

    best_q = 0;
    p = header->data;
    last = header->data + header->len;

    /* "de-AT, de;q=0.9, en;q=0.5": the first of the highest quality */

    while (p < last) {
        while (p < last && (*p == ' ' || *p == ',')) {
            p++;
        }

        t = p;

        while (p < last && *p != ',' && *p != ';' && *p != ' ') {
            p++;
        }

        te = p;
        q = 1000;

        while (p < last && *p != ',') {
            if ((*p == 'q' || *p == 'Q') && last - p > 1 && p[1] == '=') {
                q = ngx_http_otp_language_quality(p + 2, last);
            }

            p++;
        }

        if (q <= best_q || te == t) {
            continue;
        }

        l = ngx_http_otp_language_match(langs, t, te - t);

        if (l != NULL) {
            best = l;
            best_q = q;
        }
    }

    return best;
}


/* "0.8" as 800, "1" as 1000; 0 for anything else */

static ngx_int_t
ngx_http_otp_language_quality(u_char *p, u_char *last)
{
    ngx_int_t   q, scale;

    if (p == last || (*p != '0' && *p != '1')) {
        return 0;
    }

    q = (*p++ - '0') * 1000;

    if (p == last || *p != '.') {
        return q;
    }

    for (p++, scale = 100; p < last && *p >= '0' && *p <= '9'; p++) {
        q += (*p - '0') * scale;
        scale /= 10;
    }

    return ngx_min(q, 1000);
}


/* "pt-BR": "pt-br" if there is one, else "pt"; "*" matches nothing */

static ngx_http_otp_language_t *
ngx_http_otp_language_match(ngx_http_otp_languages_t *langs, u_char *tag,
    size_t len)
{
    u_char                   *dash;
    ngx_http_otp_language_t  *l;

    l = ngx_http_otp_language_find(langs, tag, len);
    if (l != NULL) {
        return l;
    }

    dash = ngx_strlchr(tag, tag + len, '-');
    if (dash == NULL) {
        return NULL;
    }

    return ngx_http_otp_language_find(langs, tag, dash - tag);
}


ngx_http_otp_language_t *
ngx_http_otp_language_find(ngx_http_otp_languages_t *langs, u_char *tag,
    size_t len)
{
    ngx_uint_t  i;

    for (i = 0; i < langs->n; i++) {
        if (langs->langs[i].tag.len == len
            && ngx_strncasecmp(langs->langs[i].tag.data, tag, len) == 0)
        {
            return &langs->langs[i];
        }
    }

    return NULL;
}


/* a-z, 0-9 and "-", starting with two or three letters */

static ngx_int_t
ngx_http_otp_language_tag(u_char *p, size_t len)
{
    size_t  i;

    if (len < 2 || len > NGX_HTTP_OTP_LANG_MAX_TAG) {
        return NGX_ERROR;
    }

    for (i = 0; i < len; i++) {
        if (!((p[i] >= 'a' && p[i] <= 'z')
              || (i >= 2 && ((p[i] >= '0' && p[i] <= '9') || p[i] == '-'))))
        {
            return NGX_ERROR;
        }
    }

    return NGX_OK;
}


ngx_int_t
ngx_http_otp_language_text(ngx_pool_t *pool, ngx_http_otp_language_t *lang,
    ngx_http_otp_languages_t *langs, ngx_str_t *text,
    ngx_http_otp_template_var_t *vars, ngx_uint_t nvars, ngx_str_t *out)
{
    u_char                         *p;
    size_t                          len;
    ngx_uint_t                      i;
    const u_char                   *s, *e, *last;
    const ngx_http_otp_lang_msg_t  *m;

    *out = *text;

    /* a key, or an English text of the module */

    m = ngx_http_otp_lang_find(langs->langs[0].msgs, langs->langs[0].n,
                               (const char *) text->data, text->len);
    if (m == NULL) {
        m = ngx_http_otp_lang_find_text(langs->langs[0].msgs,
                                        langs->langs[0].n,
                                        (const char *) text->data,
                                        text->len);
    }

    if (m == NULL) {
        return NGX_OK;
    }

    m = ngx_http_otp_lang_find(lang->msgs, lang->n, m->key, m->key_len);
    if (m == NULL) {
        return NGX_OK;
    }

    /* the placeholders filled in, plain: the page escapes the whole */

    for (i = 0, len = 0; i < 2; i++) {
        p = (i == 1) ? ngx_pnalloc(pool, len) : NULL;
        if (i == 1 && p == NULL) {
            return NGX_ERROR;
        }

        out->data = p;
        len = 0;
        last = (const u_char *) m->value + m->value_len;

        for (s = (const u_char *) m->value; s < last; s++) {
            if (*s != '{') {
                if (p) {
                    *p++ = *s;
                }

                len++;
                continue;
            }

            e = ngx_strlchr((u_char *) s, (u_char *) last, '}');
            if (e == NULL) {
                break;
            }

            len += ngx_http_otp_language_var(vars, nvars, s + 1, e, &p);
            s = e;
        }

        out->len = len;
    }

    return NGX_OK;
}


static size_t
ngx_http_otp_language_var(ngx_http_otp_template_var_t *vars,
    ngx_uint_t nvars, const u_char *name, const u_char *end, u_char **p)
{
    ngx_uint_t  i;

    for (i = 0; i < nvars; i++) {
        if (vars[i].name_len == (size_t) (end - name)
            && ngx_strncmp(vars[i].name, name, end - name) == 0)
        {
            if (*p) {
                *p = ngx_cpymem(*p, vars[i].value, vars[i].value_len);
            }

            return vars[i].value_len;
        }
    }

    return 0;
}


/* every {{@key}} of the pages of set names a text */

char *
ngx_http_otp_languages_check_page(ngx_conf_t *cf, const char *page,
    ngx_str_t *tpl)
{
    ngx_http_otp_language_ctx_t  ctx;

    ctx.cf = cf;
    ctx.page = page;
    ctx.langs = ngx_http_otp_languages_builtin(cf->log);
    ctx.error = NGX_CONF_OK;

    if (ctx.langs == NULL) {
        return NGX_CONF_ERROR;
    }

    (void) ngx_http_otp_template_names((const char *) tpl->data, tpl->len,
                                       ngx_http_otp_language_key, &ctx);

    return ctx.error;
}


static int
ngx_http_otp_language_key(void *data, int type, const char *name, size_t len)
{
    ngx_http_otp_language_ctx_t *ctx = data;

    if (type != '@'
        || ngx_http_otp_lang_find(ctx->langs->langs[0].msgs,
                                  ctx->langs->langs[0].n, name, len)
           != NULL)
    {
        return 0;
    }

    ngx_conf_log_error(NGX_LOG_EMERG, ctx->cf, 0,
                       "template \"%s\" uses the text {{@%*s}}, which "
                       "lang/en.txt does not have", ctx->page, len, name);
    ctx->error = NGX_CONF_ERROR;

    return 1;
}

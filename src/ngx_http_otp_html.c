
/*
 * The page templates.  The built-in ones are C arrays that html/embed.sh
 * generates from html/ into nginx's objs/ directory at configure time;
 * replacements from an "otp_templates" directory are read and checked
 * once, at configuration time, so that "nginx -t" reports every
 * mistake and a worker never touches the files.
 */


#include <ngx_config.h>
#include <ngx_core.h>

#include "ngx_http_otp_html.h"
#include "ngx_http_otp_template.h"

/* generated, see above; the name differs from ours on purpose */
#include "ngx_http_otp_html_data.h"


/*
 * What the module gives each page.  Keep in step with the handlers that
 * render them and with t/unit/test_template.c.
 */

typedef struct {
    const char                     *name;
    const char                     *vars;     /* the names it sets */
    const char                     *raw;      /* allowed in {{{ }}} */
    const char                     *fields;   /* a working page uses */
} ngx_http_otp_html_contract_t;


typedef struct {
    ngx_conf_t                     *cf;
    ngx_str_t                      *path;
    ngx_str_t                      *tpl;
    ngx_http_otp_html_contract_t   *contract;
    char                           *error;
} ngx_http_otp_html_ctx_t;


typedef struct {
    const char                     *name;
    size_t                          len;
} ngx_http_otp_html_find_t;


static char *ngx_http_otp_html_validate(ngx_conf_t *cf, ngx_str_t *path,
    ngx_str_t *tpl, const char *name);
static int ngx_http_otp_html_name(void *data, int type, const char *name,
    size_t len);
static int ngx_http_otp_html_find(void *data, int type, const char *name,
    size_t len);
static ngx_uint_t ngx_http_otp_html_word(const char *list,
    const char *name, size_t len);
static char *ngx_http_otp_html_message(ngx_conf_t *cf, ngx_str_t *path,
    ngx_str_t *tpl, size_t offset, const char *reason);
static void ngx_http_otp_html_extra(ngx_conf_t *cf, ngx_str_t *dir);


static ngx_http_otp_html_contract_t  ngx_http_otp_html_contracts[] = {

    { "challenge.html",
      "issuer user csrf return return_q method method_totp method_sms "
      "method_recovery numeric digits error has_totp has_sms has_recovery "
      "sms_sent sms_phone sms_first sms_wait recovery_left remember_device "
      "remember_days pass account_url",
      "",
      "csrf return method" },

    { "enroll.html",
      "issuer user account csrf return qr_svg otpauth_uri secret_grouped "
      "digits hotp error has_sms return_q add name account_url",
      "qr_svg",
      "csrf return qr_svg" },

    { "recovery.html",
      "issuer user codes_html codes_uri continue regenerated csrf return "
      "recovery_left none_left account_url",
      "codes_html",
      "codes_html" },

    { "sms.html",
      "issuer user csrf return phone error has_totp return_q",
      "",
      "csrf return" },

    { "locked.html",
      "issuer user retry_minutes",
      "",
      "" },

    { "error.html",
      "issuer title message retry seconds",
      "",
      "" },

    { "logout.html",
      "issuer user csrf trusted_device",
      "",
      "csrf" },

    { "account.html",
      "issuer user csrf return continue notice authenticators_html "
      "add_url has_sms phone phone_url has_recovery recovery_left "
      "recovery_url browsers sessions confirm_id",
      "authenticators_html",
      "csrf" },

    { NULL, NULL, NULL, NULL }
};


const ngx_http_otp_html_file_t *
ngx_http_otp_html_files_all(void)
{
    return ngx_http_otp_html_files;
}


const ngx_http_otp_html_file_t *
ngx_http_otp_html_get(const char *name)
{
    const ngx_http_otp_html_file_t  *f;

    for (f = ngx_http_otp_html_files; f->name != NULL; f++) {
        if (ngx_strcmp(f->name, name) == 0) {
            return f;
        }
    }

    return NULL;
}


const ngx_http_otp_html_file_t *
ngx_http_otp_html_page(ngx_http_otp_html_set_t *set, const char *name)
{
    ngx_uint_t  i;

    if (set == NULL) {
        return ngx_http_otp_html_get(name);
    }

    for (i = 0; set->files[i].name != NULL; i++) {
        if (ngx_strcmp(set->files[i].name, name) == 0) {
            return &set->files[i];
        }
    }

    return NULL;
}


char *
ngx_http_otp_html_load_dir(ngx_conf_t *cf, ngx_str_t *dir,
    ngx_http_otp_html_set_t **set)
{
    char                     *rv;
    u_char                   *p;
    size_t                    len;
    ngx_str_t                 full, path, tpl;
    ngx_uint_t                i, n, found;
    ngx_file_info_t           fi;
    ngx_http_otp_html_set_t  *s;

    full = *dir;

    while (full.len > 1 && full.data[full.len - 1] == '/') {
        full.len--;
    }

    if (ngx_conf_full_name(cf->cycle, &full, 1) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    /* one buffer for the directory and, in turn, each of its pages */

    len = 0;

    for (n = 0; ngx_http_otp_html_files[n].name != NULL; n++) {
        len = ngx_max(len, ngx_strlen(ngx_http_otp_html_files[n].name));
    }

    p = ngx_pnalloc(cf->temp_pool, full.len + 1 + len + 1);
    if (p == NULL) {
        return NGX_CONF_ERROR;
    }

    ngx_memcpy(p, full.data, full.len);
    p[full.len] = '\0';
    full.data = p;

    if (ngx_file_info(full.data, &fi) == NGX_FILE_ERROR) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, ngx_errno,
                           ngx_file_info_n " \"%V\" failed", &full);
        return NGX_CONF_ERROR;
    }

    if (!ngx_is_dir(&fi)) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"%V\" is not a directory", &full);
        return NGX_CONF_ERROR;
    }

    s = ngx_palloc(cf->pool, sizeof(ngx_http_otp_html_set_t));
    if (s == NULL) {
        return NGX_CONF_ERROR;
    }

    s->files = ngx_palloc(cf->pool,
                          (n + 1) * sizeof(ngx_http_otp_html_file_t));
    if (s->files == NULL) {
        return NGX_CONF_ERROR;
    }

    ngx_memcpy(s->files, ngx_http_otp_html_files,
               (n + 1) * sizeof(ngx_http_otp_html_file_t));

    s->langs = NULL;
    s->dir.len = full.len;
    s->dir.data = ngx_pstrdup(cf->pool, &full);
    if (s->dir.data == NULL) {
        return NGX_CONF_ERROR;
    }

    found = 0;

    for (i = 0; i < n; i++) {
        p = ngx_sprintf(full.data + full.len, "/%s%Z", s->files[i].name);

        path.data = full.data;
        path.len = p - 1 - full.data;

        if (ngx_file_info(path.data, &fi) == NGX_FILE_ERROR) {

            if (ngx_errno == NGX_ENOENT) {
                /* not replaced */
                continue;
            }

            ngx_conf_log_error(NGX_LOG_EMERG, cf, ngx_errno,
                               ngx_file_info_n " \"%V\" failed", &path);
            return NGX_CONF_ERROR;
        }

        rv = ngx_http_otp_html_load(cf, &path, &tpl);
        if (rv != NGX_CONF_OK) {
            return rv;
        }

        rv = ngx_http_otp_html_validate(cf, &path, &tpl, s->files[i].name);
        if (rv != NGX_CONF_OK) {
            return rv;
        }

        s->files[i].data = tpl.data;
        s->files[i].len = tpl.len;

        found++;
    }

    full.data[full.len] = '\0';

    ngx_http_otp_html_extra(cf, &full);

    if (found == 0) {
        ngx_conf_log_error(NGX_LOG_WARN, cf, 0,
                           "\"%V\" has none of the pages, "
                           "the built-in ones are used", &full);
    }

    *set = s;

    return NGX_CONF_OK;
}


char *
ngx_http_otp_html_load(ngx_conf_t *cf, ngx_str_t *path, ngx_str_t *tpl)
{
    char                          *rv;
    ssize_t                        n;
    ngx_fd_t                       fd;
    ngx_file_t                     file;
    ngx_file_info_t                fi;
    ngx_http_otp_template_error_t  err;

    fd = ngx_open_file(path->data, NGX_FILE_RDONLY, NGX_FILE_OPEN, 0);
    if (fd == NGX_INVALID_FILE) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, ngx_errno,
                           ngx_open_file_n " \"%V\" failed", path);
        return NGX_CONF_ERROR;
    }

    ngx_memzero(&file, sizeof(ngx_file_t));

    file.fd = fd;
    file.name = *path;
    file.log = cf->log;

    rv = NGX_CONF_ERROR;

    if (ngx_fd_info(fd, &fi) == NGX_FILE_ERROR) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, ngx_errno,
                           ngx_fd_info_n " \"%V\" failed", path);
        goto done;
    }

    if (!ngx_is_file(&fi)) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "template \"%V\" is not a regular file", path);
        goto done;
    }

    if (ngx_file_size(&fi) > NGX_HTTP_OTP_HTML_MAX_SIZE) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "template \"%V\" is larger than %uz bytes",
                           path, (size_t) NGX_HTTP_OTP_HTML_MAX_SIZE);
        goto done;
    }

    tpl->len = (size_t) ngx_file_size(&fi);
    tpl->data = ngx_pnalloc(cf->pool, tpl->len + 1);
    if (tpl->data == NULL) {
        goto done;
    }

    n = ngx_read_file(&file, tpl->data, tpl->len, 0);
    if (n == NGX_ERROR) {
        goto done;
    }

    if ((size_t) n != tpl->len) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           ngx_read_file_n " \"%V\" returned only "
                           "%z bytes instead of %uz", path, n, tpl->len);
        goto done;
    }

    tpl->data[tpl->len] = '\0';

    if (ngx_http_otp_template_check((char *) tpl->data, tpl->len, &err)
        != 0)
    {
        rv = ngx_http_otp_html_message(cf, path, tpl, err.offset,
                                       err.reason);
        goto done;
    }

    rv = NGX_CONF_OK;

done:

    if (ngx_close_file(fd) == NGX_FILE_ERROR) {
        ngx_conf_log_error(NGX_LOG_ALERT, cf, ngx_errno,
                           ngx_close_file_n " \"%V\" failed", path);
    }

    return rv;
}


/* holds a replacement of a built-in page to that page's contract */

static char *
ngx_http_otp_html_validate(ngx_conf_t *cf, ngx_str_t *path, ngx_str_t *tpl,
    const char *name)
{
    const char                    *f, *e;
    ngx_http_otp_html_ctx_t        ctx;
    ngx_http_otp_html_find_t       find;
    ngx_http_otp_html_contract_t  *c;

    for (c = ngx_http_otp_html_contracts; c->name != NULL; c++) {
        if (ngx_strcmp(c->name, name) == 0) {
            break;
        }
    }

    if (c->name == NULL) {
        return NGX_CONF_OK;
    }

    ctx.cf = cf;
    ctx.path = path;
    ctx.tpl = tpl;
    ctx.contract = c;
    ctx.error = NGX_CONF_OK;

    (void) ngx_http_otp_template_names((char *) tpl->data, tpl->len,
                                       ngx_http_otp_html_name, &ctx);

    if (ctx.error != NGX_CONF_OK) {
        return ctx.error;
    }

    for (f = c->fields; *f != '\0'; f = e) {
        while (*f == ' ') {
            f++;
        }

        for (e = f; *e != '\0' && *e != ' '; e++) { /* void */ }

        if (e == f) {
            break;
        }

        find.name = f;
        find.len = e - f;

        if (ngx_http_otp_template_names((char *) tpl->data, tpl->len,
                                        ngx_http_otp_html_find, &find)
            == 0)
        {
            ngx_conf_log_error(NGX_LOG_WARN, cf, 0,
                               "template \"%V\" does not use \"%*s\", "
                               "which the page needs to work",
                               path, (size_t) (e - f), f);
        }
    }

    return NGX_CONF_OK;
}


static int
ngx_http_otp_html_name(void *data, int type, const char *name, size_t len)
{
    ngx_http_otp_html_ctx_t *ctx = data;

    size_t                         offset;
    ngx_http_otp_html_contract_t  *c;

    c = ctx->contract;

    /*
     * the shared style sheet (html/style.css), script (countdown.js) and
     * the page's language go into every page
     */

    if ((len == sizeof("style") - 1 && ngx_strncmp(name, "style", len) == 0)
        || (len == sizeof("script") - 1
            && ngx_strncmp(name, "script", len) == 0)
        || (len == sizeof("lang") - 1 && ngx_strncmp(name, "lang", len) == 0))
    {
        return 0;
    }

    if (type == '{' && !ngx_http_otp_html_word(c->raw, name, len)) {
        offset = (size_t) ((u_char *) name - ctx->tpl->data);
        ctx->error = ngx_http_otp_html_message(ctx->cf, ctx->path, ctx->tpl,
                                               offset,
                                               "{{{ }}} would not escape "
                                               "this value, use {{ }}");
        return 1;
    }

    /* a text, {{@key}}: checked by ngx_http_otp_languages_check_page() */

    if (type != '/' && type != '@'
        && !ngx_http_otp_html_word(c->vars, name, len))
    {
        ngx_conf_log_error(NGX_LOG_WARN, ctx->cf, 0,
                           "template \"%V\" uses \"%*s\", which %s does "
                           "not set: it renders empty",
                           ctx->path, len, name, c->name);
    }

    return 0;
}


static int
ngx_http_otp_html_find(void *data, int type, const char *name, size_t len)
{
    ngx_http_otp_html_find_t *find = data;

    return (len == find->len && ngx_strncmp(name, find->name, len) == 0);
}


/* whether name is one of the words of a space-separated list */

static ngx_uint_t
ngx_http_otp_html_word(const char *list, const char *name, size_t len)
{
    const char  *p;

    for (p = list; *p != '\0'; p++) {
        if ((p == list || p[-1] == ' ')
            && ngx_strncmp(p, name, len) == 0
            && (p[len] == ' ' || p[len] == '\0'))
        {
            return 1;
        }
    }

    return 0;
}


static char *
ngx_http_otp_html_message(ngx_conf_t *cf, ngx_str_t *path, ngx_str_t *tpl,
    size_t offset, const char *reason)
{
    u_char      *msg, *last;
    size_t       i, len;
    ngx_uint_t   line, column;

    line = 1;
    column = 1;

    for (i = 0; i < offset && i < tpl->len; i++) {
        if (tpl->data[i] == '\n') {
            line++;
            column = 1;

        } else {
            column++;
        }
    }

    len = sizeof("template \"\", line , column : ") - 1 + path->len
          + 2 * NGX_INT_T_LEN + ngx_strlen(reason) + 1;

    msg = ngx_pnalloc(cf->pool, len);
    if (msg == NULL) {
        return NGX_CONF_ERROR;
    }

    last = ngx_snprintf(msg, len - 1, "template \"%V\", line %ui, "
                       "column %ui: %s", path, line, column, reason);
    *last = '\0';

    return (char *) msg;
}


/* a file that looks like a page but has no built-in twin is a typo */

static void
ngx_http_otp_html_extra(ngx_conf_t *cf, ngx_str_t *dir)
{
    u_char     *name;
    size_t      len;
    ngx_err_t   err;
    ngx_dir_t   d;

    if (ngx_open_dir(dir, &d) == NGX_ERROR) {
        ngx_conf_log_error(NGX_LOG_WARN, cf, ngx_errno,
                           ngx_open_dir_n " \"%V\" failed", dir);
        return;
    }

    for ( ;; ) {
        ngx_set_errno(0);

        if (ngx_read_dir(&d) == NGX_ERROR) {
            err = ngx_errno;

            if (err != NGX_ENOMOREFILES) {
                ngx_conf_log_error(NGX_LOG_WARN, cf, err,
                                   ngx_read_dir_n " \"%V\" failed", dir);
            }

            break;
        }

        name = ngx_de_name(&d);
        len = ngx_de_namelen(&d);

        if (len > 5 && ngx_strncmp(name + len - 5, ".html", 5) == 0
            && ngx_http_otp_html_get((char *) name) == NULL)
        {
            ngx_conf_log_error(NGX_LOG_WARN, cf, 0,
                               "\"%s\" in \"%V\" is not the name of a "
                               "page and is not used", name, dir);
        }
    }

    if (ngx_close_dir(&d) == NGX_ERROR) {
        ngx_conf_log_error(NGX_LOG_ALERT, cf, ngx_errno,
                           ngx_close_dir_n " \"%V\" failed", dir);
    }
}

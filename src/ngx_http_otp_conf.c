
/*
 * Handlers of the directives that need more than a stock slot:
 * "otp_redis" and "otp_secret_file".  Both read whatever they need from
 * disk at configuration time, in the master, so that workers never touch
 * the files and "nginx -t" reports every problem.
 */


#include "ngx_http_otp_conf.h"
#include "ngx_http_otp_endpoint.h"
#include "ngx_http_otp_redis_conf.h"
#include "ngx_http_otp_html.h"
#include "ngx_http_otp_language.h"

#include <openssl/crypto.h>


#define NGX_HTTP_OTP_SECRET_FILE_MAX   4096
#define NGX_HTTP_OTP_PREFIX_MAX        64


static char *ngx_http_otp_redis_option(ngx_conf_t *cf,
    ngx_http_otp_redis_conf_t *rc, ngx_str_t *opt, ngx_uint_t *have_password);
static char *ngx_http_otp_read_private_file(ngx_conf_t *cf,
    const char *directive, ngx_str_t *name, size_t max, ngx_str_t *content);


void
ngx_http_otp_redis_conf_default(ngx_http_otp_redis_conf_t *rc)
{
    ngx_str_set(&rc->host, "127.0.0.1");
    rc->port = NGX_HTTP_OTP_REDIS_DEFAULT_PORT;
    ngx_str_null(&rc->unix_path);
    rc->db = 0;
    ngx_str_null(&rc->password);
    ngx_str_set(&rc->prefix, "otp:");
    rc->connect_timeout = 500;
    rc->timeout = 500;
}


char *
ngx_http_otp_redis(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_otp_main_conf_t *omcf = conf;

    char        *rv;
    ngx_str_t   *value;
    ngx_uint_t   i, have_password;

    if (omcf->redis_set) {
        return "is duplicate";
    }

    omcf->redis_set = 1;
    ngx_http_otp_redis_conf_default(&omcf->redis);

    value = cf->args->elts;

    /* Sentinel and Cluster name their servers in options */

    i = 1;

    if (!ngx_http_otp_redis_scaled(&value[1])) {
        rv = ngx_http_otp_redis_address(cf, &omcf->redis, &value[1]);
        if (rv != NGX_CONF_OK) {
            return rv;
        }

        i = 2;
    }

    have_password = 0;

    for ( /* void */ ; i < cf->args->nelts; i++) {
        rv = ngx_http_otp_redis_option(cf, &omcf->redis, &value[i],
                                       &have_password);
        if (rv != NGX_CONF_OK) {
            return rv;
        }
    }

    return ngx_http_otp_redis_scale_check(cf, &omcf->redis);
}


static char *
ngx_http_otp_redis_option(ngx_conf_t *cf, ngx_http_otp_redis_conf_t *rc,
    ngx_str_t *opt, ngx_uint_t *have_password)
{
    u_char                     *p;
    char                       *rv;
    ngx_int_t                   n;
    ngx_str_t                   s, file;
    ngx_uint_t                  i;
    ngx_http_otp_redis_conf_t   tmp;

    rv = ngx_http_otp_redis_scale_option(cf, rc, opt);
    if (rv != NGX_HTTP_OTP_REDIS_NOT_SCALE) {
        return rv;
    }

    /* the sentinels' password: read and checked as the master's */

    if (opt->len > 18
        && ngx_strncmp(opt->data, "sentinel_password", 17) == 0)
    {
        if (rc->sentinel_password.len) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "\"otp_redis\" takes only one of "
                               "\"sentinel_password=\" and "
                               "\"sentinel_password_file=\"");
            return NGX_CONF_ERROR;
        }

        s.data = opt->data + 9;
        s.len = opt->len - 9;
        i = 0;

        ngx_memzero(&tmp, sizeof(ngx_http_otp_redis_conf_t));

        rv = ngx_http_otp_redis_option(cf, &tmp, &s, &i);
        if (rv != NGX_CONF_OK) {
            return rv;
        }

        rc->sentinel_password = tmp.password;
        return NGX_CONF_OK;
    }

    if (ngx_strncmp(opt->data, "db=", 3) == 0) {
        n = ngx_atoi(opt->data + 3, opt->len - 3);
        if (n == NGX_ERROR || n > NGX_HTTP_OTP_REDIS_MAX_DB) {
            goto invalid;
        }

        rc->db = n;
        return NGX_CONF_OK;
    }

    if (ngx_strncmp(opt->data, "password=", 9) == 0
        || ngx_strncmp(opt->data, "password_file=", 14) == 0)
    {
        if (*have_password) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "\"otp_redis\" takes only one of "
                               "\"password=\" and \"password_file=\"");
            return NGX_CONF_ERROR;
        }

        *have_password = 1;

        if (opt->data[8] == '=') {
            s.data = opt->data + 9;
            s.len = opt->len - 9;

        } else {
            file.data = opt->data + 14;
            file.len = opt->len - 14;

            if (file.len == 0) {
                goto invalid;
            }

            if (ngx_http_otp_read_private_file(cf, "otp_redis", &file,
                                               NGX_HTTP_OTP_REDIS_MAX_PASSWORD,
                                               &s)
                != NGX_CONF_OK)
            {
                return NGX_CONF_ERROR;
            }

            /* a file written by "echo" ends with a newline */
            while (s.len && (s.data[s.len - 1] == '\n'
                             || s.data[s.len - 1] == '\r'))
            {
                s.len--;
            }
        }

        if (s.len == 0 || s.len > NGX_HTTP_OTP_REDIS_MAX_PASSWORD) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "\"otp_redis\" password must be 1 to %d "
                               "bytes",
                               NGX_HTTP_OTP_REDIS_MAX_PASSWORD);
            return NGX_CONF_ERROR;
        }

        for (i = 0; i < s.len; i++) {
            if (s.data[i] < 0x20 || s.data[i] == 0x7f) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "\"otp_redis\" password contains "
                                   "a control character");
                return NGX_CONF_ERROR;
            }
        }

        rc->password = s;
        return NGX_CONF_OK;
    }

    if (ngx_strncmp(opt->data, "prefix=", 7) == 0) {
        s.data = opt->data + 7;
        s.len = opt->len - 7;

        if (s.len > NGX_HTTP_OTP_PREFIX_MAX) {
            goto invalid;
        }

        /* braces would make the prefix the Redis Cluster hash tag */

        for (p = s.data; p < s.data + s.len; p++) {
            if (*p <= 0x20 || *p >= 0x7f || *p == '{' || *p == '}') {
                goto invalid;
            }
        }

        rc->prefix = s;
        return NGX_CONF_OK;
    }

    if (ngx_strncmp(opt->data, "connect_timeout=", 16) == 0) {
        s.data = opt->data + 16;
        s.len = opt->len - 16;

        n = ngx_parse_time(&s, 0);
        if (n == NGX_ERROR || n == 0) {
            goto invalid;
        }

        rc->connect_timeout = n;
        return NGX_CONF_OK;
    }

    if (ngx_strncmp(opt->data, "timeout=", 8) == 0) {
        s.data = opt->data + 8;
        s.len = opt->len - 8;

        n = ngx_parse_time(&s, 0);
        if (n == NGX_ERROR || n == 0) {
            goto invalid;
        }

        rc->timeout = n;
        return NGX_CONF_OK;
    }

invalid:

    /* the value of a password must not reach the log */

    if (ngx_strncmp(opt->data, "password=", 9) == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid \"otp_redis\" parameter \"password=\"");

    } else {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid \"otp_redis\" parameter \"%V\"", opt);
    }

    return NGX_CONF_ERROR;
}


char *
ngx_http_otp_secret_file(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_otp_main_conf_t *omcf = conf;

    int         rc;
    ngx_str_t  *value, ikm;

    if (omcf->keys_loaded) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (ngx_http_otp_read_private_file(cf, "otp_secret_file", &value[1],
                                       NGX_HTTP_OTP_SECRET_FILE_MAX, &ikm)
        != NGX_CONF_OK)
    {
        return NGX_CONF_ERROR;
    }

    if (ikm.len < NGX_HTTP_OTP_MIN_IKM_LEN) {
        OPENSSL_cleanse(ikm.data, ikm.len);
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"otp_secret_file\" \"%V\" holds %uz bytes, "
                           "at least %d random bytes are needed "
                           "(for example: openssl rand 32 > file)",
                           &value[1], ikm.len, NGX_HTTP_OTP_MIN_IKM_LEN);
        return NGX_CONF_ERROR;
    }

    rc = ngx_http_otp_keys_derive(ikm.data, ikm.len, &omcf->keys);

    OPENSSL_cleanse(ikm.data, ikm.len);

    if (rc != 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "key derivation failed");
        return NGX_CONF_ERROR;
    }

    omcf->secret_file = value[1];
    omcf->keys_loaded = 1;

    return NGX_CONF_OK;
}


/*
 * Reads a file that holds a secret: a regular file that neither group
 * nor others may read or write.  Relative names are relative to the
 * configuration prefix, as for "ssl_certificate".
 */

static char *
ngx_http_otp_read_private_file(ngx_conf_t *cf, const char *directive,
    ngx_str_t *name, size_t max, ngx_str_t *content)
{
    ssize_t          n;
    ngx_fd_t         fd;
    ngx_str_t        path;
    ngx_file_t       file;
    ngx_file_info_t  fi;

    path = *name;

    if (ngx_conf_full_name(cf->cycle, &path, 1) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    fd = ngx_open_file(path.data, NGX_FILE_RDONLY, NGX_FILE_OPEN, 0);
    if (fd == NGX_INVALID_FILE) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, ngx_errno,
                           "\"%s\": " ngx_open_file_n " \"%V\" failed",
                           directive, &path);
        return NGX_CONF_ERROR;
    }

    ngx_memzero(&file, sizeof(ngx_file_t));

    file.fd = fd;
    file.name = path;
    file.log = cf->log;

    if (ngx_fd_info(fd, &fi) == NGX_FILE_ERROR) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, ngx_errno,
                           "\"%s\": " ngx_fd_info_n " \"%V\" failed",
                           directive, &path);
        goto failed;
    }

    if (!ngx_is_file(&fi)) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"%s\": \"%V\" is not a regular file",
                           directive, &path);
        goto failed;
    }

    if (ngx_file_access(&fi) & (S_IRWXG | S_IRWXO)) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"%s\": \"%V\" is accessible by group or "
                           "others (mode 0%ui%ui%ui): make it private "
                           "with chmod 600", directive, &path,
                           (ngx_uint_t) (ngx_file_access(&fi) >> 6) & 7,
                           (ngx_uint_t) (ngx_file_access(&fi) >> 3) & 7,
                           (ngx_uint_t) ngx_file_access(&fi) & 7);
        goto failed;
    }

    if ((size_t) ngx_file_size(&fi) > max) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"%s\": \"%V\" is larger than %uz bytes",
                           directive, &path, max);
        goto failed;
    }

    content->len = (size_t) ngx_file_size(&fi);
    content->data = ngx_pnalloc(cf->pool, content->len + 1);
    if (content->data == NULL) {
        goto failed;
    }

    n = ngx_read_file(&file, content->data, content->len, 0);
    if (n == NGX_ERROR || (size_t) n != content->len) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"%s\": could not read \"%V\"",
                           directive, &path);
        goto failed;
    }

    content->data[content->len] = '\0';

    if (ngx_close_file(fd) == NGX_FILE_ERROR) {
        ngx_conf_log_error(NGX_LOG_ALERT, cf, ngx_errno,
                           ngx_close_file_n " \"%V\" failed", &path);
    }

    return NGX_CONF_OK;

failed:

    if (ngx_close_file(fd) == NGX_FILE_ERROR) {
        ngx_conf_log_error(NGX_LOG_ALERT, cf, ngx_errno,
                           ngx_close_file_n " \"%V\" failed", &path);
    }

    return NGX_CONF_ERROR;
}


void
ngx_http_otp_cookie_conf_default(ngx_http_otp_cookie_t *ck)
{
    ngx_str_set(&ck->name, "otp_session");
    ck->secure = NGX_HTTP_OTP_SECURE_AUTO;
    ngx_str_set(&ck->samesite, "Lax");
    ngx_str_null(&ck->domain);
    ngx_str_set(&ck->path, "/");
}


static ngx_uint_t
ngx_http_otp_conf_chars(ngx_str_t *s, const char *allowed_punct)
{
    u_char  *p;

    for (p = s->data; p < s->data + s->len; p++) {
        if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z')
            || (*p >= '0' && *p <= '9')
            || ngx_strchr(allowed_punct, *p) != NULL)
        {
            continue;
        }

        return 0;
    }

    return s->len != 0;
}


char *
ngx_http_otp_cookie(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_otp_loc_conf_t *olcf = conf;

    ngx_str_t              *value, s;
    ngx_uint_t              i;
    ngx_http_otp_cookie_t  *ck;

    ck = &olcf->cookie;

    if (ck->name.len) {
        return "is duplicate";
    }

    ngx_http_otp_cookie_conf_default(ck);

    value = cf->args->elts;

    if (!ngx_http_otp_conf_chars(&value[1], "_-.")) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid \"otp_cookie\" name \"%V\"", &value[1]);
        return NGX_CONF_ERROR;
    }

    ck->name = value[1];

    for (i = 2; i < cf->args->nelts; i++) {

        if (ngx_strcmp(value[i].data, "secure") == 0
            || ngx_strcmp(value[i].data, "secure=on") == 0)
        {
            ck->secure = NGX_HTTP_OTP_SECURE_ON;
            continue;
        }

        if (ngx_strcmp(value[i].data, "secure=auto") == 0) {
            ck->secure = NGX_HTTP_OTP_SECURE_AUTO;
            continue;
        }

        if (ngx_strcmp(value[i].data, "secure=off") == 0) {
            ck->secure = NGX_HTTP_OTP_SECURE_OFF;
            continue;
        }

        if (ngx_strcasecmp(value[i].data, (u_char *) "samesite=strict") == 0)
        {
            ngx_str_set(&ck->samesite, "Strict");
            continue;
        }

        if (ngx_strcasecmp(value[i].data, (u_char *) "samesite=lax") == 0) {
            ngx_str_set(&ck->samesite, "Lax");
            continue;
        }

        if (ngx_strncmp(value[i].data, "domain=", 7) == 0) {
            s.data = value[i].data + 7;
            s.len = value[i].len - 7;

            if (!ngx_http_otp_conf_chars(&s, ".-")) {
                goto invalid;
            }

            ck->domain = s;
            continue;
        }

        if (ngx_strncmp(value[i].data, "path=", 5) == 0) {
            s.data = value[i].data + 5;
            s.len = value[i].len - 5;

            if (s.len == 0 || s.data[0] != '/'
                || !ngx_http_otp_conf_chars(&s, "/_-.~%"))
            {
                goto invalid;
            }

            ck->path = s;
            continue;
        }

        goto invalid;
    }

    return NGX_CONF_OK;

invalid:

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "invalid \"otp_cookie\" parameter \"%V\"", &value[i]);
    return NGX_CONF_ERROR;
}


char *
ngx_http_otp_lockout(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_otp_loc_conf_t *olcf = conf;

    time_t      t;
    ngx_int_t   n;
    ngx_str_t  *value;

    if (olcf->lockout_failures != NGX_CONF_UNSET_UINT) {
        return "is duplicate";
    }

    value = cf->args->elts;

    n = ngx_atoi(value[1].data, value[1].len);
    if (n == NGX_ERROR || n < 1 || n > 1000) {
        return "needs a number of failures from 1 to 1000";
    }

    t = ngx_parse_time(&value[2], 1);
    if (t == (time_t) NGX_ERROR || t < 1) {
        return "needs a lock time of at least 1s";
    }

    olcf->lockout_failures = n;
    olcf->lockout_time = t;

    return NGX_CONF_OK;
}


char *
ngx_http_otp_endpoint(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_otp_loc_conf_t *olcf = conf;

    ngx_http_otp_srv_conf_t   *oscf;
    ngx_http_otp_main_conf_t  *omcf;
    ngx_http_core_loc_conf_t  *clcf;

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);
    oscf = ngx_http_conf_get_module_srv_conf(cf, ngx_http_otp_module);
    omcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_otp_module);

    if (clcf->named || clcf->exact_match
#if (NGX_PCRE)
        || clcf->regex
#endif
        || clcf->name.len == 0
        || clcf->name.data[clcf->name.len - 1] != '/')
    {
        return "must be in a prefix location that ends with \"/\", "
               "such as \"location /_otp/\"";
    }

    if (oscf->endpoint.len) {
        return "is duplicate in this server";
    }

    oscf->endpoint = clcf->name;
    omcf->endpoint_used = 1;
    olcf->endpoint = 1;

    clcf->handler = ngx_http_otp_endpoint_handler;

    return NGX_CONF_OK;
}


char *
ngx_http_otp_templates(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_otp_loc_conf_t *olcf = conf;

    char        *rv;
    ngx_str_t   *value, tpl;
    ngx_uint_t   i;

    if (olcf->templates != NGX_CONF_UNSET_PTR) {
        return "is duplicate";
    }

    value = cf->args->elts;

    rv = ngx_http_otp_html_load_dir(cf, &value[1], &olcf->templates);
    if (rv != NGX_CONF_OK) {
        return rv;
    }

    /* the texts the pages name, and the directory's lang/<tag>.txt */

    for (i = 0; olcf->templates->files[i].name != NULL; i++) {
        tpl.data = (u_char *) olcf->templates->files[i].data;
        tpl.len = olcf->templates->files[i].len;

        rv = ngx_http_otp_languages_check_page(cf,
                                               olcf->templates->files[i].name,
                                               &tpl);
        if (rv != NGX_CONF_OK) {
            return rv;
        }
    }

    return ngx_http_otp_languages_load_dir(cf, &olcf->templates->dir,
                                           &olcf->templates->langs);
}

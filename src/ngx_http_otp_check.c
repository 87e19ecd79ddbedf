
/*
 * Checks of the whole configuration at nginx -t (SPEC invariant 13).
 *
 * otp_user defaults to $remote_user, which nginx fills from the client's
 * Authorization header whether or not anything checked the password:
 * only auth_basic, when it runs, makes it a verified name.  Under
 * "satisfy any" an allow rule lets a request in without auth_basic, an
 * endpoint with "auth_basic off" takes any name, and an endpoint with
 * another password file than its gate takes names the gate never
 * verified.  With the default otp_user such configurations are refused;
 * where the module cannot tell (a realm with variables, a first factor
 * other than auth_basic), too.  An explicit otp_user is ops saying which
 * variable their first factor verifies.
 *
 * The merge notes each gated location and each endpoint; the checks run
 * in postconfiguration, when every module's configuration is merged.
 */


#include "ngx_http_otp_check.h"


#define NGX_HTTP_OTP_BASIC_OFF        0
#define NGX_HTTP_OTP_BASIC_ON         1
#define NGX_HTTP_OTP_BASIC_UNKNOWN    2


typedef struct {
    ngx_http_otp_loc_conf_t    *olcf;
    ngx_http_otp_srv_conf_t    *oscf;
    ngx_http_core_loc_conf_t   *clcf;
    void                      **loc_conf;
} ngx_http_otp_check_loc_t;


/*
 * ngx_http_auth_basic_module's location configuration is private to
 * it; this copy is its layout since nginx 1.21.0 (both fields became
 * pointers there).  Older versions: the module cannot tell.
 */

#if (nginx_version >= 1021000)

typedef struct {
    ngx_http_complex_value_t   *realm;
    ngx_http_complex_value_t   *user_file;
} ngx_http_otp_auth_basic_conf_t;

#endif


static ngx_uint_t ngx_http_otp_check_basic(ngx_conf_t *cf, void **loc_conf,
    ngx_str_t *user_file);
static ngx_int_t ngx_http_otp_check_one(ngx_conf_t *cf,
    ngx_http_otp_check_loc_t *loc, ngx_http_otp_check_loc_t *all,
    ngx_uint_t n);
static ngx_int_t ngx_http_otp_check_endpoints(ngx_conf_t *cf,
    ngx_http_otp_check_loc_t *all, ngx_uint_t n);


ngx_int_t
ngx_http_otp_check_note(ngx_conf_t *cf, ngx_http_otp_loc_conf_t *olcf)
{
    ngx_http_conf_ctx_t       *ctx;
    ngx_http_otp_check_loc_t  *loc;
    ngx_http_otp_main_conf_t  *omcf;

    if (!olcf->enable && !olcf->endpoint) {
        return NGX_OK;
    }

    omcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_otp_module);

    if (omcf->checks == NULL) {
        omcf->checks = ngx_array_create(cf->pool, 8,
                                        sizeof(ngx_http_otp_check_loc_t));
        if (omcf->checks == NULL) {
            return NGX_ERROR;
        }
    }

    loc = ngx_array_push(omcf->checks);
    if (loc == NULL) {
        return NGX_ERROR;
    }

    ctx = cf->ctx;

    loc->olcf = olcf;
    loc->oscf = ngx_http_conf_get_module_srv_conf(cf, ngx_http_otp_module);
    loc->clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);
    loc->loc_conf = ctx->loc_conf;

    return NGX_OK;
}


ngx_int_t
ngx_http_otp_check_all(ngx_conf_t *cf)
{
    ngx_int_t                  rc;
    ngx_uint_t                 i, j, n;
    ngx_http_otp_check_loc_t  *all;
    ngx_http_otp_main_conf_t  *omcf;

    omcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_otp_module);

    if (omcf->checks == NULL) {
        return NGX_OK;
    }

    all = omcf->checks->elts;
    n = omcf->checks->nelts;
    rc = NGX_OK;

    for (i = 0; i < n; i++) {
        if (ngx_http_otp_check_one(cf, &all[i], all, n) != NGX_OK) {
            rc = NGX_ERROR;
        }
    }

    if (rc == NGX_OK && ngx_http_otp_check_endpoints(cf, all, n) != NGX_OK) {
        rc = NGX_ERROR;
    }

    /* a gate without pages: browsers get the API's 401, once per server */

    for (i = 0; i < n; i++) {
        if (!all[i].olcf->enable || all[i].oscf->endpoint.len) {
            continue;
        }

        for (j = 0; j < i; j++) {
            if (all[j].oscf == all[i].oscf && all[j].olcf->enable) {
                break;
            }
        }

        if (j < i) {
            continue;
        }

        ngx_conf_log_error(NGX_LOG_WARN, cf, 0,
                           "\"otp on\" in location \"%V\" of a server "
                           "without \"otp_endpoint\": browsers get a 401 "
                           "instead of the challenge page; add "
                           "\"location /_otp/ { otp_endpoint; }\"",
                           &all[i].clcf->name);
    }

    return rc;
}


/* one gate or endpoint that takes the user from $remote_user */

static ngx_int_t
ngx_http_otp_check_one(ngx_conf_t *cf, ngx_http_otp_check_loc_t *loc,
    ngx_http_otp_check_loc_t *all, ngx_uint_t n)
{
    char                      *what;
    ngx_str_t                  file;
    ngx_uint_t                 basic;
    ngx_http_otp_main_conf_t  *omcf;

    omcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_otp_module);

    if (loc->olcf->user != omcf->default_user) {
        return NGX_OK;
    }

    what = loc->olcf->endpoint ? "otp_endpoint" : "otp on";

    if (loc->clcf->satisfy == NGX_HTTP_SATISFY_ANY) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"%s\" in location \"%V\" with \"satisfy any\" "
                           "takes the user from $remote_user, which an "
                           "unverified Authorization header sets when an "
                           "access rule lets the request in: use "
                           "\"otp_bypass\" with \"geo\" for trusted "
                           "networks, or set \"otp_user\" explicitly",
                           what, &loc->clcf->name);
        return NGX_ERROR;
    }

    basic = ngx_http_otp_check_basic(cf, loc->loc_conf, &file);

    if (basic == NGX_HTTP_OTP_BASIC_ON) {
        return NGX_OK;
    }

    if (basic == NGX_HTTP_OTP_BASIC_UNKNOWN) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"%s\" in location \"%V\" takes the user from "
                           "$remote_user, and the module cannot tell "
                           "whether \"auth_basic\" verifies it there: set "
                           "\"otp_user\" explicitly to the variable your "
                           "first factor verifies", what, &loc->clcf->name);
        return NGX_ERROR;
    }

    if (loc->olcf->endpoint) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"otp_endpoint\" in location \"%V\" takes the "
                           "user from $remote_user without \"auth_basic\": "
                           "an unverified Authorization header names the "
                           "user; give the endpoint the same first factor "
                           "as its gate, or set \"otp_user\" explicitly",
                           &loc->clcf->name);
        return NGX_ERROR;
    }

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "\"otp on\" in location \"%V\" takes the user from "
                       "$remote_user without \"auth_basic\": an unverified "
                       "Authorization header names the user; use "
                       "\"auth_basic\" there, or set \"otp_user\" "
                       "explicitly to the variable your first factor "
                       "(auth_request ...) verifies", &loc->clcf->name);

    return NGX_ERROR;
}


/*
 * An endpoint names the user of the gates that send browsers to it:
 * with $remote_user on both, both check the same password file.
 */

static ngx_int_t
ngx_http_otp_check_endpoints(ngx_conf_t *cf, ngx_http_otp_check_loc_t *all,
    ngx_uint_t n)
{
    ngx_str_t                  efile, gfile;
    ngx_int_t                  rc;
    ngx_uint_t                 i, j;
    ngx_http_otp_main_conf_t  *omcf;

    omcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_otp_module);

    rc = NGX_OK;

    for (i = 0; i < n; i++) {
        if (!all[i].olcf->endpoint
            || all[i].olcf->user != omcf->default_user)
        {
            continue;
        }

        (void) ngx_http_otp_check_basic(cf, all[i].loc_conf, &efile);

        for (j = 0; j < n; j++) {
            if (!all[j].olcf->enable
                || all[j].oscf != all[i].oscf
                || all[j].olcf->user != omcf->default_user)
            {
                continue;
            }

            (void) ngx_http_otp_check_basic(cf, all[j].loc_conf, &gfile);

            if (gfile.len == efile.len
                && ngx_strncmp(gfile.data, efile.data, efile.len) == 0)
            {
                continue;
            }

            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "\"otp_endpoint\" in location \"%V\" checks "
                               "passwords in \"%V\", but the gate in "
                               "location \"%V\" in \"%V\": give the "
                               "endpoint the same first factor as its "
                               "gate, or set \"otp_user\" explicitly",
                               &all[i].clcf->name, &efile,
                               &all[j].clcf->name, &gfile);
            rc = NGX_ERROR;
            break;
        }
    }

    return rc;
}


/*
 * Whether auth_basic checks the password where loc_conf applies, as its
 * handler decides: a realm and a user file, and a realm other than
 * "off".  A realm with variables may be "off" at run time: unknown.
 */

static ngx_uint_t
ngx_http_otp_check_basic(ngx_conf_t *cf, void **loc_conf,
    ngx_str_t *user_file)
{
#if (nginx_version >= 1021000)
    ngx_uint_t                       i;
    ngx_http_otp_auth_basic_conf_t  *abcf;

    ngx_str_null(user_file);

    for (i = 0; cf->cycle->modules[i]; i++) {
        if (ngx_strcmp(cf->cycle->modules[i]->name,
                       "ngx_http_auth_basic_module")
            == 0)
        {
            break;
        }
    }

    if (cf->cycle->modules[i] == NULL) {
        return NGX_HTTP_OTP_BASIC_OFF;
    }

    abcf = loc_conf[cf->cycle->modules[i]->ctx_index];

    if (abcf == NULL || abcf->realm == NULL || abcf->user_file == NULL) {
        return NGX_HTTP_OTP_BASIC_OFF;
    }

    if (abcf->realm->lengths != NULL) {
        return NGX_HTTP_OTP_BASIC_UNKNOWN;
    }

    if (abcf->realm->value.len == 3
        && ngx_strncmp(abcf->realm->value.data, "off", 3) == 0)
    {
        return NGX_HTTP_OTP_BASIC_OFF;
    }

    *user_file = abcf->user_file->value;

    return NGX_HTTP_OTP_BASIC_ON;

#else

    ngx_str_null(user_file);

    return NGX_HTTP_OTP_BASIC_UNKNOWN;

#endif
}

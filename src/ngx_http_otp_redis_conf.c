
/*
 * The options of "otp_redis" that scale out (SPEC 12).  Addresses are
 * resolved here, once, as the one server's is: a worker never blocks in
 * getaddrinfo() when it follows a failover.
 */


#include "ngx_http_otp_conf.h"
#include "ngx_http_otp_redis_conf.h"


#define NGX_HTTP_OTP_REDIS_MAX_SEEDS      16
#define NGX_HTTP_OTP_REDIS_MAX_REPLICAS   16


char  ngx_http_otp_redis_not_scale[] = "not a scale-out option";


static ngx_int_t ngx_http_otp_redis_list(ngx_conf_t *cf, ngx_str_t *list,
    ngx_array_t **addrs);


ngx_uint_t
ngx_http_otp_redis_scaled(ngx_str_t *arg)
{
    return (arg->len >= 9 && ngx_strncmp(arg->data, "sentinel=", 9) == 0)
           || (arg->len >= 8 && ngx_strncmp(arg->data, "cluster=", 8) == 0);
}


char *
ngx_http_otp_redis_scale_option(ngx_conf_t *cf,
    ngx_http_otp_redis_conf_t *rc, ngx_str_t *opt)
{
    char                       *rv;
    u_char                     *p;
    ngx_int_t                   n;
    ngx_str_t                   s;
    ngx_uint_t                  have_password;
    ngx_array_t               **list;
    ngx_http_otp_redis_conf_t   tmp;

    list = NULL;

    if (opt->len >= 9 && ngx_strncmp(opt->data, "sentinel=", 9) == 0) {
        s.data = opt->data + 9;
        s.len = opt->len - 9;
        list = &rc->sentinels;

    } else if (opt->len >= 8 && ngx_strncmp(opt->data, "cluster=", 8) == 0) {
        s.data = opt->data + 8;
        s.len = opt->len - 8;
        list = &rc->cluster;
    }

    if (list) {
        n = ngx_http_otp_redis_list(cf, &s, list);

        if (n == NGX_DECLINED) {
            goto invalid;
        }

        return (n == NGX_OK) ? NGX_CONF_OK : NGX_CONF_ERROR;
    }

    if (opt->len >= 7 && ngx_strncmp(opt->data, "master=", 7) == 0) {
        s.data = opt->data + 7;
        s.len = opt->len - 7;

        if (s.len == 0 || rc->master.len) {
            goto invalid;
        }

        for (p = s.data; p < s.data + s.len; p++) {
            if (*p <= 0x20 || *p >= 0x7f) {
                goto invalid;
            }
        }

        rc->master = s;
        return NGX_CONF_OK;
    }

    if (opt->len >= 9 && ngx_strncmp(opt->data, "replicas=", 9) == 0) {
        n = ngx_atoi(opt->data + 9, opt->len - 9);
        if (n == NGX_ERROR || n > NGX_HTTP_OTP_REDIS_MAX_REPLICAS) {
            goto invalid;
        }

        rc->replicas = n;
        return NGX_CONF_OK;
    }

    if (opt->len >= 18
        && ngx_strncmp(opt->data, "sentinel_password", 17) == 0
        && (opt->data[17] == '=' || opt->data[17] == '_'))
    {
        if (rc->sentinel_password.len) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "\"otp_redis\" takes only one of "
                               "\"sentinel_password=\" and "
                               "\"sentinel_password_file=\"");
            return NGX_CONF_ERROR;
        }

        /* read and checked as password= and password_file= are */

        s.data = opt->data + 9;
        s.len = opt->len - 9;

        ngx_memzero(&tmp, sizeof(ngx_http_otp_redis_conf_t));
        have_password = 0;

        rv = ngx_http_otp_redis_option(cf, &tmp, &s, &have_password);
        if (rv != NGX_CONF_OK) {
            return rv;
        }

        rc->sentinel_password = tmp.password;
        return NGX_CONF_OK;
    }

    return NGX_HTTP_OTP_REDIS_NOT_SCALE;

invalid:

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "invalid \"otp_redis\" parameter \"%V\"", opt);
    return NGX_CONF_ERROR;
}


/* NGX_DECLINED: not a list of host:port */

static ngx_int_t
ngx_http_otp_redis_list(ngx_conf_t *cf, ngx_str_t *list, ngx_array_t **addrs)
{
    u_char                     *p, *last, *comma;
    ngx_str_t                   one;
    ngx_http_otp_redis_addr_t  *addr;
    ngx_http_otp_redis_conf_t   tmp;

    if (*addrs || list->len == 0 || list->data[list->len - 1] == ',') {
        return NGX_DECLINED;
    }

    *addrs = ngx_array_create(cf->pool, 3, sizeof(ngx_http_otp_redis_addr_t));
    if (*addrs == NULL) {
        return NGX_ERROR;
    }

    p = list->data;
    last = list->data + list->len;

    while (p < last) {
        comma = ngx_strlchr(p, last, ',');
        if (comma == NULL) {
            comma = last;
        }

        one.data = p;
        one.len = comma - p;

        if (one.len == 0 || (*addrs)->nelts == NGX_HTTP_OTP_REDIS_MAX_SEEDS) {
            return NGX_DECLINED;
        }

        ngx_memzero(&tmp, sizeof(ngx_http_otp_redis_conf_t));

        if (ngx_http_otp_redis_address(cf, &tmp, &one) != NGX_CONF_OK) {
            return NGX_ERROR;
        }

        if (tmp.unix_path.len) {
            return NGX_DECLINED;
        }

        addr = ngx_array_push(*addrs);
        if (addr == NULL) {
            return NGX_ERROR;
        }

        addr->host = tmp.host;
        addr->port = tmp.port;

        p = comma + 1;
    }

    return NGX_OK;
}


char *
ngx_http_otp_redis_scale_check(ngx_conf_t *cf, ngx_http_otp_redis_conf_t *rc)
{
    const char  *err;

    err = NULL;

    if (rc->sentinels && rc->cluster) {
        err = "takes only one of \"sentinel=\" and \"cluster=\"";

    } else if (rc->sentinels && rc->master.len == 0) {
        err = "needs \"master=\" with \"sentinel=\"";

    } else if (!rc->sentinels
               && (rc->master.len || rc->sentinel_password.len))
    {
        err = "takes \"master=\" and \"sentinel_password=\" only with "
              "\"sentinel=\"";

    } else if (rc->cluster && rc->db) {
        err = "cannot use \"db=\" with \"cluster=\": Redis Cluster has "
              "database 0 only";
    }

    if (err) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "\"otp_redis\" %s", err);
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}

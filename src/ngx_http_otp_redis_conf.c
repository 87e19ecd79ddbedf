
/*
 * The addresses of "otp_redis" and its options that scale out (SPEC 12).
 * Every address is resolved here, once, the sentinels' and the seeds'
 * as the one server's: a worker never blocks in getaddrinfo(), when it
 * reconnects nor when it follows a failover.
 */


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
    u_char                     *p;
    ngx_int_t                   n;
    ngx_str_t                   s;
    ngx_array_t               **list;

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
ngx_http_otp_redis_address(ngx_conf_t *cf, ngx_http_otp_redis_conf_t *rc,
    ngx_str_t *addr)
{
    u_char     *p;
    size_t      len;
    ngx_url_t   u;

    if (addr->len > 5 && ngx_strncmp(addr->data, "unix:", 5) == 0) {

        rc->unix_path.len = addr->len - 5;
        rc->unix_path.data = addr->data + 5;

        if (ngx_conf_full_name(cf->cycle, &rc->unix_path, 0) != NGX_OK) {
            return NGX_CONF_ERROR;
        }

        /* hiredis wants a NUL-terminated path */
        p = ngx_pnalloc(cf->pool, rc->unix_path.len + 1);
        if (p == NULL) {
            return NGX_CONF_ERROR;
        }

        ngx_memcpy(p, rc->unix_path.data, rc->unix_path.len);
        p[rc->unix_path.len] = '\0';
        rc->unix_path.data = p;

        ngx_str_null(&rc->host);
        rc->port = 0;

        return NGX_CONF_OK;
    }

    /*
     * The name is resolved here, once: a worker must not block in
     * getaddrinfo() each time it reconnects.
     */

    ngx_memzero(&u, sizeof(ngx_url_t));

    u.url = *addr;
    u.default_port = NGX_HTTP_OTP_REDIS_DEFAULT_PORT;

    if (ngx_parse_url(cf->pool, &u) != NGX_OK || u.uri.len) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid \"otp_redis\" address \"%V\"%s%s",
                           addr, u.err ? ": " : "", u.err ? u.err : "");
        return NGX_CONF_ERROR;
    }

    if (u.naddrs == 0 || u.addrs == NULL) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"otp_redis\": host not found in \"%V\"",
                           addr);
        return NGX_CONF_ERROR;
    }

    p = ngx_pnalloc(cf->pool, NGX_SOCKADDR_STRLEN + 1);
    if (p == NULL) {
        return NGX_CONF_ERROR;
    }

    len = ngx_sock_ntop(u.addrs[0].sockaddr, u.addrs[0].socklen, p,
                        NGX_SOCKADDR_STRLEN, 0);
    p[len] = '\0';

    rc->host.data = p;
    rc->host.len = len;
    rc->port = u.port;

    return NGX_CONF_OK;
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

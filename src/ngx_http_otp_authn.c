
/*
 * Several authenticators per user.  user_state.lua lists the others
 * after the record's own, seven values each (id, sealed secret, alg,
 * digits, period, "hotp" or nil, counter); the code is checked against
 * every one of them, without stopping at the first match, and each
 * match goes to attempt.lua as "<id>:<n>", which keeps the used steps
 * and counters of each authenticator apart (SPEC 6.2).
 */


#include "ngx_http_otp_authn.h"
#include "ngx_http_otp_hotp.h"
#include "ngx_http_otp_page_flow.h"
#include "ngx_http_otp_template.h"


#define NGX_HTTP_OTP_AUTHN_OTHER       7


static ngx_int_t ngx_http_otp_authn_one(ngx_http_request_t *r,
    ngx_str_t *v, uint64_t *n);


ngx_uint_t
ngx_http_otp_authn_count(ngx_http_otp_user_state_t *us)
{
    if (us->secret.data == NULL) {
        return 0;
    }

    return 1 + (us->others ? us->others->nelts / NGX_HTTP_OTP_AUTHN_OTHER
                           : 0);
}


ngx_int_t
ngx_http_otp_authn_ids(ngx_http_request_t *r, ngx_http_otp_user_state_t *us,
    ngx_str_t *ids)
{
    u_char      *p;
    size_t       len;
    ngx_str_t   *v;
    ngx_uint_t   i;

    ngx_str_set(ids, "");

    if (us->others == NULL || us->secret.data == NULL) {
        return NGX_OK;
    }

    v = us->others->elts;
    len = 0;

    for (i = 0; i + NGX_HTTP_OTP_AUTHN_OTHER <= us->others->nelts;
         i += NGX_HTTP_OTP_AUTHN_OTHER)
    {
        len += v[i].len + 1;
    }

    if (len == 0) {
        return NGX_OK;
    }

    p = ngx_pnalloc(r->pool, len);
    if (p == NULL) {
        return NGX_ERROR;
    }

    ids->data = p;

    for (i = 0; i + NGX_HTTP_OTP_AUTHN_OTHER <= us->others->nelts;
         i += NGX_HTTP_OTP_AUTHN_OTHER)
    {
        if (p != ids->data) {
            *p++ = ' ';
        }

        p = ngx_cpymem(p, v[i].data, v[i].len);
    }

    ids->len = p - ids->data;

    return NGX_OK;
}


ngx_int_t
ngx_http_otp_authn_check(ngx_http_request_t *r,
    ngx_http_otp_user_state_t *us, ngx_uint_t *matched, ngx_uint_t *hotp)
{
    u_char             *p;
    uint64_t            n;
    ngx_int_t           rc;
    ngx_str_t          *v, proof;
    ngx_uint_t          i;
    ngx_http_otp_ep_t  *ep;

    ep = ngx_http_otp_ep(r);

    *matched = 0;

    if (us->others == NULL || us->secret.data == NULL) {
        return NGX_OK;
    }

    v = us->others->elts;

    for (i = 0; i + NGX_HTTP_OTP_AUTHN_OTHER <= us->others->nelts;
         i += NGX_HTTP_OTP_AUTHN_OTHER)
    {
        rc = ngx_http_otp_authn_one(r, &v[i], &n);

        if (rc == NGX_ERROR) {
            return NGX_ERROR;
        }

        if (rc == NGX_DECLINED) {
            continue;
        }

        ngx_log_debug0(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                       "otp verify: another authenticator matched");

        if (*matched == 0 && ep->proof.data == NULL) {
            *hotp = (v[i + 5].data != NULL);
        }

        (*matched)++;

        proof.len = ep->proof.len + 1 + v[i].len + 1 + NGX_INT64_LEN;
        proof.data = ngx_pnalloc(r->pool, proof.len);
        if (proof.data == NULL) {
            return NGX_ERROR;
        }

        p = proof.data;

        if (ep->proof.len) {
            p = ngx_cpymem(p, ep->proof.data, ep->proof.len);
            *p++ = ',';
        }

        p = ngx_sprintf(p, "%V:%uL", &v[i], n);

        proof.len = p - proof.data;
        ep->proof = proof;
    }

    return NGX_OK;
}


/*
 * The form's code against one of them: NGX_OK and *n its step or
 * counter, NGX_DECLINED no match (or a key this module cannot use).
 */

static ngx_int_t
ngx_http_otp_authn_one(ngx_http_request_t *r, ngx_str_t *v, uint64_t *n)
{
    int                       rc;
    ngx_int_t                 alg, digits, period, counter;
    ngx_str_t                 secret;
    ngx_http_otp_ep_t        *ep;
    ngx_http_otp_ctx_t       *ctx;
    ngx_http_otp_loc_conf_t  *olcf;

    ctx = ngx_http_get_module_ctx(r, ngx_http_otp_module);
    olcf = ngx_http_get_module_loc_conf(r, ngx_http_otp_module);
    ep = ctx->endpoint;

    alg = ngx_http_otp_alg_from(&v[2]);
    digits = v[3].data ? ngx_atoi(v[3].data, v[3].len) : NGX_ERROR;
    period = v[4].data ? ngx_atoi(v[4].data, v[4].len) : NGX_ERROR;
    counter = v[6].data ? ngx_atoi(v[6].data, v[6].len) : NGX_ERROR;

    if (v[0].len == 0 || alg == NGX_ERROR || (digits != 6 && digits != 8)
        || period <= 0 || counter == NGX_ERROR)
    {
        return NGX_DECLINED;
    }

    if (ngx_http_otp_store_open(r, &ctx->user, &v[1],
                                NGX_HTTP_OTP_MAX_SECRET, &secret)
        != NGX_OK)
    {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "otp: a secret of user \"%V\" does not open; was "
                      "otp_secret_file changed?", &ctx->user);
        return NGX_DECLINED;
    }

    if (v[5].data != NULL) {
        rc = ngx_http_otp_hotp_verify(secret.data, secret.len, alg, digits,
                                      counter, olcf->hotp_window,
                                      (char *) ep->code.data, ep->code.len,
                                      n);

    } else {
        rc = ngx_http_otp_totp_verify(secret.data, secret.len, alg, digits,
                                      period, 0, ngx_time(), olcf->totp_skew,
                                      olcf->totp_skew,
                                      (char *) ep->code.data, ep->code.len,
                                      n);
    }

    ngx_explicit_memzero(secret.data, secret.len);

    if (rc == -1) {
        return NGX_ERROR;
    }

    return (rc == 1) ? NGX_OK : NGX_DECLINED;
}


/*
 * Strict UTF-8: nginx's ngx_utf8_decode() takes any byte from 0x80 up
 * as a continuation, so "\xc3\xc3" would pass, and jansson then
 * refuses the name and the admin API could not list the user.
 */

ngx_int_t
ngx_http_otp_authn_name_valid(ngx_str_t *name)
{
    size_t          i, n;
    unsigned long   c;

    if (name->len == 0 || name->len > NGX_HTTP_OTP_AUTHN_NAME_MAX) {
        return NGX_DECLINED;
    }

    for (i = 0; i < name->len; i += n) {
        n = ngx_http_otp_utf8_char(name->data + i, name->len - i, &c);

        /* control characters: C0, DEL, C1 */

        if (n == 0 || c < 0x20 || (c >= 0x7f && c < 0xa0)) {
            return NGX_DECLINED;
        }
    }

    return NGX_OK;
}


/*
 * The gate: the access-phase handler of every location with "otp on".
 *
 * It fails closed: a request passes only with a verified second factor.
 * Until a session store is configured nothing can be verified, so every
 * gated request is refused: 401 when the first factor named no user,
 * 401 with the "otp_required" challenge otherwise.
 */


#include "ngx_http_otp_gate.h"


static ngx_int_t ngx_http_otp_gate_handler(ngx_http_request_t *r);
static ngx_int_t ngx_http_otp_gate_deny(ngx_http_request_t *r,
    ngx_str_t *body);


static ngx_str_t  ngx_http_otp_no_user =
    ngx_string("{\"error\":\"unauthenticated\"}\n");

static ngx_str_t  ngx_http_otp_required =
    ngx_string("{\"error\":\"otp_required\"}\n");


ngx_int_t
ngx_http_otp_gate_init(ngx_conf_t *cf)
{
    ngx_http_handler_pt        *h;
    ngx_http_core_main_conf_t  *cmcf;

    cmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_core_module);

    h = ngx_array_push(&cmcf->phases[NGX_HTTP_ACCESS_PHASE].handlers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    *h = ngx_http_otp_gate_handler;

    return NGX_OK;
}


static ngx_int_t
ngx_http_otp_gate_handler(ngx_http_request_t *r)
{
    ngx_str_t                 user;
    ngx_http_otp_loc_conf_t  *olcf;

    olcf = ngx_http_get_module_loc_conf(r, ngx_http_otp_module);

    if (!olcf->enable) {
        return NGX_DECLINED;
    }

    if (ngx_http_complex_value(r, olcf->user, &user) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (user.len == 0) {
        return ngx_http_otp_gate_deny(r, &ngx_http_otp_no_user);
    }

    return ngx_http_otp_gate_deny(r, &ngx_http_otp_required);
}


static ngx_int_t
ngx_http_otp_gate_deny(ngx_http_request_t *r, ngx_str_t *body)
{
    ngx_int_t    rc;
    ngx_buf_t   *b;
    ngx_chain_t  out;

    ngx_http_discard_request_body(r);

    r->headers_out.status = NGX_HTTP_UNAUTHORIZED;
    r->headers_out.content_length_n = body->len;
    ngx_str_set(&r->headers_out.content_type, "application/json");
    r->headers_out.content_type_len = r->headers_out.content_type.len;

    b = ngx_calloc_buf(r->pool);
    if (b == NULL) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return NGX_DONE;
    }

    b->pos = body->data;
    b->last = body->data + body->len;
    b->memory = 1;
    b->last_buf = (r == r->main) ? 1 : 0;
    b->last_in_chain = 1;

    out.buf = b;
    out.next = NULL;

    /*
     * The response is finished here and NGX_DONE stops the phases: no
     * return value of this handler may ever read as "access granted".
     */

    rc = ngx_http_send_header(r);

    if (rc != NGX_ERROR && rc <= NGX_OK && !r->header_only) {
        rc = ngx_http_output_filter(r, &out);
    }

    ngx_http_finalize_request(r, rc);

    return NGX_DONE;
}

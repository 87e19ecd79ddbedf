
/*
 * The gate: the access-phase handler of every location with "otp on".
 */


#ifndef _NGX_HTTP_OTP_GATE_H_INCLUDED_
#define _NGX_HTTP_OTP_GATE_H_INCLUDED_


#include "ngx_http_otp.h"


ngx_int_t ngx_http_otp_gate_init(ngx_conf_t *cf);

/* for the gate's steps in other files (remembered devices) */
ngx_int_t ngx_http_otp_gate_user_state(ngx_http_request_t *r,
    ngx_http_otp_ctx_t *ctx);
void ngx_http_otp_gate_resume(ngx_http_request_t *r, ngx_int_t rc);


#endif /* _NGX_HTTP_OTP_GATE_H_INCLUDED_ */

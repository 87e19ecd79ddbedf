
/*
 * Cross-device approval (SPEC 9): the waiting browser's page, which
 * makes a request and redeems it once approved
 * (ngx_http_otp_link.c), and the phone's page, which approves or denies
 * it (ngx_http_otp_link_phone.c).
 */


#ifndef _NGX_HTTP_OTP_LINK_H_INCLUDED_
#define _NGX_HTTP_OTP_LINK_H_INCLUDED_


#include "ngx_http_otp.h"


#define NGX_HTTP_OTP_LINK_TOKEN_LEN      16
#define NGX_HTTP_OTP_LINK_TOKEN_B64_LEN  22


/* GET challenge?method=link: a step of the endpoint (page_flow.h) */
ngx_int_t ngx_http_otp_link_wait(ngx_http_request_t *r);

/* GET link?t=, POST link: a step of the endpoint */
ngx_int_t ngx_http_otp_link_phone(ngx_http_request_t *r);

/*
 * "<label>" and bytes under the cookie key (HMAC-SHA256), as 64 hex
 * digits in r's pool: what the store keeps of a token or a binding
 */
ngx_int_t ngx_http_otp_link_keyed(ngx_http_request_t *r, const char *label,
    u_char *bytes, size_t len, ngx_str_t *hash);


#endif /* _NGX_HTTP_OTP_LINK_H_INCLUDED_ */

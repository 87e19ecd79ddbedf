
/*
 * The recovery codes page: GET and POST recovery, and new codes for it
 * and for enrollment.
 */


#ifndef _NGX_HTTP_OTP_RECOVERY_PAGE_H_INCLUDED_
#define _NGX_HTTP_OTP_RECOVERY_PAGE_H_INCLUDED_


#include "ngx_http_otp.h"


/* a step of the endpoint (see ngx_http_otp_page_flow.h) */
ngx_int_t ngx_http_otp_recovery(ngx_http_request_t *r);

/* ten new codes: ep->codes_html, shown once, and ep->codes_hashes */
ngx_int_t ngx_http_otp_new_codes(ngx_http_request_t *r);
/*
 * session_new.lua's reply after a change of factor: the new session's
 * cookie and the new codes, shown once (none: 303 on to ep->ret)
 */
ngx_int_t ngx_http_otp_codes_shown(ngx_http_request_t *r,
    ngx_http_otp_store_reply_t *reply, ngx_uint_t regenerated);


#endif /* _NGX_HTTP_OTP_RECOVERY_PAGE_H_INCLUDED_ */

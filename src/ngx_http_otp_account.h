
/*
 * The account page (SPEC 10): GET account shows the user's own factors,
 * POST account changes one, both for a session whose code was entered
 * within otp_fresh.
 */


#ifndef _NGX_HTTP_OTP_ACCOUNT_H_INCLUDED_
#define _NGX_HTTP_OTP_ACCOUNT_H_INCLUDED_


#include "ngx_http_otp.h"
#include "ngx_http_otp_page.h"


/* a step of the endpoint (see ngx_http_otp_page_flow.h) */
ngx_int_t ngx_http_otp_account(ngx_http_request_t *r);

/* the other pages' link to this one ("account_url"), with a session */
ngx_int_t ngx_http_otp_account_url(ngx_http_request_t *r,
    ngx_http_otp_page_vars_t *pv);


#endif /* _NGX_HTTP_OTP_ACCOUNT_H_INCLUDED_ */

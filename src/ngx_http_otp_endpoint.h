
/*
 * The otp_endpoint location: the challenge, verification, enrollment and
 * sign-out pages and their form posts.
 */


#ifndef _NGX_HTTP_OTP_ENDPOINT_H_INCLUDED_
#define _NGX_HTTP_OTP_ENDPOINT_H_INCLUDED_


#include "ngx_http_otp.h"
#include "ngx_http_otp_store.h"


/* the endpoint's state of a request, for methods in other files */
typedef struct {
    ngx_str_t                  *ret;          /* where to go afterwards */
    ngx_str_t                  *code;
    ngx_str_t                  *method;
    ngx_str_t                  *challenge;    /* base64url id */
    ngx_str_t                  *phone;
    const char                **error;        /* shown on the page */
} ngx_http_otp_ep_view_t;


ngx_int_t ngx_http_otp_endpoint_handler(ngx_http_request_t *r);

/*
 * For the methods in other files (ngx_http_otp_sms.c).  Steps return
 * NGX_DONE while a script is in flight, or the request's final status;
 * a script's reply handler ends with ngx_http_otp_ep_done().
 */
void ngx_http_otp_ep_view(ngx_http_request_t *r, ngx_http_otp_ep_view_t *v);
ngx_int_t ngx_http_otp_ep_script(ngx_http_request_t *r,
    ngx_http_otp_script_e script, ngx_str_t *keys, ngx_uint_t nkeys,
    ngx_str_t *args, ngx_uint_t nargs, ngx_http_otp_store_handler_pt done);
void ngx_http_otp_ep_done(ngx_http_request_t *r, ngx_int_t rc);

/* NGX_OK and the view's challenge set when the form's token is good */
ngx_int_t ngx_http_otp_ep_challenge_csrf(ngx_http_request_t *r);
/* a token for a form bound to the view's challenge */
ngx_int_t ngx_http_otp_ep_csrf(ngx_http_request_t *r, ngx_str_t *token);

/* a new challenge, then its page (401 when the view has an error) */
ngx_int_t ngx_http_otp_ep_new_challenge(ngx_http_request_t *r);
/* the page of the view's challenge */
ngx_int_t ngx_http_otp_ep_page(ngx_http_request_t *r, ngx_uint_t status);
/* a new session, its cookie, and 303 to the return address */
ngx_int_t ngx_http_otp_ep_signed_in(ngx_http_request_t *r,
    const char *method);
/* 302 to another page of the endpoint, with the return address */
ngx_int_t ngx_http_otp_ep_goto(ngx_http_request_t *r, const char *page);
/* a wrong code or a lockout, at otp_log_level */
void ngx_http_otp_ep_log_failure(ngx_http_request_t *r, const char *what);


#endif /* _NGX_HTTP_OTP_ENDPOINT_H_INCLUDED_ */


/*
 * Responses: the HTML pages (html/, compiled in, or the otp_templates
 * files), JSON answers, and the headers every one of them carries.
 */


#ifndef _NGX_HTTP_OTP_PAGE_H_INCLUDED_
#define _NGX_HTTP_OTP_PAGE_H_INCLUDED_


#include "ngx_http_otp.h"
#include "ngx_http_otp_language.h"
#include "ngx_http_otp_template.h"


typedef enum {
    NGX_HTTP_OTP_PAGE_CHALLENGE = 0,
    NGX_HTTP_OTP_PAGE_ENROLL,
    NGX_HTTP_OTP_PAGE_RECOVERY,
    NGX_HTTP_OTP_PAGE_SMS,
    NGX_HTTP_OTP_PAGE_LOCKED,
    NGX_HTTP_OTP_PAGE_ERROR,
    NGX_HTTP_OTP_PAGE_LOGOUT,
    NGX_HTTP_OTP_PAGE_LINK,
    NGX_HTTP_OTP_PAGE_LINK_APPROVE,
    NGX_HTTP_OTP_PAGE_ACCOUNT,
    NGX_HTTP_OTP_NPAGES
} ngx_http_otp_page_e;


#define NGX_HTTP_OTP_PAGE_MAX_VARS  32


/* a page's values, filled with ngx_http_otp_page_var() */
typedef struct {
    ngx_http_otp_template_var_t  vars[NGX_HTTP_OTP_PAGE_MAX_VARS];
    ngx_uint_t                   nvars;
} ngx_http_otp_page_vars_t;


/* "challenge.html" ...: the file names in html/ and otp_templates */
extern ngx_str_t  ngx_http_otp_page_names[NGX_HTTP_OTP_NPAGES];


void ngx_http_otp_page_var(ngx_http_otp_page_vars_t *pv, const char *name,
    ngx_str_t *value);
void ngx_http_otp_page_var_cstr(ngx_http_otp_page_vars_t *pv,
    const char *name, const char *value);

/*
 * The send functions send a whole response and return what the output
 * filter returned; the caller finalizes (or returns it from a content
 * handler).
 */
ngx_int_t ngx_http_otp_send_page(ngx_http_request_t *r, ngx_uint_t status,
    ngx_http_otp_page_e page, ngx_http_otp_page_vars_t *pv);
ngx_int_t ngx_http_otp_send_error(ngx_http_request_t *r, ngx_uint_t status,
    const char *title, const char *message);
/* 503, with a link to the page wanted (see ngx_http_otp_page_back()) */
ngx_int_t ngx_http_otp_send_unavailable(ngx_http_request_t *r);
/* the error page with a link to the page wanted, if known */
ngx_int_t ngx_http_otp_send_error_back(ngx_http_request_t *r,
    ngx_uint_t status, const char *title, const char *message);
/* remembers the sanitized return address for the links above */
void ngx_http_otp_page_back(ngx_http_request_t *r, ngx_str_t *url);
ngx_int_t ngx_http_otp_send_locked(ngx_http_request_t *r, ngx_int_t secs);
ngx_int_t ngx_http_otp_send_json(ngx_http_request_t *r, ngx_uint_t status,
    ngx_str_t *body);
/* 401 with WWW-Authenticate: OTP, and the challenge URL if known */
ngx_int_t ngx_http_otp_send_otp_required(ngx_http_request_t *r,
    ngx_str_t *challenge);
ngx_int_t ngx_http_otp_send_redirect(ngx_http_request_t *r,
    ngx_uint_t status, ngx_str_t *location);
/* 401: the first factor named no user */
ngx_int_t ngx_http_otp_send_no_user(ngx_http_request_t *r);

/* Cache-Control: no-store and the other security headers */
ngx_int_t ngx_http_otp_no_store(ngx_http_request_t *r);

ngx_int_t ngx_http_otp_add_header(ngx_http_request_t *r, const char *key,
    ngx_str_t *value);
ngx_int_t ngx_http_otp_request_header(ngx_http_request_t *r,
    const char *lowcase_name, ngx_str_t *value);

/*
 * The language of the request's pages and texts: otp_language, or the
 * best of Accept-Language (then "Vary: Accept-Language" if vary); NULL
 * on an error.
 */
ngx_http_otp_language_t *ngx_http_otp_page_language(ngx_http_request_t *r,
    ngx_http_otp_languages_t **langs, ngx_uint_t vary);

/* the issuer: otp_issuer, else the server name, else the Host */
ngx_int_t ngx_http_otp_issuer(ngx_http_request_t *r, ngx_str_t *issuer);


#endif /* _NGX_HTTP_OTP_PAGE_H_INCLUDED_ */

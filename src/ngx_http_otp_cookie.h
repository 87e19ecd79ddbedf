
/*
 * The module's cookies: the Set-Cookie header of the session cookie and
 * of the cookies named after it (otp_cookie: name, path, domain,
 * samesite, secure), and the header filter that keeps them out of the
 * debug log.
 */


#ifndef _NGX_HTTP_OTP_COOKIE_H_INCLUDED_
#define _NGX_HTTP_OTP_COOKIE_H_INCLUDED_


#include "ngx_http_otp.h"


/* the header filter that keeps the cookies set out of the debug log */
ngx_int_t ngx_http_otp_cookie_filter_init(ngx_conf_t *cf);
/* r's response sets a cookie: no debug lines while its header is made */
void ngx_http_otp_cookie_quiet(ngx_http_request_t *r);

/*
 * A Set-Cookie of "<otp_cookie name><suffix>=<value>" with the
 * attributes of otp_cookie, path (NULL: otp_cookie's) and max_age (0 and
 * no value: removes it).
 */
ngx_int_t ngx_http_otp_cookie_set(ngx_http_request_t *r, ngx_str_t *suffix,
    u_char *value, size_t len, ngx_str_t *path, time_t max_age);

/*
 * A cookie of this host alone, "<otp_cookie name><suffix>": on https
 * "__Host-" in front and Secure; always Path=/, no Domain, HttpOnly,
 * SameSite=Lax.  Its name as the request sends it back.
 */
ngx_int_t ngx_http_otp_cookie_set_host(ngx_http_request_t *r,
    ngx_str_t *suffix, u_char *value, size_t len, time_t max_age);
ngx_int_t ngx_http_otp_cookie_host_name(ngx_http_request_t *r,
    ngx_str_t *suffix, ngx_str_t *name);


#endif /* _NGX_HTTP_OTP_COOKIE_H_INCLUDED_ */

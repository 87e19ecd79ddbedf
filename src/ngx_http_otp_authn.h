
/*
 * Several authenticators per user (SPEC 10): a code checked against
 * each of them, and their names.  The record's own authenticator (the
 * one a release with one wrote) is checked by ngx_http_otp_verify.c as
 * before; the others come with the user's state.
 */


#ifndef _NGX_HTTP_OTP_AUTHN_H_INCLUDED_
#define _NGX_HTTP_OTP_AUTHN_H_INCLUDED_


#include "ngx_http_otp.h"
#include "ngx_http_otp_store.h"


/* the most authenticators a user has, and the longest name */
#define NGX_HTTP_OTP_AUTHN_MOST        5
#define NGX_HTTP_OTP_AUTHN_NAME_MAX    64

/* the values of each in account_state.lua's and admin_status.lua's list */
#define NGX_HTTP_OTP_AUTHN_SHOWN       5


/*
 * The form's code against the user's other authenticators: for each
 * that it matches, ",<id>:<step or counter>" after ep->proof (which
 * holds the record's own match, if any).  *hotp: whether the first
 * match, where the record's own did not, is an HOTP one.
 */
ngx_int_t ngx_http_otp_authn_check(ngx_http_request_t *r,
    ngx_http_otp_user_state_t *us, ngx_uint_t *matched, ngx_uint_t *hotp);

/*
 * The ids of the other authenticators the code is checked against,
 * space-separated in the record's order ("" for none): with the sealed
 * secret of the record's own, what attempt.lua compares with the record
 * to tell a page opened before a change ("stale").
 */
ngx_int_t ngx_http_otp_authn_ids(ngx_http_request_t *r,
    ngx_http_otp_user_state_t *us, ngx_str_t *ids);

/* how many authenticators the state counts (the record's own included) */
ngx_uint_t ngx_http_otp_authn_count(ngx_http_otp_user_state_t *us);

/* a name a user gives: 1 to 64 bytes of UTF-8, no control characters */
ngx_int_t ngx_http_otp_authn_name_valid(ngx_str_t *name);


#endif /* _NGX_HTTP_OTP_AUTHN_H_INCLUDED_ */

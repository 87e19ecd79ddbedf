
/*
 * Phone numbers: E.164 validation, what users may type around the
 * digits, and the masked form pages and the admin API show.
 *
 * Pure C: no nginx headers, no allocation.
 */


#ifndef _NGX_HTTP_OTP_PHONE_H_INCLUDED_
#define _NGX_HTTP_OTP_PHONE_H_INCLUDED_


#include <stddef.h>


#define NGX_HTTP_OTP_PHONE_MIN_DIGITS   8
#define NGX_HTTP_OTP_PHONE_MAX_DIGITS   15

/* "+" and the digits */
#define NGX_HTTP_OTP_PHONE_MAX_LEN      (1 + NGX_HTTP_OTP_PHONE_MAX_DIGITS)

/* "+", up to 4 digits, "***", the last 4 */
#define NGX_HTTP_OTP_PHONE_MASKED_MAX   (1 + 4 + 3 + 4)


/* E.164: "+", then 8 to 15 digits, the first not 0; 0 or -1 */
int ngx_http_otp_phone_valid(const char *phone, size_t len);

/*
 * A number as a user typed it: spaces, "-", "." and parentheses are
 * dropped, and what is left must be valid E.164.  dst holds
 * NGX_HTTP_OTP_PHONE_MAX_LEN bytes (no NUL).  0 and *dst_len set, or -1.
 */
int ngx_http_otp_phone_normalize(const char *src, size_t len, char *dst,
    size_t *dst_len);

/*
 * "+1555***0123": "+", up to four leading digits, "***", the last four,
 * and at least three digits hidden.  phone must be valid; dst holds
 * NGX_HTTP_OTP_PHONE_MASKED_MAX bytes (no NUL).  Returns the length.
 */
size_t ngx_http_otp_phone_mask(const char *phone, size_t len, char *dst);


#endif /* _NGX_HTTP_OTP_PHONE_H_INCLUDED_ */

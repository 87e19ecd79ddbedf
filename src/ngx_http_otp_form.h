
/*
 * application/x-www-form-urlencoded bodies and query strings.
 *
 * Pure C: no nginx headers, no allocation; the caller owns every buffer.
 */


#ifndef _NGX_HTTP_OTP_FORM_H_INCLUDED_
#define _NGX_HTTP_OTP_FORM_H_INCLUDED_


#include <stddef.h>
#include <stdint.h>


#define NGX_HTTP_OTP_FORM_OK            0
#define NGX_HTTP_OTP_FORM_TOO_LARGE    -1   /* body over the limit */
#define NGX_HTTP_OTP_FORM_BAD_ESCAPE   -2   /* "%" without 2 hex digits */
#define NGX_HTTP_OTP_FORM_REPEATED     -3   /* an asked-for field twice */
#define NGX_HTTP_OTP_FORM_TOO_LONG     -4   /* value longer than buffer */
#define NGX_HTTP_OTP_FORM_NUL          -5   /* NUL byte, raw or %00 */
#define NGX_HTTP_OTP_FORM_ERROR        -6   /* bad arguments */

/* names longer than this never match, but are still checked */
#define NGX_HTTP_OTP_FORM_MAX_NAME      64

/* flag for ngx_http_otp_form_decode() */
#define NGX_HTTP_OTP_FORM_PLUS_SPACE    0x01


/*
 * One field the caller asks for.  "name" and "value"/"size" are set by
 * the caller; "len" and "found" by the parser.  The value is decoded
 * and NUL-terminated, so at most size - 1 bytes fit; size must be >= 1.
 */
typedef struct {
    const char  *name;
    char        *value;
    size_t       size;
    size_t       len;
    unsigned     found;
} ngx_http_otp_form_field_t;


/*
 * Parses "name=value&name=value..." (a request body, or r->args without
 * the "?").  '+' is a space, %XX is a byte (either case), names are
 * decoded before they are compared (case-sensitive), empty pairs are
 * skipped and a pair without "=" has an empty value.  Fields not asked
 * for are ignored, but the whole input must be well-formed: any bad
 * escape or NUL fails it.  Every field is reset first; after an error
 * every field is reset again (empty, not found).
 *
 * Returns NGX_HTTP_OTP_FORM_OK or one of the negative codes above.
 */
int ngx_http_otp_form_parse(const uint8_t *src, size_t len, size_t max_len,
    ngx_http_otp_form_field_t *fields, size_t nfields);

/*
 * Decodes one value (%XX; with NGX_HTTP_OTP_FORM_PLUS_SPACE also '+').
 * Writes at most dst_size - 1 bytes and a NUL, *dst_len is set.
 * Returns NGX_HTTP_OTP_FORM_OK, _BAD_ESCAPE, _TOO_LONG, _NUL or _ERROR.
 */
int ngx_http_otp_form_decode(const uint8_t *src, size_t len, char *dst,
    size_t dst_size, size_t *dst_len, unsigned flags);


#endif /* _NGX_HTTP_OTP_FORM_H_INCLUDED_ */


/*
 * The "return to the original URI" value: where a successful second
 * factor sends the browser.  It comes from the client, so only a path on
 * this host survives; anything else becomes "/".
 *
 * Pure C: no nginx headers, no allocation.
 */


#ifndef _NGX_HTTP_OTP_RETURN_H_INCLUDED_
#define _NGX_HTTP_OTP_RETURN_H_INCLUDED_


#include <stddef.h>
#include <stdint.h>


/* the longest path kept; the output buffer holds this plus a NUL */
#define NGX_HTTP_OTP_RETURN_MAX_LEN     2048

/* the most characters ngx_http_otp_return_encode() writes for len */
#define ngx_http_otp_return_encoded_len(len)  ((len) * 3)


/*
 * src is a raw request URI ("/path?query") or the return field as the
 * form parser decoded it once.  It is kept only when:
 *   - it starts with one "/" not followed by "/" or "\";
 *   - it has no byte below 0x21 (controls, space), no DEL, no "\";
 *   - every "%" starts a valid %XX;
 *   - decoding its %XX sequences (again and again, as deep as they are
 *     nested) never yields a control, a space, a "\" or a leading
 *     "//", so no later decoder can turn it into another origin;
 *   - it fits NGX_HTTP_OTP_RETURN_MAX_LEN.
 * The query string is kept.  A kept value is copied with ", ', <, >, `
 * and bytes >= 0x80 percent-encoded, which browsers would do anyway;
 * the result is pure printable ASCII and sanitizing it again changes
 * nothing.
 *
 * dst must hold NGX_HTTP_OTP_RETURN_MAX_LEN + 1 bytes; it is always
 * NUL-terminated and *dst_len set.  Returns 0 if src was kept, -1 if it
 * was replaced by "/".
 */
int ngx_http_otp_return_sanitize(const char *src, size_t len, char *dst,
    size_t *dst_len);

/*
 * Percent-encodes src for a "?r=" query parameter: everything outside
 * A-Z a-z 0-9 "-" "." "_" "~" and "/" becomes %XX (upper-case hex).
 * dst must hold ngx_http_otp_return_encoded_len(len) bytes; no NUL is
 * written.  Returns the length written.
 */
size_t ngx_http_otp_return_encode(const char *src, size_t len, char *dst);


#endif /* _NGX_HTTP_OTP_RETURN_H_INCLUDED_ */

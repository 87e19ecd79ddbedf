
/*
 * Base32 (RFC 4648 section 6) as authenticator apps use it.
 */


#ifndef _NGX_HTTP_OTP_BASE32_H_INCLUDED_
#define _NGX_HTTP_OTP_BASE32_H_INCLUDED_


#include <stddef.h>
#include <stdint.h>


/* characters of the unpadded encoding of len bytes */
#define ngx_http_otp_base32_encoded_len(len)  (((len) * 8 + 4) / 5)

/* upper bound of the bytes decoded from len characters */
#define ngx_http_otp_base32_decoded_len(len)  ((len) * 5 / 8)


/* upper case, no padding, no NUL; returns the length written */
size_t ngx_http_otp_base32_encode(const uint8_t *src, size_t len, char *dst);

/*
 * Accepts upper and lower case, spaces anywhere and optional trailing
 * "=" padding; rejects any other character, a misplaced "=", and
 * impossible lengths or non-zero trailing bits.
 * 0 and *dst_len set on success, -1 on bad input.
 */
int ngx_http_otp_base32_decode(const char *src, size_t len, uint8_t *dst,
    size_t *dst_len);


#endif /* _NGX_HTTP_OTP_BASE32_H_INCLUDED_ */


/*
 * Recovery codes: ten single-use codes of 50 random bits each, written
 * "XXXXX-XXXXX" in Crockford's base32 (digits and upper-case letters
 * without I, L, O and U), and stored only as keyed hashes
 * (ngx_http_otp_code_hash) in hex.
 *
 * Pure C: no nginx headers, so the codes are unit-tested on their own.
 */


#ifndef _NGX_HTTP_OTP_RECOVERY_H_INCLUDED_
#define _NGX_HTTP_OTP_RECOVERY_H_INCLUDED_


#include <stddef.h>
#include <stdint.h>

#include "ngx_http_otp_crypto.h"


#define NGX_HTTP_OTP_RECOVERY_CODES      10
#define NGX_HTTP_OTP_RECOVERY_CHARS      10     /* 5 bits each: 50 bits */
#define NGX_HTTP_OTP_RECOVERY_CODE_LEN   11     /* "XXXXX-XXXXX" */
#define NGX_HTTP_OTP_RECOVERY_HASH_LEN   (2 * NGX_HTTP_OTP_MAC_LEN)


/* a new code from the CSPRNG, "XXXXX-XXXXX" and a NUL; 0 or -1 */
int ngx_http_otp_recovery_code(
    char code[NGX_HTTP_OTP_RECOVERY_CODE_LEN + 1]);

/*
 * A code as typed, in its canonical form: ten characters, no dash or
 * space, upper case, and the look-alikes read as Crockford reads them
 * (O as 0, I and L as 1).  0 and dst set (NUL-terminated), or -1 for
 * anything that cannot be a recovery code.
 */
int ngx_http_otp_recovery_normalize(const char *src, size_t len,
    char dst[NGX_HTTP_OTP_RECOVERY_CHARS + 1]);

/*
 * The keyed hash of a code as typed, in lower-case hex (no NUL): what
 * the store keeps and compares.  0, or -1 when the code cannot be a
 * recovery code (the caller counts it as a wrong one).
 */
int ngx_http_otp_recovery_hash(const uint8_t key[NGX_HTTP_OTP_KEY_LEN],
    const char *user, size_t user_len, const char *code, size_t len,
    char hex[NGX_HTTP_OTP_RECOVERY_HASH_LEN]);


#endif /* _NGX_HTTP_OTP_RECOVERY_H_INCLUDED_ */

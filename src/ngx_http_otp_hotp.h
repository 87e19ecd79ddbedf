
/*
 * HOTP (RFC 4226) and TOTP (RFC 6238).
 *
 * Pure C: no nginx headers, so the code is unit-tested and fuzzed on its own.
 */


#ifndef _NGX_HTTP_OTP_HOTP_H_INCLUDED_
#define _NGX_HTTP_OTP_HOTP_H_INCLUDED_


#include <stddef.h>
#include <stdint.h>


#define NGX_HTTP_OTP_MAX_DIGITS  10


typedef enum {
    NGX_HTTP_OTP_SHA1 = 0,
    NGX_HTTP_OTP_SHA256,
    NGX_HTTP_OTP_SHA512
} ngx_http_otp_alg_e;


/* raw code (before zero padding), 0 on success, -1 on error */
int ngx_http_otp_hotp(const uint8_t *key, size_t key_len,
    ngx_http_otp_alg_e alg, uint64_t counter, unsigned digits,
    uint32_t *code);

/* writes exactly "digits" characters, zero padded, and a NUL */
void ngx_http_otp_code_format(uint32_t code, unsigned digits, char *out);

/* the TOTP step of "now"; now < t0 yields 0 */
uint64_t ngx_http_otp_totp_step(int64_t now, int64_t t0, unsigned period);

/*
 * Checks "code" against every step from step(now) - skew_back to
 * step(now) + skew_forward without stopping at the first match, so the
 * time taken does not depend on where (or whether) it matched.
 * 1: matched, *matched_step set; 0: no match (also for a malformed code);
 * -1: internal error.
 */
int ngx_http_otp_totp_verify(const uint8_t *key, size_t key_len,
    ngx_http_otp_alg_e alg, unsigned digits, unsigned period, int64_t t0,
    int64_t now, unsigned skew_back, unsigned skew_forward,
    const char *code, size_t code_len, uint64_t *matched_step);

/*
 * Checks counter .. counter + window (look-ahead) in the same way.
 * 1: matched, *matched_counter set; 0: no match; -1: internal error.
 */
int ngx_http_otp_hotp_verify(const uint8_t *key, size_t key_len,
    ngx_http_otp_alg_e alg, unsigned digits, uint64_t counter,
    unsigned window, const char *code, size_t code_len,
    uint64_t *matched_counter);


#endif /* _NGX_HTTP_OTP_HOTP_H_INCLUDED_ */


/*
 * HOTP (RFC 4226) and TOTP (RFC 6238).
 *
 * Pure C on top of OpenSSL's HMAC: no nginx headers.
 */


#include <limits.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "ngx_http_otp_hotp.h"


#define NGX_HTTP_OTP_MIN_DIGITS  6


static const EVP_MD *ngx_http_otp_hotp_md(ngx_http_otp_alg_e alg);
static int ngx_http_otp_code_valid(const char *code, size_t code_len,
    unsigned digits);
static int ngx_http_otp_code_match(const uint8_t *key, size_t key_len,
    ngx_http_otp_alg_e alg, unsigned digits, uint64_t counter,
    const char *code);


static const uint32_t  ngx_http_otp_pow10[] = {
    1, 10, 100, 1000, 10000, 100000, 1000000, 10000000, 100000000,
    1000000000
};


static const EVP_MD *
ngx_http_otp_hotp_md(ngx_http_otp_alg_e alg)
{
    switch (alg) {

    case NGX_HTTP_OTP_SHA1:
        return EVP_sha1();

    case NGX_HTTP_OTP_SHA256:
        return EVP_sha256();

    case NGX_HTTP_OTP_SHA512:
        return EVP_sha512();

    default:
        return NULL;
    }
}


int
ngx_http_otp_hotp(const uint8_t *key, size_t key_len,
    ngx_http_otp_alg_e alg, uint64_t counter, unsigned digits,
    uint32_t *code)
{
    int             i;
    uint8_t         msg[8], mac[EVP_MAX_MD_SIZE], *p;
    uint32_t        bin;
    unsigned        off, mac_len;
    const EVP_MD   *md;

    /* an empty key would give everybody the same codes */

    if (key == NULL || key_len == 0 || key_len > INT_MAX || code == NULL
        || digits < NGX_HTTP_OTP_MIN_DIGITS
        || digits > NGX_HTTP_OTP_MAX_DIGITS)
    {
        return -1;
    }

    md = ngx_http_otp_hotp_md(alg);
    if (md == NULL) {
        return -1;
    }

    for (i = 7; i >= 0; i--) {
        msg[i] = (uint8_t) (counter & 0xff);
        counter >>= 8;
    }

    mac_len = 0;

    p = HMAC(md, key, (int) key_len, msg, sizeof(msg), mac, &mac_len);

    if (p == NULL || mac_len < 20) {
        return -1;
    }

    /* dynamic truncation, RFC 4226 section 5.3 */

    off = mac[mac_len - 1] & 0x0f;

    bin = ((uint32_t) (mac[off] & 0x7f) << 24)
          | ((uint32_t) mac[off + 1] << 16)
          | ((uint32_t) mac[off + 2] << 8)
          | (uint32_t) mac[off + 3];

    OPENSSL_cleanse(mac, sizeof(mac));

    /* 10 digits hold any 31-bit value as it is */
    *code = (digits < 10) ? bin % ngx_http_otp_pow10[digits] : bin;

    return 0;
}


void
ngx_http_otp_code_format(uint32_t code, unsigned digits, char *out)
{
    unsigned  i;

    if (out == NULL) {
        return;
    }

    if (digits > NGX_HTTP_OTP_MAX_DIGITS) {
        digits = NGX_HTTP_OTP_MAX_DIGITS;
    }

    for (i = digits; i > 0; i--) {
        out[i - 1] = (char) ('0' + code % 10);
        code /= 10;
    }

    out[digits] = '\0';
}


uint64_t
ngx_http_otp_totp_step(int64_t now, int64_t t0, unsigned period)
{
    if (period == 0 || now < t0) {
        return 0;
    }

    /* the true difference always fits in 64 unsigned bits */
    return ((uint64_t) now - (uint64_t) t0) / period;
}


static int
ngx_http_otp_code_valid(const char *code, size_t code_len, unsigned digits)
{
    size_t  i;

    if (code == NULL || code_len != digits) {
        return 0;
    }

    for (i = 0; i < code_len; i++) {
        if (code[i] < '0' || code[i] > '9') {
            return 0;
        }
    }

    return 1;
}


/* 1: match, 0: no match, -1: error; takes the same time either way */

static int
ngx_http_otp_code_match(const uint8_t *key, size_t key_len,
    ngx_http_otp_alg_e alg, unsigned digits, uint64_t counter,
    const char *code)
{
    int       eq;
    char      buf[NGX_HTTP_OTP_MAX_DIGITS + 1];
    uint32_t  value;

    if (ngx_http_otp_hotp(key, key_len, alg, counter, digits, &value) != 0) {
        return -1;
    }

    ngx_http_otp_code_format(value, digits, buf);

    eq = (CRYPTO_memcmp(buf, code, digits) == 0);

    OPENSSL_cleanse(buf, sizeof(buf));

    return eq;
}


int
ngx_http_otp_totp_verify(const uint8_t *key, size_t key_len,
    ngx_http_otp_alg_e alg, unsigned digits, unsigned period, int64_t t0,
    int64_t now, unsigned skew_back, unsigned skew_forward,
    const char *code, size_t code_len, uint64_t *matched_step)
{
    int       rc, err, found;
    int64_t   d;
    uint64_t  step, s, mask, match;

    if (period == 0 || key == NULL
        || digits < NGX_HTTP_OTP_MIN_DIGITS
        || digits > NGX_HTTP_OTP_MAX_DIGITS
        || ngx_http_otp_hotp_md(alg) == NULL)
    {
        return -1;
    }

    if (!ngx_http_otp_code_valid(code, code_len, digits)) {
        return 0;
    }

    step = ngx_http_otp_totp_step(now, t0, period);

    err = 0;
    found = 0;
    match = 0;

    for (d = -(int64_t) skew_back; d <= (int64_t) skew_forward; d++) {

        /* steps before t0 or past the end of time do not exist */

        if (d < 0 && (uint64_t) -d > step) {
            continue;
        }

        if (d > 0 && step > UINT64_MAX - (uint64_t) d) {
            continue;
        }

        s = step + (uint64_t) d;

        rc = ngx_http_otp_code_match(key, key_len, alg, digits, s, code);
        if (rc < 0) {
            err = 1;
            continue;
        }

        /* no branch on the result: remember the step by masking */

        mask = (uint64_t) 0 - (uint64_t) rc;
        match = (match & ~mask) | (s & mask);
        found |= rc;
    }

    if (err) {
        return -1;
    }

    if (found && matched_step != NULL) {
        *matched_step = match;
    }

    return found;
}


int
ngx_http_otp_hotp_verify(const uint8_t *key, size_t key_len,
    ngx_http_otp_alg_e alg, unsigned digits, uint64_t counter,
    unsigned window, const char *code, size_t code_len,
    uint64_t *matched_counter)
{
    int       rc, err, found;
    uint64_t  i, c, mask, match;

    if (key == NULL
        || digits < NGX_HTTP_OTP_MIN_DIGITS
        || digits > NGX_HTTP_OTP_MAX_DIGITS
        || ngx_http_otp_hotp_md(alg) == NULL)
    {
        return -1;
    }

    if (!ngx_http_otp_code_valid(code, code_len, digits)) {
        return 0;
    }

    err = 0;
    found = 0;
    match = 0;

    for (i = 0; i <= window; i++) {

        if (counter > UINT64_MAX - i) {
            break;
        }

        c = counter + i;

        rc = ngx_http_otp_code_match(key, key_len, alg, digits, c, code);
        if (rc < 0) {
            err = 1;
            continue;
        }

        mask = (uint64_t) 0 - (uint64_t) rc;
        match = (match & ~mask) | (c & mask);
        found |= rc;
    }

    if (err) {
        return -1;
    }

    if (found && matched_counter != NULL) {
        *matched_counter = match;
    }

    return found;
}

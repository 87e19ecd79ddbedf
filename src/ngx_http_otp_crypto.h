
/*
 * Key derivation, MACs, sealing of secrets at rest, CSPRNG and
 * constant-time comparison, on top of OpenSSL.
 */


#ifndef _NGX_HTTP_OTP_CRYPTO_H_INCLUDED_
#define _NGX_HTTP_OTP_CRYPTO_H_INCLUDED_


#include <stddef.h>
#include <stdint.h>

#include "ngx_http_otp_hotp.h"


#define NGX_HTTP_OTP_KEY_LEN         32
#define NGX_HTTP_OTP_MAC_LEN         32
#define NGX_HTTP_OTP_MIN_IKM_LEN     32

/* version byte, 12-byte nonce, 16-byte GCM tag */
#define NGX_HTTP_OTP_SEAL_OVERHEAD   (1 + 12 + 16)


typedef struct {
    uint8_t   cookie[NGX_HTTP_OTP_KEY_LEN];    /* session/device cookies */
    uint8_t   csrf[NGX_HTTP_OTP_KEY_LEN];      /* CSRF tokens */
    uint8_t   code[NGX_HTTP_OTP_KEY_LEN];      /* keyed hashes of codes */
    uint8_t   seal[NGX_HTTP_OTP_KEY_LEN];      /* AES-256-GCM at rest */
    uint8_t   form[NGX_HTTP_OTP_KEY_LEN];      /* a challenge's key pass */
} ngx_http_otp_keys_t;


/* HKDF-SHA256 with a distinct "info" label per key; 0 or -1 */
int ngx_http_otp_keys_derive(const uint8_t *ikm, size_t ikm_len,
    ngx_http_otp_keys_t *keys);

/* OS CSPRNG (RAND_bytes); 0 or -1 */
int ngx_http_otp_random(uint8_t *buf, size_t len);

/* secret length for an algorithm: 20, 32 or 64 bytes */
size_t ngx_http_otp_secret_len(ngx_http_otp_alg_e alg);

/* 1 if equal; time depends on len only */
int ngx_http_otp_ct_equal(const void *a, const void *b, size_t len);

/* SHA-256 of data (the CSP hash of a script); 0 or -1 */
int ngx_http_otp_sha256(const void *data, size_t len, uint8_t out[32]);

/* HMAC-SHA256; 0 or -1 */
int ngx_http_otp_hmac(const uint8_t key[NGX_HTTP_OTP_KEY_LEN],
    const uint8_t *msg, size_t msg_len, uint8_t out[NGX_HTTP_OTP_MAC_LEN]);

/*
 * AES-256-GCM with a random nonce; aad (the user name) is authenticated,
 * so a sealed secret copied to another user does not open.
 * seal writes len + NGX_HTTP_OTP_SEAL_OVERHEAD bytes; open writes
 * len - NGX_HTTP_OTP_SEAL_OVERHEAD bytes.  0 or -1.
 */
int ngx_http_otp_seal(const uint8_t key[NGX_HTTP_OTP_KEY_LEN],
    const uint8_t *aad, size_t aad_len, const uint8_t *in, size_t len,
    uint8_t *out);
int ngx_http_otp_open(const uint8_t key[NGX_HTTP_OTP_KEY_LEN],
    const uint8_t *aad, size_t aad_len, const uint8_t *in, size_t len,
    uint8_t *out);


#endif /* _NGX_HTTP_OTP_CRYPTO_H_INCLUDED_ */

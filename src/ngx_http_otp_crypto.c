
/*
 * Key derivation, MACs, sealing of secrets at rest, CSPRNG and
 * constant-time comparison, on top of OpenSSL.
 *
 * Pure C: no nginx headers.
 */


#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/params.h>
#include <openssl/rand.h>

#include "ngx_http_otp_crypto.h"


#define NGX_HTTP_OTP_SEAL_VERSION    0x01
#define NGX_HTTP_OTP_SEAL_NONCE_LEN  12
#define NGX_HTTP_OTP_SEAL_TAG_LEN    16

#define NGX_HTTP_OTP_HMAC_CACHE      4


typedef struct {
    uint8_t        key[NGX_HTTP_OTP_KEY_LEN];
    EVP_MAC_CTX   *ctx;
} ngx_http_otp_hmac_cache_t;


static int ngx_http_otp_hkdf(EVP_KDF_CTX *ctx, const uint8_t *ikm,
    size_t ikm_len, const char *info, uint8_t *out);
static EVP_MAC_CTX *ngx_http_otp_hmac_ctx(
    const uint8_t key[NGX_HTTP_OTP_KEY_LEN]);


/*
 * Changing the salt or a label changes every derived key: cookies,
 * tokens, code hashes and sealed secrets of a running site would all
 * become invalid.
 */
static const char  ngx_http_otp_hkdf_salt[] = "ngx_http_otp_module hkdf salt";

static const char  *ngx_http_otp_hkdf_labels[5] = {
    "ngx_http_otp cookie v1",
    "ngx_http_otp csrf v1",
    "ngx_http_otp code v1",
    "ngx_http_otp seal v1",
    "ngx_http_otp form v1"
};


/*
 * A keyed HMAC context is kept per key and only re-initialised per
 * message: HMAC() fetches the algorithm and hashes the key every time,
 * some 2.5us, while the gate checks a cookie MAC on every request.  The
 * few keys in use (cookie, CSRF, code) fit; a miss replaces the oldest.
 * Not thread-safe, as nginx workers are single-threaded.
 */
static EVP_MAC                    *ngx_http_otp_hmac_mac;
static ngx_http_otp_hmac_cache_t   ngx_http_otp_hmac_cache[
                                       NGX_HTTP_OTP_HMAC_CACHE];
static size_t                      ngx_http_otp_hmac_next;


static int
ngx_http_otp_hkdf(EVP_KDF_CTX *ctx, const uint8_t *ikm, size_t ikm_len,
    const char *info, uint8_t *out)
{
    char         digest[] = "SHA256";
    size_t       salt_len;
    OSSL_PARAM   params[5];

    salt_len = sizeof(ngx_http_otp_hkdf_salt) - 1;

    /* OSSL_PARAM takes non-const pointers but only reads through them */

    params[0] = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST,
                                                 digest, 0);
    params[1] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY,
                                                  (void *) ikm, ikm_len);
    params[2] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT,
                                            (void *) ngx_http_otp_hkdf_salt,
                                            salt_len);
    params[3] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO,
                                                  (void *) info,
                                                  strlen(info));
    params[4] = OSSL_PARAM_construct_end();

    if (EVP_KDF_derive(ctx, out, NGX_HTTP_OTP_KEY_LEN, params) != 1) {
        return -1;
    }

    return 0;
}


int
ngx_http_otp_keys_derive(const uint8_t *ikm, size_t ikm_len,
    ngx_http_otp_keys_t *keys)
{
    int           rc;
    size_t        i;
    uint8_t      *out[5];
    EVP_KDF      *kdf;
    EVP_KDF_CTX  *ctx;

    if (ikm == NULL || keys == NULL || ikm_len < NGX_HTTP_OTP_MIN_IKM_LEN) {
        return -1;
    }

    out[0] = keys->cookie;
    out[1] = keys->csrf;
    out[2] = keys->code;
    out[3] = keys->seal;
    out[4] = keys->form;

    kdf = EVP_KDF_fetch(NULL, "HKDF", NULL);
    if (kdf == NULL) {
        return -1;
    }

    ctx = EVP_KDF_CTX_new(kdf);
    EVP_KDF_free(kdf);

    if (ctx == NULL) {
        return -1;
    }

    rc = 0;

    for (i = 0; i < 5; i++) {
        if (ngx_http_otp_hkdf(ctx, ikm, ikm_len, ngx_http_otp_hkdf_labels[i],
                              out[i])
            != 0)
        {
            OPENSSL_cleanse(keys, sizeof(ngx_http_otp_keys_t));
            rc = -1;
            break;
        }
    }

    EVP_KDF_CTX_free(ctx);

    return rc;
}


int
ngx_http_otp_random(uint8_t *buf, size_t len)
{
    int  n;

    if (buf == NULL && len > 0) {
        return -1;
    }

    while (len > 0) {
        n = (len > INT_MAX) ? INT_MAX : (int) len;

        if (RAND_bytes(buf, n) != 1) {
            return -1;
        }

        buf += n;
        len -= (size_t) n;
    }

    return 0;
}


size_t
ngx_http_otp_secret_len(ngx_http_otp_alg_e alg)
{
    /* as long as the hash output, as RFC 4226 and RFC 6238 advise */

    switch (alg) {

    case NGX_HTTP_OTP_SHA1:
        return 20;

    case NGX_HTTP_OTP_SHA256:
        return 32;

    case NGX_HTTP_OTP_SHA512:
        return 64;

    default:
        return 0;
    }
}


int
ngx_http_otp_ct_equal(const void *a, const void *b, size_t len)
{
    if (len == 0) {
        return 1;
    }

    if (a == NULL || b == NULL) {
        return 0;
    }

    return CRYPTO_memcmp(a, b, len) == 0;
}


int
ngx_http_otp_sha256(const void *data, size_t len, uint8_t out[32])
{
    unsigned int  n;

    if (EVP_Digest(data, len, out, &n, EVP_sha256(), NULL) != 1 || n != 32) {
        return -1;
    }

    return 0;
}


static EVP_MAC_CTX *
ngx_http_otp_hmac_ctx(const uint8_t key[NGX_HTTP_OTP_KEY_LEN])
{
    char                        digest[] = "SHA256";
    size_t                      i;
    OSSL_PARAM                  params[2];
    EVP_MAC_CTX                *ctx;
    ngx_http_otp_hmac_cache_t  *c;

    for (i = 0; i < NGX_HTTP_OTP_HMAC_CACHE; i++) {
        c = &ngx_http_otp_hmac_cache[i];

        if (c->ctx != NULL
            && memcmp(c->key, key, NGX_HTTP_OTP_KEY_LEN) == 0)
        {
            return c->ctx;
        }
    }

    if (ngx_http_otp_hmac_mac == NULL) {
        ngx_http_otp_hmac_mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
        if (ngx_http_otp_hmac_mac == NULL) {
            return NULL;
        }
    }

    ctx = EVP_MAC_CTX_new(ngx_http_otp_hmac_mac);
    if (ctx == NULL) {
        return NULL;
    }

    params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST,
                                                 digest, 0);
    params[1] = OSSL_PARAM_construct_end();

    if (EVP_MAC_init(ctx, key, NGX_HTTP_OTP_KEY_LEN, params) != 1) {
        EVP_MAC_CTX_free(ctx);
        return NULL;
    }

    c = &ngx_http_otp_hmac_cache[ngx_http_otp_hmac_next];
    ngx_http_otp_hmac_next = (ngx_http_otp_hmac_next + 1)
                             % NGX_HTTP_OTP_HMAC_CACHE;

    EVP_MAC_CTX_free(c->ctx);

    memcpy(c->key, key, NGX_HTTP_OTP_KEY_LEN);
    c->ctx = ctx;

    return ctx;
}


int
ngx_http_otp_hmac(const uint8_t key[NGX_HTTP_OTP_KEY_LEN],
    const uint8_t *msg, size_t msg_len, uint8_t out[NGX_HTTP_OTP_MAC_LEN])
{
    size_t        n;
    EVP_MAC_CTX  *ctx;

    if (key == NULL || out == NULL || (msg == NULL && msg_len > 0)) {
        return -1;
    }

    ctx = ngx_http_otp_hmac_ctx(key);
    if (ctx == NULL) {
        return -1;
    }

    /* no key: the same key again, back to the start of a message */

    if (EVP_MAC_init(ctx, NULL, 0, NULL) != 1) {
        return -1;
    }

    if (msg_len > 0 && EVP_MAC_update(ctx, msg, msg_len) != 1) {
        return -1;
    }

    n = 0;

    if (EVP_MAC_final(ctx, out, &n, NGX_HTTP_OTP_MAC_LEN) != 1
        || n != NGX_HTTP_OTP_MAC_LEN)
    {
        return -1;
    }

    return 0;
}


int
ngx_http_otp_seal(const uint8_t key[NGX_HTTP_OTP_KEY_LEN],
    const uint8_t *aad, size_t aad_len, const uint8_t *in, size_t len,
    uint8_t *out)
{
    int                rc, n;
    uint8_t           *nonce, *ct, *tag;
    EVP_CIPHER_CTX    *ctx;

    if (key == NULL || out == NULL
        || (aad == NULL && aad_len > 0) || (in == NULL && len > 0)
        || aad_len > INT_MAX
        || len > (size_t) INT_MAX - NGX_HTTP_OTP_SEAL_OVERHEAD)
    {
        return -1;
    }

    nonce = out + 1;
    ct = nonce + NGX_HTTP_OTP_SEAL_NONCE_LEN;
    tag = ct + len;

    out[0] = NGX_HTTP_OTP_SEAL_VERSION;

    /* a random 96-bit nonce: far fewer seals than 2^32 per key */

    if (RAND_bytes(nonce, NGX_HTTP_OTP_SEAL_NONCE_LEN) != 1) {
        return -1;
    }

    ctx = EVP_CIPHER_CTX_new();
    if (ctx == NULL) {
        return -1;
    }

    rc = -1;

    if (EVP_EncryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, key, nonce) != 1) {
        goto done;
    }

    /* the version byte is authenticated too, so it cannot be swapped */

    if (EVP_EncryptUpdate(ctx, NULL, &n, out, 1) != 1) {
        goto done;
    }

    if (aad_len > 0
        && EVP_EncryptUpdate(ctx, NULL, &n, aad, (int) aad_len) != 1)
    {
        goto done;
    }

    n = 0;

    if (len > 0 && EVP_EncryptUpdate(ctx, ct, &n, in, (int) len) != 1) {
        goto done;
    }

    if (EVP_EncryptFinal_ex(ctx, ct + n, &n) != 1) {
        goto done;
    }

    if (EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG,
                            NGX_HTTP_OTP_SEAL_TAG_LEN, tag)
        != 1)
    {
        goto done;
    }

    rc = 0;

done:

    EVP_CIPHER_CTX_free(ctx);

    if (rc != 0) {
        OPENSSL_cleanse(out, len + NGX_HTTP_OTP_SEAL_OVERHEAD);
    }

    return rc;
}


int
ngx_http_otp_open(const uint8_t key[NGX_HTTP_OTP_KEY_LEN],
    const uint8_t *aad, size_t aad_len, const uint8_t *in, size_t len,
    uint8_t *out)
{
    int                rc, n;
    size_t             ct_len;
    uint8_t            tag[NGX_HTTP_OTP_SEAL_TAG_LEN], none[1], *dst;
    const uint8_t     *nonce, *ct;
    EVP_CIPHER_CTX    *ctx;

    if (key == NULL || in == NULL || (aad == NULL && aad_len > 0)
        || aad_len > INT_MAX || len > INT_MAX
        || len < NGX_HTTP_OTP_SEAL_OVERHEAD
        || in[0] != NGX_HTTP_OTP_SEAL_VERSION)
    {
        return -1;
    }

    ct_len = len - NGX_HTTP_OTP_SEAL_OVERHEAD;

    if (out == NULL && ct_len > 0) {
        return -1;
    }

    /* GCM writes nothing at the end, but keep off a NULL pointer */
    dst = (out != NULL) ? out : none;

    nonce = in + 1;
    ct = nonce + NGX_HTTP_OTP_SEAL_NONCE_LEN;

    /* OpenSSL wants a writable tag buffer */
    memcpy(tag, ct + ct_len, NGX_HTTP_OTP_SEAL_TAG_LEN);

    ctx = EVP_CIPHER_CTX_new();
    if (ctx == NULL) {
        return -1;
    }

    rc = -1;

    if (EVP_DecryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, key, nonce) != 1) {
        goto done;
    }

    if (EVP_DecryptUpdate(ctx, NULL, &n, in, 1) != 1) {
        goto done;
    }

    if (aad_len > 0
        && EVP_DecryptUpdate(ctx, NULL, &n, aad, (int) aad_len) != 1)
    {
        goto done;
    }

    n = 0;

    if (ct_len > 0
        && EVP_DecryptUpdate(ctx, dst, &n, ct, (int) ct_len) != 1)
    {
        goto done;
    }

    if (EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG,
                            NGX_HTTP_OTP_SEAL_TAG_LEN, tag)
        != 1)
    {
        goto done;
    }

    /* the tag is checked here; nothing decrypted is trusted before */

    if (EVP_DecryptFinal_ex(ctx, dst + n, &n) != 1) {
        goto done;
    }

    rc = 0;

done:

    EVP_CIPHER_CTX_free(ctx);

    if (rc != 0 && ct_len > 0) {
        OPENSSL_cleanse(out, ct_len);
    }

    return rc;
}

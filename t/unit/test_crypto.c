
/*
 * Key derivation, HMAC, constant-time compare and sealing.
 *
 * The fixed vectors were computed independently of this code: HKDF and
 * HMAC with "openssl kdf" / "openssl dgst -mac HMAC" and Python's hmac
 * module, the sealed blob with Python's cryptography AESGCM.  They pin
 * the formats: a change here would make stored data unreadable.
 */


#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "tap.h"
#include "ngx_http_otp_crypto.h"


/* ikm 00 01 .. 1f */

static const char  *want_cookie =
    "660d4ecddfd63d39fb1252d3b1abcb46830369394aaea34c8378071b00904f81";
static const char  *want_csrf =
    "6967fb26d06ea5a28e870750eb17e4517532faabf91b4b7ad25f6e13741f938a";
static const char  *want_code =
    "781ca2d2b8f2373b815fcbe9bd710453a4d08940bbf663fe41a511a82da1f5a7";
static const char  *want_seal =
    "19eec1d2523ef1fcf39e59effa1ab10bd142bfe96b11679037dc7fc215b443ae";
static const char  *want_form =
    "c09687f9221b196722858c73605c1ad15b1fde22bf22602ce73d430bf620a397";

/* HMAC-SHA256, key 00 01 .. 1f */
static const char  *want_hmac_fox =
    "f87ad256151fc7b4c5dffa4adb3ebe911a8eeb8a8ebdee3c2a4a8e5f5ec02c32";
static const char  *want_hmac_empty =
    "d38b42096d80f45f826b44a9d5607de72496a415d3f4a1a8c88e3bb9da8dc1cb";

/*
 * "12345678901234567890" sealed for aad "alice" under the key
 * 781ca2d2..f5a7 with the nonce a0 a1 .. ab
 */
static const char  *sealed_hex =
    "01a0a1a2a3a4a5a6a7a8a9aaab78fbadcdcd00b298b3897e627d257a8e92e1e10b"
    "58faa5559ee2da2b9d32268cf8dc52d7";


static const char *
hex(const uint8_t *p, size_t len)
{
    size_t       i;
    static char  buf[1024];

    for (i = 0; i < len && i < sizeof(buf) / 2 - 1; i++) {
        sprintf(buf + 2 * i, "%02x", p[i]);
    }

    buf[2 * i] = '\0';

    return buf;
}


static size_t
unhex(const char *s, uint8_t *out)
{
    size_t        i, n;
    unsigned int  b;

    n = strlen(s) / 2;

    for (i = 0; i < n; i++) {
        sscanf(s + 2 * i, "%2x", &b);
        out[i] = (uint8_t) b;
    }

    return n;
}


static void
test_keys(void)
{
    size_t               i;
    uint8_t              ikm[64];
    ngx_http_otp_keys_t  k1, k2, k3;

    for (i = 0; i < sizeof(ikm); i++) {
        ikm[i] = (uint8_t) i;
    }

    tap_ok(ngx_http_otp_keys_derive(ikm, 32, &k1) == 0, "derive");
    tap_is_str(hex(k1.cookie, 32), want_cookie, "cookie key vector");
    tap_is_str(hex(k1.csrf, 32), want_csrf, "csrf key vector");
    tap_is_str(hex(k1.code, 32), want_code, "code key vector");
    tap_is_str(hex(k1.seal, 32), want_seal, "seal key vector");
    tap_is_str(hex(k1.form, 32), want_form, "form key vector");

    tap_ok(ngx_http_otp_keys_derive(ikm, 32, &k2) == 0
           && memcmp(&k1, &k2, sizeof(k1)) == 0, "derive is deterministic");

    tap_ok(memcmp(k1.cookie, k1.csrf, 32) != 0
           && memcmp(k1.cookie, k1.code, 32) != 0
           && memcmp(k1.cookie, k1.seal, 32) != 0
           && memcmp(k1.csrf, k1.code, 32) != 0
           && memcmp(k1.csrf, k1.seal, 32) != 0
           && memcmp(k1.code, k1.seal, 32) != 0
           && memcmp(k1.form, k1.cookie, 32) != 0
           && memcmp(k1.form, k1.csrf, 32) != 0
           && memcmp(k1.form, k1.code, 32) != 0
           && memcmp(k1.form, k1.seal, 32) != 0, "five distinct keys");

    tap_ok(ngx_http_otp_keys_derive(ikm, 64, &k3) == 0
           && memcmp(k1.cookie, k3.cookie, 32) != 0,
           "a longer ikm gives other keys");

    ikm[31] ^= 1;
    tap_ok(ngx_http_otp_keys_derive(ikm, 32, &k3) == 0
           && memcmp(k1.cookie, k3.cookie, 32) != 0
           && memcmp(k1.seal, k3.seal, 32) != 0,
           "one flipped ikm bit gives other keys");

    tap_ok(ngx_http_otp_keys_derive(ikm, NGX_HTTP_OTP_MIN_IKM_LEN - 1, &k3)
           == -1, "short ikm rejected");
    tap_ok(ngx_http_otp_keys_derive(ikm, 0, &k3) == -1, "empty ikm rejected");
    tap_ok(ngx_http_otp_keys_derive(NULL, 32, &k3) == -1,
           "NULL ikm rejected");
}


static void
test_misc(void)
{
    uint8_t  a[64], b[64];

    tap_ok(ngx_http_otp_secret_len(NGX_HTTP_OTP_SHA1) == 20, "SHA1: 20");
    tap_ok(ngx_http_otp_secret_len(NGX_HTTP_OTP_SHA256) == 32, "SHA256: 32");
    tap_ok(ngx_http_otp_secret_len(NGX_HTTP_OTP_SHA512) == 64, "SHA512: 64");
    tap_ok(ngx_http_otp_secret_len((ngx_http_otp_alg_e) 5) == 0,
           "unknown algorithm: 0");

    memset(a, 0, sizeof(a));
    memset(b, 0, sizeof(b));
    tap_ok(ngx_http_otp_random(a, sizeof(a)) == 0
           && ngx_http_otp_random(b, sizeof(b)) == 0
           && memcmp(a, b, sizeof(a)) != 0, "random");
    tap_ok(ngx_http_otp_random(a, 0) == 0, "random of 0 bytes");

    memcpy(b, a, sizeof(a));
    tap_ok(ngx_http_otp_ct_equal(a, b, sizeof(a)) == 1, "ct_equal: equal");
    b[63] ^= 0x80;
    tap_ok(ngx_http_otp_ct_equal(a, b, sizeof(a)) == 0,
           "ct_equal: last bit differs");
    b[63] ^= 0x80;
    b[0] ^= 0x01;
    tap_ok(ngx_http_otp_ct_equal(a, b, sizeof(a)) == 0,
           "ct_equal: first bit differs");
    tap_ok(ngx_http_otp_ct_equal(a, b + 1, 0) == 1, "ct_equal: empty");
    tap_ok(ngx_http_otp_ct_equal("abc", "abd", 2) == 1,
           "ct_equal: compares len bytes only");
}


static void
test_hmac(void)
{
    size_t   i;
    uint8_t  key[NGX_HTTP_OTP_KEY_LEN], mac[NGX_HTTP_OTP_MAC_LEN];
    uint8_t  mac2[NGX_HTTP_OTP_MAC_LEN];

    static const char  fox[] = "The quick brown fox jumps over the lazy dog";

    for (i = 0; i < sizeof(key); i++) {
        key[i] = (uint8_t) i;
    }

    tap_ok(ngx_http_otp_hmac(key, (const uint8_t *) fox, sizeof(fox) - 1,
                             mac) == 0, "hmac");
    tap_is_str(hex(mac, sizeof(mac)), want_hmac_fox, "hmac vector");

    tap_ok(ngx_http_otp_hmac(key, (const uint8_t *) "", 0, mac) == 0,
           "hmac of nothing");
    tap_is_str(hex(mac, sizeof(mac)), want_hmac_empty,
               "hmac vector, empty message");

    tap_ok(ngx_http_otp_hmac(key, NULL, 0, mac2) == 0
           && memcmp(mac, mac2, sizeof(mac)) == 0, "NULL empty message");

    tap_ok(ngx_http_otp_hmac(key, NULL, 1, mac2) == -1,
           "NULL message with a length");
}


/* the cache of keyed contexts against OpenSSL's one-shot HMAC() */

static void
test_hmac_keys(void)
{
    int        ok;
    size_t     i, k, len;
    uint8_t    keys[9][NGX_HTTP_OTP_KEY_LEN], msg[300];
    uint8_t    mac[NGX_HTTP_OTP_MAC_LEN], want[EVP_MAX_MD_SIZE];
    unsigned   want_len;

    ngx_http_otp_random(&keys[0][0], sizeof(keys));

    ok = 1;

    for (i = 0; i < 500; i++) {
        k = (i * 7 + i / 3) % 9;
        len = (i * 31) % sizeof(msg);
        ngx_http_otp_random(msg, len);

        if (ngx_http_otp_hmac(keys[k], msg, len, mac) != 0
            || HMAC(EVP_sha256(), keys[k], NGX_HTTP_OTP_KEY_LEN, msg, len,
                    want, &want_len) == NULL
            || want_len != NGX_HTTP_OTP_MAC_LEN
            || memcmp(mac, want, NGX_HTTP_OTP_MAC_LEN) != 0)
        {
            ok = 0;
            tap_diag("key %zu, %zu bytes: differs", k, len);
        }
    }

    tap_ok(ok, "500 MACs under 9 alternating keys agree with HMAC()");

    for (i = 0; i < sizeof(keys[0]); i++) {
        keys[0][i] = (uint8_t) i;
    }

    tap_ok(ngx_http_otp_hmac(keys[0], (const uint8_t *) "", 0, mac) == 0,
           "hmac after the cache turned over");
    tap_is_str(hex(mac, sizeof(mac)), want_hmac_empty,
               "hmac vector after the cache turned over");
}


static void
test_seal(void)
{
    int                  ok;
    size_t               i, len;
    uint8_t              ikm[32], msg[64], out[200], out2[200], back[200];
    uint8_t              blob[200];
    ngx_http_otp_keys_t  keys, other;

    static const uint8_t  user[] = "alice";

    for (i = 0; i < sizeof(ikm); i++) {
        ikm[i] = (uint8_t) i;
    }

    ngx_http_otp_keys_derive(ikm, sizeof(ikm), &keys);
    ikm[0] = 0xff;
    ngx_http_otp_keys_derive(ikm, sizeof(ikm), &other);

    ngx_http_otp_random(msg, sizeof(msg));

    /* the known blob opens: the format is as documented */

    len = unhex(sealed_hex, blob);
    tap_ok(len == 20 + NGX_HTTP_OTP_SEAL_OVERHEAD, "known blob length");
    tap_ok(ngx_http_otp_open(keys.code, user, 5, blob, len, back) == 0
           && memcmp(back, "12345678901234567890", 20) == 0,
           "known blob opens");
    tap_ok(ngx_http_otp_open(keys.code, (const uint8_t *) "bob", 3, blob,
                             len, back) == -1,
           "known blob does not open for another user");

    for (len = 0; len <= 64; len += 16) {
        tap_ok(ngx_http_otp_seal(keys.seal, user, 5, msg, len, out) == 0,
               "seal %zu bytes", len);
        tap_ok(out[0] == 0x01, "version byte");
        tap_ok(ngx_http_otp_open(keys.seal, user, 5, out,
                                 len + NGX_HTTP_OTP_SEAL_OVERHEAD, back) == 0
               && memcmp(back, msg, len) == 0, "open %zu bytes", len);
    }

    len = 20;

    ngx_http_otp_seal(keys.seal, user, 5, msg, len, out);
    tap_ok(ngx_http_otp_seal(keys.seal, user, 5, msg, len, out2) == 0
           && memcmp(out, out2, len + NGX_HTTP_OTP_SEAL_OVERHEAD) != 0
           && memcmp(out + 1, out2 + 1, 12) != 0,
           "two seals differ (random nonce)");

    tap_ok(ngx_http_otp_open(keys.seal, (const uint8_t *) "alicf", 5, out,
                             len + NGX_HTTP_OTP_SEAL_OVERHEAD, back) == -1,
           "another user (aad) does not open");
    tap_ok(ngx_http_otp_open(keys.seal, user, 4, out,
                             len + NGX_HTTP_OTP_SEAL_OVERHEAD, back) == -1,
           "a prefix of the user does not open");
    tap_ok(ngx_http_otp_open(keys.seal, NULL, 0, out,
                             len + NGX_HTTP_OTP_SEAL_OVERHEAD, back) == -1,
           "no aad does not open");
    tap_ok(ngx_http_otp_open(other.seal, user, 5, out,
                             len + NGX_HTTP_OTP_SEAL_OVERHEAD, back) == -1,
           "another key does not open");

    ok = 1;

    for (i = 0; i < len + NGX_HTTP_OTP_SEAL_OVERHEAD; i++) {
        memcpy(out2, out, len + NGX_HTTP_OTP_SEAL_OVERHEAD);
        out2[i] ^= 0x01;

        if (ngx_http_otp_open(keys.seal, user, 5, out2,
                              len + NGX_HTTP_OTP_SEAL_OVERHEAD, back) != -1)
        {
            ok = 0;
            tap_diag("flipped byte %zu opened", i);
        }
    }

    tap_ok(ok, "a flipped bit at any of the %zu positions does not open",
           len + NGX_HTTP_OTP_SEAL_OVERHEAD);

    ok = 1;

    for (i = 0; i < len + NGX_HTTP_OTP_SEAL_OVERHEAD; i++) {
        if (ngx_http_otp_open(keys.seal, user, 5, out, i, back) != -1) {
            ok = 0;
            tap_diag("truncated to %zu opened", i);
        }
    }

    tap_ok(ok, "no truncation opens");

    memcpy(out2, out, len + NGX_HTTP_OTP_SEAL_OVERHEAD);
    out2[len + NGX_HTTP_OTP_SEAL_OVERHEAD] = 0;
    tap_ok(ngx_http_otp_open(keys.seal, user, 5, out2,
                             len + NGX_HTTP_OTP_SEAL_OVERHEAD + 1, back)
           == -1, "an extended blob does not open");

    memcpy(out2, out, len + NGX_HTTP_OTP_SEAL_OVERHEAD);
    out2[0] = 0x02;
    tap_ok(ngx_http_otp_open(keys.seal, user, 5, out2,
                             len + NGX_HTTP_OTP_SEAL_OVERHEAD, back) == -1,
           "wrong version does not open");

    /* an empty secret still carries a tag */

    tap_ok(ngx_http_otp_seal(keys.seal, user, 5, NULL, 0, out) == 0
           && ngx_http_otp_open(keys.seal, user, 5, out,
                                NGX_HTTP_OTP_SEAL_OVERHEAD, NULL) == 0,
           "empty plaintext round trip");
    out[NGX_HTTP_OTP_SEAL_OVERHEAD - 1] ^= 1;
    tap_ok(ngx_http_otp_open(keys.seal, user, 5, out,
                             NGX_HTTP_OTP_SEAL_OVERHEAD, NULL) == -1,
           "empty plaintext with a bad tag does not open");

    tap_ok(ngx_http_otp_seal(keys.seal, NULL, 3, msg, 20, out) == -1,
           "seal with NULL aad and a length fails");
    tap_ok(ngx_http_otp_open(keys.seal, user, 5, NULL, 40, back) == -1,
           "open of NULL fails");
}


int
main(void)
{
    test_keys();
    test_misc();
    test_hmac();
    test_hmac_keys();
    test_seal();

    return tap_done();
}
